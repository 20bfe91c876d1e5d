"""Users, accounts, sites, sectors, plans and industries: resources of the auth module."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.errors import PermissionDenied, ValidationFailed
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
from igny8d.store.schema import industries, industry_sectors, plans, sectors, users

TAG = "auth"


def plan_limit(what: str, limit: int, plan: str) -> PermissionDenied:
    """Plan limits answer 403 with the limit named, so a client can tell the user why."""
    return PermissionDenied(
        "Plan limit reached",
        errors={"plan": [f"The {plan} plan allows at most {limit} {what}."]},
    )


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
            raise plan_limit("users", plan["max_users"], plan["name"])

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


# -- sites --


async def _sector_counts(conn: AsyncConnection, site_ids: list[int]) -> dict[int, int]:
    if not site_ids:
        return {}
    rows = await conn.execute(
        select(sectors.c.site_id, func.count()).where(sectors.c.site_id.in_(site_ids))
        .group_by(sectors.c.site_id)
    )
    return dict(rows.all())


class SiteService(ResourceService):
    async def present(self, conn: AsyncConnection, h: ResourceHandler,
                      rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        counts = await _sector_counts(conn, [r["id"] for r in rows])
        fields = [f for f in m.SiteOut.model_fields if f != "sectors_count"]
        return [{**{k: r[k] for k in fields}, "sectors_count": counts.get(r["id"], 0)}
                for r in rows]

    async def create(self, conn: AsyncConnection, h: ResourceHandler,
                     data: dict[str, Any]) -> dict[str, Any]:
        me = h.principal
        assert me is not None
        await h.resource.check_refs(conn, h, data)
        plan = await store.account_plan(conn, me.account_id)
        if await store.count_for_account(conn, store.SITES, me.account_id) >= plan["max_sites"]:
            raise plan_limit("sites", plan["max_sites"], plan["name"])
        row = await crud.insert_row(conn, store.SITES, {
            **data, "account_id": me.account_id, "slug": store.slugify(data["name"]),
        })
        if me.site_ids is not None:
            # A user limited to some sites can see the sites they create.
            await store.set_site_grants(conn, account_id=me.account_id, user_id=me.user_id,
                                        site_ids=[*me.site_ids, row["id"]])
        return row

    async def update(self, conn: AsyncConnection, h: ResourceHandler, row: dict[str, Any],
                     data: dict[str, Any]) -> dict[str, Any]:
        await h.resource.check_refs(conn, h, data)
        if data.get("name"):
            data = {**data, "slug": store.slugify(data["name"])}
        if not data:
            return row
        return await crud.update_row(conn, store.SITES, h.scope, row["id"], data)


async def site_sectors(h: ResourceHandler, id: str) -> None:
    async with h.ctx.store.read() as conn:
        site = await h.fetch(conn, id)
        rows = await crud.list_rows(conn, store.SECTORS, h.scope,
                                    where=[sectors.c.site_id == site["id"]],
                                    order_by=[sectors.c.name, sectors.c.id])
        data = await SECTORS.service.present(conn, h, rows)
    h.ok(data)


async def set_active_site(h: ResourceHandler, id: str) -> None:
    assert h.principal is not None
    async with h.ctx.store.begin() as conn:
        site = await h.fetch(conn, id)
        await conn.execute(update(users).where(users.c.id == h.principal.user_id)
                           .values(active_site_id=site["id"], updated_at=crud.now()))
        data = await h.present_one(conn, site)
    h.ok(data, "Active site set")


async def select_sectors(h: ResourceHandler, id: str) -> None:
    """Activate exactly the listed sectors of the site (the rest are deactivated)."""
    body: m.SelectSectorsBody = h.parse(m.SelectSectorsBody)
    assert h.principal is not None
    async with h.ctx.store.begin() as conn:
        site = await h.fetch(conn, id)
        wanted = set(body.sector_ids)
        found = set((await conn.execute(
            select(sectors.c.id).where(sectors.c.site_id == site["id"],
                                       sectors.c.id.in_(sorted(wanted)))
        )).scalars())
        missing = sorted(wanted - found)
        if missing:
            raise store.RowNotFound(f"Sector {missing[0]} not found in this site.",
                                    field="sector_ids")
        plan = await store.account_plan(conn, site["account_id"])
        if len(wanted) > plan["max_sectors_per_site"]:
            raise plan_limit("sectors per site", plan["max_sectors_per_site"], plan["name"])
        stamp = crud.now()
        await conn.execute(update(sectors).where(sectors.c.site_id == site["id"])
                           .values(is_active=sectors.c.id.in_(sorted(wanted)) if wanted
                                   else False, updated_at=stamp))
        data = await h.present_one(conn, site)
        rows = await crud.list_rows(conn, store.SECTORS, h.scope,
                                    where=[sectors.c.site_id == site["id"]],
                                    order_by=[sectors.c.name, sectors.c.id])
        data["sectors"] = await SECTORS.service.present(conn, h, rows)
    h.ok(data, "Sectors selected")


SITES = Resource(
    name="sites", prefix="/api/v1/auth/sites/", spec=store.SITES, output=m.SiteOut,
    create_body=m.SiteBody,
    filters={"is_active": Filter("is_active", "bool"),
             "industry_id": Filter("industry_id", "int")},
    search_fields=("name", "domain"),
    ordering={"name": "name", "created_at": "created_at", "updated_at": "updated_at"},
    default_ordering="name",
    write_level="editor", delete_level="admin",
    refs={"industry_id": store.INDUSTRIES}, service=SiteService(), tag=TAG,
    actions=[
        Action("sectors", site_sectors, method="get", detail=True, level="authenticated",
               response=list[m.SectorOut], summary="The sectors of a site"),
        Action("set_active", set_active_site, detail=True, level="authenticated",
               response=m.SiteOut, summary="Make this your active site"),
        Action("select_sectors", select_sectors, detail=True, level="editor",
               body=m.SelectSectorsBody, response=m.SiteWithSectors,
               summary="Activate exactly these sectors of the site"),
    ],
)


# -- sectors --


class SectorService(ResourceService):
    async def _check_industry_sector(self, conn: AsyncConnection, site: dict[str, Any],
                                     industry_sector_id: int | None) -> None:
        if industry_sector_id is None:
            return
        row = (await conn.execute(select(industry_sectors.c.industry_id)
                                  .where(industry_sectors.c.id == industry_sector_id))).first()
        if row is None:
            raise ValidationFailed(errors={"industry_sector_id": [
                f'Invalid pk "{industry_sector_id}" - object does not exist.']})
        if site["industry_id"] is not None and row.industry_id != site["industry_id"]:
            raise ValidationFailed(errors={"industry_sector_id": [
                "This industry sector does not belong to the site's industry."]})

    async def create(self, conn: AsyncConnection, h: ResourceHandler,
                     data: dict[str, Any]) -> dict[str, Any]:
        site = await crud.require_visible(conn, store.SITES, h.scope, data["site_id"],
                                          field="site_id")
        await self._check_industry_sector(conn, site, data.get("industry_sector_id"))
        plan = await store.account_plan(conn, site["account_id"])
        count = await crud.count_rows(conn, store.SECTORS, Scope(site["account_id"]),
                                      [sectors.c.site_id == site["id"]])
        if count >= plan["max_sectors_per_site"]:
            raise plan_limit("sectors per site", plan["max_sectors_per_site"], plan["name"])
        return await crud.insert_row(conn, store.SECTORS, {
            **data, "account_id": site["account_id"], "slug": store.slugify(data["name"]),
        })

    async def update(self, conn: AsyncConnection, h: ResourceHandler, row: dict[str, Any],
                     data: dict[str, Any]) -> dict[str, Any]:
        if "industry_sector_id" in data:
            site = await crud.get_row(conn, store.SITES, h.scope, row["site_id"])
            await self._check_industry_sector(conn, site, data["industry_sector_id"])
        if data.get("name"):
            data = {**data, "slug": store.slugify(data["name"])}
        if not data:
            return row
        return await crud.update_row(conn, store.SECTORS, h.scope, row["id"], data)


SECTORS = Resource(
    name="sectors", prefix="/api/v1/auth/sectors/", spec=store.SECTORS, output=m.SectorOut,
    create_body=m.SectorCreateBody, update_body=m.SectorUpdateBody,
    filters={"site_id": Filter("site_id", "int"), "is_active": Filter("is_active", "bool")},
    search_fields=("name",),
    ordering={"name": "name", "created_at": "created_at"}, default_ordering="name",
    write_level="editor", service=SectorService(), tag=TAG,
)


# -- reference data --


class PlanService(ResourceService):
    async def present(self, conn: AsyncConnection, h: ResourceHandler,
                      rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        fields = m.PlanOut.model_fields
        return [{k: (str(r[k]) if k == "price_monthly" else r[k]) for k in fields} for r in rows]

    def where(self, h: ResourceHandler) -> list[Any]:
        return [plans.c.is_active.is_(True)]


class IndustryService(ResourceService):
    async def present(self, conn: AsyncConnection, h: ResourceHandler,
                      rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        ids = [r["id"] for r in rows]
        by_industry: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
        if ids:
            secs = await conn.execute(
                select(industry_sectors).where(industry_sectors.c.industry_id.in_(ids))
                .order_by(industry_sectors.c.name)
            )
            for s in secs.mappings():
                by_industry[s["industry_id"]].append(
                    {k: s[k] for k in ("id", "slug", "name", "description")})
        return [{"id": r["id"], "slug": r["slug"], "name": r["name"],
                 "description": r["description"], "is_active": r["is_active"],
                 "sectors": by_industry[r["id"]]} for r in rows]

    def where(self, h: ResourceHandler) -> list[Any]:
        return [industries.c.is_active.is_(True)]


PLANS = Resource(
    name="plans", prefix="/api/v1/auth/plans/", spec=store.PLANS, output=m.PlanOut,
    ordering={"price_monthly": "price_monthly", "name": "name", "id": "id"},
    default_ordering="price_monthly", public_read=True, read_only=True,
    methods=frozenset({"list", "retrieve"}), service=PlanService(), tag=TAG,
)

INDUSTRIES = Resource(
    name="industries", prefix="/api/v1/auth/industries/", spec=store.INDUSTRIES,
    output=m.IndustryOut, search_fields=("name",),
    ordering={"name": "name", "id": "id"}, default_ordering="name", public_read=True,
    read_only=True, methods=frozenset({"list", "retrieve"}), service=IndustryService(),
    tag=TAG,
)

RESOURCES = [USERS, ACCOUNTS, SITES, SECTORS, PLANS, INDUSTRIES]

default_handlers = [route for res in RESOURCES for route in res.routes()]
