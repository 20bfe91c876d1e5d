"""Sectors of a site: their table spec, which ids are a site's, the active selection."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.store.schema import accounts, sectors, sites
from igny8d.store.specs import TableSpec
from igny8d.store.writes import now

SECTORS = TableSpec(
    sectors, "site", "Sector",
    unique=((("site_id", "slug"), "name", "This site already has a sector with this name."),),
)


async def sectors_of_site(conn: AsyncConnection, site_id: int, ids: list[int]) -> set[int]:
    """Which of `ids` are sectors of this site."""
    return {int(i) for i in (await conn.execute(
        select(sectors.c.id).where(sectors.c.site_id == site_id, sectors.c.id.in_(sorted(ids)))
    )).scalars()}


async def activate_only(conn: AsyncConnection, *, site_id: int, sector_ids: list[int]) -> None:
    """Exactly these sectors of the site are active afterwards."""
    await conn.execute(update(accounts).where(accounts.c.id == select(sites.c.account_id)
                                              .where(sites.c.id == site_id).scalar_subquery())
                       .values(data_version=accounts.c.data_version + 1))
    await conn.execute(update(sectors).where(sectors.c.site_id == site_id)
                       .values(is_active=sectors.c.id.in_(sorted(sector_ids)) if sector_ids
                               else False, updated_at=now()))
