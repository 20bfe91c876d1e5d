"""Reference data shipped with the server: plans, industries and their sectors, seed keywords."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.store.errors import RowNotFound
from igny8d.store.schema import industries, industry_sectors, plans, seed_keywords
from igny8d.store.specs import TableSpec

PLANS = TableSpec(plans, "global", "Plan")
INDUSTRIES = TableSpec(industries, "global", "Industry")
INDUSTRY_SECTORS = TableSpec(industry_sectors, "global", "Industry sector")
SEED_KEYWORDS = TableSpec(seed_keywords, "global", "Seed keyword")


async def plan_by_slug(conn: AsyncConnection, slug: str) -> dict[str, Any]:
    row = (await conn.execute(select(plans).where(plans.c.slug == slug))).mappings().first()
    if row is None:
        raise RowNotFound(f"Plan {slug!r} not found.")
    return dict(row)


async def plan_slugs(conn: AsyncConnection, plan_ids: list[int]) -> dict[int, str]:
    if not plan_ids:
        return {}
    rows = await conn.execute(select(plans.c.id, plans.c.slug).where(plans.c.id.in_(plan_ids)))
    return {int(i): str(s) for i, s in rows.all()}


async def industry_of_sector(conn: AsyncConnection, industry_sector_id: int) -> int | None:
    """The industry an industry sector belongs to; None when there is no such sector."""
    value = (await conn.execute(select(industry_sectors.c.industry_id)
                                .where(industry_sectors.c.id == industry_sector_id))
             ).scalar_one_or_none()
    return int(value) if value is not None else None


async def industry_sectors_of(
    conn: AsyncConnection, industry_ids: list[int]
) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {i: [] for i in industry_ids}
    if not industry_ids:
        return out
    rows = await conn.execute(
        select(industry_sectors).where(industry_sectors.c.industry_id.in_(industry_ids))
        .order_by(industry_sectors.c.name)
    )
    for s in rows.mappings():
        out[s["industry_id"]].append({k: s[k] for k in ("id", "slug", "name", "description")})
    return out


async def seeds_by_id(conn: AsyncConnection, ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    wanted = sorted(set(ids))
    out: dict[int, dict[str, Any]] = {}
    for start in range(0, len(wanted), 900):
        part = wanted[start:start + 900]
        rows = (await conn.execute(
            select(seed_keywords).where(seed_keywords.c.id.in_(part)))).mappings()
        out.update({int(r["id"]): dict(r) for r in rows})
    return out
