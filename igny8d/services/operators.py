"""Operators: the superusers who run an install, kept together in one "Operators" account.

A plain async function so the CLI, a job or a test can create one without a request.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.store import accounts as store
from igny8d.store import reference as reference_store
from igny8d.store import users as user_store
from igny8d.store.errors import UniqueViolation
from igny8d.store.schema import accounts, users

OPERATORS_NAME = "Operators"
OPERATORS_SLUG = "operators"
#: The plan the operators' account gets: the largest, so limits never stop an operator.
OPERATORS_PLAN = "scale"


async def operators_account(conn: AsyncConnection) -> tuple[dict[str, Any], bool]:
    """The account operators live in, and whether it was created just now.

    Reruns of `createsuperuser` must not make another "Operators" account each time: the
    account that already holds a superuser wins, then the one with the slug `operators`.
    """
    row = (await conn.execute(
        select(accounts).join(users, users.c.account_id == accounts.c.id)
        .where(users.c.is_superuser.is_(True)).order_by(accounts.c.id).limit(1)
    )).mappings().first()
    if row is None:
        row = (await conn.execute(
            select(accounts).where(accounts.c.slug == OPERATORS_SLUG)
        )).mappings().first()
    if row is not None:
        return dict(row), False
    plan = await reference_store.plan_by_slug(conn, OPERATORS_PLAN)
    return await store.create_account(conn, name=OPERATORS_NAME, plan=plan), True


async def create_superuser(
    conn: AsyncConnection, *, email: str, username: str | None, password_hash: str
) -> dict[str, Any]:
    """Create an operator (owner role, superuser) in the operators' account.

    `email` is expected validated by the caller (the CLI uses register's rule). Returns
    `{"user": …, "account": …, "account_created": bool}`, the user without its hash.

    Raises:
        UniqueViolation: the email (or username) is taken; `errors` holds the sentence.
    """
    if await user_store.find_user_by_email(conn, email) is not None:
        raise UniqueViolation({"email": [
            f"A user with the email {email.strip().lower()} already exists."]})
    account, created = await operators_account(conn)
    user = await user_store.create_user(
        conn, account_id=account["id"], email=email, username=username,
        password_hash=password_hash, role="owner", is_superuser=True,
    )
    user.pop("password_hash", None)
    return {"user": user, "account": account, "account_created": created}
