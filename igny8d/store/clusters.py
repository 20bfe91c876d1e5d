"""Keyword clusters: their table spec, computed keyword figures, unassigning on delete.

The spec carries the figures a list may be ordered by (correlated subqueries). Every write
here takes the account row first and bumps the list versions it changes
(`writes.touch_accounts`, as the generic writes do): cached list totals are not reused, and
the account row is the first lock a writer takes (one lock order on Postgres).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.scope import Scope
from igny8d.store.keywords import KEYWORDS
from igny8d.store.rows import list_rows
from igny8d.store.schema import clusters, content_ideas, keywords
from igny8d.store.specs import TableSpec
from igny8d.store.writes import touch_accounts

CLUSTERS = TableSpec(
    clusters, "sector", "Cluster",
    unique=((("sector_id", "name"), "name", "This sector already has a cluster with this name."),),
    expressions={
        "keywords_count": select(func.count()).where(keywords.c.cluster_id == clusters.c.id)
        .scalar_subquery(),
        "volume": select(func.coalesce(func.sum(keywords.c.volume), 0))
        .where(keywords.c.cluster_id == clusters.c.id).scalar_subquery(),
    },
)


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


async def without_ideas(conn: AsyncConnection, sector_id: int, *, scope: Scope,
                        exclude: Iterable[int] = (), limit: int) -> list[int]:
    """Ids of the sector's clusters (in scope) that have keywords and no idea, oldest first,
    at most `limit`, leaving out `exclude`: one query."""
    c = clusters.c
    stmt = (select(c.id).where(
        c.sector_id == sector_id,
        exists().where(keywords.c.cluster_id == c.id),
        ~exists().where(content_ideas.c.cluster_id == c.id))
        .order_by(c.id))
    skip = sorted(set(exclude))
    if skip:
        stmt = stmt.where(c.id.not_in(skip))
    return [int(i) for i in (await conn.execute(
        CLUSTERS.scoped(stmt, scope).limit(limit))).scalars()]


async def release_keywords(conn: AsyncConnection, cluster_ids: Iterable[int], *,
                           scope: Scope) -> int:
    """Before clusters are deleted: their keywords lose the record of who clustered them.

    `cluster_id` itself becomes NULL by the foreign key (ON DELETE SET NULL, on both stores).
    """
    wanted = sorted(set(cluster_ids))
    if not wanted:
        return 0
    await touch_accounts(conn, KEYWORDS, [scope.account_id])
    stmt = (update(keywords)
            .where(keywords.c.cluster_id.in_(wanted), *KEYWORDS.scope_filter(scope))
            .values(cluster_source=None))
    return int((await conn.execute(stmt)).rowcount)


async def of_sector(conn: AsyncConnection, sector_id: int, *,
                    scope: Scope) -> list[dict[str, Any]]:
    """A sector's clusters in the scope, oldest first."""
    return await list_rows(conn, CLUSTERS, scope=scope,
                           where=[clusters.c.sector_id == sector_id], order_by=[clusters.c.id])
