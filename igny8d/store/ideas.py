"""Content ideas: their table spec, and marking ideas queued to the writer exactly once."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import exists, update
from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.scope import Scope
from igny8d.store.rows import list_rows
from igny8d.store.schema import content_ideas, tasks
from igny8d.store.specs import TableSpec
from igny8d.store.writes import now, touch_accounts

IDEAS = TableSpec(content_ideas, "sector", "Content idea")


async def mark_queued(conn: AsyncConnection, ids: Iterable[int], *,
                      scope: Scope) -> list[dict[str, Any]]:
    """Set `queued` on those of `ids` that are `new` and have no task yet, in one conditional
    UPDATE; returns the rows it changed. The account row is taken first, so a concurrent
    call on the same account waits, then finds them queued and changes none."""
    wanted = sorted(set(ids))
    if not wanted:
        return []
    await touch_accounts(conn, IDEAS, [scope.account_id])
    has_task = exists().where(tasks.c.idea_id == content_ideas.c.id)
    stmt = (update(content_ideas)
            .where(content_ideas.c.id.in_(wanted), content_ideas.c.status == "new",
                   ~has_task, *IDEAS.scope_filter(scope))
            .values(status="queued", updated_at=now())
            .returning(*content_ideas.c))
    rows = [dict(r) for r in (await conn.execute(stmt)).mappings()]
    return sorted(rows, key=lambda r: int(r["id"]))


async def of_clusters(conn: AsyncConnection, cluster_ids: Sequence[int], *,
                      scope: Scope) -> list[dict[str, Any]]:
    """The ideas of these clusters in the scope."""
    if not cluster_ids:
        return []
    return await list_rows(conn, IDEAS, scope=scope,
                           where=[content_ideas.c.cluster_id.in_(list(cluster_ids))])
