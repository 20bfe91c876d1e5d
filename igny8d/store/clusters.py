"""SQL of clusters and content ideas beyond generic CRUD: computed keyword figures per cluster,
unassigning a deleted cluster's keywords, and queueing ideas to the writer atomically."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import exists, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.scope import Scope
from igny8d.store.crud import now
from igny8d.store.planner import IDEAS
from igny8d.store.schema import content_ideas, keywords, tasks


async def keyword_stats(conn: AsyncConnection, cluster_ids: Sequence[int]) -> dict[
        int, tuple[int, int]]:
    """(keywords_count, volume) per cluster, for a page of clusters in ONE grouped query;
    a cluster without keywords is absent (0, 0)."""
    wanted = sorted(set(cluster_ids))
    if not wanted:
        return {}
    stmt = (select(keywords.c.cluster_id, func.count(),
                   func.coalesce(func.sum(keywords.c.volume), 0))
            .where(keywords.c.cluster_id.in_(wanted))
            .group_by(keywords.c.cluster_id))
    return {int(cid): (int(n), int(vol)) for cid, n, vol in (await conn.execute(stmt)).all()}


async def release_keywords(conn: AsyncConnection, cluster_ids: Iterable[int]) -> int:
    """Before clusters are deleted: their keywords lose the record of who clustered them.

    `cluster_id` itself becomes NULL by the foreign key (ON DELETE SET NULL, on both stores).
    """
    wanted = sorted(set(cluster_ids))
    if not wanted:
        return 0
    stmt = (update(keywords).where(keywords.c.cluster_id.in_(wanted))
            .values(cluster_source=None))
    return int((await conn.execute(stmt)).rowcount)


async def lock_visible_ideas(conn: AsyncConnection, ids: Iterable[int], *,
                             scope: Scope) -> set[int]:
    """Which of `ids` the scope may touch, row-locked in id order on Postgres (two concurrent
    queue calls on overlapping ideas then wait for each other instead of deadlocking)."""
    wanted = sorted(set(ids))
    if not wanted:
        return set()
    stmt = IDEAS.scoped(select(content_ideas.c.id).where(content_ideas.c.id.in_(wanted)),
                        scope).order_by(content_ideas.c.id)
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return {int(r) for r in (await conn.execute(stmt)).scalars()}


async def mark_queued(conn: AsyncConnection, ids: Iterable[int], *,
                      scope: Scope) -> list[dict[str, Any]]:
    """Set `queued` on those of `ids` that are `new` and have no task yet, in one conditional
    UPDATE; returns the rows it changed (a concurrent caller's second UPDATE finds them
    queued and changes none)."""
    wanted = sorted(set(ids))
    if not wanted:
        return []
    has_task = exists().where(tasks.c.idea_id == content_ideas.c.id)
    stmt = (update(content_ideas)
            .where(content_ideas.c.id.in_(wanted), content_ideas.c.status == "new",
                   ~has_task, *IDEAS.scope_filter(scope))
            .values(status="queued", updated_at=now())
            .returning(*content_ideas.c))
    rows = [dict(r) for r in (await conn.execute(stmt)).mappings()]
    return sorted(rows, key=lambda r: int(r["id"]))


async def insert_tasks(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert writer tasks in one statement per 1000 rows; their ids in the rows' order."""
    if not rows:
        return []
    stamp = now()
    values = [{"created_at": stamp, "updated_at": stamp, **r} for r in rows]
    out: list[int] = []
    stmt = insert(tasks).returning(tasks.c.id, sort_by_parameter_order=True)
    for start in range(0, len(values), 1000):
        result = await conn.execute(stmt, values[start:start + 1000])
        out.extend(int(i) for i in result.scalars())
    return out
