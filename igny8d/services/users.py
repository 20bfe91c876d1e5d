"""Users of an account: seats, role ranks, site grants, and when sessions must end."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.errors import Conflict, PermissionDenied
from igny8d.permissions import Actor
from igny8d.security import UNUSABLE_PASSWORD
from igny8d.services.base import Deps, ResourceService, Row, check_limit
from igny8d.store import auth_tokens
from igny8d.store import users as store
from igny8d.store.accounts import count_for_account, lock_account
from igny8d.store.errors import UniqueViolation
from igny8d.store.rows import get_row
from igny8d.store.tokens import revoke_sessions
from igny8d.store.writes import delete_row, update_row

USER_FIELDS = ("id", "email", "username", "role", "is_active", "account_id", "site_ids",
               "active_site_id", "last_login", "created_at")


def _check_assign(actor: Actor, role: str) -> None:
    if not actor.may_assign(role):
        raise PermissionDenied(errors={"role": [f"You cannot assign the role {role!r}."]})


def _check_manage(actor: Actor, row: Row, doing: str) -> None:
    """Only a strictly higher rank changes another user (an admin cannot touch an admin)."""
    if row["id"] != actor.user_id and not actor.may_manage(row["role"]):
        raise PermissionDenied(f"You cannot {doing} a user of your own or a higher role")


class UserService(ResourceService):
    async def present(self, conn: AsyncConnection, actor: Actor | None,
                      rows: list[Row]) -> list[Row]:
        grants = await store.site_grants(conn, [r["id"] for r in rows])
        return [{**{k: r.get(k) for k in USER_FIELDS if k != "site_ids"},
                 "site_ids": grants[r["id"]]} for r in rows]

    async def prepare(self, deps: Deps, actor: Actor | None, data: Row) -> Row:
        # Hash outside the transaction: SQLite writers would queue behind bcrypt otherwise.
        data = dict(data)
        data.pop("password_confirm", None)
        password = data.pop("password", None)
        if password:
            data["password_hash"] = await deps.hasher.hash(password)
        return data

    async def create(self, conn: AsyncConnection, actor: Actor, data: Row) -> Row:
        _check_assign(actor, data["role"])
        account = await lock_account(conn, actor.account_id)
        seats = await count_for_account(conn, store.USERS, actor.account_id)
        check_limit(account, "max_users", seats, "users")
        row = await store.create_user(
            conn, account_id=actor.account_id, email=data["email"],
            username=data.get("username"),
            password_hash=data.get("password_hash") or UNUSABLE_PASSWORD, role=data["role"],
            is_active=data.get("is_active", True),
        )
        if data.get("site_ids"):
            await store.set_site_grants(conn, account_id=actor.account_id, user_id=row["id"],
                                        site_ids=data["site_ids"])
        return row

    async def update(self, conn: AsyncConnection, actor: Actor, row: Row, data: Row) -> Row:
        _check_manage(actor, row, "change")
        role = data.get("role")
        if role is not None and role != row["role"]:
            if row["id"] == actor.user_id:
                raise PermissionDenied(errors={"role": ["You cannot change your own role."]})
            _check_assign(actor, role)
        if row["id"] == actor.user_id and data.get("is_active") is False:
            raise PermissionDenied(errors={"is_active": ["You cannot deactivate yourself."]})
        values: dict[str, Any] = {}
        if "email" in data and data["email"] != row["email"]:
            if await store.find_user_by_email(conn, data["email"]):
                raise UniqueViolation({"email": ["A user with this email already exists."]})
            values["email"] = data["email"]
        if data.get("username") and data["username"] != row["username"]:
            values["username"] = data["username"]
        for key in ("role", "is_active"):
            # Only real changes: an unchanged role must not revoke the user's sessions below.
            if data.get(key) is not None and data[key] != row[key]:
                values[key] = data[key]
        scope = self.scope(actor)
        if values:
            row = await update_row(conn, store.USERS, row["id"], values, scope=scope)
        if data.get("password_hash"):
            await store.set_password(conn, row["id"], data["password_hash"])
        elif values.get("is_active") is False or "role" in values:
            await revoke_sessions(conn, row["id"])
        if values.get("is_active") is False:
            await auth_tokens.void_user(conn, row["id"])
        if data.get("site_ids") is not None:
            await store.set_site_grants(conn, account_id=row["account_id"], user_id=row["id"],
                                        site_ids=data["site_ids"])
        return await get_row(conn, store.USERS, row["id"], scope=scope)

    async def delete(self, conn: AsyncConnection, actor: Actor, row: Row) -> None:
        if row["id"] == actor.user_id:
            raise PermissionDenied("You cannot delete yourself")
        _check_manage(actor, row, "delete")
        await delete_row(conn, store.USERS, row["id"], scope=self.scope(actor))

    async def invite(self, conn: AsyncConnection, actor: Actor, data: Row) -> Row:
        """An inactive user without a password; an admin activates them later."""
        return await self.create(conn, actor, {**data, "is_active": False})

    async def invited(self, conn: AsyncConnection, actor: Actor, row_id: int) -> Row:
        """A user an invitation may be sent to again: one still inactive (409 otherwise)."""
        row = await self.fetch(conn, actor, row_id)
        _check_manage(actor, row, "invite")
        if row["is_active"]:
            raise Conflict("This user is already active.")
        return row

    async def activate(self, conn: AsyncConnection, actor: Actor, row_id: int,
                       password_hash: str | None) -> Row:
        row = await self.fetch(conn, actor, row_id)
        _check_manage(actor, row, "activate")
        if password_hash:
            await store.set_password(conn, row["id"], password_hash)
        return await update_row(conn, store.USERS, row["id"], {"is_active": True},
                                scope=self.scope(actor))


USERS = UserService(store.USERS, fields=USER_FIELDS)
