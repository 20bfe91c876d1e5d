"""Content ideas: their cluster must be in their sector; queueing them to the writer creates
one draft task per idea, exactly once."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.permissions import Actor
from igny8d.services.base import ResourceService, Row
from igny8d.services.sector_objects import cluster_in_sector, site_and_sector
from igny8d.store import ideas as store
from igny8d.store.errors import RowNotFound
from igny8d.store.rows import visible_ids
from igny8d.store.tasks import insert_tasks
from igny8d.store.writes import insert_row

IDEA_FIELDS = ("id", "account_id", "site_id", "sector_id", "cluster_id", "title", "description",
               "content_type", "content_structure", "target_keywords", "outline",
               "estimated_word_count", "status", "created_at", "updated_at")


def task_from_idea(idea: Row) -> Row:
    """The draft writer task an idea becomes."""
    words = [str(k) for k in idea.get("target_keywords") or []]
    return {
        "account_id": idea["account_id"], "site_id": idea["site_id"],
        "sector_id": idea["sector_id"], "idea_id": idea["id"],
        "cluster_id": idea["cluster_id"], "title": idea["title"],
        "description": idea["description"], "keywords": words,
        "keywords_text": " ".join(words).lower(), "content_type": idea["content_type"],
        "content_structure": idea["content_structure"], "status": "draft",
    }


class IdeaService(ResourceService):
    async def create(self, conn: AsyncConnection, actor: Actor, data: Row) -> Row:
        site, sector = await site_and_sector(conn, actor, site_id=data["site_id"],
                                             sector_id=data["sector_id"])
        if data.get("cluster_id") is not None:
            await cluster_in_sector(conn, actor, data["cluster_id"], sector["id"])
        return await insert_row(conn, self.spec,
                                {**data, "account_id": site["account_id"]})

    async def update(self, conn: AsyncConnection, actor: Actor, row: Row, data: Row) -> Row:
        if data.get("cluster_id") is not None:
            await cluster_in_sector(conn, actor, data["cluster_id"], row["sector_id"])
        return await super().update(conn, actor, row, data)

    async def queue_to_writer(self, conn: AsyncConnection, actor: Actor,
                              ids: list[int]) -> dict[str, Any]:
        """One draft task per idea that is `new` and has no task; the idea becomes `queued`.

        Every id must be visible (else 404 listing the others, nothing changed). The ideas
        are marked by one conditional UPDATE in this transaction (after the account row is
        locked) before any task is written, so a concurrent call finds them queued and
        skips them.
        """
        scope = self.scope(actor)
        wanted = sorted(set(ids))
        found = await visible_ids(conn, self.spec, wanted, scope=scope)
        missing = sorted(set(wanted) - found)
        if missing:
            raise RowNotFound(f"Not found: {', '.join(map(str, missing))}.", field="ids")
        queued = await store.mark_queued(conn, wanted, scope=scope)
        task_ids = await insert_tasks(conn, [task_from_idea(r) for r in queued])
        return {"queued": len(queued), "skipped": len(wanted) - len(queued),
                "task_ids": task_ids}


IDEAS = IdeaService(store.IDEAS, fields=IDEA_FIELDS, immutable=("site_id", "sector_id"))
