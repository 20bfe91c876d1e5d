"""Writer tasks, and the rules every writer object shares: its site and sector checked
together, the objects it references visible and in the same sector, bulk status changes."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.errors import ValidationFailed
from igny8d.permissions import Actor
from igny8d.services.base import ResourceService, Row
from igny8d.services.clusters import cluster_in_sector
from igny8d.services.sectors import site_and_sector
from igny8d.store import ideas as idea_store
from igny8d.store import tasks as store
from igny8d.store.rows import require_visible
from igny8d.store.specs import TableSpec
from igny8d.store.writes import insert_row, update_row

TASK_FIELDS = ("id", "account_id", "site_id", "sector_id", "idea_id", "cluster_id", "title",
               "description", "keywords", "content_type", "content_structure", "status",
               "created_at", "updated_at")


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


def keywords_text(keywords: Sequence[str]) -> str:
    """The task's keywords as one lower-cased, space-joined text: what search reads (a JSON
    column is never searched with LIKE)."""
    return " ".join(k.lower() for k in keywords)


class TaskService(SectorObjectService):
    async def check_refs_in_sector(self, conn: AsyncConnection, actor: Actor, data: Row,
                                   sector_id: int) -> None:
        await super().check_refs_in_sector(conn, actor, data, sector_id)
        if data.get("cluster_id") is not None:  # the planner's rule for naming a cluster
            await cluster_in_sector(conn, actor, data["cluster_id"], sector_id)

    def derive(self, data: Row) -> Row:
        if "keywords" not in data:
            return data
        keywords = list(data["keywords"] or [])
        return {**data, "keywords": keywords, "keywords_text": keywords_text(keywords)}


TASKS = TaskService(store.TASKS, fields=TASK_FIELDS, sector_refs={"idea_id": idea_store.IDEAS})
