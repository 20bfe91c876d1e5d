"""Item 13: each test session owns a throwaway Postgres database; parallel suites never collide."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from tests.helpers.app import (
    PG_URL,
    create_throwaway_database,
    drop_throwaway_database,
    worker_redis_url,
)


async def _exists(via: str, name: str) -> bool:
    """pg_database is cluster-wide: ask through the session's database (the admin one may not
    exist: the helpers fall back to `postgres`)."""
    engine = create_async_engine(via)
    try:
        async with engine.connect() as conn:
            found = await conn.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
    finally:
        await engine.dispose()
    return bool(found == 1)


@pytest.mark.db
async def test_session_database_is_private(postgres_ready: str) -> None:
    """The suite never runs in the admin database (a fixed `test` db was shared by every run)."""
    name = make_url(postgres_ready).database
    assert name is not None
    assert name.startswith("igny8d_test_")
    assert name != make_url(PG_URL).database


@pytest.mark.db
async def test_two_sessions_get_two_databases_and_drop_them(postgres_ready: str) -> None:
    """Two concurrent runs get different, migrated databases; dropping one leaves the other."""
    first = await create_throwaway_database(PG_URL)
    second = await create_throwaway_database(PG_URL)
    try:
        assert first != second
        engine = create_async_engine(first)
        try:
            async with engine.connect() as conn:
                assert await conn.scalar(text("SELECT count(*) FROM users")) == 0
        finally:
            await engine.dispose()
        await drop_throwaway_database(PG_URL, first)
        assert not await _exists(postgres_ready, make_url(first).database or "")
        assert await _exists(postgres_ready, make_url(second).database or "")
    finally:
        await drop_throwaway_database(PG_URL, first)
        await drop_throwaway_database(PG_URL, second)
    assert not await _exists(postgres_ready, make_url(second).database or "")


@pytest.mark.parametrize(("worker", "given", "expected"), [
    ("", "redis://127.0.0.1:6379/15", "redis://127.0.0.1:6379/15"),
    ("gw0", "redis://127.0.0.1:6379/15", "redis://127.0.0.1:6379/15"),
    ("gw3", "redis://127.0.0.1:6379/15", "redis://127.0.0.1:6379/12"),
    ("gw1", "redis://:pw@cache:6380/9?socket_timeout=5", "redis://:pw@cache:6380/8?socket_timeout=5"),
])
def test_xdist_workers_get_redis_databases_of_their_own(
        monkeypatch: pytest.MonkeyPatch, worker: str, given: str, expected: str) -> None:
    """Two workers sharing one database would share rate-limit windows and fail each other."""
    monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
    assert worker_redis_url(given) == expected


def test_too_many_workers_for_the_redis_database_is_an_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw2")
    with pytest.raises(pytest.fail.Exception, match="no room for xdist worker gw2"):
        worker_redis_url("redis://127.0.0.1:6379/2")  # gw2 would take database 0
    with pytest.raises(pytest.fail.Exception, match="numbered database"):
        worker_redis_url("unix:///run/redis.sock")
