"""A full disk is a 507 in the envelope ("The server's disk is full; nothing was saved."),
never a 500: keyword creates, CSV imports and login alike; nothing is half-written; status
says degraded with the reason; it all works again once space comes back.

Two ways: an injected driver error (SQLite's SQLITE_FULL, an ENOSPC, Postgres's SQLSTATE
53100) on both stores, fast; and a real small filesystem (a 4 MB tmpfs) holding the SQLite
database and the log file, filled and freed (root only: skipped where mount is refused).
"""

from __future__ import annotations

import contextlib
import errno
import io
import logging
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, exc, func, select

from igny8d.log import LogFile, configure_logging
from igny8d.store.engine import is_busy, is_full, is_unreachable
from igny8d.store.errors import StoreFull
from igny8d.store.schema import keywords
from tests.helpers.app import RunningApp, make_settings, migrate, start_app, stop_app
from tests.helpers.client import PASSWORD, Client, Response
from tests.helpers.factories import upload
from tests.helpers.logs import loggers_restored
from tests.helpers.paths import KEYWORDS

STATUS = "/api/v1/system/status/"
LOGIN = "/api/v1/auth/login/"
FULL = "The server's disk is full; nothing was saved."


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """The loggers configure_logging() touches, put back as they were (caplog elsewhere
    needs them propagating); handlers a test added are closed."""
    with loggers_restored("igny8d", "tornado", "tornado.access"):
        yield


def assert_full_answer(resp: Response) -> None:
    assert resp.status == 507, (resp.status, resp.json)
    assert resp.json["success"] is False
    assert resp.error == FULL
    assert resp.json["request_id"]


class _PgDiskFull(Exception):
    """What asyncpg's DiskFullError carries that matters here: its SQLSTATE."""

    sqlstate = "53100"


# -- what counts as a full disk ------------------------------------------------------------


def test_full_disk_errors_are_told_apart() -> None:
    assert is_full(exc.OperationalError("x", {}, sqlite3.OperationalError(
        "database or disk is full")))
    assert is_full(sqlite3.OperationalError("database or disk is full"))
    assert is_full(OSError(errno.ENOSPC, "No space left on device"))
    assert is_full(exc.DBAPIError("x", {}, _PgDiskFull("whatever it says")))
    assert is_full(exc.OperationalError("x", {}, Exception(
        'could not extend file "base/16384/2619": No space left on device')))
    # a full disk is neither busy nor down; other errors stay what they are
    full = exc.OperationalError("x", {}, sqlite3.OperationalError("database or disk is full"))
    assert not is_busy(full)
    assert not is_unreachable(full)
    assert not is_full(exc.OperationalError("x", {}, Exception("no such table: x")))
    assert not is_full(exc.OperationalError("x", {}, Exception("database is locked")))
    assert not is_full(OSError(errno.EACCES, "Permission denied"))
    assert not is_full(ValueError("database or disk is full"))  # not the driver's


@contextlib.contextmanager
def writes_fail(app: RunningApp, error: Exception) -> Iterator[None]:
    """Every INSERT/UPDATE/DELETE on the store's connections raises `error` (as the driver
    would on a full disk); reads go on."""
    sync_engine = app.ctx.store.engine.sync_engine

    def refuse(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
            raise error

    event.listen(sync_engine, "before_cursor_execute", refuse)
    try:
        yield
    finally:
        event.remove(sync_engine, "before_cursor_execute", refuse)


async def count_keywords(app: RunningApp) -> int:
    async with app.ctx.store.read() as conn:
        return int((await conn.execute(select(func.count()).select_from(keywords))).scalar_one())


@pytest.mark.parametrize("error", [
    sqlite3.OperationalError("database or disk is full"),
    OSError(errno.ENOSPC, "No space left on device"),
    _PgDiskFull('could not extend file "base/1/2": No space left on device'),
], ids=["sqlite-full", "enospc", "pg-53100"])
async def test_injected_full_disk_answers_507_then_recovers(
        app: RunningApp, client: Client, error: Exception) -> None:
    token = await client.owner("ann@example.com")
    site = await client.site(token)
    sector = await client.sector(token, site["id"])
    body = {"keyword": "first", "site_id": site["id"], "sector_id": sector["id"]}
    before = await count_keywords(app)

    with writes_fail(app, error):
        assert_full_answer(await client.post(KEYWORDS, body, token=token))
        assert_full_answer(await upload(client, token, site, sector,
                                        b"keyword,volume\nalpha,10\nbeta,20\n"))
        assert_full_answer(await client.post(
            LOGIN, {"email": "ann@example.com", "password": PASSWORD}))
        status = await client.get(STATUS)
        assert status.status == 200, status.json
        assert status.data["status"] == "degraded"
        assert status.data["disk"] == {"ok": False}
        assert any("disk is full" in reason for reason in status.data["reasons"])
        assert await count_keywords(app) == before  # nothing half-written

    resp = await client.post(KEYWORDS, body, token=token)
    assert resp.status == 201, resp.json
    resp = await upload(client, token, site, sector, b"keyword,volume\nalpha,10\n")
    assert resp.status in (200, 201), resp.json
    status = await client.get(STATUS)
    assert status.data["status"] == "ok", status.json
    assert status.data["reasons"] == []


async def test_store_full_is_raised_after_the_rollback(app: RunningApp) -> None:
    with (writes_fail(app, sqlite3.OperationalError("database or disk is full")),
          pytest.raises(StoreFull)):
        async with app.ctx.store.begin() as conn:
            await conn.execute(keywords.delete())
    assert app.ctx.store.disk_full_at is not None
    async with app.ctx.store.begin():
        pass
    assert app.ctx.store.disk_full_at is None


# -- the log file on a full disk -----------------------------------------------------------


def test_log_file_on_a_failing_disk_says_so_once_and_recovers(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], restored_logging: None) -> None:
    configure_logging(log_dir=tmp_path, stream=io.StringIO())
    log = logging.getLogger("igny8d.test")
    handler = next(h for h in log.parent.handlers if isinstance(h, LogFile))  # type: ignore[union-attr]
    real = handler.stream
    try:
        handler.stream = _FullStream()
        for i in range(20):
            log.warning("record %d", i)
        err = capsys.readouterr().err
        assert "--- Logging error ---" not in err
        assert err.count("cannot write the log file") == 1, err
        handler.stream = real
        log.warning("after")
        err = capsys.readouterr().err
        assert err.count("writable again") == 1, err
        assert "after" in (tmp_path / "igny8d.log").read_text()
    finally:
        handler.stream = real


class _FullStream(io.StringIO):
    def write(self, text: str) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")


# -- a real small filesystem ---------------------------------------------------------------


@contextlib.contextmanager
def small_filesystem(where: Path, size: str = "4m") -> Iterator[Path]:
    where.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"mount not permitted here: {done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(folder: Path) -> Path:
    """Take every free byte of `folder`'s filesystem; the file to remove to free it."""
    filler = folder / "filler"
    with filler.open("wb", buffering=0) as out:
        chunk = b"\0" * 65536
        with contextlib.suppress(OSError):
            while True:
                out.write(chunk)
        with contextlib.suppress(OSError):
            while True:
                out.write(b"\0")
    return filler


@pytest.mark.slow
async def test_a_real_full_filesystem(tmp_path: Path, capfd: pytest.CaptureFixture[str],
                                      restored_logging: None) -> None:
    with small_filesystem(tmp_path / "small") as data:
        url = f"sqlite+aiosqlite:///{data}/igny8d.db"
        await migrate(url)
        configure_logging(log_dir=data / "log", stream=io.StringIO())
        running = await start_app(make_settings(data, url))
        client = running.client()
        try:
            token = await client.owner("ann@example.com")
            site = await client.site(token)
            sector = await client.sector(token, site["id"])
            body = {"keyword": "k0", "site_id": site["id"], "sector_id": sector["id"]}
            assert (await client.post(KEYWORDS, body, token=token)).status == 201
            before = await count_keywords(running)

            filler = fill(data)
            capfd.readouterr()
            statuses = []
            for i in range(1, 30):  # enough writes to need new pages and WAL frames
                body["keyword"] = f"keyword number {i} " + "x" * 200
                statuses.append((await client.post(KEYWORDS, body, token=token)).status)
            assert 500 not in statuses, statuses
            assert 507 in statuses, statuses
            resp = await upload(client, token, site, sector, b"keyword,volume\n" + b"".join(
                f"csv keyword {i} {'y' * 200},{i}\n".encode() for i in range(200)))
            assert resp.status in (200, 201, 507), resp.json
            if resp.status == 507:
                assert_full_answer(resp)
            login = await client.post(LOGIN, {"email": "ann@example.com", "password": PASSWORD})
            assert login.status == 507, login.json  # it records the session: a write
            assert_full_answer(login)
            status = await client.get(STATUS)
            assert status.data["status"] == "degraded", status.json
            assert status.data["disk"] == {"ok": False}
            for _ in range(20):
                logging.getLogger("igny8d.test").warning("x" * 2000)
            err = capfd.readouterr().err
            assert "--- Logging error ---" not in err
            assert err.count("cannot write the log file") <= 1, err
            assert await count_keywords(running) == before + statuses.count(201)

            filler.unlink()
            body["keyword"] = "after the space came back"
            resp = await client.post(KEYWORDS, body, token=token)
            assert resp.status == 201, resp.json
            resp = await client.post(LOGIN, {"email": "ann@example.com", "password": PASSWORD})
            assert resp.status == 200, resp.json
            status = await client.get(STATUS)
            assert status.data["status"] == "ok", status.json
            logging.getLogger("igny8d.test").warning("space is back")
            assert capfd.readouterr().err.count("writable again") == 1
            assert "space is back" in (data / "log" / "igny8d.log").read_text()
        finally:
            client.close()
            await stop_app(running)
