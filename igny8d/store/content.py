"""Content (the writer's articles): its table spec, and which tasks have content; the generic
reads and writes do the rest."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.scope import Scope
from igny8d.store.schema import content
from igny8d.store.specs import TableSpec

CONTENT = TableSpec(content, "sector", "Content")


async def tasks_with_content(conn: AsyncConnection, task_ids: Sequence[int], *,
                             account_id: int) -> set[int]:
    """Which of the tasks already have a content row (the account's, whatever the grants:
    a task is written once)."""
    if not task_ids:
        return set()
    stmt = CONTENT.scoped(select(content.c.task_id), Scope(account_id)).where(
        content.c.task_id.in_(list(task_ids)))
    return {int(t) for t in (await conn.execute(stmt)).scalars() if t is not None}
