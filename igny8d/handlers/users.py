"""Users and accounts: resources of the auth module."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.errors import PermissionDenied, PlanLimit, ValidationFailed
from igny8d.handlers import auth_models as m
from igny8d.handlers.resource import (
    Action,
    Filter,
    Resource,
    ResourceHandler,
    ResourceService,
)
from igny8d.permissions import ROLE_RANK, ROLES
from igny8d.security import UNUSABLE_PASSWORD
from igny8d.store import accounts as store
from igny8d.store import crud
from igny8d.store.crud import Scope
from igny8d.store.schema import plans

TAG = "auth"


# -- users --


class UserService(ResourceService):
    async def present(self, conn: AsyncConnection, h: ResourceHandler,
                      rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        grants = await store.site_grants(conn, [r["id"] for r in rows])
        return [{
            "id": r["id"], "email": r["email"], "username": r["username"], "role": r["role"],
            "is_active": r["is_active"], "account_id": r["account_id"],
            "site_ids": grants[r["id"]], "active_site_id": r["active_site_id"],
            "last_login": r["last_login"], "created_at": r["created_at"],
        } for r in rows]

    @staticmethod
    async def _check_seat(conn: AsyncConnection, account_id: int) -> None:
        plan = await store.account_plan(conn, account_id)
        if await store.count_for_account(conn, store.USERS, account_id) >= plan["max_users"]:
            raise PlanLimit("users", plan["max_users"], plan["name"])

    @staticmethod
    def _check_role(h: ResourceHandler, role: str) -> None:
        assert h.principal is not None
        if not h.principal.may_assign(role):
            raise PermissionDenied(errors={"role": [f"You cannot assign the role {role!r}."]})

    async def prepare(self, h: ResourceHandler, data: dict[str, Any]) -> dict[str, Any]:
        # Hash outside the transaction: SQLite writers would queue behind bcrypt otherwise.
        password = data.pop("password", None)
        if password:
            data["password_hash"] = await h.ctx.hasher.hash(password)
        return data

    async def create(self, conn: AsyncConnection, h: ResourceHandler,
                     data: dict[str, Any]) -> dict[str, Any]:
        assert h.principal is not None
        self._check_role(h, data["role"])
        await self._check_seat(conn, h.principal.account_id)
        row = await store.create_user(
            conn, account_id=h.principal.account_id, email=data["email"],
            username=data.get("username"),
            password_hash=data.get("password_hash") or UNUSABLE_PASSWORD, role=data["role"],
            is_active=data.get("is_active", True),
        )
        if data.get("site_ids"):
            await store.set_site_grants(conn, account_id=h.principal.account_id,
                                        user_id=row["id"], site_ids=data["site_ids"])
        return row

    async def update(self, conn: AsyncConnection, h: ResourceHandler, row: dict[str, Any],
                     data: dict[str, Any]) -> dict[str, Any]:
        me = h.principal
        assert me is not None
        if not me.is_superuser and ROLE_RANK[row["role"]] > me.rank:
            raise PermissionDenied("You cannot change a user above your own role")
        role = data.get("role")
        if role is not None and role != row["role"]:
            if row["id"] == me.user_id:
                raise PermissionDenied(errors={"role": ["You cannot change your own role."]})
            self._check_role(h, role)
        if row["id"] == me.user_id and data.get("is_active") is False:
            raise PermissionDenied(errors={"is_active": ["You cannot deactivate yourself."]})
        values: dict[str, Any] = {}
        if "email" in data and data["email"] != row["email"]:
            if await store.find_user_by_email(conn, data["email"]):
                raise store.UniqueViolation({"email": ["A user with this email already exists."]})
            values["email"] = data["email"]
        if data.get("username") and data["username"] != row["username"]:
            values["username"] = data["username"]
        for key in ("role", "is_active"):
            # Only real changes: an unchanged role must not revoke the user's sessions below.
            if data.get(key) is not None and data[key] != row[key]:
                values[key] = data[key]
        if values:
            row = await crud.update_row(conn, store.USERS, h.scope, row["id"], values)
        if data.get("password_hash"):
            await store.set_password(conn, row["id"], data["password_hash"])
        elif values.get("is_active") is False or ("role" in values):
            await store.revoke_sessions(conn, row["id"])
        if data.get("site_ids") is not None:
            await store.set_site_grants(conn, account_id=row["account_id"], user_id=row["id"],
                                        site_ids=data["site_ids"])
        return await crud.get_row(conn, store.USERS, h.scope, row["id"])

    async def delete(self, conn: AsyncConnection, h: ResourceHandler,
                     row: dict[str, Any]) -> None:
        me = h.principal
        assert me is not None
        if row["id"] == me.user_id:
            raise PermissionDenied("You cannot delete yourself")
        if not me.is_superuser and ROLE_RANK[row["role"]] > me.rank:
            raise PermissionDenied("You cannot delete a user above your own role")
        await crud.delete_row(conn, store.USERS, h.scope, row["id"])


async def invite_user(h: ResourceHandler) -> None:
    """Create an inactive user without a password; an admin activates them later."""
    body: m.InviteBody = h.parse(m.InviteBody)
    service = h.resource.service
    assert isinstance(service, UserService)
    async with h.ctx.store.begin() as conn:
        row = await service.create(conn, h, {**body.model_dump(), "is_active": False})
        data = await h.present_one(conn, row)
    h.created(data, "User invited")


async def activate_user(h: ResourceHandler, id: str) -> None:
    body: m.ActivateBody = h.parse(m.ActivateBody)
    password_hash = await h.ctx.hasher.hash(body.password) if body.password else None
    async with h.ctx.store.begin() as conn:
        row = await h.fetch(conn, id)
        me = h.principal
        assert me is not None
        if not me.is_superuser and ROLE_RANK[row["role"]] > me.rank:
            raise PermissionDenied("You cannot change a user above your own role")
        if password_hash:
            await store.set_password(conn, row["id"], password_hash)
        row = await crud.update_row(conn, store.USERS, h.scope, row["id"], {"is_active": True})
        data = await h.present_one(conn, row)
    h.ok(data, "User activated")


USERS = Resource(
    name="users", prefix="/api/v1/auth/users/", spec=store.USERS, output=m.UserOut,
    create_body=m.UserCreateBody, update_body=m.UserUpdateBody,
    filters={"role": Filter("role", "choice", ROLES), "is_active": Filter("is_active", "bool")},
    search_fields=("email", "username"),
    ordering={"email": "email", "username": "username", "role": "role",
              "created_at": "created_at", "last_login": "last_login"},
    read_level="admin", write_level="admin", service=UserService(), tag=TAG,
    actions=[
        Action("invite", invite_user, level="admin", body=m.InviteBody, response=m.UserOut,
               status=201, summary="Invite a user (inactive until activated)"),
        Action("activate", activate_user, detail=True, level="admin", body=m.ActivateBody,
               response=m.UserOut, summary="Activate a user, optionally setting a password"),
    ],
)


# -- accounts --


class AccountService(ResourceService):
    def scope(self, h: ResourceHandler) -> Scope:
        assert h.principal is not None
        return Scope.everything() if h.principal.is_superuser else h.principal.scope

    async def present(self, conn: AsyncConnection, h: ResourceHandler,
                      rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        slugs = dict((await conn.execute(select(plans.c.id, plans.c.slug))).all())
        return [{
            "id": r["id"], "name": r["name"], "slug": r["slug"], "status": r["status"],
            "credits": r["credits"], "plan_id": r["plan_id"], "plan": slugs.get(r["plan_id"]),
            "created_at": r["created_at"], "updated_at": r["updated_at"],
        } for r in rows]

    async def _plan(self, conn: AsyncConnection, plan_id: int | None) -> dict[str, Any]:
        if plan_id is None:
            return await store.plan_by_slug(conn, "free")
        try:
            return await crud.get_row(conn, store.PLANS, Scope.everything(), plan_id)
        except store.RowNotFound:
            raise ValidationFailed(
                errors={"plan_id": [f'Invalid pk "{plan_id}" - object does not exist.']}
            ) from None

    async def create(self, conn: AsyncConnection, h: ResourceHandler,
                     data: dict[str, Any]) -> dict[str, Any]:
        plan = await self._plan(conn, data.get("plan_id"))
        row = await store.create_account(conn, name=data["name"], plan=plan,
                                         status=data["status"])
        if data.get("credits") is not None:
            row = await crud.update_row(conn, store.ACCOUNTS, Scope.everything(), row["id"],
                                        {"credits": data["credits"]})
        return row

    async def update(self, conn: AsyncConnection, h: ResourceHandler, row: dict[str, Any],
                     data: dict[str, Any]) -> dict[str, Any]:
        assert h.principal is not None
        privileged = {k for k in ("plan_id", "credits", "status")
                      if data.get(k) is not None and data[k] != row[k]}
        if privileged and not h.principal.is_superuser:
            raise PermissionDenied(errors={k: ["Only an operator can change this."]
                                           for k in sorted(privileged)})
        values: dict[str, Any] = {}
        if data.get("name"):
            values["name"] = data["name"]
        if data.get("plan_id") is not None:
            values["plan_id"] = (await self._plan(conn, data["plan_id"]))["id"]
        for key in ("credits", "status"):
            if data.get(key) is not None:
                values[key] = data[key]
        return await crud.update_row(conn, store.ACCOUNTS, self.scope(h), row["id"], values)

    async def delete(self, conn: AsyncConnection, h: ResourceHandler,
                     row: dict[str, Any]) -> None:
        assert h.principal is not None
        if not h.principal.is_superuser and h.principal.role != "owner":
            raise PermissionDenied("Only the account owner can delete the account")
        await crud.delete_row(conn, store.ACCOUNTS, self.scope(h), row["id"])


ACCOUNTS = Resource(
    name="accounts", prefix="/api/v1/auth/accounts/", spec=store.ACCOUNTS, output=m.AccountOut,
    create_body=m.AccountCreateBody, update_body=m.AccountUpdateBody,
    filters={"status": Filter("status", "choice", ("active", "suspended"))},
    search_fields=("name", "slug"),
    ordering={"name": "name", "created_at": "created_at", "credits": "credits"},
    # Creating a tenant from inside a tenant makes no sense: only operators create accounts.
    read_level="admin", write_level="admin", create_level="superuser",
    service=AccountService(), tag=TAG,
)

RESOURCES = [USERS, ACCOUNTS]

default_handlers = [route for res in RESOURCES for route in res.routes()]
