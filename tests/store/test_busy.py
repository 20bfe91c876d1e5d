"""A busy database (SQLite's lock wait ran out, the pool had no free connection in time) is a
503 with Retry-After, logged as a warning, with nothing half-written; not a 500."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import sqlite3
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy import exc, func, insert, select
from sqlalchemy.ext.asyncio import create_async_engine

from igny8d.store.engine import Store, is_busy
from igny8d.store.errors import StoreBusy
from igny8d.store.schema import accounts, plans
from tests.helpers.app import RunningApp
from tests.helpers.client import PASSWORD, Client, Response
from tests.helpers.paths import ME, REGISTER


def _tiny_pool_store(url: str) -> Store:
    """One pooled connection, no overflow, a 50 ms wait for it."""
    return Store(create_async_engine(url, pool_size=1, max_overflow=0, pool_timeout=0.05))


async def _swap_store(app: RunningApp, store: Store) -> None:
    await app.ctx.store.close()
    app.ctx.store = store


@contextlib.contextmanager
def _sqlite_write_lock(url: str) -> Iterator[sqlite3.Connection]:
    """Another process's writer: a raw connection holding the write lock."""
    raw = sqlite3.connect(url.split(":///", 1)[1], isolation_level=None)
    try:
        raw.execute("BEGIN EXCLUSIVE")
        yield raw
    finally:
        raw.execute("ROLLBACK")
        raw.close()


@contextlib.asynccontextmanager
async def _all_connections_taken(store: Store) -> AsyncIterator[None]:
    async with store.engine.connect():
        yield


def _assert_busy_answer(resp: Response) -> None:
    assert resp.status == 503, resp.json
    assert resp.headers["Retry-After"] == "1"
    assert resp.json["success"] is False
    assert resp.error == "The database is busy; retry shortly."


def _assert_logged_as_warning(caplog: pytest.LogCaptureFixture) -> None:
    busy = [r for r in caplog.records if r.name == "igny8d.access" and "503" in r.getMessage()]
    assert busy and all(r.levelno == logging.WARNING for r in busy), busy
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert [r for r in caplog.records if r.exc_info] == []  # no traceback anywhere


# -- the translation, on the Store --------------------------------------------------------


async def test_pool_timeout_is_store_busy(db_url: str) -> None:
    store = _tiny_pool_store(db_url)
    try:
        async with _all_connections_taken(store):
            with pytest.raises(StoreBusy) as caught:
                async with store.begin():
                    pass
            assert isinstance(caught.value.__cause__, exc.TimeoutError)
            with pytest.raises(StoreBusy):
                async with store.read():
                    pass
        async with store.read() as conn:  # free again: works
            assert (await conn.execute(select(func.count()).select_from(accounts))).scalar() == 0
    finally:
        await store.close()


async def test_busy_inside_a_transaction_rolls_back(db_url: str) -> None:
    store = Store.from_url(db_url)
    try:
        with pytest.raises(StoreBusy):
            async with store.begin() as conn:
                plan_id = (await conn.execute(select(func.min(plans.c.id)))).scalar()
                now = dt.datetime.now(dt.UTC)
                await conn.execute(insert(accounts).values(
                    name="Half", slug="half", plan_id=plan_id, created_at=now, updated_at=now))
                raise exc.OperationalError("INSERT ...", {}, Exception("database is locked"))
        async with store.read() as conn:
            assert (await conn.execute(select(func.count()).select_from(accounts))).scalar() == 0
    finally:
        await store.close()


def test_only_busy_errors_are_store_busy() -> None:
    assert is_busy(exc.TimeoutError("QueuePool limit of size 1 overflow 0 reached"))
    assert is_busy(exc.OperationalError("x", {}, Exception("database is locked")))
    assert is_busy(exc.OperationalError("x", {}, Exception("sorry, too many clients already")))
    assert not is_busy(exc.OperationalError("x", {}, Exception("no such table: users")))
    assert not is_busy(exc.OperationalError("x", {}, Exception("disk I/O error")))
    assert not is_busy(ValueError("database is locked"))


async def test_a_non_busy_operational_error_is_left_alone(db_url: str) -> None:
    store = Store.from_url(db_url)
    try:
        with pytest.raises(exc.OperationalError):
            async with store.begin():
                raise exc.OperationalError("x", {}, Exception("no such table: nope"))
    finally:
        await store.close()


# -- over HTTP ----------------------------------------------------------------------------


async def test_locked_sqlite_answers_503_then_recovers(app: RunningApp, client: Client,
                                                       db_url: str,
                                                       caplog: pytest.LogCaptureFixture,
                                                       ) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("SQLite's write lock")
    await _swap_store(app, Store.from_url(db_url, timeout=0.2))  # wait 0.2 s, not 30
    body = {"email": "ann@example.com", "password": PASSWORD, "password_confirm": PASSWORD}
    caplog.set_level(logging.INFO)
    with _sqlite_write_lock(db_url):
        resp = await client.post(REGISTER, body)
        _assert_busy_answer(resp)
        resp = await client.get("/api/v1/system/ping/")  # reads and the rest still answer
        assert resp.status == 200
    _assert_logged_as_warning(caplog)
    async with app.ctx.store.read() as conn:  # nothing of the refused register was written
        assert (await conn.execute(select(func.count()).select_from(accounts))).scalar() == 0
    resp = await client.post(REGISTER, body)  # the lock is gone: the retry succeeds
    assert resp.status == 201, resp.json


async def test_exhausted_pool_answers_503(app: RunningApp, client: Client, db_url: str,
                                          caplog: pytest.LogCaptureFixture) -> None:
    token = await client.owner("ann@example.com")
    store = _tiny_pool_store(db_url)
    await _swap_store(app, store)
    caplog.set_level(logging.INFO)
    async with _all_connections_taken(store):
        resp = await client.get(ME, token=token)
        _assert_busy_answer(resp)
    _assert_logged_as_warning(caplog)
    resp = await client.get(ME, token=token)
    assert resp.status == 200, resp.json


async def test_busy_requests_queue_then_answer(app: RunningApp, client: Client,
                                               db_url: str) -> None:
    """A short lock within the wait is not an error: the request waits and succeeds."""
    if not db_url.startswith("sqlite"):
        pytest.skip("SQLite's write lock")
    await _swap_store(app, Store.from_url(db_url, timeout=5))
    body = {"email": "ann@example.com", "password": PASSWORD, "password_confirm": PASSWORD}
    with _sqlite_write_lock(db_url) as raw:
        pending = asyncio.ensure_future(client.post(REGISTER, body))
        await asyncio.sleep(0.3)
        assert not pending.done()
        raw.execute("ROLLBACK")
        raw.execute("BEGIN")  # the context manager's ROLLBACK needs a transaction
    resp = await pending
    assert resp.status == 201, resp.json
