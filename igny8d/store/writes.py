"""Scoped writes of rows, each bumping the account's data version first (`touch_accounts`).

The bump is the list count cache's key, and it makes the account row every writer's first
lock (one lock order on Postgres).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.scope import Scope
from igny8d.store.conflicts import conflict
from igny8d.store.errors import RowNotFound
from igny8d.store.schema import accounts
from igny8d.store.specs import TableSpec

_VERSIONED = ("account", "site", "sector")


async def touch_accounts(
    conn: AsyncConnection, spec: TableSpec, account_ids: Iterable[int | None]
) -> None:
    """Bump the data version of the accounts whose data this write changes.

    Called before the write, so every writer takes the account row first (one lock order,
    no deadlocks on Postgres); list counts cached under the old version are not used again.
    An operator's cross-tenant write (account None) bumps every account.
    """
    if spec.level not in _VERSIONED:
        return
    ids = set(account_ids)
    if not ids:
        return
    stmt = update(accounts).values(data_version=accounts.c.data_version + 1)
    if None not in ids:
        stmt = stmt.where(accounts.c.id.in_(sorted(i for i in ids if i is not None)))
    await conn.execute(stmt)


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
    await touch_accounts(conn, spec, [values.get("account_id")])
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
    await touch_accounts(conn, spec, {r.get("account_id") for r in stamped})
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
    await touch_accounts(conn, spec, [scope.account_id])
    stmt = (update(spec.table).where(spec.table.c.id.in_(wanted), *spec.scope_filter(scope))
            .values(**values))
    try:
        return int((await conn.execute(stmt)).rowcount)
    except IntegrityError as exc:
        raise conflict(spec, exc) from None


async def update_row(
    conn: AsyncConnection, spec: TableSpec, row_id: int, values: dict[str, Any], *,
    scope: Scope,
) -> dict[str, Any]:
    values = dict(values)
    if "updated_at" in spec.table.c:
        values["updated_at"] = now()
    await touch_accounts(conn, spec, [scope.account_id])
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
    return dict(row)


async def delete_row(
    conn: AsyncConnection, spec: TableSpec, row_id: int, *, scope: Scope
) -> None:
    await touch_accounts(conn, spec, [scope.account_id])
    stmt = delete(spec.table).where(spec.table.c.id == row_id, *spec.scope_filter(scope))
    if (await conn.execute(stmt)).rowcount == 0:
        raise RowNotFound(f"{spec.label} not found.")


async def delete_many(
    conn: AsyncConnection, spec: TableSpec, ids: Iterable[int], *, scope: Scope
) -> int:
    wanted = sorted(set(ids))
    await touch_accounts(conn, spec, [scope.account_id])
    stmt = delete(spec.table).where(spec.table.c.id.in_(wanted), *spec.scope_filter(scope))
    return int((await conn.execute(stmt)).rowcount)

