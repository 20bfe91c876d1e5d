"""Scoped request throttling (the reference's scopes) on the `limits` asyncio storages."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.errors import ConfigurationError

__all__ = ["SCOPES", "UNTHROTTLED", "RateLimiter", "ThrottleResult", "validate_scope"]

logger = logging.getLogger("igny8d.ratelimit")

#: The reference's "Rate Limit Scopes" table.
SCOPES: dict[str, str] = {
    "ai_function": "10/minute",
    "image_gen": "15/minute",
    "content_write": "30/minute",
    "content_read": "100/minute",
    "auth": "20/minute",
    "auth_strict": "5/minute",
    "planner": "60/minute",
    "planner_ai": "10/minute",
    "writer": "60/minute",
    "writer_ai": "10/minute",
    "system": "100/minute",
    "system_admin": "30/minute",
    "billing": "30/minute",
    "billing_admin": "10/minute",
    "default": "100/minute",
}

#: The scope of endpoints that are never counted: health checks (a load balancer or a
#: container runtime polling several instances from one address must never see a 429).
UNTHROTTLED = "none"

# Config spelling -> the scheme `limits.aio` registers for it.
_SCHEMES: dict[str, str] = {
    "memory": "async+memory",
    "async+memory": "async+memory",
    "redis": "async+redis",
    "rediss": "async+rediss",
    "redis+unix": "async+redis+unix",
    "async+redis": "async+redis",
    "async+rediss": "async+rediss",
    "async+redis+unix": "async+redis+unix",
}

# A throttle check sits in front of every request: a dead or black-holed Redis must cost
# little. URL query parameters (?connect_timeout=..&stream_timeout=..) override these.
_REDIS_TIMEOUTS: dict[str, float] = {"connect_timeout": 1.0, "stream_timeout": 1.0}

# After a storage failure, requests are let through without asking the storage for this
# long, so an outage does not add a timeout to every request.
_OUTAGE_BACKOFF = 2.0

_PREFIX_RE = re.compile(r"[A-Za-z0-9_.:-]+")


def _redis_options() -> dict[str, Any]:
    """Client options: short timeouts; retry a dropped pooled connection once, never a timeout.

    coredis' default policy retries connection errors and timeouts three times, which turns
    a hung Redis into several seconds of latency per request before we can fail open.
    """
    from coredis.exceptions import ConnectionError as RedisConnectionError
    from coredis.retry import ConstantRetryPolicy

    policy = ConstantRetryPolicy((RedisConnectionError,), retries=1, delay=0.01)
    return {**_REDIS_TIMEOUTS, "retry_policy": policy}


def validate_scope(name: str) -> str:
    """Return `name` if it is a known scope or UNTHROTTLED; route decorators call this at
    import time."""
    if name != UNTHROTTLED and name not in SCOPES:
        raise ValueError(f"unknown throttle scope {name!r}")
    return name


def _parse_rate(scope: str, rate: str) -> RateLimitItem:
    """Parse one rate such as "10/minute"; several rates or a zero amount are config errors."""
    try:
        items = parse_many(rate) if isinstance(rate, str) else []
    except ValueError:
        items = []
    if len(items) != 1 or items[0].amount < 1:
        raise ValueError(
            f"invalid rate {rate!r} for throttle scope {scope!r} (expected e.g. '10/minute')"
        )
    return items[0]


def _storage_uri(storage_url: str) -> str:
    """Translate the config spelling ("memory://", "redis://h:p/db") to a limits.aio URI."""
    parts = urlsplit(storage_url.strip()) if isinstance(storage_url, str) else None
    scheme = parts.scheme.lower() if parts else ""
    if parts is None or scheme not in _SCHEMES or "://" not in storage_url:
        raise ValueError(
            f"unsupported rate limit storage URL {storage_url!r} "
            "(expected memory://, redis://host:port/db or rediss://host:port/db)"
        )
    target = _SCHEMES[scheme]
    if target in {"async+redis", "async+rediss"}:
        try:
            parts.port  # noqa: B018 - raises ValueError on a malformed port
        except ValueError:
            raise ValueError(f"rate limit storage URL {storage_url!r} has a bad port") from None
        if not parts.hostname:
            raise ValueError(f"rate limit storage URL {storage_url!r} has no host")
    if target == "async+redis+unix" and not parts.path:
        raise ValueError(f"rate limit storage URL {storage_url!r} has no socket path")
    return target + storage_url.strip()[len(scheme) :]


@dataclass(frozen=True, slots=True)
class ThrottleResult:
    """The decision for one request, with what the client is told about its budget."""

    allowed: bool
    limit: int
    remaining: int
    reset: int
    retry_after: int

    def headers(self) -> dict[str, str]:
        """The reference's X-Throttle-* headers, plus Retry-After on a refusal."""
        headers = {
            "X-Throttle-Limit": str(self.limit),
            "X-Throttle-Remaining": str(self.remaining),
            "X-Throttle-Reset": str(self.reset),
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after)
        return headers


class RateLimiter:
    """Fixed-window counters per (scope, key); Redis storage shares them between processes."""

    def __init__(
        self,
        storage_url: str = "memory://",
        *,
        enabled: bool = True,
        rates: dict[str, str] | None = None,
        key_prefix: str = "igny8d",
    ) -> None:
        self.enabled = enabled
        merged = dict(SCOPES)
        for scope, rate in (rates or {}).items():
            if scope not in SCOPES:
                raise ValueError(f"unknown throttle scope {scope!r} in rate overrides")
            merged[scope] = rate
        self._items: dict[str, RateLimitItem] = {
            scope: _parse_rate(scope, rate) for scope, rate in merged.items()
        }
        if not _PREFIX_RE.fullmatch(key_prefix):
            # The prefix is a KEYS pattern in reset(); glob characters would widen it.
            raise ValueError(f"invalid rate limit key prefix {key_prefix!r}")
        uri = _storage_uri(storage_url)
        self._storage: Storage
        try:
            if uri.startswith("async+memory"):
                self._storage = MemoryStorage(uri, wrap_exceptions=True)
            else:
                self._storage = RedisStorage(
                    uri, wrap_exceptions=True, key_prefix=key_prefix, **_redis_options()
                )
        except ConfigurationError as exc:
            raise ValueError(f"rate limit storage {storage_url!r}: {exc}") from exc
        self._down_until = 0.0
        self._degraded = False
        self._closed = False

    async def hit(self, scope: str, key: str) -> ThrottleResult | None:
        """Count one request of `key` in `scope`; None when throttling is disabled."""
        if not self.enabled or validate_scope(scope) == UNTHROTTLED:
            return None
        item = self._items[scope]
        window = item.get_expiry()
        if time.monotonic() < self._down_until:
            return self._fail_open(item)
        storage_key = item.key_for(scope, key)
        try:
            count = await self._storage.incr(storage_key, window)
            reset_at = await self._storage.get_expiry(storage_key)
            if count > item.amount and reset_at - time.time() < 0.5:
                # The Redis storage sets the TTL in a second command after INCRBY; if that
                # one was lost the counter would never expire and lock the key out for good.
                await self._storage.clear(storage_key)
                count = await self._storage.incr(storage_key, window)
                reset_at = await self._storage.get_expiry(storage_key)
        except Exception as exc:
            # Throttling protects the service; its own outage must not take requests down.
            self._down_until = time.monotonic() + _OUTAGE_BACKOFF
            if not self._degraded:
                self._degraded = True
                logger.warning("rate limit storage unavailable, allowing requests: %r", exc)
            else:
                logger.debug("rate limit storage still unavailable: %r", exc)
            return self._fail_open(item)
        if self._degraded:
            self._degraded = False
            logger.info("rate limit storage reachable again")
        now = time.time()
        allowed = count <= item.amount
        return ThrottleResult(
            allowed=allowed,
            limit=item.amount,
            remaining=max(0, item.amount - count),
            reset=math.ceil(reset_at),
            retry_after=0 if allowed else max(1, math.ceil(reset_at - now)),
        )

    async def refund(self, scope: str, key: str) -> None:
        """Give back one request counted by `hit` (e.g. a Basic login that turned out right).

        Counting first and refunding afterwards keeps the check atomic: concurrent guesses
        each take a unit of the budget before anything expensive runs.
        """
        if not self.enabled or validate_scope(scope) == UNTHROTTLED:
            return
        if time.monotonic() < self._down_until:
            return
        item = self._items[scope]
        storage_key = item.key_for(scope, key)
        try:
            if await self._storage.get(storage_key) > 0:
                await self._storage.incr(storage_key, item.get_expiry(), amount=-1)
        except Exception as exc:
            logger.debug("rate limit refund failed: %r", exc)

    @staticmethod
    def _fail_open(item: RateLimitItem) -> ThrottleResult:
        """Allow with a full budget: nothing is known about the real count."""
        return ThrottleResult(
            allowed=True,
            limit=item.amount,
            remaining=item.amount,
            reset=math.ceil(time.time() + item.get_expiry()),
            retry_after=0,
        )

    async def ping(self) -> bool:
        """Whether the storage answers (for health checks)."""
        try:
            return bool(await self._storage.check())
        except Exception:
            return False

    async def reset(self) -> None:
        """Forget every counter of this limiter's storage (and key prefix)."""
        await self._storage.reset()
        self._down_until = 0.0

    async def close(self) -> None:
        """Release the storage's background task or connections; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        storage: Any = self._storage
        timer = getattr(storage, "timer", None)  # MemoryStorage's expiry task
        if isinstance(timer, asyncio.Task) and not timer.done():
            timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await timer
        client = getattr(getattr(storage, "bridge", None), "storage", None)
        pool = getattr(client, "connection_pool", None)
        if pool is not None:
            pool.disconnect()
            # Transports close on the next loop iterations; let them, so no socket leaks.
            for _ in range(3):
                await asyncio.sleep(0)
