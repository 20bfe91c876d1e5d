"""A database that is not there (refused, dropped, shutting down, a file that cannot be
opened) is a 503 with Retry-After for every request that needs it, never a 500; the outage is
logged once when it begins and once when it ends; ping never reads the store and status says
why it is unhealthy.

Here the store is swapped for one whose server refuses every connection (a port nobody
listens on): fast, no server to stop. tests/store/test_outage_pg.py stops, kills and starts a
real throwaway Postgres and terminates backends of the shared one.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import exc

from igny8d.store.engine import Store, is_busy, is_unreachable
from igny8d.store.errors import StoreUnreachable
from tests.helpers.app import (
    RunningApp,
    make_settings,
    start_app,
    start_jobs_app,
    stop_app,
)
from tests.helpers.client import Client, Response
from tests.helpers.paths import KEYWORDS, ME
from tests.helpers.process import free_port

PING = "/api/v1/system/ping/"
STATUS = "/api/v1/system/status/"
LOGIN = "/api/v1/auth/login/"


def refused_store() -> Store:
    """A Postgres store on a loopback port nobody listens on: every connect is refused."""
    return Store.from_url(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/igny8d")


def assert_unreachable_answer(resp: Response) -> None:
    assert resp.status == 503, (resp.status, resp.json)
    assert resp.headers["Retry-After"] == "2"
    assert resp.json["success"] is False
    assert resp.error == "The database is not reachable; retry shortly."
    assert resp.json["request_id"]


def outage_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "igny8d.store"]


# -- what counts as unreachable ---------------------------------------------------------


def test_unreachable_errors_are_told_apart() -> None:
    refused = OSError("Multiple exceptions: [Errno 111] Connect call failed ('127.0.0.1', 1)")
    assert is_unreachable(refused)
    assert is_unreachable(ConnectionRefusedError(111, "Connection refused"))
    assert is_unreachable(ConnectionResetError(104, "Connection reset by peer"))
    assert is_unreachable(TimeoutError())
    assert is_unreachable(exc.InterfaceError(
        "SELECT 1", {}, Exception("connection is closed")))
    assert is_unreachable(exc.OperationalError(
        "x", {}, Exception("terminating connection due to administrator command")))
    assert is_unreachable(exc.OperationalError(
        "x", {}, Exception("the database system is shutting down")))
    assert is_unreachable(exc.DBAPIError(
        "x", {}, Exception("the database system is not yet accepting connections")))
    assert is_unreachable(exc.OperationalError(
        "x", {}, sqlite3.OperationalError("unable to open database file")))
    dropped = exc.DBAPIError("x", {}, Exception("whatever the driver said"),
                             connection_invalidated=True)
    assert is_unreachable(dropped)
    # bugs stay bugs (a 500 with its traceback), busy stays busy
    assert not is_unreachable(exc.OperationalError("x", {}, Exception("no such table: x")))
    assert not is_unreachable(exc.OperationalError("x", {}, Exception("database is locked")))
    assert not is_unreachable(ValueError("connection refused"))
    assert not is_unreachable(FileNotFoundError(2, "No such file", "/media/x.png"))
    assert not is_busy(refused)


async def test_refused_store_raises_store_unreachable_and_logs_once(
        caplog: pytest.LogCaptureFixture) -> None:
    store = refused_store()
    caplog.set_level(logging.INFO)
    try:
        for _ in range(3):
            with pytest.raises(StoreUnreachable):
                async with store.begin():
                    pass
            with pytest.raises(StoreUnreachable):
                async with store.read():
                    pass
            with pytest.raises(StoreUnreachable):
                await store.run_read(lambda conn: None)
        assert store.outage is not None
        records = outage_records(caplog)
        assert [r.levelno for r in records] == [logging.ERROR], records
        assert "database unreachable" in records[0].getMessage()
        assert not any(r.exc_info for r in caplog.records)
        assert await store.ping() is False
    finally:
        await store.close()


# -- over HTTP --------------------------------------------------------------------------


async def test_every_store_request_answers_503_and_health_checks_answer(
        app: RunningApp, client: Client, caplog: pytest.LogCaptureFixture) -> None:
    token = await client.owner("ann@example.com")
    await app.ctx.store.close()
    app.ctx.store = refused_store()
    caplog.set_level(logging.INFO)

    assert_unreachable_answer(await client.get(ME, token=token))
    assert_unreachable_answer(await client.get(KEYWORDS, token=token))
    assert_unreachable_answer(await client.post(KEYWORDS, {"keyword": "x"}, token=token))
    assert_unreachable_answer(await client.post(
        LOGIN, {"email": "ann@example.com", "password": "whatever-it-is"}))
    # the liveness check never reads the store, with a token or without
    for kw in ({}, {"token": token}, {"token": "not-a-token"}):
        resp = await client.get(PING, **kw)
        assert resp.status == 200, resp.json
        assert resp.json["data"]["status"] == "ok"
    # the health check answers its own 503, with the reason, with a token or without
    for kw in ({}, {"token": token}):
        resp = await client.get(STATUS, **kw)
        assert resp.status == 503, resp.json
        assert resp.headers["Retry-After"]
        assert resp.errors == {"database": ["The database is not reachable."]}

    records = outage_records(caplog)
    assert [r.levelno for r in records] == [logging.ERROR], records  # one line, not one each
    assert not any(r.exc_info for r in caplog.records)  # no traceback anywhere
    assert not [r for r in caplog.records if r.name == "igny8d.access" and " 500 " in
                r.getMessage()]


async def test_sqlite_file_that_cannot_be_opened_answers_503(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The database's folder is gone (a volume unmounted, a path removed): 503, not 500."""
    folder = tmp_path / "gone"
    running = await start_app(make_settings(tmp_path, f"sqlite+aiosqlite:///{folder}/x.db"))
    try:
        await running.ctx.store.close()
        running.ctx.store = Store.from_url(f"sqlite+aiosqlite:///{folder}/x.db")
        folder.rmdir()  # made by from_url; the file was never created: it cannot be opened
        folder.write_text("not a folder")  # and the folder cannot come back by itself
        caplog.set_level(logging.INFO)
        client = running.client()
        assert_unreachable_answer(await client.post(
            "/api/v1/auth/register/", {"email": "a@example.com", "password": "x" * 12,
                                       "password_confirm": "x" * 12}))
        resp = await client.get(STATUS)
        assert resp.status == 503, resp.json
        assert [r.levelno for r in outage_records(caplog)] == [logging.ERROR]
    finally:
        await stop_app(running)


async def test_a_bug_is_still_a_500(app: RunningApp) -> None:
    """Only the database's absence is translated: other errors keep their traceback."""
    with pytest.raises(exc.OperationalError):
        async with app.ctx.store.begin():
            raise exc.OperationalError("x", {}, Exception("no such column: nope"))
    assert app.ctx.store.outage is None


async def test_job_workers_do_not_log_each_poll_of_an_outage(
        tmp_path: Path, db_url: str, caplog: pytest.LogCaptureFixture) -> None:
    running = await start_jobs_app(tmp_path, db_url, poll_max=0.05)
    store = refused_store()
    try:
        running.ctx.executor.store = store
        caplog.set_level(logging.INFO)
        running.ctx.executor.wake()
        await asyncio.sleep(0.6)  # several polls of both workers
        assert [r.levelno for r in caplog.records if r.levelno >= logging.WARNING] == [
            logging.ERROR], [r.getMessage() for r in caplog.records]
        assert store.outage is not None
    finally:
        await store.close()
        await stop_app(running)


async def test_sqlite_locked_against_readers_answers_503(
        app: RunningApp, client: Client, db_url: str) -> None:
    """Another process holds the file in exclusive locking mode (a backup tool, a stray
    `sqlite3` shell): even reads cannot get in. They wait the busy timeout, then 503."""
    if not db_url.startswith("sqlite"):
        pytest.skip("SQLite's file lock")
    token = await client.owner("ann@example.com")
    await app.ctx.store.close()
    app.ctx.store = Store.from_url(db_url, timeout=0.2)
    raw = sqlite3.connect(db_url.split(":///", 1)[1], isolation_level=None)
    try:
        raw.execute("PRAGMA locking_mode=EXCLUSIVE")
        raw.execute("BEGIN EXCLUSIVE")
        raw.execute("UPDATE accounts SET name = name")
        for resp in (await client.get(ME, token=token), await client.get(KEYWORDS, token=token)):
            assert resp.status == 503, resp.json
            assert resp.headers["Retry-After"] == "1"
        assert (await client.get(PING, token=token)).status == 200
    finally:
        raw.execute("ROLLBACK")
        raw.close()  # the exclusive lock goes with the connection
    assert (await client.get(ME, token=token)).status == 200
