"""Keyword-specific SQL: the duplicate key, a sector's existing keywords, seeds, streaming."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.scope import Scope
from igny8d.store.crud import TableSpec
from igny8d.store.schema import keywords, seed_keywords

_SPACE = re.compile(r"\s+")

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


async def seeds_by_id(conn: AsyncConnection, ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    wanted = sorted(set(ids))
    out: dict[int, dict[str, Any]] = {}
    for start in range(0, len(wanted), 900):
        part = wanted[start:start + 900]
        rows = (await conn.execute(
            select(seed_keywords).where(seed_keywords.c.id.in_(part)))).mappings()
        out.update({int(r["id"]): dict(r) for r in rows})
    return out


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
    result = await conn.stream(stmt)
    try:
        async for part in result.mappings().partitions(chunk):
            yield [dict(r) for r in part]
    finally:
        await result.close()
