"""AppContext: everything a handler may reach, built once per application (no globals)."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from igny8d.jobs.executor import Executor
from igny8d.jobs.registry import JobRegistry
from igny8d.log import RING, RequestLogRing, install_ring
from igny8d.metrics import ROUTE_ATTR, UNMATCHED, Prometheus, TrafficWindow
from igny8d.operations import cluster, content, ideas, image_prompts, images, lifecycle
from igny8d.ratelimit import RateLimiter
from igny8d.security import PasswordHasher, TokenService
from igny8d.sentry import capture_job_error
from igny8d.services import media
from igny8d.settings import Settings
from igny8d.store.engine import Store

T = TypeVar("T")

#: how many list reads of a process run at once (`AppContext.list_reads`), on both stores
LIST_READS = 4

#: how long a read waits for this process's writes in flight to end, at most (`WritesFirst`)
WRITES_FIRST_WAIT_S = 0.05


class WritesFirst:
    """Reads of this process wait, briefly, while one of its resource writes is in flight.

    A write is a few dozen turns of the event loop (auth, lock, statements, present), and
    under read load each turn also carries every reader's work: a keyword create took
    12 ms idle and 49 ms under 1,000 reads a second (issue 14, item 3). Reads that have not
    started wait until no write is in flight, at most `WRITES_FIRST_WAIT_S`, so a steady
    stream of writes cannot starve them either.
    """

    def __init__(self, wait_s: float = WRITES_FIRST_WAIT_S) -> None:
        self.wait_s = wait_s
        self._writes = 0
        self._clear = asyncio.Event()
        self._clear.set()
        #: reads that waited (metrics and tests)
        self.waited = 0

    @property
    def writing(self) -> int:
        return self._writes

    def started(self) -> None:
        self._writes += 1
        self._clear.clear()

    def ended(self) -> None:
        self._writes -= 1
        if self._writes <= 0:
            self._writes = 0
            self._clear.set()

    async def turn(self) -> None:
        """Before a read's work: wait while writes are in flight (bounded)."""
        if self._writes == 0:
            return
        self.waited += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._clear.wait(), self.wait_s)


#: The AI operations this server runs as job kinds.
OPERATIONS: tuple[lifecycle.Operation[Any, Any, Any], ...] = (
    cluster.OPERATION, ideas.OPERATION, content.OPERATION, image_prompts.OPERATION,
    images.OPERATION,
)


@dataclass(slots=True)
class RequestMetric:
    """One finished request; also the shape `system/request-metrics/{id}` answers with."""

    request_id: str
    method: str
    path: str
    status: int
    duration_ms: float
    user_id: int | None
    account_id: int | None
    at: dt.datetime
    #: the route template (`/api/v1/planner/keywords/{id}/`), `<unmatched>` for unknown paths
    route: str = UNMATCHED
    #: refused by a throttle (429)
    throttled: bool = False


class Metrics:
    """Per-process request counters, a ring of recent requests, the 10 s traffic buckets of
    the last hour and the Prometheus collectors (not shared across processes)."""

    def __init__(self, ring_size: int = 2000, *, log_ring: RequestLogRing = RING) -> None:
        self.started = time.time()
        self.requests = 0
        self.by_status: collections.Counter[int] = collections.Counter()
        self.recent: collections.deque[RequestMetric] = collections.deque(maxlen=ring_size)
        self._by_id: dict[str, RequestMetric] = {}
        self.inflight = 0
        self._idle: asyncio.Event | None = None
        self.window = TrafficWindow()
        self.prom = Prometheus()
        self._log_ring = log_ring
        install_ring()

    def enter(self) -> None:
        self.inflight += 1

    def leave(self) -> None:
        self.inflight -= 1
        if self.inflight <= 0 and self._idle is not None:
            self._idle.set()

    async def drained(self, grace: float) -> bool:
        """Wait until no request is in flight (graceful shutdown), at most `grace` seconds."""
        if self.inflight <= 0:
            return True
        self._idle = asyncio.Event()
        try:
            await asyncio.wait_for(self._idle.wait(), grace)
        except TimeoutError:
            return False
        return True

    def record(self, handler: Any) -> None:
        rid = getattr(handler, "request_id", None)
        if rid is None:
            return
        principal = getattr(handler, "principal", None)
        request = handler.request
        status = handler.get_status()
        seconds = request.request_time()
        scope: str | None = getattr(handler, "throttled_scope", None)
        metric = RequestMetric(
            request_id=rid,
            method=(request.method or "")[:16],
            path=request.path,
            status=status,
            duration_ms=round(seconds * 1000, 2),
            user_id=principal.user_id if principal else None,
            account_id=principal.account_id if principal else None,
            at=dt.datetime.now(dt.UTC),
            route=getattr(request, ROUTE_ATTR, None) or UNMATCHED,
            throttled=scope is not None,
        )
        self.requests += 1
        self.by_status[status] += 1
        if len(self.recent) == self.recent.maxlen:
            old = self.recent[0]
            if self._by_id.get(old.request_id) is old:  # a client may reuse its request id
                del self._by_id[old.request_id]
                self._log_ring.drop(old.request_id)
        self.recent.append(metric)
        self._by_id[rid] = metric
        self.window.add(status, metric.duration_ms, metric.throttled)
        self.prom.observe_request(metric.route, metric.method, status, seconds, scope)

    def find(self, request_id: str) -> RequestMetric | None:
        return self._by_id.get(request_id)

    def summary(self, window_s: float) -> dict[str, Any]:
        """The admin overview's `traffic` (`window_s`, requests, requests_per_s, error_rate
        (5xx share), p50_ms, p99_ms (0.0 with no requests), throttled, by_class) plus
        `series`: one `{t, requests, errors, throttled, p50_ms, p99_ms}` per 10 s bucket,
        oldest first. This process's requests only; percentiles from 5 %-wide bins."""
        return self.window.summary(window_s, started=self.started)

    def log_lines(self, request_id: str) -> list[dict[str, Any]]:
        """`[{at, level, logger, message, ...extra}]` this process logged with the request's
        id, oldest first; empty once the request left the ring (or was never in it)."""
        if request_id not in self._by_id:
            return []
        return self._log_ring.lines(request_id)

    def observe_job(self, kind: str, state: str, seconds: float) -> None:
        """The executor's hook: one job run ended in `state` after `seconds`."""
        self.prom.observe_job(kind, state, seconds)

    @property
    def uptime(self) -> float:
        return time.time() - self.started


class CountCache:
    """List totals by (resource, scope, filters, versions), least recently used out. The
    versions are the account's data version (read with the caller's user) and the listed
    table's (store/versions.py, read per list request), bumped in the same transaction as
    every write that changes those rows, so a cached total is never served for data that
    changed; what is per process is only the memory, never the truth.

    A missing total is counted once per process (`once`): requests asking for the same key
    meanwhile wait for that count instead of all counting at once.

    For searches with few matches it also keeps, under the same key plus the ordering,
    which ids match in which order (`ids`): their pages are then read by primary key, the
    rows themselves always fresh from the store. Fewer of those are kept (`ids_size`).

    A search's total and ids kept under an older version of its table are carried to the
    new one (`seen`, `carry`) when the table's change log says no write in between touched
    a row with every search word (handlers/resource.py, store/versions.py `changes`).
    """

    def __init__(self, size: int = 4096, ids_size: int = 256) -> None:
        self.size = size
        self.ids_size = ids_size
        self._items: collections.OrderedDict[tuple[Any, ...], int] = collections.OrderedDict()
        self._ids: collections.OrderedDict[tuple[Any, ...], Sequence[int]] = \
            collections.OrderedDict()
        self.hits = 0
        self.misses = 0
        self.id_hits = 0
        self.carried = 0
        #: per key without its version, the version last asked for (`seen`)
        self._seen: collections.OrderedDict[tuple[Any, ...], tuple[int, ...]] = \
            collections.OrderedDict()
        #: the keys being computed now, and what their waiters wait on
        self._flights: dict[tuple[Any, ...], asyncio.Future[None]] = {}

    async def once(self, key: tuple[Any, ...],
                   compute: Callable[[], Awaitable[T]]) -> T | None:
        """Run `compute` unless a computation of `key` is already running in this process:
        then wait for it and return None (what it cached is in the cache now). Its error is
        raised to the waiters too; if it was cancelled, one waiter computes instead.
        A waiter cancelled itself leaves the shared computation running."""
        while (flight := self._flights.get(key)) is not None:
            try:
                await asyncio.shield(flight)
            except asyncio.CancelledError:
                if not flight.cancelled():
                    raise  # this waiter was cancelled, not the computation
                continue  # the computation was: take over
            return None
        flight = asyncio.get_running_loop().create_future()
        self._flights[key] = flight
        try:
            result = await compute()
        except asyncio.CancelledError:
            flight.cancel()
            raise
        except BaseException as error:
            flight.set_exception(error)
            flight.exception()  # retrieved: no "never retrieved" log when nobody waited
            raise
        else:
            flight.set_result(None)
        finally:
            del self._flights[key]
        return result

    @property
    def in_flight(self) -> int:
        """How many keys are being computed now (tests: nothing is left behind)."""
        return len(self._flights)

    def ids(self, key: tuple[Any, ...]) -> Sequence[int] | None:
        value = self._ids.get(key)
        if value is not None:
            self._ids.move_to_end(key)
            self.id_hits += 1
        return value

    def put_ids(self, key: tuple[Any, ...], ids: Sequence[int] | None) -> None:
        """Keep these ids (None: forget the entry, its ids were out of date)."""
        if ids is None:
            self._ids.pop(key, None)
            return
        self._ids[key] = ids
        self._ids.move_to_end(key)
        if len(self._ids) > self.ids_size:
            self._ids.popitem(last=False)

    def get(self, key: tuple[Any, ...]) -> int | None:
        value = self._items.get(key)
        if value is None:
            self.misses += 1
            return None
        self._items.move_to_end(key)
        self.hits += 1
        return value

    def put(self, key: tuple[Any, ...], count: int) -> None:
        self._items[key] = count
        self._items.move_to_end(key)
        if len(self._items) > self.size:
            self._items.popitem(last=False)

    def seen(self, base: tuple[Any, ...], version: tuple[int, ...]) -> tuple[int, ...] | None:
        """The list version last asked for under `base` (a key without its version), this
        one kept in its place: where a total kept under an older one may be carried from."""
        before = self._seen.get(base)
        self._seen[base] = version
        self._seen.move_to_end(base)
        if len(self._seen) > self.size:
            self._seen.popitem(last=False)
        return before

    def carry(self, old: tuple[Any, ...], new: tuple[Any, ...], order: tuple[Any, ...]) -> bool:
        """Keep what is kept under `old` (the total, and the ids of this ordering) under
        `new` too: the caller found that nothing between them changed it."""
        count = self._items.get(old)
        if count is None:
            return False
        self.put(new, count)
        ids = self._ids.get((*old, order))
        if ids is not None:
            self.put_ids((*new, order), ids)
        self.carried += 1
        return True


@dataclass
class AppContext:
    settings: Settings
    store: Store
    tokens: TokenService
    hasher: PasswordHasher
    limiter: RateLimiter
    metrics: Metrics = field(default_factory=Metrics)
    counts: CountCache = field(default_factory=CountCache)
    #: list reads running at once: the rest wait their turn without work on the event loop,
    #: so a write's few turns of the loop are not each behind every reader's (issue 14)
    list_reads: asyncio.Semaphore = field(init=False)
    #: reads wait for this process's resource writes in flight (issue 14, item 3)
    writes_first: WritesFirst = field(default_factory=WritesFirst)
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("igny8d"))
    #: job kinds of this application: the AI operations, registered here (tests register
    #: their own too: nothing is global)
    jobs: JobRegistry = field(default_factory=JobRegistry)
    #: the job workers; built here, started by run_server (and by tests that ask)
    executor: Executor = field(init=False)

    def __post_init__(self) -> None:
        for operation in OPERATIONS:
            if operation.kind not in self.jobs:
                lifecycle.register(self.jobs, operation, self)
        self.executor = Executor(
            self.store, self.jobs, workers=self.settings.job_workers,
            lease_s=self.settings.job_lease_s, max_attempts=self.settings.job_max_attempts,
        )
        # More list reads at once only lengthen the loop's turns, on either store (measured
        # on Postgres, 50k keywords, wrk -c32: 20 at once 289 reads/s and a create's p50
        # 79 ms under them; 4 at once 363 reads/s and 18 ms, idle 11.6 ms).
        self.list_reads = asyncio.Semaphore(LIST_READS)
        self.executor.on_finished = self.metrics.observe_job
        self.executor.on_error = capture_job_error
        # deleted images' files are removed once their delete has committed
        media.install(self.store, self.settings.data_dir)

    @classmethod
    def build(cls, settings: Settings, *, store: Store | None = None) -> AppContext:
        """Wire the services from settings; nothing connects until first use."""
        settings = settings.with_secret()
        assert settings.secret_key is not None
        return cls(
            settings=settings,
            store=store or Store.from_url(
                settings.effective_database_url, pool_size=settings.db_pool_size
            ),
            tokens=TokenService(
                settings.secret_key,
                access_minutes=settings.access_minutes,
                refresh_days=settings.refresh_days,
            ),
            hasher=PasswordHasher(settings.bcrypt_rounds),
            limiter=RateLimiter(
                settings.ratelimit_storage, enabled=settings.throttle_enabled,
                key_prefix=settings.ratelimit_prefix, rates=settings.rate_overrides(),
            ),
        )

    async def close(self) -> None:
        await self.executor.stop()
        await self.limiter.close()
        await self.store.close()
