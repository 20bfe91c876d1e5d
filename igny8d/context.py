"""AppContext: everything a handler may reach, built once per application (no globals)."""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from igny8d.jobs.executor import Executor
from igny8d.jobs.registry import JobRegistry, default_registry
from igny8d.ratelimit import RateLimiter
from igny8d.security import PasswordHasher, TokenService
from igny8d.settings import Settings
from igny8d.store.engine import Store


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


class Metrics:
    """Per-process request counters and a ring of recent requests (not shared across processes)."""

    def __init__(self, ring_size: int = 2000) -> None:
        self.started = time.time()
        self.requests = 0
        self.by_status: collections.Counter[int] = collections.Counter()
        self.recent: collections.deque[RequestMetric] = collections.deque(maxlen=ring_size)
        self._by_id: dict[str, RequestMetric] = {}
        self.inflight = 0
        self._idle: asyncio.Event | None = None

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
        metric = RequestMetric(
            request_id=rid,
            method=handler.request.method or "",
            path=handler.request.path,
            status=handler.get_status(),
            duration_ms=round(handler.request.request_time() * 1000, 2),
            user_id=principal.user_id if principal else None,
            account_id=principal.account_id if principal else None,
            at=dt.datetime.now(dt.UTC),
        )
        self.requests += 1
        self.by_status[metric.status] += 1
        if len(self.recent) == self.recent.maxlen:
            old = self.recent[0]
            self._by_id.pop(old.request_id, None)
        self.recent.append(metric)
        self._by_id[rid] = metric

    def find(self, request_id: str) -> RequestMetric | None:
        return self._by_id.get(request_id)

    @property
    def uptime(self) -> float:
        return time.time() - self.started


class CountCache:
    """List totals by (resource, scope, filters, account data version), least recently used
    out. The version is read with the caller's user on every request and bumped by every
    write (store/crud.py), so a cached total is never served for data that changed; what is
    per process is only the memory, never the truth."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._items: collections.OrderedDict[tuple[Any, ...], int] = collections.OrderedDict()
        self.hits = 0
        self.misses = 0

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


@dataclass
class AppContext:
    settings: Settings
    store: Store
    tokens: TokenService
    hasher: PasswordHasher
    limiter: RateLimiter
    metrics: Metrics = field(default_factory=Metrics)
    counts: CountCache = field(default_factory=CountCache)
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("igny8d"))
    #: job kinds of this application (tests register their own: nothing is global)
    jobs: JobRegistry = field(default_factory=default_registry)
    #: the job workers; built here, started by run_server (and by tests that ask)
    executor: Executor = field(init=False)

    def __post_init__(self) -> None:
        self.executor = Executor(
            self, self.store, self.jobs, workers=self.settings.job_workers,
            lease_s=self.settings.job_lease_s, max_attempts=self.settings.job_max_attempts,
        )

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
                key_prefix=settings.ratelimit_prefix,
            ),
        )

    async def close(self) -> None:
        await self.executor.stop()
        await self.limiter.close()
        await self.store.close()
