"""The rules every object that lives in a sector shares: its site and sector, its references.

Keywords, clusters, ideas, tasks, content and images are created in a visible site and one
of its sectors, and name only objects of their own sector. Below the domain services, so
each of them can use these rules without importing another.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.errors import ValidationFailed
from igny8d.permissions import Actor
from igny8d.services.base import ResourceService, Row
from igny8d.store.clusters import CLUSTERS
from igny8d.store.rows import require_visible
from igny8d.store.sectors import SECTORS
from igny8d.store.sites import SITES
from igny8d.store.specs import TableSpec
from igny8d.store.writes import insert_row, update_row


async def site_and_sector(
    conn: AsyncConnection, actor: Actor, *, site_id: int, sector_id: int
) -> tuple[Row, Row]:
    """The references of a planner/writer body, checked together: both visible (else 404
    naming the field) and the sector one of the site's (else 400)."""
    site = await require_visible(conn, SITES, site_id, scope=actor.scope,
                                 field="site_id")
    sector = await require_visible(conn, SECTORS, sector_id, scope=actor.scope,
                                   field="sector_id")
    if sector["site_id"] != site["id"]:
        raise ValidationFailed(errors={"sector_id": [
            f"Sector {sector_id} does not belong to site {site_id}."]})
    return site, sector


async def cluster_in_sector(conn: AsyncConnection, actor: Actor, cluster_id: int,
                            sector_id: int, *, field: str = "cluster_id") -> Row:
    """A cluster named in a body (keyword, idea, task): visible to the actor (else 404 naming
    `field`) and in `sector_id` (else 400 naming `field`). Returns the cluster row."""
    cluster = await require_visible(conn, CLUSTERS, cluster_id, scope=actor.scope,
                                    field=field)
    if cluster["sector_id"] != sector_id:
        raise ValidationFailed(errors={field: [
            f"Cluster {cluster_id} belongs to another sector."]})
    return cluster


async def check_sector_refs(
    conn: AsyncConnection, actor: Actor, refs: dict[str, TableSpec], data: Row, *,
    sector_id: int,
) -> None:
    """Each referenced object (cluster, idea, task, content) the body names must be visible
    to the actor (else 404 naming the field) and in `sector_id` (else 400 naming it)."""
    errors: dict[str, list[str]] = {}
    for field_name, spec in refs.items():
        value = data.get(field_name)
        if value is None:
            continue
        row = await require_visible(conn, spec, value, scope=actor.scope,
                                    field=field_name)
        if row["sector_id"] != sector_id:
            errors[field_name] = [f"{spec.label} {value} is not in sector {sector_id}."]
    if errors:
        raise ValidationFailed(errors=errors)


class SectorObjectService(ResourceService):
    """A writer object: created in a visible site and one of its sectors (both fixed
    afterwards), referencing only objects of its own sector."""

    def __init__(self, spec: TableSpec, *, fields: Sequence[str],
                 sector_refs: dict[str, TableSpec]) -> None:
        super().__init__(spec, fields=fields, immutable=("site_id", "sector_id"))
        self.sector_refs = dict(sector_refs)

    def derive(self, data: Row) -> Row:
        """Columns computed from the input (stored alongside it)."""
        return data

    async def check_refs_in_sector(self, conn: AsyncConnection, actor: Actor, data: Row,
                                   sector_id: int) -> None:
        await check_sector_refs(conn, actor, self.sector_refs, data, sector_id=sector_id)

    async def create(self, conn: AsyncConnection, actor: Actor, data: Row) -> Row:
        site, sector = await site_and_sector(conn, actor, site_id=data["site_id"],
                                             sector_id=data["sector_id"])
        await self.check_refs_in_sector(conn, actor, data, sector["id"])
        values = {**self.derive(data), "account_id": site["account_id"]}
        return await insert_row(conn, self.spec, values)

    async def update(self, conn: AsyncConnection, actor: Actor, row: Row, data: Row) -> Row:
        await self.check_refs_in_sector(conn, actor, data, row["sector_id"])
        values = {k: v for k, v in self.derive(data).items() if k not in self.immutable}
        if not values:
            return row
        return await update_row(conn, self.spec, row["id"], values,
                                scope=self.scope(actor))
