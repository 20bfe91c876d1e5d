"""Scoped writes of rows, each bumping the list versions of what it changed
(store/versions.py) in the same transaction.

Every writer takes its account rows first (`versions.lock_accounts`: one lock order on
Postgres), then writes, then bumps the versions of the (table, sector) lists it changed:
the sectors come from the written values or from the statement's RETURNING, a delete also
bumps the tables its foreign keys reach.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.scope import Scope
from igny8d.store import versions
from igny8d.store.conflicts import conflict
from igny8d.store.errors import RowNotFound
from igny8d.store.schema import accounts
from igny8d.store.specs import TableSpec

_VERSIONED = ("account", "site", "sector")


async def lock_accounts(
    conn: AsyncConnection, spec: TableSpec, account_ids: Iterable[int | None]
) -> list[int]:
    """Before a write: take the rows of the accounts whose data it changes (every writer's
    first lock). Returns the accounts whose list versions the write must bump afterwards
    (`bump_lists`); none for reference data. An operator's cross-tenant write (account
    None) bumps every account's data version instead: every cached list goes."""
    if spec.level not in _VERSIONED:
        return []
    ids = set(account_ids)
    if not ids:
        return []
    if None in ids:
        await conn.execute(update(accounts).values(data_version=accounts.c.data_version + 1))
        return []
    wanted = sorted(i for i in ids if i is not None)
    await versions.lock_accounts(conn, wanted)
    return wanted


async def bump_lists(
    conn: AsyncConnection, spec: TableSpec, account_ids: Sequence[int],
    sectors: Iterable[int | None] | None = None, *, deleted: bool = False,
    texts: Sequence[str] | None = None,
) -> None:
    """After a write, in its transaction: bump the list versions of `spec`'s table in these
    accounts, for `sectors` (None: not known, every sector's). A delete (`deleted`) also
    bumps every table its foreign keys cascade to or set NULL in. A searched table logs
    `texts`, what the write changed as its search sees it (`searched_texts`; None: not
    known)."""
    if not account_ids:
        return
    own = spec.table.name
    narrow = sectors if versions.has_sectors(spec.table) and sectors is not None else None
    changed: dict[str, Iterable[int | None] | None] = {own: narrow}
    if deleted:
        changed.update({t: None for t in versions.dependents(own) if t != own})
    logged = {own: texts} if spec.fulltext is not None else None
    await versions.bump(conn, account_ids, changed, logged)


async def touch_accounts(
    conn: AsyncConnection, spec: TableSpec, account_ids: Iterable[int | None], *,
    sectors: Iterable[int | None] | None = None, deleted: bool = False,
    texts: Sequence[str] | None = None,
) -> None:
    """`lock_accounts` and `bump_lists` at once, for a write that knows its sectors (or
    none) and what it changes before it runs: call it first, so the account rows are the
    first lock."""
    ids = await lock_accounts(conn, spec, account_ids)
    await bump_lists(conn, spec, ids, sectors, deleted=deleted, texts=texts)


def searched_texts(spec: TableSpec, rows: Sequence[Any],
                   values: dict[str, Any] | None = None) -> list[str] | None:
    """What written rows are to their table's search (its fields and index column, one text
    per row), for the change log (store/versions.py). None when not known: the write sets
    a searched column (an update's old text is gone), a row lacks one, or too many rows."""
    ft = spec.fulltext
    if ft is None or len(rows) > versions.TEXTS_MAX:
        return None
    names = (*ft.fields, ft.column)
    if values is not None and any(n in values for n in names):
        return None
    out = []
    for row in rows:
        parts = [str(row[n]) for n in names if n in row and row[n] is not None]
        if not parts:
            return None
        out.append("\n".join(parts))
    return out


def _sectors(spec: TableSpec, rows: Iterable[Any]) -> list[int | None] | None:
    """The sectors of written rows (None: the table has none)."""
    if not versions.has_sectors(spec.table):
        return None
    return [r["sector_id"] for r in rows]


def now() -> dt.datetime:
    """The time every write stamps: aware, in UTC (stored as UTC on both stores)."""
    return dt.datetime.now(dt.UTC)


async def insert_row(
    conn: AsyncConnection, spec: TableSpec, values: dict[str, Any]
) -> dict[str, Any]:
    values = dict(values)
    stamp = now()
    if "created_at" in spec.table.c:
        values.setdefault("created_at", stamp)
    if "updated_at" in spec.table.c:
        values.setdefault("updated_at", stamp)
    await touch_accounts(conn, spec, [values.get("account_id")],
                         sectors=[values.get("sector_id")],
                         texts=searched_texts(spec, [values]))
    stmt = insert(spec.table).values(**values).returning(*spec.table.c)
    try:
        async with conn.begin_nested():
            row = (await conn.execute(stmt)).mappings().one()
    except IntegrityError as exc:
        raise conflict(spec, exc) from None
    return dict(row)


async def insert_many(
    conn: AsyncConnection, spec: TableSpec, rows: Sequence[dict[str, Any]], *,
    batch: int = 1000,
) -> int:
    """Insert rows in batches (one statement per batch, no savepoint per row).

    A duplicate anywhere fails the statement: the caller's transaction rolls back whole
    (nothing half-imported), and the conflict is reported like a single insert's.
    """
    if not rows:
        return 0
    stamp = now()
    stamped = []
    for row in rows:
        values = dict(row)
        if "created_at" in spec.table.c:
            values.setdefault("created_at", stamp)
        if "updated_at" in spec.table.c:
            values.setdefault("updated_at", stamp)
        stamped.append(values)
    await touch_accounts(conn, spec, {r.get("account_id") for r in stamped},
                         sectors={r.get("sector_id") for r in stamped},
                         texts=searched_texts(spec, stamped))
    try:
        for start in range(0, len(stamped), batch):
            await conn.execute(insert(spec.table), stamped[start:start + batch])
    except IntegrityError as exc:
        raise conflict(spec, exc) from None
    return len(stamped)


async def update_many(
    conn: AsyncConnection, spec: TableSpec, ids: Iterable[int], values: dict[str, Any], *,
    scope: Scope,
) -> int:
    """One UPDATE for several rows of the scope (bulk status changes)."""
    wanted = sorted(set(ids))
    if not wanted:
        return 0
    values = dict(values)
    if "updated_at" in spec.table.c:
        values["updated_at"] = now()
    accs = await lock_accounts(conn, spec, [scope.account_id])
    stmt = (update(spec.table).where(spec.table.c.id.in_(wanted), *spec.scope_filter(scope))
            .values(**values).returning(*_sector_column(spec)))
    try:
        rows = (await conn.execute(stmt)).mappings().all()
    except IntegrityError as exc:
        raise conflict(spec, exc) from None
    moved = "sector_id" in values
    await bump_lists(conn, spec, accs, None if moved else _sectors(spec, rows),
                     texts=searched_texts(spec, rows, values))
    return len(rows)


async def update_row(
    conn: AsyncConnection, spec: TableSpec, row_id: int, values: dict[str, Any], *,
    scope: Scope,
) -> dict[str, Any]:
    values = dict(values)
    if "updated_at" in spec.table.c:
        values["updated_at"] = now()
    accs = await lock_accounts(conn, spec, [scope.account_id])
    stmt = (
        update(spec.table)
        .where(spec.table.c.id == row_id, *spec.scope_filter(scope))
        .values(**values)
        .returning(*spec.table.c)
    )
    try:
        async with conn.begin_nested():
            row = (await conn.execute(stmt)).mappings().first()
    except IntegrityError as exc:
        raise conflict(spec, exc) from None
    if row is None:
        raise RowNotFound(f"{spec.label} not found.")
    moved = "sector_id" in values
    await bump_lists(conn, spec, accs, None if moved else _sectors(spec, [row]),
                     texts=searched_texts(spec, [row], values))
    return dict(row)


async def delete_row(
    conn: AsyncConnection, spec: TableSpec, row_id: int, *, scope: Scope
) -> None:
    accs = await lock_accounts(conn, spec, [scope.account_id])
    stmt = (delete(spec.table).where(spec.table.c.id == row_id, *spec.scope_filter(scope))
            .returning(*_sector_column(spec)))
    rows = (await conn.execute(stmt)).mappings().all()
    if not rows:
        raise RowNotFound(f"{spec.label} not found.")
    await bump_lists(conn, spec, accs, _sectors(spec, rows), deleted=True,
                     texts=searched_texts(spec, rows))


async def delete_many(
    conn: AsyncConnection, spec: TableSpec, ids: Iterable[int], *, scope: Scope
) -> int:
    wanted = sorted(set(ids))
    accs = await lock_accounts(conn, spec, [scope.account_id])
    stmt = (delete(spec.table).where(spec.table.c.id.in_(wanted), *spec.scope_filter(scope))
            .returning(*_sector_column(spec)))
    rows = (await conn.execute(stmt)).mappings().all()
    if rows:
        await bump_lists(conn, spec, accs, _sectors(spec, rows), deleted=True,
                         texts=searched_texts(spec, rows))
    return len(rows)


def _sector_column(spec: TableSpec) -> list[Any]:
    """What a write returns to learn its sectors (the id where the table has none)."""
    c = spec.table.c
    own = [c.sector_id] if versions.has_sectors(spec.table) else [c.id]
    ft = spec.fulltext  # and what the search saw of the rows (the change log)
    return own if ft is None else [*own, *(c[n] for n in (*ft.fields, ft.column))]

