"""`Store.read_now` runs short reads on the event loop's thread; a database that makes it
wait must not hold the loop: the loop's connection waits at most LOOP_BUSY_MS for a lock, and
a read that ran out of that wait is run again on a reader thread with the full timeout."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from sqlalchemy import exc
from sqlalchemy.engine import Connection

from igny8d.store.engine import LOOP_BUSY_MS, Store


def _busy_timeout(conn: Connection) -> tuple[int, str]:
    return (int(conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one()),
            threading.current_thread().name)


def _store(tmp_path: Path) -> Store:
    path = tmp_path / "store.db"
    sqlite3.connect(path).close()
    return Store.from_url(f"sqlite+aiosqlite:///{path}", timeout=5.0)


async def test_the_loop_waits_briefly_the_readers_fully(tmp_path: Path) -> None:
    store = _store(tmp_path)
    try:
        on_loop, loop_thread = await store.read_now(_busy_timeout)
        off_loop, reader_thread = await store.run_read(_busy_timeout)
        assert on_loop == LOOP_BUSY_MS and loop_thread == threading.current_thread().name
        assert off_loop == 5000 and reader_thread.startswith("igny8d-read")
    finally:
        await store.close()


async def test_a_read_busy_on_the_loop_is_retried_off_it(tmp_path: Path) -> None:
    store = _store(tmp_path)
    seen: list[str] = []

    def locked_on_the_loop(conn: Connection) -> str:
        name = threading.current_thread().name
        seen.append(name)
        if not name.startswith("igny8d-read"):
            raise exc.OperationalError("SELECT 1", {},
                                       sqlite3.OperationalError("database is locked"))
        return "read"

    try:
        assert await store.read_now(locked_on_the_loop) == "read"
        assert len(seen) == 2 and seen[1].startswith("igny8d-read")
    finally:
        await store.close()
