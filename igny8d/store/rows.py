"""Scoped reads of rows: one by id, a list, a count, which ids are visible, many by id.

Every read goes through the table's `TableSpec`, so a read that forgets the tenant cannot be
written.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.scope import Scope
from igny8d.store import loopsqlite
from igny8d.store.errors import RowNotFound
from igny8d.store.specs import TableSpec

#: ids per IN (...) list (SQLite's default variable limit is 999)
IN_CHUNK = 900


async def get_row(
    conn: AsyncConnection, spec: TableSpec, row_id: int, *, scope: Scope,
    for_update: bool = False,
) -> dict[str, Any]:
    """The row if the scope may see it; otherwise RowNotFound (never a hint that it exists)."""
    stmt = spec.scoped(select(spec.table).where(spec.table.c.id == row_id), scope)
    if for_update and conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    row = (await conn.execute(stmt)).mappings().first()
    if row is None:
        raise RowNotFound(f"{spec.label} not found.")
    return dict(row)


async def require_visible(
    conn: AsyncConnection, spec: TableSpec, row_id: int, *, scope: Scope, field: str
) -> dict[str, Any]:
    """A row referenced from a request body; invisible -> 404 naming the field."""
    try:
        return await get_row(conn, spec, row_id, scope=scope)
    except RowNotFound:
        raise RowNotFound(f"{spec.label} {row_id} not found.", field=field) from None



def _count_stmt(spec: TableSpec, scope: Scope,
                where: Sequence[ColumnElement[bool]]) -> Select[Any]:
    return spec.scoped(select(func.count()).select_from(spec.table), scope).where(*where)


def _list_stmt(
    spec: TableSpec, scope: Scope, where: Sequence[ColumnElement[bool]],
    order_by: Sequence[Any], limit: int | None, offset: int,
) -> Select[Any]:
    stmt = spec.scoped(select(spec.table), scope).where(*where).order_by(*order_by)
    if limit is not None:
        stmt = stmt.limit(limit).offset(offset)
    return stmt


async def count_rows(
    conn: AsyncConnection, spec: TableSpec, *, scope: Scope,
    where: Sequence[ColumnElement[bool]] = (),
) -> int:
    await loopsqlite.offload_next(conn)  # it may scan: never on the event loop's thread
    return int((await conn.execute(_count_stmt(spec, scope, where))).scalar_one())


async def list_rows(
    conn: AsyncConnection,
    spec: TableSpec,
    *,
    scope: Scope,
    where: Sequence[ColumnElement[bool]] = (),
    order_by: Sequence[Any] = (),
    limit: int | None = None,
    offset: int = 0,
) -> list[dict[str, Any]]:
    result = await conn.execute(_list_stmt(spec, scope, where, order_by, limit, offset))
    keys = list(result.keys())
    return [dict(zip(keys, row, strict=True)) for row in result]


async def visible_ids(
    conn: AsyncConnection, spec: TableSpec, ids: Iterable[int], *, scope: Scope
) -> set[int]:
    """Which of `ids` the scope may touch: bulk actions check every id before writing."""
    wanted = sorted(set(ids))
    if not wanted:
        return set()
    stmt = spec.scoped(select(spec.table.c.id).where(spec.table.c.id.in_(wanted)), scope)
    return {int(r) for r in (await conn.execute(stmt)).scalars()}



async def rows_by_id(conn: AsyncConnection, spec: TableSpec, ids: Sequence[int], *,
                     scope: Scope, columns: Sequence[str] | None = None
                     ) -> list[dict[str, Any]]:
    """The rows of `ids` the scope may see (any order; invisible ones are simply absent)."""
    table = spec.table
    cols = [table.c[c] for c in columns] if columns else list(table.c)
    out: list[dict[str, Any]] = []
    for start in range(0, len(ids), IN_CHUNK):
        part = list(ids[start:start + IN_CHUNK])
        stmt = spec.scoped(select(*cols), scope).where(table.c.id.in_(part))
        out.extend(dict(r) for r in (await conn.execute(stmt)).mappings())
    return out
