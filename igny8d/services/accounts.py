"""Accounts (tenants): registration, and who may change an account's plan, credits, status."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.errors import PermissionDenied
from igny8d.permissions import Actor
from igny8d.scope import Scope
from igny8d.services import media
from igny8d.services.base import Deps, ResourceService, Row, invalid_pk
from igny8d.store import accounts as store
from igny8d.store import reference as reference_store
from igny8d.store.errors import RowNotFound
from igny8d.store.rows import get_row
from igny8d.store.users import create_user
from igny8d.store.writes import delete_row, update_row

ACCOUNT_FIELDS = ("id", "name", "slug", "status", "credits", "plan_id", "plan", "created_at",
                  "updated_at")


async def register(
    deps: Deps, *, email: str, password: str, username: str | None, account_name: str | None
) -> int:
    """A new account on the free plan (with its monthly credits) and its owner; the user id."""
    password_hash = await deps.hasher.hash(password)
    async with deps.store.begin() as conn:
        plan = await reference_store.plan_by_slug(conn, "free")
        name = account_name or f"{(username or email.split('@')[0])}'s account"
        account = await store.create_account(conn, name=name, plan=plan)
        user = await create_user(
            conn, account_id=account["id"], email=email, username=username,
            password_hash=password_hash, role="owner",
        )
    return int(user["id"])


async def _plan(conn: AsyncConnection, plan_id: int | None) -> Row:
    if plan_id is None:
        return await reference_store.plan_by_slug(conn, "free")
    try:
        return await get_row(conn, reference_store.PLANS, plan_id, scope=Scope.everything())
    except RowNotFound:
        raise invalid_pk("plan_id", plan_id) from None


class AccountService(ResourceService):
    async def before_delete(self, conn: AsyncConnection, actor: Actor,
                            ids: list[int]) -> None:
        await media.release_files_of(conn, "account_id", ids)  # everything in it goes

    """A tenant user sees their own account; operators see and create every account."""

    def scope(self, actor: Actor | None) -> Scope:
        if actor is not None and actor.is_superuser:
            return Scope.everything()
        return super().scope(actor)

    async def present(self, conn: AsyncConnection, actor: Actor | None,
                      rows: list[Row]) -> list[Row]:
        slugs = await reference_store.plan_slugs(conn, sorted({r["plan_id"] for r in rows}))
        return [{**{k: r.get(k) for k in ACCOUNT_FIELDS if k != "plan"},
                 "plan": slugs.get(r["plan_id"])} for r in rows]

    async def create(self, conn: AsyncConnection, actor: Actor, data: Row) -> Row:
        plan = await _plan(conn, data.get("plan_id"))
        row = await store.create_account(conn, name=data["name"], plan=plan,
                                         status=data.get("status", "active"))
        if data.get("credits") is not None:
            row = await update_row(conn, store.ACCOUNTS, row["id"],
                                   {"credits": data["credits"]},
                                   scope=Scope.everything())
        return row

    async def update(self, conn: AsyncConnection, actor: Actor, row: Row, data: Row) -> Row:
        privileged = {k for k in ("plan_id", "credits", "status")
                      if data.get(k) is not None and data[k] != row[k]}
        if privileged and not actor.is_superuser:
            raise PermissionDenied(errors={k: ["Only an operator can change this."]
                                           for k in sorted(privileged)})
        values: dict[str, Any] = {}
        if data.get("name"):
            values["name"] = data["name"]
        if "plan_id" in privileged:
            values["plan_id"] = (await _plan(conn, data["plan_id"]))["id"]
        for key in ("credits", "status"):
            if key in privileged:
                values[key] = data[key]
        if not values:
            return row
        return await update_row(conn, store.ACCOUNTS, row["id"], values,
                                scope=self.scope(actor))

    async def delete(self, conn: AsyncConnection, actor: Actor, row: Row) -> None:
        if not actor.is_superuser and actor.role != "owner":
            raise PermissionDenied("Only the account owner can delete the account")
        await self.before_delete(conn, actor, [row["id"]])
        await delete_row(conn, store.ACCOUNTS, row["id"], scope=self.scope(actor))


ACCOUNTS = AccountService(store.ACCOUNTS, fields=ACCOUNT_FIELDS,
                          refs={"plan_id": reference_store.PLANS})
