"""Writer tasks: the idea and cluster they name in their sector, their keywords as text."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.permissions import Actor
from igny8d.services.base import Row
from igny8d.services.sector_objects import SectorObjectService, cluster_in_sector
from igny8d.store import tasks as store
from igny8d.store.ideas import IDEAS

TASK_FIELDS = ("id", "account_id", "site_id", "sector_id", "idea_id", "cluster_id", "title",
               "description", "keywords", "content_type", "content_structure", "status",
               "created_at", "updated_at")


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


TASKS = TaskService(store.TASKS, fields=TASK_FIELDS, sector_refs={"idea_id": IDEAS})
