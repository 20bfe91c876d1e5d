"""Reference data shipped with the server: plans, industries, seed keywords (read-only)."""

from __future__ import annotations

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.permissions import Actor
from igny8d.services.base import ResourceService, Row
from igny8d.store import reference as store
from igny8d.store.schema import industries, plans

PLAN_FIELDS = ("id", "slug", "name", "description", "price_monthly", "monthly_credits",
               "max_sites", "max_users", "max_keywords", "max_sectors_per_site",
               "max_clusters", "is_active")
SEED_FIELDS = ("id", "industry_id", "industry_sector_id", "keyword", "volume", "difficulty",
               "intent")


class PlanService(ResourceService):
    async def present(self, conn: AsyncConnection, actor: Actor | None,
                      rows: list[Row]) -> list[Row]:
        return [{k: (str(r[k]) if k == "price_monthly" else r[k]) for k in PLAN_FIELDS}
                for r in rows]

    def where(self, actor: Actor | None) -> list[ColumnElement[bool]]:
        return [plans.c.is_active.is_(True)]


class IndustryService(ResourceService):
    async def present(self, conn: AsyncConnection, actor: Actor | None,
                      rows: list[Row]) -> list[Row]:
        by_industry = await store.industry_sectors_of(conn, [r["id"] for r in rows])
        return [{"id": r["id"], "slug": r["slug"], "name": r["name"],
                 "description": r["description"], "is_active": r["is_active"],
                 "sectors": by_industry[r["id"]]} for r in rows]

    def where(self, actor: Actor | None) -> list[ColumnElement[bool]]:
        return [industries.c.is_active.is_(True)]


PLANS = PlanService(store.PLANS, fields=PLAN_FIELDS)
INDUSTRIES = IndustryService(store.INDUSTRIES, fields=("id", "slug", "name", "description",
                                                        "is_active", "sectors"))
SEED_KEYWORDS = ResourceService(store.SEED_KEYWORDS, fields=SEED_FIELDS)
