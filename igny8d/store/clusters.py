"""SQL of clusters and content ideas beyond generic CRUD: computed keyword figures per cluster,
unassigning a deleted cluster's keywords, and queueing ideas to the writer atomically.

Every write here bumps the account's data version first (`crud.touch_accounts`, as crud's
own writes do): cached list totals are not reused, and the account row is the first lock a
writer takes (one lock order on Postgres).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import exists, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.scope import Scope
from igny8d.store import crud
from igny8d.store.crud import now
from igny8d.store.planner import IDEAS, KEYWORDS
from igny8d.store.schema import content_ideas, keywords, tasks
from igny8d.store.writer import TASKS


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


async def release_keywords(conn: AsyncConnection, cluster_ids: Iterable[int], *,
                           scope: Scope) -> int:
    """Before clusters are deleted: their keywords lose the record of who clustered them.

    `cluster_id` itself becomes NULL by the foreign key (ON DELETE SET NULL, on both stores).
    """
    wanted = sorted(set(cluster_ids))
    if not wanted:
        return 0
    await crud.touch_accounts(conn, KEYWORDS, [scope.account_id])
    stmt = (update(keywords)
            .where(keywords.c.cluster_id.in_(wanted), *KEYWORDS.scope_filter(scope))
            .values(cluster_source=None))
    return int((await conn.execute(stmt)).rowcount)


async def mark_queued(conn: AsyncConnection, ids: Iterable[int], *,
                      scope: Scope) -> list[dict[str, Any]]:
    """Set `queued` on those of `ids` that are `new` and have no task yet, in one conditional
    UPDATE; returns the rows it changed. The account row is taken first, so a concurrent
    call on the same account waits, then finds them queued and changes none."""
    wanted = sorted(set(ids))
    if not wanted:
        return []
    await crud.touch_accounts(conn, IDEAS, [scope.account_id])
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
    await crud.touch_accounts(conn, TASKS, {r["account_id"] for r in rows})
    stamp = now()
    values = [{"created_at": stamp, "updated_at": stamp, **r} for r in rows]
    out: list[int] = []
    stmt = insert(tasks).returning(tasks.c.id, sort_by_parameter_order=True)
    for start in range(0, len(values), 1000):
        result = await conn.execute(stmt, values[start:start + 1000])
        out.extend(int(i) for i in result.scalars())
    return out
