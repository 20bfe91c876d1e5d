"""Engine construction per dialect, the Store unit-of-work handle, and migrations."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import threading
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event, exc, text, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from igny8d.store import loopsqlite
from igny8d.store.errors import StoreBusy, StoreFull, StoreUnreachable
from igny8d.store.schema import accounts

MIGRATIONS = Path(__file__).parent / "migrations"
_SQLITE_BEGIN = "igny8_sqlite_begin"
#: the key, in a connection's `info`, of what its open `Store.begin()` transaction noted
_NOTES = "igny8_after_commit"

log = logging.getLogger("igny8d.store")

P = ParamSpec("P")
T = TypeVar("T")

#: Threads of the embedded store's synchronous read path. One: the process is bound by
#: Python work under the GIL, and a second reader thread only adds hand-offs (measured);
#: SQLite itself releases the GIL, so the event loop goes on while a query runs.
SYNC_READ_THREADS = 1
#: How long a read on the event loop's thread (`Store.read_now`) may wait for SQLite's lock
#: before it is handed to a reader thread instead. A WAL reader almost never waits (only
#: around a checkpoint or a recovery), but the loop must never wait 30 s for one.
LOOP_BUSY_MS = 50

#: What a driver says when the database cannot take the work now (not a bug, not down):
#: SQLite's lock wait ran out; Postgres has no connection slot left.
_BUSY_MARKERS = ("database is locked", "database table is locked", "database is busy",
                 "sqlite_busy", "sqlite_locked", "too many clients")
#: What a driver says when the database is not there to ask: refused, closed, reset, shut
#: down or starting up (Postgres), a file that cannot be opened (SQLite).
_UNREACHABLE_MARKERS = (
    "connect call failed", "connection refused", "connection was closed",
    "connection is closed", "connection reset", "connection does not exist",
    "connection has been closed", "terminating connection", "server closed the connection",
    "the database system is shutting down", "the database system is starting up",
    "the database system is in recovery mode", "not yet accepting connections",
    "cannot connect now", "broken pipe",
    "unable to open database file",
)
#: What a driver says when the disk under the database is full: SQLite's SQLITE_FULL, an
#: ENOSPC passed through, Postgres's "could not extend file" (SQLSTATE 53100, `_FULL_STATES`).
_FULL_MARKERS = ("database or disk is full", "no space left on device",
                 "could not extend file", "could not write to file")
_FULL_STATES = frozenset({"53100"})
#: How long a Postgres connection attempt may take before the request is answered 503
#: (asyncpg's own default is 60 s: a blackholed server would hold every request that long).
PG_CONNECT_TIMEOUT = 5.0


def make_engine(
    url: str, *, pool_size: int = 10, echo: bool = False, timeout: float = 30.0,
    reader: bool = False,
) -> AsyncEngine:
    """Build the async engine with the dialect's settings applied on every new connection.

    SQLite: WAL (readers never block the writer), foreign keys on (off by default there),
    a busy timeout (`timeout`, seconds) so two writers queue instead of failing; past it
    the store raises StoreBusy. Postgres: pre-ping so a restarted server does not surface
    as a 500 on the first request after it.
    """
    kwargs: dict[str, Any] = {"echo": echo}
    if url.startswith("sqlite"):
        if ":memory:" in url or url.rstrip("/").endswith("sqlite+aiosqlite:"):
            kwargs["poolclass"] = StaticPool
        else:
            path = url.split(":///", 1)[-1]
            if path:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": timeout}
        if not reader and "poolclass" not in kwargs:
            # writes: the stdlib driver on the loop's thread, no hop per statement
            kwargs["async_creator"] = loopsqlite.creator(url.split(":///", 1)[-1], timeout)
        if reader:
            # Reads run in autocommit: no BEGIN before and no ROLLBACK after each one, two
            # round trips to the driver's thread saved per read (WAL readers never block).
            kwargs["isolation_level"] = "AUTOCOMMIT"
        engine = create_async_engine(url, **kwargs)
        _sqlite_pragmas(engine.sync_engine, timeout)
        if reader:
            return engine

        @event.listens_for(engine.sync_engine, "begin")
        def _sqlite_begin(conn: Connection) -> None:
            # Store.begin() takes the write lock up front: a deferred transaction that read
            # first would fail with SQLITE_BUSY (no wait) if another writer committed.
            conn.exec_driver_sql(conn.get_execution_options().get(_SQLITE_BEGIN, "BEGIN"))

        return engine
    kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True,
                  connect_args={"timeout": min(timeout, PG_CONNECT_TIMEOUT)})
    return create_async_engine(url, **kwargs)


def _sqlite_pragmas(engine: Engine, timeout: float) -> None:
    """WAL, foreign keys, the busy wait, and no driver-managed transactions, on every new
    connection of this engine."""
    busy_ms = max(0, round(timeout * 1000))

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA busy_timeout={busy_ms}")
        cur.close()
        # The driver's own transaction handling begins a transaction only at the first
        # DML, so a SAVEPOINT opened before it commits on RELEASE and survives a later
        # rollback. Turn it off and emit BEGIN ourselves (as SQLAlchemy's docs advise).
        dbapi_conn.isolation_level = None


def make_sync_reader(url: str, *, timeout: float = 30.0) -> Engine:
    """The embedded store's synchronous read engine (the stdlib `sqlite3` driver, in
    autocommit): a connection kept by each reader thread of `Store.run_read` and one by
    the event loop's thread (`Store.read_now`), so none waits for another's."""
    path = url.split(":///", 1)[-1]
    engine = create_engine(
        f"sqlite:///{path}", isolation_level="AUTOCOMMIT", pool_size=SYNC_READ_THREADS + 1,
        max_overflow=4, connect_args={"timeout": timeout, "check_same_thread": False},
    )
    _sqlite_pragmas(engine, timeout)
    return engine


class Store:
    """The one handle on the database. `begin()` is the unit of work: commit or roll back.

    `run_read(fn)` runs a synchronous read unit `fn(conn)` — several statements, no awaits
    between them — as one step: on the embedded SQLite store in one hop to a reader thread
    with the stdlib driver (each statement through aiosqlite is several hops to its
    thread, which cost more than the query), elsewhere on an autocommit connection of the
    async pool through SQLAlchemy's `run_sync` (asyncpg on Postgres). The same function
    runs on both: what it reads does not depend on the store.
    """

    def __init__(self, engine: AsyncEngine, reader: AsyncEngine | None = None,
                 sync_reader: Engine | None = None) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        #: what read() connects with: autocommit, so a read costs no BEGIN/ROLLBACK
        self.reader = reader or engine
        #: what run_read() uses on the embedded store (None: run_sync on `reader`)
        self.sync_reader = sync_reader
        self._threads: ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._held: list[Connection] = []
        #: what runs after a commit, per kind of note (`after_commit`)
        self._listeners: dict[str, Callable[[list[Any]], Awaitable[object]]] = {}
        #: when the running outage began (monotonic), and how many units it refused
        self._down_since: float | None = None
        self._refused = 0
        self._outage_lock = threading.Lock()
        #: when (epoch s) a write last met a full disk; a later commit clears it
        self.disk_full_at: float | None = None
        #: the embedded store's writers of this process take turns (per event loop), so none
        #: waits for SQLite's lock on the loop's thread behind another (store/loopsqlite.py)
        self._turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = \
            weakref.WeakKeyDictionary()
        self._loop_writes = engine.dialect.name == "sqlite" and not isinstance(
            engine.pool, StaticPool)
        self._busy_s = 30.0
        if sync_reader is not None:
            self._threads = ThreadPoolExecutor(max_workers=SYNC_READ_THREADS,
                                               thread_name_prefix="igny8d-read")

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> Store:
        engine = make_engine(url, **kwargs)
        if engine.dialect.name == "sqlite":
            if isinstance(engine.pool, StaticPool):  # one in-memory database: one connection
                return cls(engine)
            timeout = float(kwargs.get("timeout", 30.0))
            store = cls(engine, make_engine(url, reader=True, **kwargs),
                        make_sync_reader(url, timeout=timeout))
            store._busy_s = timeout
            return store
        # Reads get a pool of their own: 32 list requests holding every pooled connection
        # made a write wait for one (issue 14). Twice the connections per process.
        reads = make_engine(url, **kwargs).execution_options(isolation_level="AUTOCOMMIT")
        return cls(engine, reads)

    async def run_read(self, fn: Callable[Concatenate[Connection, P], T],
                       *args: P.args, **kwargs: P.kwargs) -> T:
        """`fn(conn, *args, **kwargs)` on a read connection, in autocommit (as `read()`).

        `fn` is synchronous: it must not block on anything but the database. A busy
        database raises StoreBusy, as everywhere.
        """
        if self._threads is None:
            with self._translated():
                try:
                    async with self.reader.connect() as conn:
                        return await conn.run_sync(fn, *args, **kwargs)
                except exc.DBAPIError as error:
                    # The pool handed out a connection the server had dropped (terminated,
                    # restarted) after its pre-ping: a read is safe to run again, once.
                    if not error.connection_invalidated:
                        raise
                    log.info("read on a dropped connection: retried on a new one")
                async with self.reader.connect() as conn:
                    return await conn.run_sync(fn, *args, **kwargs)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._threads, self._sync_read, fn, args, kwargs)

    async def read_now(self, fn: Callable[Concatenate[Connection, P], T],
                       *args: P.args, **kwargs: P.kwargs) -> T:
        """`run_read` for a unit known to be short (primary-key lookups, the first rows of
        an index walk): on the embedded store it runs at once on the calling thread.

        The process is bound by Python work under the GIL; handing a short unit to a
        reader thread costs more than SQLite takes for it, and the GIL hand-offs made
        the figures unsteady (measured). A unit that may scan goes to `run_read`, so a
        slow query never holds up the event loop.
        """
        if self._threads is None:
            return await self.run_read(fn, *args, **kwargs)
        try:
            return self._sync_read(fn, args, kwargs, on_loop=True)
        except StoreBusy:  # waited LOOP_BUSY_MS: wait the full timeout, off the loop
            return await self.run_read(fn, *args, **kwargs)

    def _sync_read(self, fn: Callable[..., T], args: tuple[Any, ...],
                   kwargs: dict[str, Any], *, on_loop: bool = False) -> T:
        """Each thread keeps its connection (autocommit holds nothing between units):
        checking one out of the pool per unit cost as much as the principal's query. After
        a failure the thread starts again from a new one. The event loop's connection waits
        at most LOOP_BUSY_MS for a lock."""
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            assert self.sync_reader is not None
            with self._translated():  # the connect-time PRAGMAs may meet a locked file
                conn = self.sync_reader.connect()
            if on_loop:
                conn.exec_driver_sql(f"PRAGMA busy_timeout={LOOP_BUSY_MS}")
            self._local.conn = conn
            self._held.append(conn)
        try:
            with self._translated():
                return fn(conn, *args, **kwargs)
        except BaseException:
            self._local.conn = None
            self._held.remove(conn)
            conn.close()
            raise

    @contextlib.asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        """One transaction; an exception inside rolls everything back (nothing half-written).

        A busy database (SQLite's lock wait ran out, no pooled connection came free in
        time) raises StoreBusy, after the rollback: a 503 with Retry-After, not a 500. An
        unreachable one (refused, dropped mid-transaction) raises StoreUnreachable, also a 503.
        """
        notes: dict[str, list[Any]] = {}
        async with self._turn(), self._transaction(notes) as conn:
            yield conn
        # committed (an exception above skips this: a rollback runs no listener)
        self.disk_full_at = None
        for kind, items in notes.items():
            listener = self._listeners.get(kind)
            if listener is None or not items:
                continue
            try:
                await listener(items)
            except Exception:  # the commit stands; what the listener tidies can wait
                log.exception("after-commit listener %r failed", kind)

    @contextlib.asynccontextmanager
    async def _turn(self) -> AsyncIterator[None]:
        """This process's turn to write, on the embedded store (elsewhere: at once). Waiting
        longer than the busy timeout is StoreBusy, as SQLite's own wait was."""
        if not self._loop_writes:
            yield
            return
        loop = asyncio.get_running_loop()
        lock = self._turns.get(loop)
        if lock is None:
            lock = self._turns[loop] = asyncio.Lock()
        if lock.locked():
            try:
                await asyncio.wait_for(lock.acquire(), self._busy_s)
            except TimeoutError:
                raise StoreBusy("The database is busy; retry shortly.") from None
        else:
            await lock.acquire()  # free: no turn of the loop
        try:
            yield
        finally:
            lock.release()

    @contextlib.asynccontextmanager
    async def _transaction(self, notes: dict[str, list[Any]]) -> AsyncIterator[AsyncConnection]:
        with self._translated():
            async with self.engine.connect() as conn:
                if self.dialect == "sqlite":
                    await conn.execution_options(**{_SQLITE_BEGIN: "BEGIN IMMEDIATE"})
                conn.info[_NOTES] = notes
                try:
                    async with conn.begin():
                        yield conn
                finally:
                    # `info` lives on the DBAPI connection: on an invalidated (dropped) one,
                    # reaching it reconnects synchronously, which raised MissingGreenlet
                    # and hid the first error. A dropped connection's info goes with it.
                    if not conn.invalidated:
                        conn.info.pop(_NOTES, None)

    def listen(self, kind: str, listener: Callable[[list[Any]], Awaitable[object]]) -> None:
        """Call `listener(items)` after each committed `begin()` transaction that noted
        `kind` items (`after_commit`). One listener per kind: the last one set wins. A
        kind nobody listens to is dropped (its owner must not depend on it alone)."""
        self._listeners[kind] = listener

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads only, in autocommit: each statement sees the latest
        committed data (writes belong in begin())."""
        with self._translated():
            async with self.reader.connect() as conn:
                yield conn

    @contextlib.contextmanager
    def _translated(self) -> Iterator[None]:
        """A busy database becomes StoreBusy, an unreachable one StoreUnreachable (domain
        errors: 503 + Retry-After). An outage is logged once when it begins and once when
        the first unit after it succeeds, not once per refused request."""
        try:
            yield
        except (StoreBusy, StoreUnreachable, StoreFull):
            raise  # translated by an inner unit already
        except Exception as error:
            if is_full(error):
                self.disk_full_at = time.time()
                log.error("database disk full, nothing saved: %s", _first_line(error))
                raise StoreFull() from error
            if is_busy(error):
                log.warning("database busy: %s", _first_line(error))
                raise StoreBusy("The database is busy; retry shortly.") from error
            if not is_unreachable(error):
                raise
            self._went_down(error)
            raise StoreUnreachable("The database is not reachable; retry shortly.") from error
        else:
            if self._down_since is not None:
                self._came_back()

    def _went_down(self, error: BaseException) -> None:
        with self._outage_lock:
            self._refused += 1
            if self._down_since is not None:
                return
            self._down_since = time.monotonic()
        log.error("database unreachable, answering 503 until it is back: %s",
                  _first_line(error))

    def _came_back(self) -> None:
        with self._outage_lock:
            if self._down_since is None:
                return
            lasted, refused = time.monotonic() - self._down_since, self._refused
            self._down_since, self._refused = None, 0
        log.warning("database reachable again after %.1f s (%d units refused meanwhile)",
                    lasted, refused)

    @property
    def outage(self) -> float | None:
        """Seconds since the running outage began, or None while the database answers."""
        since = self._down_since
        return None if since is None else time.monotonic() - since

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:
            return False
        if self._down_since is not None:
            self._came_back()
        return True

    async def migrate(self) -> None:
        """Apply every Alembic migration up to head on this store's database.

        On SQLite, foreign keys are off while migrations run: a batch migration recreates a
        table (copy, drop, rename), and with them on, dropping the old table would cascade
        its deletes into every child table. They are checked once the migrations are done.
        """
        async with self.engine.connect() as conn:
            if self.dialect == "sqlite":
                await conn.run_sync(_foreign_keys, False)
            try:
                async with conn.begin():
                    await conn.run_sync(_upgrade)
                    if self.dialect == "sqlite":
                        broken = (await conn.exec_driver_sql("PRAGMA foreign_key_check")).all()
                        if broken:
                            raise RuntimeError(f"migration broke foreign keys: {broken[:5]}")
            finally:
                if self.dialect == "sqlite":
                    await conn.run_sync(_foreign_keys, True)

    async def current_revision(self) -> str | None:
        async with self.engine.connect() as conn:
            return await conn.run_sync(
                lambda c: MigrationContext.configure(c).get_current_revision()
            )

    @staticmethod
    def head_revision() -> str | None:
        return ScriptDirectory.from_config(alembic_config()).get_current_head()

    async def close(self) -> None:
        if self._threads is not None:
            self._threads.shutdown(wait=True)
        for conn in self._held:
            conn.close()
        self._held.clear()
        self._local = threading.local()
        if self.sync_reader is not None:
            self.sync_reader.dispose()
        if self.reader is not self.engine and self.reader.pool is not self.engine.pool:
            await self.reader.dispose()
        await self.engine.dispose()


def after_commit(conn: AsyncConnection, kind: str, items: Iterable[Any]) -> None:
    """Note `items` for the store's `kind` listener, called once the transaction `conn`
    belongs to has committed; never when it rolls back. Outside `Store.begin()` (a read
    connection) this is a programming error."""
    notes: dict[str, list[Any]] | None = conn.info.get(_NOTES)
    if notes is None:
        raise RuntimeError("after_commit() needs a connection of Store.begin()")
    notes.setdefault(kind, []).extend(items)


def is_full(error: BaseException) -> bool:
    """Whether `error` means "the disk under the database is full" (a 507, not a bug)."""
    orig = getattr(error, "orig", None) if isinstance(error, exc.DBAPIError) else None
    for candidate in (error, orig, getattr(orig, "__cause__", None)):
        if candidate is None:
            continue
        if isinstance(candidate, OSError) and candidate.errno == errno.ENOSPC:
            return True
        if getattr(candidate, "sqlstate", None) in _FULL_STATES:
            return True
        if getattr(candidate, "pgcode", None) in _FULL_STATES:
            return True
        if (isinstance(candidate, exc.DBAPIError) or _is_driver_error(candidate)
                or isinstance(candidate, OSError)):
            text_ = str(candidate).lower()
            if any(marker in text_ for marker in _FULL_MARKERS):
                return True
    return False


def is_busy(error: BaseException) -> bool:
    """Whether `error` means "the database cannot take this now" rather than a bug."""
    if isinstance(error, exc.TimeoutError):  # QueuePool: no connection came free in time
        return True
    if isinstance(error, exc.OperationalError):
        error = error.orig if error.orig is not None else error
    elif not _is_driver_error(error):  # the driver's own, raised by a connect-time PRAGMA
        return False
    text_ = str(error).lower()
    return any(marker in text_ for marker in _BUSY_MARKERS)


def is_unreachable(error: BaseException) -> bool:
    """Whether `error` means "the database is not there" (down, restarting, the connection
    dropped) rather than a bug: connecting failed, or the driver lost the connection."""
    if isinstance(error, exc.DBAPIError):
        if error.connection_invalidated:
            return True
        orig = error.orig
        if isinstance(orig, (ConnectionError, TimeoutError)):
            return True
        return _says_unreachable(orig if orig is not None else error)
    if isinstance(error, (ConnectionError, TimeoutError)):  # refused, reset; connect timeout
        return True
    if isinstance(error, OSError) or _is_driver_error(error):
        return _says_unreachable(error)
    return False


def _says_unreachable(error: BaseException) -> bool:
    text_ = str(error).lower()
    return any(marker in text_ for marker in _UNREACHABLE_MARKERS)


def _is_driver_error(error: BaseException) -> bool:
    """An exception of a database driver (asyncpg's, sqlite3's), by its module."""
    module = type(error).__module__
    return module.startswith(("asyncpg", "sqlite3", "aiosqlite", "sqlalchemy"))


def _first_line(error: BaseException) -> str:
    orig = getattr(error, "orig", None) or error
    lines = str(orig).splitlines() or [type(orig).__name__]
    return lines[0][:200]


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic configured in code: no alembic.ini to find relative to the working directory."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def _foreign_keys(connection: Connection, on: bool) -> None:
    """PRAGMA foreign_keys is ignored inside a transaction: set it on the raw connection."""
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    cursor.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    cursor.close()


def _upgrade(connection: Connection) -> None:
    """Upgrade to head; when a revision was applied, bump every account's `data_version` in
    the same transaction: a migration may rewrite rows any list shows (reference tables reach
    tenants' rows through SET NULL, and nothing else bumps for them), so no list total or id
    page kept before the upgrade is served after it."""
    before = MigrationContext.configure(connection).get_current_revision()
    command.upgrade(alembic_config(connection), "head")
    if before is not None and before != MigrationContext.configure(
            connection).get_current_revision():
        connection.execute(update(accounts).values(data_version=accounts.c.data_version + 1))
