"""Sites, sectors, plans and industries: resources of the auth module (rules in services/)."""

from __future__ import annotations

from igny8d.handlers.base import parse_id
from igny8d.handlers.bulk import bulk_delete_action
from igny8d.handlers.resource import Action, Filter, Resource, ResourceHandler
from igny8d.schemas import auth as m
from igny8d.services.reference import INDUSTRIES as INDUSTRY_SERVICE
from igny8d.services.reference import PLANS as PLAN_SERVICE
from igny8d.services.sectors import SECTORS as SECTOR_SERVICE
from igny8d.services.sites import SITES as SITE_SERVICE

TAG = "auth"


async def site_sectors(h: ResourceHandler, id: str) -> None:
    async with h.ctx.store.read() as conn:
        data = await SITE_SERVICE.sectors_of(conn, h.actor, parse_id(id))
    h.ok(data)


async def set_active_site(h: ResourceHandler, id: str) -> None:
    async with h.ctx.store.begin() as conn:
        data = await SITE_SERVICE.set_active(conn, h.actor, parse_id(id))
    h.ok(data, "Active site set")


async def select_sectors(h: ResourceHandler, id: str) -> None:
    body: m.SelectSectorsBody = h.parse(m.SelectSectorsBody)
    async with h.ctx.store.begin() as conn:
        data = await SITE_SERVICE.select_sectors(conn, h.actor, parse_id(id), body.sector_ids)
    h.ok(data, "Sectors selected")


SITES = Resource(
    name="sites", prefix="/api/v1/auth/sites/", service=SITE_SERVICE, output=m.SiteOut,
    create_body=m.SiteBody,
    filters={"is_active": Filter("is_active", "bool"),
             "industry_id": Filter("industry_id", "int")},
    search_fields=("name", "domain"),
    ordering={"name": "name", "created_at": "created_at", "updated_at": "updated_at"},
    default_ordering="name",
    write_level="editor", delete_level="admin", tag=TAG,
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

SECTORS = Resource(
    name="sectors", prefix="/api/v1/auth/sectors/", service=SECTOR_SERVICE,
    output=m.SectorOut, create_body=m.SectorCreateBody, update_body=m.SectorUpdateBody,
    filters={"site_id": Filter("site_id", "int"), "is_active": Filter("is_active", "bool")},
    search_fields=("name",),
    ordering={"name": "name", "created_at": "created_at"}, default_ordering="name",
    write_level="editor", tag=TAG,
    actions=[bulk_delete_action(level="editor")],
)

PLANS = Resource(
    name="plans", prefix="/api/v1/auth/plans/", service=PLAN_SERVICE, output=m.PlanOut,
    ordering={"price_monthly": "price_monthly", "name": "name", "id": "id"},
    default_ordering="price_monthly", public_read=True, read_only=True,
    methods=frozenset({"list", "retrieve"}), tag=TAG,
)

INDUSTRIES = Resource(
    name="industries", prefix="/api/v1/auth/industries/", service=INDUSTRY_SERVICE,
    output=m.IndustryOut, search_fields=("name",),
    ordering={"name": "name", "id": "id"}, default_ordering="name", public_read=True,
    read_only=True, methods=frozenset({"list", "retrieve"}), tag=TAG,
)

RESOURCES = [SITES, SECTORS, PLANS, INDUSTRIES]

# The classes the resource layer generates, by name (grep finds them here).
SitesSectorsHandler = SITES.handler("SitesSectorsHandler")
SitesSetActiveHandler = SITES.handler("SitesSetActiveHandler")
SitesSelectSectorsHandler = SITES.handler("SitesSelectSectorsHandler")
SitesListHandler = SITES.handler("SitesListHandler")
SitesDetailHandler = SITES.handler("SitesDetailHandler")
SectorsBulkDeleteHandler = SECTORS.handler("SectorsBulkDeleteHandler")
SectorsListHandler = SECTORS.handler("SectorsListHandler")
SectorsDetailHandler = SECTORS.handler("SectorsDetailHandler")
PlansListHandler = PLANS.handler("PlansListHandler")
PlansDetailHandler = PLANS.handler("PlansDetailHandler")
IndustriesListHandler = INDUSTRIES.handler("IndustriesListHandler")
IndustriesDetailHandler = INDUSTRIES.handler("IndustriesDetailHandler")

default_handlers = [
    *SITES.routes(SitesSectorsHandler, SitesSetActiveHandler, SitesSelectSectorsHandler,
                  SitesListHandler, SitesDetailHandler),
    *SECTORS.routes(SectorsBulkDeleteHandler, SectorsListHandler, SectorsDetailHandler),
    *PLANS.routes(PlansListHandler, PlansDetailHandler),
    *INDUSTRIES.routes(IndustriesListHandler, IndustriesDetailHandler),
]
