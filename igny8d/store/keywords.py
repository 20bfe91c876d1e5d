"""Keywords: their table spec and search index, the duplicate key, bulk inserts, streaming."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.scope import Scope
from igny8d.store import loopsqlite
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

_SPACE = re.compile(r"\s+")

#: From this many rows on, a bulk insert takes the fast path (below).
BULK_FAST_MIN = 2000
_SQLITE_FTS_TRIGGER = "keywords_fts_insert"
#: Columns a bulk keyword insert writes (every row has all of them).
BULK_COLUMNS = ("account_id", "site_id", "sector_id", "keyword", "keyword_norm",
                "seed_keyword_id", "volume", "difficulty", "intent", "status",
                "cluster_id", "cluster_source", "created_at", "updated_at")

#: Rows fetched per round trip when streaming (an export holds one chunk at a time).
STREAM_CHUNK = 1000


def keyword_norm(text: str) -> str:
    """The duplicate key of a keyword in its sector: lower case, white space folded."""
    return _SPACE.sub(" ", text).strip().lower()


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


async def insert_keywords(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> int:
    """Insert many keywords in the caller's transaction (an import: all or none).

    Small batches go through `writes.insert_many`. Large ones skip the per-row costs that
    dominate there, with the same result:
    - SQLite: the search index (FTS5, kept by a per-row trigger) is filled with one
      `INSERT ... SELECT` after the rows are in (4-5x faster). The trigger is dropped and
      re-created from its own stored SQL inside this transaction: SQLite's DDL is
      transactional, and the write lock is held, so nobody sees it missing; a rollback
      restores it.
    - Postgres (asyncpg): `COPY` instead of one INSERT per row (about 2x faster).
    The list versions are bumped as every store write does (`writes.touch_accounts`).
    """
    if len(rows) < BULK_FAST_MIN:
        return await insert_many(conn, KEYWORDS, rows)
    stamp = now()
    full = [{**{c: None for c in BULK_COLUMNS}, "created_at": stamp, "updated_at": stamp,
             **r} for r in rows]
    if conn.dialect.name == "sqlite":
        return await _sqlite_bulk(conn, full)
    if conn.dialect.driver == "asyncpg":
        await touch_accounts(conn, KEYWORDS, {r["account_id"] for r in full},
                             sectors={r["sector_id"] for r in full})
        return await _pg_copy(conn, full)
    return await insert_many(conn, KEYWORDS, full)


async def _sqlite_bulk(conn: AsyncConnection, rows: list[dict[str, Any]]) -> int:
    trigger = (await conn.execute(text(
        "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = :name"),
        {"name": _SQLITE_FTS_TRIGGER})).scalar()
    fts = KEYWORDS.fulltext
    if trigger is None or fts is None:
        return await insert_many(conn, KEYWORDS, rows)
    await loopsqlite.offload(conn)  # seconds of work: off the event loop's thread
    before = (await conn.execute(select(func.max(keywords.c.id)))).scalar() or 0
    await conn.execute(text(f"DROP TRIGGER {_SQLITE_FTS_TRIGGER}"))
    count = await insert_many(conn, KEYWORDS, rows, batch=5000)
    await conn.execute(text(
        f"INSERT INTO {fts.sqlite_table}(rowid, {fts.column}) "  # noqa: S608 - fixed names
        f"SELECT id, {fts.column} FROM keywords WHERE id > :before"), {"before": before})
    await conn.execute(text(str(trigger)))
    return count


async def _pg_copy(conn: AsyncConnection, rows: list[dict[str, Any]]) -> int:
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection
    records = [tuple(r[c] for c in BULK_COLUMNS) for r in rows]
    try:
        await driver.copy_records_to_table("keywords", records=records,
                                           columns=list(BULK_COLUMNS))
    except Exception as exc:  # asyncpg's own errors: the driver is used directly here
        if type(exc).__name__ == "UniqueViolationError":
            raise UniqueViolation({"keyword": ["This sector already has this keyword."]}
                                  ) from None
        raise
    return len(records)


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
