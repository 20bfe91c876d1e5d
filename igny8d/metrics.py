"""Request and job metrics of one process: the traffic window the admin API's overview reads,
and the Prometheus collectors `GET /metrics` exposes.

Two kinds of numbers, said in each metric's HELP:

- **per process** (requests, latency, throttled requests, job durations, process metrics):
  counted in memory by the process that served or ran them. With several processes (forked
  workers, several hosts) each exposes its own; Prometheus sums them (`sum by (route)`).
- **database-wide** (`igny8d_jobs`, `igny8d_credits_charged_total`,
  `igny8d_credits_refunded_total`): read from the store at scrape time, so they are right
  across processes and restarts, and every process answers the same value (use `max`, not
  `sum`, across processes).

Every app has its own `CollectorRegistry` (tests build many apps in one process; the global
`prometheus_client.REGISTRY` is never used). Route labels are route templates
(`/api/v1/planner/keywords/{id}/`, the OpenAPI document's path names) or `<unmatched>`,
methods outside the known set are `OTHER`: label values stay bounded whatever clients send.
"""

from __future__ import annotations

import bisect
import collections
import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from sqlalchemy import func, select

from igny8d import __version__
from igny8d.services.billing import OPERATION_TYPES
from igny8d.store import jobs as job_store
from igny8d.store.engine import Store
from igny8d.store.schema import credit_usage, jobs

#: The route label of a request no route matched (never the raw path: unbounded labels).
UNMATCHED = "<unmatched>"
#: Where `Igny8App.find_handler` leaves the matched route's template on the request.
ROUTE_ATTR = "igny8d_route"
#: Method label values; anything else a client sends is `OTHER`.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

_PER_PROCESS = " (this process only: every igny8d process exposes its own)"
_DATABASE_WIDE = (" (read from the database at scrape time: every process answers the same "
                  "value)")

#: Request latency buckets (seconds): API calls are milliseconds, exports and imports longer.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
#: Job duration buckets (seconds): a small clustering job to a long content batch.
JOB_BUCKETS = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)

# -- the traffic window (admin overview) -------------------------------------------------------

#: Width of one series bucket, and how long buckets are kept.
BUCKET_S = 10
KEEP_S = 3600
#: Durations are counted in logarithmic bins 5 % wide from 10 µs: a percentile read from
#: them is within 2.5 % of the exact one (and exact when the window holds one value: bins
#: are clamped to the smallest and largest duration seen).
_BIN_FLOOR_MS = 0.01
_BIN_RATIO = 1.05
_LOG_RATIO = math.log(_BIN_RATIO)
_MAX_BIN = 600  # 10 µs * 1.05**600 is about 55 hours: nothing real is slower


def _bin(ms: float) -> int:
    if ms <= _BIN_FLOOR_MS:
        return 0
    return min(_MAX_BIN, int(math.log(ms / _BIN_FLOOR_MS) / _LOG_RATIO))


def _bin_value(index: int) -> float:
    return _BIN_FLOOR_MS * math.pow(_BIN_RATIO, index + 0.5)


@dataclass(slots=True)
class _Bucket:
    start: int
    requests: int = 0
    errors: int = 0
    throttled: int = 0
    classes: list[int] = field(default_factory=lambda: [0, 0, 0, 0])  # 2xx 3xx 4xx 5xx
    bins: dict[int, int] = field(default_factory=dict)
    low: float = math.inf
    high: float = 0.0


def _percentiles(buckets: Iterable[_Bucket], quantiles: tuple[float, ...]) -> list[float]:
    """Nearest-rank percentiles of the durations counted in `buckets` (0.0 when none)."""
    merged: collections.Counter[int] = collections.Counter()
    low, high, total = math.inf, 0.0, 0
    for bucket in buckets:
        if not bucket.requests:
            continue
        merged.update(bucket.bins)
        low, high = min(low, bucket.low), max(high, bucket.high)
        total += bucket.requests
    if not total:
        return [0.0 for _ in quantiles]
    order = sorted(merged)
    running: list[int] = []
    seen = 0
    for index in order:
        seen += merged[index]
        running.append(seen)
    out = []
    for q in quantiles:
        rank = max(1, math.ceil(q * total))
        index = order[bisect.bisect_left(running, rank)]
        out.append(round(min(high, max(low, _bin_value(index))), 2))
    return out


class TrafficWindow:
    """This process's requests in 10 s buckets over the last hour (bounded memory: at most
    361 buckets, each with at most a few hundred duration bins)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._buckets: collections.deque[_Bucket] = collections.deque()

    def add(self, status: int, duration_ms: float, throttled: bool) -> None:
        start = int(self.clock() // BUCKET_S * BUCKET_S)
        buckets = self._buckets
        if not buckets or start > buckets[-1].start:
            buckets.append(_Bucket(start))
            while buckets[0].start < start - KEEP_S:
                buckets.popleft()
        bucket = buckets[-1]  # a clock that stepped back counts into the newest bucket
        bucket.requests += 1
        if status >= 500:
            bucket.errors += 1
        if throttled:
            bucket.throttled += 1
        klass = status // 100 - 2
        if 0 <= klass <= 3:
            bucket.classes[klass] += 1
        index = _bin(duration_ms)
        bucket.bins[index] = bucket.bins.get(index, 0) + 1
        bucket.low = min(bucket.low, duration_ms)
        bucket.high = max(bucket.high, duration_ms)

    def summary(self, window_s: float, *, started: float) -> dict[str, Any]:
        """The overview's `traffic` over the last `window_s` seconds (10..3600, counted in
        whole buckets: the window is the current bucket and those before it) plus `series`,
        one entry per bucket, oldest first. requests/s divides by the time the window
        covers, not counting time before this process started."""
        window = min(float(KEEP_S), max(float(BUCKET_S), float(window_s)))
        now = self.clock()
        current = int(now // BUCKET_S * BUCKET_S)
        count = math.ceil(window / BUCKET_S)
        first = current - BUCKET_S * (count - 1)
        kept = {b.start: b for b in self._buckets if b.start >= first}
        series_buckets = [kept.get(t) or _Bucket(t) for t in range(first, current + 1,
                                                                     BUCKET_S)]
        requests = sum(b.requests for b in series_buckets)
        errors = sum(b.errors for b in series_buckets)
        classes = [sum(b.classes[i] for b in series_buckets) for i in range(4)]
        p50, p99 = _percentiles(series_buckets, (0.5, 0.99))
        span = max(1.0, now - max(first, started))
        series = []
        for b in series_buckets:
            b50, b99 = _percentiles((b,), (0.5, 0.99))
            series.append({"t": b.start, "requests": b.requests, "errors": b.errors,
                           "throttled": b.throttled, "p50_ms": b50, "p99_ms": b99})
        return {
            "window_s": int(window) if window.is_integer() else window,
            "requests": requests,
            "requests_per_s": round(requests / span, 3),
            "error_rate": round(errors / requests, 4) if requests else 0.0,
            "p50_ms": p50,
            "p99_ms": p99,
            "throttled": sum(b.throttled for b in series_buckets),
            "by_class": dict(zip(("2xx", "3xx", "4xx", "5xx"), classes, strict=True)),
            "series": series,
        }


# -- Prometheus ---------------------------------------------------------------------------------


@dataclass
class StoreSnapshot:
    """The database-wide numbers, read once per scrape."""

    ok: bool = False
    seconds: float = 0.0
    jobs: dict[tuple[str, str], int] = field(default_factory=dict)
    charged: dict[str, int] = field(default_factory=dict)
    refunded: dict[str, int] = field(default_factory=dict)


async def read_store(store: Store, kinds: Iterable[str]) -> StoreSnapshot:
    """Jobs by (state, kind) over all accounts, and the ledger's credits by operation type
    (`credit_usage`: credits_used and credits_refunded summed). A database that does not
    answer gives `ok=False` (the scrape still answers, with `igny8d_database_up 0`)."""
    snap = StoreSnapshot()
    started = time.perf_counter()
    try:
        async with store.read() as conn:
            rows = (await conn.execute(
                select(jobs.c.state, jobs.c.kind, func.count())
                .group_by(jobs.c.state, jobs.c.kind))).all()
            usage = (await conn.execute(
                select(credit_usage.c.operation_type,
                       func.coalesce(func.sum(credit_usage.c.credits_used), 0),
                       func.coalesce(func.sum(credit_usage.c.credits_refunded), 0))
                .group_by(credit_usage.c.operation_type))).all()
    except Exception:
        snap.seconds = time.perf_counter() - started
        return snap
    snap.ok = True
    snap.seconds = time.perf_counter() - started
    for kind in kinds:
        for state in job_store.STATES:
            snap.jobs[(state, kind)] = 0
    for state, kind, n in rows:
        snap.jobs[(str(state), str(kind))] = int(n)
    snap.charged = dict.fromkeys(OPERATION_TYPES, 0)
    snap.refunded = dict.fromkeys(OPERATION_TYPES, 0)
    for op, used, refunded in usage:
        snap.charged[str(op)] = int(used)
        snap.refunded[str(op)] = int(refunded)
    return snap


class _StoreCollector:
    """Renders the snapshot taken just before the scrape (set and read with no await in
    between, so concurrent scrapes on the event loop never mix)."""

    def __init__(self) -> None:
        self.snapshot = StoreSnapshot()

    def collect(self) -> Iterator[Metric]:
        snap = self.snapshot
        up = GaugeMetricFamily("igny8d_database_up", "1 when the database answered the "
                               "scrape's reads, else 0 (the database-wide metrics are then "
                               "missing)")
        up.add_metric([], 1.0 if snap.ok else 0.0)
        yield up
        took = GaugeMetricFamily("igny8d_database_scrape_seconds",
                                 "Time the scrape's database reads took")
        took.add_metric([], snap.seconds)
        yield took
        if not snap.ok:
            return
        gauge = GaugeMetricFamily("igny8d_jobs", "Jobs by state and kind, all accounts"
                                  + _DATABASE_WIDE, labels=["state", "kind"])
        for (state, kind), n in sorted(snap.jobs.items()):
            gauge.add_metric([state, kind], n)
        yield gauge
        charged = CounterMetricFamily(
            "igny8d_credits_charged", "Credits charged by operation type, all accounts, "
            "refunds not subtracted (net = charged - refunded)" + _DATABASE_WIDE,
            labels=["operation_type"])
        for op, n in sorted(snap.charged.items()):
            charged.add_metric([op], n)
        yield charged
        refunded = CounterMetricFamily(
            "igny8d_credits_refunded", "Credits refunded (failed or cancelled jobs) by "
            "operation type, all accounts" + _DATABASE_WIDE, labels=["operation_type"])
        for op, n in sorted(snap.refunded.items()):
            refunded.add_metric([op], n)
        yield refunded


class Prometheus:
    """One app's collectors on its own registry."""

    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry()
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        GCCollector(registry=registry)
        Info("igny8d_build", "The igny8d version serving", registry=registry).info(
            {"version": __version__})
        self.requests = Counter(
            "igny8d_http_requests", "HTTP requests by route template, method and status"
            + _PER_PROCESS, ["route", "method", "status"], registry=registry)
        self.latency = Histogram(
            "igny8d_http_request_duration_seconds", "HTTP request latency by route "
            "template and method" + _PER_PROCESS, ["route", "method"],
            buckets=LATENCY_BUCKETS, registry=registry)
        self.throttled = Counter(
            "igny8d_http_throttled", "Requests refused by a throttle, by scope"
            + _PER_PROCESS, ["scope"], registry=registry)
        self.job_duration = Histogram(
            "igny8d_job_duration_seconds", "Run time of jobs by kind and final state "
            "(SUCCESS, FAILURE, REVOKED, LOST: its lease was taken over), from the claim "
            "to the end of the run" + _PER_PROCESS, ["kind", "state"],
            buckets=JOB_BUCKETS, registry=registry)
        self._store = _StoreCollector()
        registry.register(self._store)
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe_request(self, route: str, method: str, status: int, seconds: float,
                        throttled_scope: str | None) -> None:
        method = method if method in METHODS else "OTHER"
        key = (route, method, status)  # bounded: templates, known methods, statuses
        children = self._children.get(key)
        if children is None:  # labels() takes a lock and builds a tuple: once per series
            children = self._children[key] = (
                self.requests.labels(route, method, str(status)),
                self.latency.labels(route, method))
        children[0].inc()
        children[1].observe(seconds)
        if throttled_scope is not None:
            self.throttled.labels(throttled_scope).inc()

    def observe_job(self, kind: str, state: str, seconds: float) -> None:
        self.job_duration.labels(kind, state).observe(max(0.0, seconds))

    async def render(self, store: Store, kinds: Iterable[str],
                     accept: str | None) -> tuple[bytes, str]:
        """The exposition (text format, or OpenMetrics when the scraper asks for it)."""
        snapshot = await read_store(store, kinds)
        encoder, content_type = choose_encoder(accept or "")
        self._store.snapshot = snapshot
        return encoder(self.registry), content_type
