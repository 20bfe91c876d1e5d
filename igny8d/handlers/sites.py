"""Sites, sectors, plans and industries: resources of the auth module."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.errors import PlanLimit, ValidationFailed
from igny8d.handlers import auth_models as m
from igny8d.handlers.bulk import bulk_delete_action
from igny8d.handlers.resource import (
    Action,
    Filter,
    Resource,
    ResourceHandler,
    ResourceService,
)
from igny8d.store import accounts as store
from igny8d.store import crud
from igny8d.store.crud import Scope
from igny8d.store.schema import industries, industry_sectors, plans, sectors, users

TAG = "auth"


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
            raise PlanLimit("sites", plan["max_sites"], plan["name"])
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
            raise PlanLimit("sectors per site", plan["max_sectors_per_site"], plan["name"])
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
            raise PlanLimit("sectors per site", plan["max_sectors_per_site"], plan["name"])
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
    actions=[bulk_delete_action(level="editor")],
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

RESOURCES = [SITES, SECTORS, PLANS, INDUSTRIES]

default_handlers = [route for res in RESOURCES for route in res.routes()]
