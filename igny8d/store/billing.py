"""The credit ledger's SQL: conditional balance changes, transaction and usage rows, totals.

A balance change is one conditional UPDATE on the account row (`credits >= n` for a debit,
`credits + n >= 0` for any other change), so it can never go below zero, also under
concurrent charges on Postgres (the row lock makes the second UPDATE re-check the condition
on the committed balance). It bumps the list versions of the ledger and the usage log too
(`store/versions.py`): their list counts are cached per version like every other table's.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.store import versions
from igny8d.store.errors import RowNotFound
from igny8d.store.schema import (
    accounts,
    clusters,
    credit_transactions,
    credit_usage,
    keywords,
    plans,
    sites,
    users,
)
from igny8d.store.specs import TableSpec
from igny8d.store.writes import now, touch_accounts

TRANSACTIONS = TableSpec(credit_transactions, "account", "Transaction")
USAGE = TableSpec(credit_usage, "account", "Usage log")

tx = credit_transactions.c
us = credit_usage.c


async def change_balance(conn: AsyncConnection, account_id: int, delta: int) -> int | None:
    """Add `delta` (negative: a debit) unless that would leave the balance below zero.

    Returns the new balance, or None when the account lacks the credits (or does not exist).
    """
    stmt = (update(accounts)
            .where(accounts.c.id == account_id, accounts.c.credits + delta >= 0)
            .values(credits=accounts.c.credits + delta, updated_at=now())
            .returning(accounts.c.credits))
    value = (await conn.execute(stmt)).scalar_one_or_none()
    if value is None:
        return None
    await _bump_ledger(conn, account_id)
    return int(value)


async def _bump_ledger(conn: AsyncConnection, account_id: int) -> None:
    """What a balance change writes next (ledger and usage rows) changes these lists."""
    await versions.bump(conn, [account_id], {credit_transactions.name: None,
                                             credit_usage.name: None})


async def lock_balance(conn: AsyncConnection, account_id: int) -> int:
    """Take the account row (Postgres row lock; SQLite's write transaction holds the database)
    and return its balance: what a refund holds while it reads what is left to refund."""
    value = (await conn.execute(
        update(accounts).where(accounts.c.id == account_id)
        .values(credits=accounts.c.credits)
        .returning(accounts.c.credits)
    )).scalar_one_or_none()
    if value is None:
        raise RowNotFound("Account not found.")
    await _bump_ledger(conn, account_id)
    return int(value)


async def balance(conn: AsyncConnection, account_id: int) -> dict[str, Any]:
    """The account's credits and its plan's monthly allowance and limits."""
    row = (await conn.execute(
        select(accounts.c.credits, plans.c.slug.label("plan"),
               plans.c.name.label("plan_name"), plans.c.monthly_credits, plans.c.max_sites,
               plans.c.max_users, plans.c.max_keywords, plans.c.max_clusters,
               plans.c.max_sectors_per_site)
        .join(plans, plans.c.id == accounts.c.plan_id).where(accounts.c.id == account_id)
    )).mappings().first()
    if row is None:
        raise RowNotFound("Account not found.")
    return dict(row)


async def insert_transaction(
    conn: AsyncConnection, *, account_id: int, user_id: int | None, transaction_type: str,
    amount: int, balance_after: int, description: str, reference: str | None,
) -> dict[str, Any]:
    stmt = insert(credit_transactions).values(
        account_id=account_id, user_id=user_id, transaction_type=transaction_type,
        amount=amount, balance_after=balance_after, description=description,
        reference=reference, created_at=now(),
    ).returning(*credit_transactions.c)
    return dict((await conn.execute(stmt)).mappings().one())


async def insert_usage(
    conn: AsyncConnection, *, account_id: int, user_id: int | None, transaction_id: int,
    operation_type: str, credits_used: int, units: int, cost: float | None,
    tokens: int | None, description: str, reference: str | None,
) -> dict[str, Any]:
    stamp = now()
    stmt = insert(credit_usage).values(
        account_id=account_id, user_id=user_id, transaction_id=transaction_id,
        operation_type=operation_type, credits_used=credits_used, credits_refunded=0,
        units=units, cost=cost, tokens=tokens, description=description, reference=reference,
        created_at=stamp, updated_at=stamp,
    ).returning(*credit_usage.c)
    return dict((await conn.execute(stmt)).mappings().one())


async def refundable_usage(
    conn: AsyncConnection, account_id: int, *, usage_id: int | None = None,
    reference: str | None = None,
) -> list[dict[str, Any]]:
    """The account's usage rows named by id or reference that still have credits to give
    back, oldest first (call with the account row locked: `lock_balance`)."""
    stmt = select(credit_usage).where(us.account_id == account_id,
                                      us.credits_refunded < us.credits_used)
    if usage_id is not None:
        stmt = stmt.where(us.id == usage_id)
    if reference is not None:
        stmt = stmt.where(us.reference == reference)
    rows = await conn.execute(stmt.order_by(us.id))
    return [dict(r) for r in rows.mappings()]


async def add_refunded(conn: AsyncConnection, usage_id: int, amount: int) -> None:
    await conn.execute(update(credit_usage).where(us.id == usage_id).values(
        credits_refunded=us.credits_refunded + amount, updated_at=now()))


async def net_usage(
    conn: AsyncConnection, account_id: int, *, start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> int:
    """Credits spent and not refunded, on usage recorded in [start, end]."""
    stmt = select(func.coalesce(func.sum(us.credits_used - us.credits_refunded), 0)) \
        .where(us.account_id == account_id)
    if start is not None:
        stmt = stmt.where(us.created_at >= start)
    if end is not None:
        stmt = stmt.where(us.created_at <= end)
    return int((await conn.execute(stmt)).scalar_one())


async def usage_totals(
    conn: AsyncConnection, account_id: int, *, start: dt.datetime, end: dt.datetime,
) -> dict[str, dict[str, int]]:
    """Per operation type: operations, units, credits charged, refunded and net."""
    rows = await conn.execute(
        select(us.operation_type, func.count(), func.coalesce(func.sum(us.units), 0),
               func.coalesce(func.sum(us.credits_used), 0),
               func.coalesce(func.sum(us.credits_refunded), 0))
        .where(us.account_id == account_id, us.created_at >= start, us.created_at <= end)
        .group_by(us.operation_type)
    )
    return {str(op): {"count": int(n), "units": int(units), "credits_charged": int(used),
                      "credits_refunded": int(refunded),
                      "credits_used": int(used) - int(refunded)}
            for op, n, units, used, refunded in rows.all()}


async def transaction_sum(conn: AsyncConnection, account_id: int) -> int:
    """The sum of the account's ledger amounts (its balance minus the starting balance)."""
    return int((await conn.execute(
        select(func.coalesce(func.sum(tx.amount), 0)).where(tx.account_id == account_id)
    )).scalar_one())


async def resource_counts(conn: AsyncConnection, account_id: int) -> dict[str, int]:
    """How many sites, users, keywords and clusters the account has (plan limits)."""
    out: dict[str, int] = {}
    for name, table in (("sites", sites), ("users", users), ("keywords", keywords),
                        ("clusters", clusters)):
        out[name] = int((await conn.execute(
            select(func.count()).select_from(table).where(table.c.account_id == account_id)
        )).scalar_one())
    return out


async def set_usage_cost(conn: AsyncConnection, account_id: int, reference: str, *,
                         tokens: int, cost: float) -> int:
    """Tokens and provider cost on the usage rows of one charge reference; how many rows."""
    await touch_accounts(conn, USAGE, [account_id])
    stmt = (update(credit_usage)
            .where(credit_usage.c.account_id == account_id,
                   credit_usage.c.reference == reference)
            .values(tokens=tokens, cost=cost, updated_at=now()))
    return int((await conn.execute(stmt)).rowcount)
