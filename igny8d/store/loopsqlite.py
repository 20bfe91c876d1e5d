"""The embedded store's write connections: the stdlib `sqlite3` driver run on the event loop's
thread, behind the aiosqlite API SQLAlchemy's async dialect expects (`async_creator`).

Through aiosqlite every statement of a write is four hops to the driver's thread and back
(cursor, execute, fetch, close), each waiting a full turn of the event loop: a keyword create
took 34 hops, about 30 ms on an idle server, and several times that under read load, when
each turn carries other requests' work (measured, issue 14). A write transaction's statements
are short once it holds SQLite's write lock (`BEGIN IMMEDIATE`), so here they run at once on
the calling thread: no hop. What may wait or run long does not:
- `BEGIN`: the lock is asked for without SQLite's busy wait; while another process holds it,
  the coroutine sleeps and asks again (the loop keeps serving) until the busy timeout;
- statements of a connection marked `offload` (bulk imports), the next one after
  `offload_next` (a count that may scan: `rows.count_rows`) and every `executemany` run in a
  worker thread, one hop each.
Writers of this process take turns before BEGIN (`Store.begin`'s lock), so no writer ever
waits for the lock on the loop's thread behind another of its own.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any, TypeVar

T = TypeVar("T")

#: how long to sleep between two asks for the write lock another process holds
_RETRY_S = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05)


class _Immediate:
    """aiosqlite's request queue, as SQLAlchemy's adapter uses it to set the isolation level:
    the function runs at once and its future is resolved."""

    def put_nowait(self, item: tuple[asyncio.Future[Any], Callable[[], Any]]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except Exception as error:  # the adapter raises it from the future
            future.set_exception(error)


class Connection:
    """What SQLAlchemy's aiosqlite adapter calls, on a `sqlite3.Connection`."""

    def __init__(self, conn: sqlite3.Connection, timeout: float) -> None:
        self._conn: sqlite3.Connection | None = conn
        self._connection = conn
        self._tx = _Immediate()
        self.timeout = timeout
        #: run every statement in a worker thread (long bulk work; reset by `Store.begin`)
        self.offload = False
        #: run the next statement in a worker thread (one that may scan: `offload_next`)
        self.offload_once = False

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise ValueError("no active connection")
        return self._conn

    @property
    def isolation_level(self) -> str | None:
        return self.conn.isolation_level

    def cursor(self) -> Cursor:
        return Cursor(self)

    async def run(self, fn: Callable[..., T], *args: Any, offload: bool = False) -> T:
        if offload or self.offload or self.offload_once:
            self.offload_once = False
            return await asyncio.to_thread(fn, *args)
        return fn(*args)

    async def begin(self, sql: str, cursor: sqlite3.Cursor) -> None:
        """Ask for the write lock without SQLite's busy wait; sleep between asks."""
        self.offload = self.offload_once = False
        self.conn.execute("PRAGMA busy_timeout=0")
        deadline = time.monotonic() + self.timeout
        tries = 0
        while True:
            try:
                cursor.execute(sql)
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) and "busy" not in str(error):
                    raise
                if time.monotonic() >= deadline:
                    raise
            await asyncio.sleep(_RETRY_S[min(tries, len(_RETRY_S) - 1)])
            tries += 1

    async def commit(self) -> None:
        await self.run(self.conn.commit)

    async def rollback(self) -> None:
        await self.run(self.conn.rollback)

    async def close(self) -> None:
        self.stop()

    def stop(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = None
        self._connection = None  # type: ignore[assignment]

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self.conn.create_function(*args, **kwargs)


class Cursor:
    """aiosqlite's cursor API over a `sqlite3.Cursor`."""

    def __init__(self, owner: Connection) -> None:
        self._owner = owner
        self._cursor = owner.conn.cursor()

    async def __aenter__(self) -> Cursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def execute(self, sql: str, parameters: Any = None) -> Cursor:
        if sql.lstrip()[:5].upper() == "BEGIN":
            await self._owner.begin(sql, self._cursor)
            return self
        args = (sql,) if parameters is None else (sql, parameters)
        await self._owner.run(self._cursor.execute, *args)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> Cursor:
        await self._owner.run(self._cursor.executemany, sql, parameters, offload=True)
        return self

    async def fetchall(self) -> list[Any]:
        return await self._owner.run(self._cursor.fetchall)

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def close(self) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


def creator(path: str, timeout: float) -> Callable[[], Any]:
    """`create_async_engine(..., async_creator=creator(path, timeout))`."""

    async def connect() -> Connection:
        conn = sqlite3.connect(path, timeout=timeout, check_same_thread=False,
                               isolation_level=None)
        return Connection(conn, timeout)

    return partial(connect)


async def offload_next(conn: Any) -> None:
    """Run this SQLAlchemy `AsyncConnection`'s next statement in a worker thread: one that
    may scan (a count under the write lock); nothing on other drivers."""
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    if isinstance(driver, Connection):
        driver.offload_once = True


async def offload(conn: Any) -> None:
    """From now until the transaction ends, run this SQLAlchemy `AsyncConnection`'s statements
    in a worker thread (bulk work that may take seconds); nothing on other drivers."""
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    if isinstance(driver, Connection):
        driver.offload = True
