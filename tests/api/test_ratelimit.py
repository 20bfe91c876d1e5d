"""Unit tests of igny8d.ratelimit (no HTTP server)."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable

import pytest

from igny8d.ratelimit import SCOPES, UNTHROTTLED, RateLimiter, ThrottleResult, validate_scope
from tests.helpers.app import redis_url_or_skip

REFERENCE_SCOPES = {
    "ai_function": 10,
    "image_gen": 15,
    "content_write": 30,
    "content_read": 100,
    "auth": 20,
    "auth_strict": 5,
    "planner": 60,
    "planner_ai": 10,
    "writer": 60,
    "writer_ai": 10,
    "system": 100,
    "system_admin": 30,
    "billing": 30,
    "billing_admin": 10,
    "default": 100,
}

MakeLimiter = Callable[..., RateLimiter]


@pytest.fixture
async def make_limiter() -> AsyncIterator[MakeLimiter]:
    """Build limiters that are closed after the test (filterwarnings=error catches leaks)."""
    made: list[RateLimiter] = []

    def make(*args: object, **kwargs: object) -> RateLimiter:
        limiter = RateLimiter(*args, **kwargs)  # type: ignore[arg-type]
        made.append(limiter)
        return limiter

    yield make
    for limiter in made:
        await limiter.close()


# --- scopes -------------------------------------------------------------------------------


def test_scope_table_is_the_reference() -> None:
    assert set(SCOPES) == set(REFERENCE_SCOPES)


@pytest.mark.parametrize(("scope", "limit"), sorted(REFERENCE_SCOPES.items()))
async def test_each_scope_limit(make_limiter: MakeLimiter, scope: str, limit: int) -> None:
    assert SCOPES[scope] == f"{limit}/minute"
    result = await make_limiter().hit(scope, "user:1")
    assert result is not None
    assert result.allowed
    assert result.limit == limit
    assert result.remaining == limit - 1
    now = time.time()
    assert now < result.reset <= now + 61


def test_validate_scope() -> None:
    assert validate_scope("planner") == "planner"
    with pytest.raises(ValueError, match=r"^unknown throttle scope 'x'$"):
        validate_scope("x")


async def test_unthrottled_scope_is_never_counted(make_limiter: MakeLimiter) -> None:
    assert UNTHROTTLED not in SCOPES
    assert validate_scope(UNTHROTTLED) == UNTHROTTLED
    limiter = make_limiter(rates={"default": "1/minute"})
    for _ in range(200):
        assert await limiter.hit(UNTHROTTLED, "ip:127.0.0.1") is None
    result = await limiter.hit("default", "ip:127.0.0.1")
    assert result is not None
    assert result.allowed  # nothing spilled into another scope
    with pytest.raises(ValueError, match="unknown throttle scope"):
        make_limiter(rates={UNTHROTTLED: "1/minute"})


@pytest.mark.parametrize("storage", ["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def test_refund_gives_back_one_hit(make_limiter: MakeLimiter, storage: str) -> None:
    url = "memory://" if storage == "memory" else redis_url_or_skip()
    limiter = make_limiter(url, rates={"auth": "3/minute"},
                           key_prefix=f"igny8d-test-{uuid.uuid4().hex}")
    for _ in range(3):
        result = await limiter.hit("auth", "ip:10.0.0.1")
        assert result is not None
        assert result.allowed
        await limiter.refund("auth", "ip:10.0.0.1")
    remaining = [r.remaining for r in [await limiter.hit("auth", "ip:10.0.0.1")
                                        for _ in range(3)] if r is not None]
    assert remaining == [2, 1, 0]
    # Never below zero: refunds without hits do not bank extra requests.
    await limiter.reset()
    for _ in range(5):
        await limiter.refund("auth", "ip:10.0.0.2")
    results = [await limiter.hit("auth", "ip:10.0.0.2") for _ in range(4)]
    assert [r.allowed for r in results if r is not None] == [True, True, True, False]
    await limiter.refund(UNTHROTTLED, "ip:10.0.0.2")  # a no-op, not an error
    await limiter.reset()


async def test_hit_unknown_scope_raises(make_limiter: MakeLimiter) -> None:
    with pytest.raises(ValueError, match="unknown throttle scope 'nope'"):
        await make_limiter().hit("nope", "user:1")


# --- counting -----------------------------------------------------------------------------


async def test_hits_count_down_then_refuse(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter()
    limit = REFERENCE_SCOPES["auth_strict"]
    for expected_remaining in range(limit - 1, -1, -1):
        result = await limiter.hit("auth_strict", "ip:127.0.0.1")
        assert result is not None
        assert result.allowed
        assert result.remaining == expected_remaining
        assert result.retry_after == 0
        headers = result.headers()
        assert "Retry-After" not in headers
        assert headers["X-Throttle-Limit"] == str(limit)
        assert headers["X-Throttle-Remaining"] == str(expected_remaining)

    refused = await limiter.hit("auth_strict", "ip:127.0.0.1")
    assert refused is not None
    assert not refused.allowed
    assert refused.remaining == 0
    assert 1 <= refused.retry_after <= 60
    assert refused.reset >= int(time.time()) + refused.retry_after - 1
    headers = refused.headers()
    assert headers == {
        "X-Throttle-Limit": str(limit),
        "X-Throttle-Remaining": "0",
        "X-Throttle-Reset": str(refused.reset),
        "Retry-After": str(refused.retry_after),
    }
    # Still refused afterwards; remaining never goes negative.
    again = await limiter.hit("auth_strict", "ip:127.0.0.1")
    assert again is not None
    assert not again.allowed
    assert again.remaining == 0


async def test_keys_and_scopes_are_independent(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter(rates={"auth": "2/minute", "auth_strict": "2/minute"})
    for _ in range(3):
        await limiter.hit("auth", "user:1")
    refused = await limiter.hit("auth", "user:1")
    assert refused is not None
    assert not refused.allowed

    other_key = await limiter.hit("auth", "user:2")
    assert other_key is not None
    assert other_key.allowed
    assert other_key.remaining == 1

    # Same key, same rate, another scope: its own counter.
    other_scope = await limiter.hit("auth_strict", "user:1")
    assert other_scope is not None
    assert other_scope.allowed
    assert other_scope.remaining == 1


async def test_window_resets(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter(rates={"auth": "1/second"})
    first = await limiter.hit("auth", "ip:10.0.0.1")
    refused = await limiter.hit("auth", "ip:10.0.0.1")
    assert first is not None
    assert refused is not None
    assert first.allowed
    assert not refused.allowed
    assert refused.retry_after == 1
    await asyncio.sleep(1.05)
    later = await limiter.hit("auth", "ip:10.0.0.1")
    assert later is not None
    assert later.allowed


async def test_reset_clears_counters(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter(rates={"auth": "1/minute"})
    await limiter.hit("auth", "user:1")
    refused = await limiter.hit("auth", "user:1")
    assert refused is not None
    assert not refused.allowed
    await limiter.reset()
    result = await limiter.hit("auth", "user:1")
    assert result is not None
    assert result.allowed


async def test_disabled_limiter_returns_none(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter(enabled=False, rates={"auth": "1/minute"})
    for _ in range(5):
        assert await limiter.hit("auth", "user:1") is None
    limiter.enabled = True
    result = await limiter.hit("auth", "user:1")
    assert result is not None
    assert result.allowed  # nothing was counted while disabled


def test_throttle_result_headers() -> None:
    ok = ThrottleResult(allowed=True, limit=10, remaining=3, reset=1700000000, retry_after=0)
    assert ok.headers() == {
        "X-Throttle-Limit": "10",
        "X-Throttle-Remaining": "3",
        "X-Throttle-Reset": "1700000000",
    }
    with pytest.raises(AttributeError):
        ok.allowed = False  # type: ignore[misc]


# --- configuration ------------------------------------------------------------------------


async def test_rates_override(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter(rates={"planner": "3/minute", "default": "7 per hour"})
    planner = await limiter.hit("planner", "user:1")
    default = await limiter.hit("default", "user:1")
    writer = await limiter.hit("writer", "user:1")
    assert planner is not None
    assert default is not None
    assert writer is not None
    assert planner.limit == 3
    assert default.limit == 7
    assert default.reset > time.time() + 3500
    assert writer.limit == 60  # not overridden
    assert SCOPES["planner"] == "60/minute"  # the module table is untouched


def test_override_of_unknown_scope_raises() -> None:
    with pytest.raises(ValueError, match="unknown throttle scope 'plannr'"):
        RateLimiter(rates={"plannr": "3/minute"})


@pytest.mark.parametrize("rate", ["", "lots", "ten/minute", "5/fortnight", "0/minute",
                                  "5/minute;100/hour"])
def test_unparsable_rate_raises(rate: str) -> None:
    with pytest.raises(ValueError, match=r"invalid rate .* for throttle scope 'auth'"):
        RateLimiter(rates={"auth": rate})


@pytest.mark.parametrize(
    "url",
    ["", "memory", "localhost:6379", "memcached://127.0.0.1:11211", "mongodb://x/y",
     "http://127.0.0.1:6379", "redis://", "redis://127.0.0.1:port/0"],
)
def test_bad_storage_url_raises(url: str) -> None:
    with pytest.raises(ValueError, match="storage URL"):
        RateLimiter(url)


@pytest.mark.parametrize(
    "url",
    ["memory://", "async+memory://", "redis://127.0.0.1:6379/15", "rediss://cache.example:6380/0",
     "async+redis://127.0.0.1:6379/15", "async+rediss://cache.example:6380"],
)
async def test_storage_url_forms_accepted(make_limiter: MakeLimiter, url: str) -> None:
    assert make_limiter(url).enabled  # builds without connecting


async def test_close_twice(make_limiter: MakeLimiter) -> None:
    limiter = make_limiter()
    await limiter.hit("default", "user:1")
    assert await limiter.ping()
    await limiter.close()
    await limiter.close()


# --- storage outage -----------------------------------------------------------------------


@pytest.mark.timeout(15)
async def test_storage_outage_fails_open(
    make_limiter: MakeLimiter, caplog: pytest.LogCaptureFixture
) -> None:
    limiter = make_limiter(
        "redis://127.0.0.1:1/0?connect_timeout=0.5&stream_timeout=0.5",
        rates={"auth_strict": "1/minute"},
    )
    started = time.monotonic()
    assert not await limiter.ping()
    with caplog.at_level(logging.WARNING, logger="igny8d.ratelimit"):
        for _ in range(3):  # above the limit: everything is let through
            result = await limiter.hit("auth_strict", "ip:127.0.0.1")
            assert result is not None
            assert result.allowed
            assert result.remaining == result.limit == 1
            assert result.retry_after == 0
            assert "Retry-After" not in result.headers()
    assert time.monotonic() - started < 5
    warnings = [r for r in caplog.records if r.name == "igny8d.ratelimit"]
    assert len(warnings) == 1  # once per outage, not per request
    assert warnings[0].levelno == logging.WARNING


# --- Redis --------------------------------------------------------------------------------


@pytest.mark.redis
async def test_redis_limiters_share_counters(make_limiter: MakeLimiter) -> None:
    url = redis_url_or_skip()
    prefix = f"igny8d-test-{uuid.uuid4().hex}"
    rates = {"auth_strict": "4/minute"}
    first = make_limiter(url, rates=rates, key_prefix=prefix)
    second = make_limiter(url, rates=rates, key_prefix=prefix)
    try:
        assert await first.ping()
        assert await second.ping()
        remaining = []
        for limiter in (first, second, first, second):
            result = await limiter.hit("auth_strict", "user:12")
            assert result is not None
            assert result.allowed
            remaining.append(result.remaining)
        assert remaining == [3, 2, 1, 0]
        for limiter in (first, second):
            refused = await limiter.hit("auth_strict", "user:12")
            assert refused is not None
            assert not refused.allowed
            assert refused.retry_after >= 1
            assert "Retry-After" in refused.headers()
        # Other keys and scopes are not affected.
        other = await second.hit("auth_strict", "user:13")
        assert other is not None
        assert other.remaining == 3
        # A reset by one process is seen by the other.
        await first.reset()
        after = await second.hit("auth_strict", "user:12")
        assert after is not None
        assert after.allowed
        assert after.remaining == 3
    finally:
        await first.reset()


@pytest.mark.redis
async def test_redis_reset_keeps_other_prefixes(make_limiter: MakeLimiter) -> None:
    url = redis_url_or_skip()
    mine = make_limiter(url, rates={"auth": "1/minute"}, key_prefix=f"t-{uuid.uuid4().hex}")
    theirs = make_limiter(url, rates={"auth": "1/minute"}, key_prefix=f"t-{uuid.uuid4().hex}")
    try:
        await mine.hit("auth", "user:1")
        await theirs.hit("auth", "user:1")
        await mine.reset()
        mine_after = await mine.hit("auth", "user:1")
        theirs_after = await theirs.hit("auth", "user:1")
        assert mine_after is not None
        assert theirs_after is not None
        assert mine_after.allowed
        assert not theirs_after.allowed
    finally:
        await mine.reset()
        await theirs.reset()


@pytest.mark.redis
async def test_redis_counter_without_ttl_heals(make_limiter: MakeLimiter) -> None:
    """A counter whose EXPIRE was lost must not lock the key out for good."""
    import coredis

    url = redis_url_or_skip()
    prefix = f"igny8d-test-{uuid.uuid4().hex}"
    limiter = make_limiter(url, rates={"auth": "1/minute"}, key_prefix=prefix)
    client = coredis.Redis.from_url(url)
    try:
        await limiter.hit("auth", "user:1")
        keys = list(await client.keys(f"{prefix}:*"))
        assert len(keys) == 1
        assert await client.persist(keys[0])  # simulate the lost EXPIRE
        result = await limiter.hit("auth", "user:1")
        assert result is not None
        assert result.allowed
        assert 0 < await client.ttl(keys[0]) <= 60
    finally:
        await limiter.reset()
        client.connection_pool.disconnect()
