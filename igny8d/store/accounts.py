"""Accounts (tenants): creating one, its lock for check-then-write rules, its plan."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.scope import Scope
from igny8d.store.errors import RowNotFound, UniqueViolation
from igny8d.store.rows import count_rows
from igny8d.store.schema import accounts, plans
from igny8d.store.specs import TableSpec
from igny8d.store.writes import insert_row
from igny8d.text import slugify

ACCOUNTS = TableSpec(accounts, "tenant", "Account")


async def lock_account(conn: AsyncConnection, account_id: int) -> dict[str, Any]:
    """Lock the account row for the rest of the transaction and return it with its plan.

    Every check-then-write on an account's budget (plan limits, credits) takes this first,
    so two concurrent requests count one after the other: `FOR UPDATE` on Postgres; on
    SQLite the write transaction (BEGIN IMMEDIATE) already holds the database lock.
    """
    stmt = (select(accounts, plans.c.name.label("plan_name"), plans.c.slug.label("plan_slug"),
                   *(plans.c[k] for k in _LIMITS))
            .join(plans, plans.c.id == accounts.c.plan_id)
            .where(accounts.c.id == account_id))
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update(of=accounts)
    row = (await conn.execute(stmt)).mappings().first()
    if row is None:
        raise RowNotFound("Account not found.")
    return dict(row)


_LIMITS = ("max_sites", "max_users", "max_keywords", "max_sectors_per_site", "max_clusters",
           "monthly_credits")


async def account_plan(conn: AsyncConnection, account_id: int) -> dict[str, Any]:
    row = (await conn.execute(
        select(plans).join(accounts, accounts.c.plan_id == plans.c.id)
        .where(accounts.c.id == account_id)
    )).mappings().one()
    return dict(row)


_SLUG_ATTEMPTS = 3


async def unique_account_slug(conn: AsyncConnection, name: str) -> str:
    base = slugify(name, fallback="item")
    taken = set((await conn.execute(
        select(accounts.c.slug).where(accounts.c.slug.like(f"{base}%"))
    )).scalars())
    if base not in taken:
        return base
    return f"{base}-{secrets.token_hex(3)}"


async def create_account(
    conn: AsyncConnection, *, name: str, plan: dict[str, Any], status: str = "active"
) -> dict[str, Any]:
    """A new tenant, starting with its plan's monthly credits.

    The slug is derived from the name; if a concurrent registration took it between the
    check and the insert, another suffix is tried (the insert runs in a savepoint).
    """
    slug = await unique_account_slug(conn, name)
    for attempt in range(_SLUG_ATTEMPTS):
        try:
            return await insert_row(conn, ACCOUNTS, {
                "name": name, "slug": slug, "plan_id": plan["id"],
                "credits": plan["monthly_credits"], "status": status,
            })
        except UniqueViolation:
            if attempt == _SLUG_ATTEMPTS - 1:
                raise
            slug = f"{slugify(name, fallback='item')}-{secrets.token_hex(3)}"
    raise AssertionError("unreachable")


async def account_summary(conn: AsyncConnection, account_id: int) -> dict[str, Any]:
    row = (await conn.execute(
        select(accounts.c.id, accounts.c.name, accounts.c.slug, accounts.c.status,
               accounts.c.credits, plans.c.slug.label("plan"))
        .join(plans, plans.c.id == accounts.c.plan_id).where(accounts.c.id == account_id)
    )).mappings().one()
    return dict(row)


async def count_for_account(conn: AsyncConnection, spec: TableSpec, account_id: int) -> int:
    return await count_rows(conn, spec, scope=Scope(account_id))
