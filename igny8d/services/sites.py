"""Sites of an account: the plan's site limit, slugs, grants, the active site, sector choice."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.errors import PlanLimit
from igny8d.permissions import Actor
from igny8d.services import media
from igny8d.services.base import ResourceService, Row, check_limit, check_refs
from igny8d.services.sectors import SECTORS
from igny8d.store import accounts as account_store
from igny8d.store import sectors as sector_store
from igny8d.store import sites as store
from igny8d.store import users as user_store
from igny8d.store.errors import RowNotFound
from igny8d.store.reference import INDUSTRIES
from igny8d.store.rows import list_rows
from igny8d.store.schema import sectors
from igny8d.store.writes import insert_row
from igny8d.text import slugify

SITE_FIELDS = ("id", "account_id", "name", "slug", "domain", "industry_id", "description",
               "is_active", "sectors_count", "created_at", "updated_at")


class SiteService(ResourceService):
    async def before_delete(self, conn: AsyncConnection, actor: Actor,
                            ids: list[int]) -> None:
        await media.release_files_of(conn, "site_id", ids)  # the sites' images go too

    async def present(self, conn: AsyncConnection, actor: Actor | None,
                      rows: list[Row]) -> list[Row]:
        counts = await store.sector_counts(conn, [r["id"] for r in rows])
        return [{**{k: r.get(k) for k in SITE_FIELDS if k != "sectors_count"},
                 "sectors_count": counts.get(r["id"], 0)} for r in rows]

    async def create(self, conn: AsyncConnection, actor: Actor, data: Row) -> Row:
        await check_refs(conn, self.refs, data, scope=self.scope(actor))
        account = await account_store.lock_account(conn, actor.account_id)
        count = await account_store.count_for_account(conn, store.SITES, actor.account_id)
        check_limit(account, "max_sites", count, "sites")
        row = await insert_row(conn, store.SITES, {
            **data, "account_id": actor.account_id, "slug": slugify(data["name"], fallback="item"),
        })
        if actor.site_ids is not None:
            # A user limited to some sites can see the sites they create.
            await user_store.set_site_grants(conn, account_id=actor.account_id,
                                             user_id=actor.user_id,
                                             site_ids=[*actor.site_ids, row["id"]])
        return row

    async def update(self, conn: AsyncConnection, actor: Actor, row: Row, data: Row) -> Row:
        if data.get("name"):
            data = {**data, "slug": slugify(data["name"], fallback="item")}
        return await super().update(conn, actor, row, data)

    async def sectors_of(self, conn: AsyncConnection, actor: Actor, site_id: int) -> list[Row]:
        """The sectors of a visible site, presented as sectors."""
        site = await self.fetch(conn, actor, site_id)
        rows = await list_rows(conn, sector_store.SECTORS, scope=actor.scope,
                               where=[sectors.c.site_id == site["id"]],
                               order_by=[sectors.c.name, sectors.c.id])
        return await SECTORS.present(conn, actor, rows)

    async def set_active(self, conn: AsyncConnection, actor: Actor, site_id: int) -> Row:
        """Remember the actor's active site (shown as `active_site_id` on the user)."""
        site = await self.fetch(conn, actor, site_id)
        await user_store.set_active_site(conn, user_id=actor.user_id, site_id=site["id"])
        return await self.present_one(conn, actor, site)

    async def select_sectors(self, conn: AsyncConnection, actor: Actor, site_id: int,
                             sector_ids: list[int]) -> Row:
        """Activate exactly the listed sectors of the site (the rest are deactivated)."""
        site = await self.fetch(conn, actor, site_id)
        wanted = set(sector_ids)
        found = await sector_store.sectors_of_site(conn, site["id"], sorted(wanted))
        missing = sorted(wanted - found)
        if missing:
            raise RowNotFound(f"Sector {missing[0]} not found in this site.", field="sector_ids")
        account = await account_store.lock_account(conn, site["account_id"])
        if len(wanted) > account["max_sectors_per_site"]:
            raise PlanLimit("sectors per site", account["max_sectors_per_site"],
                            account["plan_name"])
        await sector_store.activate_only(conn, site_id=site["id"], sector_ids=sorted(wanted))
        data = await self.present_one(conn, actor, site)
        data["sectors"] = await self.sectors_of(conn, actor, site["id"])
        return data


SITES = SiteService(store.SITES, fields=SITE_FIELDS, refs={"industry_id": INDUSTRIES})
