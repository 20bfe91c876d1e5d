"""Sectors of a site: the plan's per-site limit, slugs, and the industry they belong to."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.errors import ValidationFailed
from igny8d.permissions import Actor
from igny8d.scope import Scope
from igny8d.services import media
from igny8d.services.base import ResourceService, Row, check_limit, invalid_pk
from igny8d.store import sectors as store
from igny8d.store.accounts import lock_account
from igny8d.store.reference import industry_of_sector
from igny8d.store.rows import count_rows, get_row, require_visible
from igny8d.store.schema import sectors
from igny8d.store.sites import SITES
from igny8d.store.writes import insert_row
from igny8d.text import slugify

SECTOR_FIELDS = ("id", "account_id", "site_id", "name", "slug", "industry_sector_id",
                 "description", "is_active", "created_at", "updated_at")


async def _check_industry_sector(conn: AsyncConnection, site: Row,
                                 industry_sector_id: int | None) -> None:
    if industry_sector_id is None:
        return
    industry_id = await industry_of_sector(conn, industry_sector_id)
    if industry_id is None:
        raise invalid_pk("industry_sector_id", industry_sector_id)
    if site["industry_id"] is not None and industry_id != site["industry_id"]:
        raise ValidationFailed(errors={"industry_sector_id": [
            "This industry sector does not belong to the site's industry."]})


class SectorService(ResourceService):
    async def before_delete(self, conn: AsyncConnection, actor: Actor,
                            ids: list[int]) -> None:
        await media.release_files_of(conn, "sector_id", ids)  # the sectors' images go too

    async def create(self, conn: AsyncConnection, actor: Actor, data: Row) -> Row:
        site = await require_visible(conn, SITES, data["site_id"],
                                     scope=actor.scope, field="site_id")
        await _check_industry_sector(conn, site, data.get("industry_sector_id"))
        account = await lock_account(conn, site["account_id"])
        count = await count_rows(conn, store.SECTORS, scope=Scope(site["account_id"]),
                                 where=[sectors.c.site_id == site["id"]])
        check_limit(account, "max_sectors_per_site", count, "sectors per site")
        return await insert_row(conn, store.SECTORS, {
            **data, "account_id": site["account_id"],
            "slug": slugify(data["name"], fallback="item"),
        })

    async def update(self, conn: AsyncConnection, actor: Actor, row: Row, data: Row) -> Row:
        if "industry_sector_id" in data:
            site = await get_row(conn, SITES, row["site_id"], scope=actor.scope)
            await _check_industry_sector(conn, site, data["industry_sector_id"])
        if data.get("name"):
            data = {**data, "slug": slugify(data["name"], fallback="item")}
        return await super().update(conn, actor, row, data)


SECTORS = SectorService(store.SECTORS, fields=SECTOR_FIELDS, immutable=("site_id",))
