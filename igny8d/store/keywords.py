"""Keywords: their table spec and search index, the duplicate key, bulk inserts, streaming."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.scope import Scope
from igny8d.store import loopsqlite
from igny8d.store.conflicts import conflict
from igny8d.store.errors import UniqueViolation
from igny8d.store.rows import list_rows
from igny8d.store.schema import keywords
from igny8d.store.specs import FullText, TableSpec
from igny8d.store.writes import insert_many, now, touch_accounts

KEYWORDS = TableSpec(
    keywords, "sector", "Keyword",
    unique=((("sector_id", "keyword_norm"), "keyword",
             "This sector already has this keyword."),),
    # migration 0005: FTS5 trigram table (SQLite) / pg_trgm GIN index (Postgres)
    fulltext=FullText(fields=("keyword",), column="keyword_norm", sqlite_table="keywords_fts"),
)

#: From this many rows on, a bulk insert takes the fast path (below).
BULK_FAST_MIN = 2000

#: Rows fetched per round trip when streaming (an export holds one chunk at a time).
STREAM_CHUNK = 1000


def keyword_norm(text: str) -> str:
    """The duplicate key of a keyword in its sector: lower case, white space folded.

    `str.split()` splits on exactly the characters `\\s` matches in a str pattern, so this is
    `re.sub(r"\\s+", " ", text).strip().lower()`, without the regex."""
    return " ".join(text.split()).lower()


async def norms_in_sector(conn: AsyncConnection, sector_id: int,
                          norms: Iterable[str] | None = None) -> set[str]:
    """The keyword_norms the sector already has (all of them, or those among `norms`)."""
    stmt = select(keywords.c.keyword_norm).where(keywords.c.sector_id == sector_id)
    if norms is None:
        return set((await conn.execute(stmt)).scalars())
    wanted = sorted(set(norms))
    found: set[str] = set()
    for start in range(0, len(wanted), 900):
        part = wanted[start:start + 900]
        found.update((await conn.execute(
            stmt.where(keywords.c.keyword_norm.in_(part)))).scalars())
    return found


async def ids_by_norm(conn: AsyncConnection, sector_id: int, norms: Sequence[str]) -> list[int]:
    """Ids of the sector's keywords with these norms (what a bulk insert just created)."""
    out: list[int] = []
    wanted = sorted(set(norms))
    for start in range(0, len(wanted), 900):
        part = wanted[start:start + 900]
        out.extend(int(i) for i in (await conn.execute(
            select(keywords.c.id).where(keywords.c.sector_id == sector_id,
                                        keywords.c.keyword_norm.in_(part))
            .order_by(keywords.c.id))).scalars())
    return sorted(out)


async def stream_rows(
    conn: AsyncConnection, spec: TableSpec, *, scope: Scope,
    where: Sequence[ColumnElement[bool]] = (), order_by: Sequence[Any] = (),
    columns: Sequence[str] | None = None, chunk: int = STREAM_CHUNK,
) -> AsyncIterator[list[dict[str, Any]]]:
    """The scope's rows in chunks from a server-side cursor: never the whole result in
    memory (the export of a 100k-keyword account holds `chunk` rows at a time)."""
    cols = [spec.table.c[c] for c in columns] if columns else list(spec.table.c)
    stmt = (spec.scoped(select(*cols), scope).where(*where).order_by(*order_by)
            .execution_options(yield_per=chunk))
    if conn.dialect.name == "postgresql" and not conn.in_transaction():
        # A server-side cursor lives in a transaction (the read connection autocommits):
        # one REPEATABLE READ snapshot, so the file is consistent however long it takes.
        # The pool restores the connection's own isolation level when it is returned.
        await conn.execution_options(isolation_level="REPEATABLE READ")
        async with conn.begin():
            async for part in _chunks(conn, stmt, chunk):
                yield part
        return
    async for part in _chunks(conn, stmt, chunk):
        yield part


async def _chunks(conn: AsyncConnection, stmt: Any, chunk: int
                  ) -> AsyncIterator[list[dict[str, Any]]]:
    result = await conn.stream(stmt)
    try:
        async for part in result.mappings().partitions(chunk):
            yield [dict(r) for r in part]
    finally:
        await result.close()


class KeywordLoad(NamedTuple):
    """One keyword of a bulk load (an import), without the columns every row shares."""

    keyword: str
    keyword_norm: str
    volume: int
    difficulty: int
    intent: str | None
    status: str


async def insert_keywords(conn: AsyncConnection, *, account_id: int, site_id: int,
                          sector_id: int, rows: Sequence[KeywordLoad]) -> int:
    """Insert many keywords of one sector in the caller's transaction (an import: all or
    none; the caller has ruled out duplicates under the account lock).

    Small loads go through `writes.insert_many`. Large ones skip the per-row costs that
    dominate there, with the same rows as the result; the list versions are bumped
    as every store write does:
    - SQLite: parameter tuples straight to the driver in batches (no per-row dict, no
      per-value bind processing); the AFTER INSERT triggers that copy the new row into
      another table (the FTS5 search index) are dropped for the load and applied once, as
      `INSERT ... SELECT` over the new rows, then re-created from their own stored SQL.
      SQLite's DDL is transactional and the write lock is held, so nobody sees them
      missing; a rollback restores them. The page cache is raised for the load so the
      indexes' dirty pages are not spilled and re-read (back to its size afterwards).
    - Postgres (asyncpg): `COPY` from a generator of records.
    """
    if len(rows) < BULK_FAST_MIN:
        return await insert_many(conn, KEYWORDS, [
            {"account_id": account_id, "site_id": site_id, "sector_id": sector_id,
             **r._asdict()} for r in rows])
    await touch_accounts(conn, KEYWORDS, [account_id], sectors=[sector_id])
    stamp = now()
    if conn.dialect.name == "sqlite":
        return await _sqlite_load(conn, (account_id, site_id, sector_id), stamp, rows)
    if conn.dialect.driver == "asyncpg":
        return await _pg_copy(conn, (account_id, site_id, sector_id), stamp, rows)
    await insert_many(conn, KEYWORDS, [  # another Postgres driver: plain batched INSERTs
        {"account_id": account_id, "site_id": site_id, "sector_id": sector_id,
         "created_at": stamp, "updated_at": stamp, **r._asdict()} for r in rows])
    return len(rows)


#: How a load's columns follow each other in its parameter tuples (shared ones first).
_LOAD_COLUMNS = ("account_id", "site_id", "sector_id", *KeywordLoad._fields,
                 "created_at", "updated_at")
#: Rows per executemany of a SQLite load (bounded parameter lists, the loop runs between).
SQLITE_BATCH = 5000
#: Page cache of the loading connection, KiB (SQLite's default is 2,000 KiB): a 100k-row
#: load into the keywords table and its indexes then spills no dirty page mid-transaction.
SQLITE_LOAD_CACHE_KIB = 32768
_TRIGGER = re.compile(
    r"^\s*CREATE\s+TRIGGER\s+(?:IF\s+NOT\s+EXISTS\s+)?\S+\s+AFTER\s+INSERT\s+ON\s+"
    r"[\"`\[]?keywords[\"`\]]?\s+(?:FOR\s+EACH\s+ROW\s+)?BEGIN\s+(.*?);?\s*END\s*$",
    re.IGNORECASE | re.DOTALL)
_INSERT_VALUES = re.compile(
    r"^\s*(INSERT\s+INTO\s+[^\s(]+\s*(?:\([^()]*\))?)\s*VALUES\s*\((.*)\)\s*$",
    re.IGNORECASE | re.DOTALL)
_ROW_BREAK = re.compile(r"\)\s*,\s*\(")


def _as_bulk(trigger_sql: str) -> list[str] | None:
    """An AFTER INSERT trigger on keywords whose body is only `INSERT INTO t(...) VALUES
    (... new.x ...)` statements, as the same statements over every row with an id above
    `:before` (the trigger's `new` becomes the table's alias); None for any other trigger
    (a WHEN clause, another statement, a BEFORE trigger), which then stays in place."""
    match = _TRIGGER.match(trigger_sql)
    if match is None:
        return None
    out = []
    for statement in filter(str.strip, match.group(1).split(";")):
        parts = _INSERT_VALUES.match(statement)
        if parts is None or _ROW_BREAK.search(parts.group(2)):  # one row of values only
            return None
        out.append(f"{parts.group(1)} SELECT {parts.group(2)} FROM keywords AS new "  # noqa: S608
                   "WHERE new.id > :before ORDER BY new.id")
    return out or None


async def _sqlite_load(conn: AsyncConnection, shared: tuple[int, int, int], stamp: Any,
                       rows: Sequence[KeywordLoad]) -> int:
    await loopsqlite.offload(conn)  # seconds of work: off the event loop's thread
    triggers = []
    for name, sql in (await conn.execute(text(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
            "AND tbl_name = 'keywords' ORDER BY name"))).all():
        bulk = _as_bulk(str(sql))
        if bulk is not None:
            triggers.append((str(name), str(sql), bulk))
    before = (await conn.execute(select(func.max(keywords.c.id)))).scalar() or 0
    for name, _sql, _bulk in triggers:
        await conn.exec_driver_sql(f'DROP TRIGGER "{name.replace(chr(34), chr(34) * 2)}"')
    # the stored form of the shared stamp, by the column type's own bind processing
    bind = keywords.c.created_at.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    stored = bind(stamp) if bind is not None else stamp
    tail = (stored, stored)
    sql = (f"INSERT INTO keywords ({', '.join(_LOAD_COLUMNS)}) "  # noqa: S608 - fixed names
           f"VALUES ({', '.join('?' * len(_LOAD_COLUMNS))})")
    cache = int((await conn.exec_driver_sql("PRAGMA cache_size")).scalar_one())
    restore = f"PRAGMA cache_size={cache}"
    await conn.exec_driver_sql(f"PRAGMA cache_size=-{SQLITE_LOAD_CACHE_KIB}")
    try:
        for start in range(0, len(rows), SQLITE_BATCH):
            await conn.exec_driver_sql(sql, [shared + r + tail
                                             for r in rows[start:start + SQLITE_BATCH]])
        for _name, _sql, bulk in triggers:
            for statement in bulk:
                await conn.execute(text(statement), {"before": before})
        for _name, trigger_sql, _bulk in triggers:
            await conn.exec_driver_sql(trigger_sql)
    except BaseException as exc:
        with contextlib.suppress(Exception):  # the load's own error is the one to report
            await conn.exec_driver_sql(restore)
        if isinstance(exc, IntegrityError):
            raise conflict(KEYWORDS, exc) from None
        raise
    await conn.exec_driver_sql(restore)
    return len(rows)


async def _pg_copy(conn: AsyncConnection, shared: tuple[int, int, int], stamp: Any,
                   rows: Sequence[KeywordLoad]) -> int:
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection
    tail = (stamp, stamp)
    try:
        await driver.copy_records_to_table("keywords", records=(shared + r + tail
                                                                for r in rows),
                                           columns=list(_LOAD_COLUMNS))
    except Exception as exc:  # asyncpg's own errors: the driver is used directly here
        if type(exc).__name__ == "UniqueViolationError":
            raise UniqueViolation({"keyword": ["This sector already has this keyword."]}
                                  ) from None
        raise
    # the planner's statistics: right after a large load it took the table for nearly empty
    # and chose scans (autovacuum may be off, or minutes away); a sample, in this transaction
    await conn.exec_driver_sql("ANALYZE keywords")
    return len(rows)


async def of_sector(conn: AsyncConnection, sector_id: int, *,
                    scope: Scope) -> list[dict[str, Any]]:
    """A sector's keywords in the scope, oldest first (what clustering works on)."""
    return await list_rows(conn, KEYWORDS, scope=scope,
                           where=[keywords.c.sector_id == sector_id], order_by=[keywords.c.id])


async def of_clusters(conn: AsyncConnection, cluster_ids: Sequence[int], *, scope: Scope,
                      by_volume: bool = False) -> list[dict[str, Any]]:
    """The keywords of these clusters in the scope: oldest first, or by volume (highest
    first, then oldest)."""
    if not cluster_ids:
        return []
    order = [keywords.c.volume.desc(), keywords.c.id] if by_volume else [keywords.c.id]
    return await list_rows(conn, KEYWORDS, scope=scope,
                           where=[keywords.c.cluster_id.in_(list(cluster_ids))],
                           order_by=order)
