"""Engine construction per dialect, the Store unit-of-work handle, and migrations."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, exc, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from igny8d.store.errors import StoreBusy

MIGRATIONS = Path(__file__).parent / "migrations"
_SQLITE_BEGIN = "igny8_sqlite_begin"

log = logging.getLogger("igny8d.store")

#: What a driver says when the database cannot take the work now (not a bug, not down):
#: SQLite's lock wait ran out; Postgres has no connection slot left.
_BUSY_MARKERS = ("database is locked", "database table is locked", "database is busy",
                 "sqlite_busy", "sqlite_locked", "too many clients")


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
        if reader:
            # Reads run in autocommit: no BEGIN before and no ROLLBACK after each one, two
            # round trips to the driver's thread saved per read (WAL readers never block).
            kwargs["isolation_level"] = "AUTOCOMMIT"
        busy_ms = max(0, round(timeout * 1000))
        engine = create_async_engine(url, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
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

        if reader:
            return engine

        @event.listens_for(engine.sync_engine, "begin")
        def _sqlite_begin(conn: Connection) -> None:
            # Store.begin() takes the write lock up front: a deferred transaction that read
            # first would fail with SQLITE_BUSY (no wait) if another writer committed.
            conn.exec_driver_sql(conn.get_execution_options().get(_SQLITE_BEGIN, "BEGIN"))

        return engine
    kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
    return create_async_engine(url, **kwargs)


class Store:
    """The one handle on the database. `begin()` is the unit of work: commit or roll back."""

    def __init__(self, engine: AsyncEngine, reader: AsyncEngine | None = None) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        #: what read() connects with: autocommit, so a read costs no BEGIN/ROLLBACK
        self.reader = reader or engine

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> Store:
        engine = make_engine(url, **kwargs)
        if engine.dialect.name == "sqlite":
            if isinstance(engine.pool, StaticPool):  # one in-memory database: one connection
                return cls(engine)
            return cls(engine, make_engine(url, reader=True, **kwargs))
        return cls(engine, engine.execution_options(isolation_level="AUTOCOMMIT"))

    @contextlib.asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        """One transaction; an exception inside rolls everything back (nothing half-written).

        A busy database (SQLite's lock wait ran out, no pooled connection came free in
        time) raises StoreBusy, after the rollback: a 503 with Retry-After, not a 500.
        """
        with _busy_is_unavailable():
            async with self.engine.connect() as conn:
                if self.dialect == "sqlite":
                    await conn.execution_options(**{_SQLITE_BEGIN: "BEGIN IMMEDIATE"})
                async with conn.begin():
                    yield conn

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads only, in autocommit: each statement sees the latest
        committed data (writes belong in begin())."""
        with _busy_is_unavailable():
            async with self.reader.connect() as conn:
                yield conn

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:
            return False
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
        if self.reader is not self.engine and self.reader.pool is not self.engine.pool:
            await self.reader.dispose()
        await self.engine.dispose()


def is_busy(error: BaseException) -> bool:
    """Whether `error` means "the database cannot take this now" rather than a bug."""
    if isinstance(error, exc.TimeoutError):  # QueuePool: no connection came free in time
        return True
    if isinstance(error, exc.OperationalError):
        text_ = str(error.orig if error.orig is not None else error).lower()
        return any(marker in text_ for marker in _BUSY_MARKERS)
    return False


@contextlib.contextmanager
def _busy_is_unavailable() -> Iterator[None]:
    """Translate a busy database into StoreBusy (a domain error: 503 + Retry-After)."""
    try:
        yield
    except (exc.OperationalError, exc.TimeoutError) as error:
        if not is_busy(error):
            raise
        log.warning("database busy: %s", str(getattr(error, "orig", None) or error)
                    .splitlines()[0][:200])
        raise StoreBusy("The database is busy; retry shortly.") from error


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
    command.upgrade(alembic_config(connection), "head")
