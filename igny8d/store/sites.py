"""Sites of an account: their table spec, the sites a scope may open, sector counts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.scope import Scope
from igny8d.store.rows import list_rows
from igny8d.store.schema import sectors, sites
from igny8d.store.specs import TableSpec

SITES = TableSpec(
    sites, "site", "Site",
    unique=((("account_id", "slug"), "name", "A site with this name already exists."),),
)


async def accessible_sites(conn: AsyncConnection, *, scope: Scope) -> list[dict[str, Any]]:
    rows = await list_rows(conn, SITES, scope=scope, order_by=[sites.c.name, sites.c.id])
    return [{"id": r["id"], "name": r["name"], "slug": r["slug"], "domain": r["domain"],
             "is_active": r["is_active"]} for r in rows]


async def sector_counts(conn: AsyncConnection, site_ids: list[int]) -> dict[int, int]:
    if not site_ids:
        return {}
    rows = await conn.execute(
        select(sectors.c.site_id, func.count()).where(sectors.c.site_id.in_(site_ids))
        .group_by(sectors.c.site_id)
    )
    return {int(site): int(n) for site, n in rows.all()}
