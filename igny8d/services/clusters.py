"""Keyword clusters: the plan's cluster limit, keyword figures, their keywords on delete."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.permissions import Actor
from igny8d.services.base import ResourceService, Row, check_limit
from igny8d.services.sector_objects import site_and_sector
from igny8d.store import accounts as account_store
from igny8d.store import clusters as store
from igny8d.store.errors import RowNotFound
from igny8d.store.rows import visible_ids
from igny8d.store.writes import delete_many, insert_row

CLUSTER_FIELDS = ("id", "account_id", "site_id", "sector_id", "name", "description", "status",
                  "keywords_count", "volume", "created_at", "updated_at")


class ClusterService(ResourceService):
    async def present(self, conn: AsyncConnection, actor: Actor | None,
                      rows: list[Row]) -> list[Row]:
        stats = await store.keyword_stats(conn, [r["id"] for r in rows])
        out = []
        for r in rows:
            count, volume = stats.get(r["id"], (0, 0))
            out.append({**{k: r.get(k) for k in CLUSTER_FIELDS},
                        "keywords_count": count, "volume": volume})
        return out

    async def create(self, conn: AsyncConnection, actor: Actor, data: Row) -> Row:
        site, _ = await site_and_sector(conn, actor, site_id=data["site_id"],
                                        sector_id=data["sector_id"])
        account = await account_store.lock_account(conn, site["account_id"])
        count = await account_store.count_for_account(conn, store.CLUSTERS, site["account_id"])
        check_limit(account, "max_clusters", count, "clusters")
        return await insert_row(conn, store.CLUSTERS,
                                {**data, "account_id": site["account_id"]})

    async def delete(self, conn: AsyncConnection, actor: Actor, row: Row) -> None:
        await store.release_keywords(conn, [row["id"]], scope=self.scope(actor))
        await super().delete(conn, actor, row)

    async def bulk_delete(self, conn: AsyncConnection, actor: Actor, ids: list[int]) -> int:
        """All ids visible or nothing; the clusters' keywords, ideas and tasks stay, without
        a cluster (the foreign keys are ON DELETE SET NULL)."""
        scope = self.scope(actor)
        found = await visible_ids(conn, self.spec, ids, scope=scope)
        missing = sorted(set(ids) - found)
        if missing:
            raise RowNotFound(f"Not found: {', '.join(map(str, missing))}.", field="ids")
        await store.release_keywords(conn, found, scope=scope)
        return await delete_many(conn, self.spec, sorted(found), scope=scope)


CLUSTERS = ClusterService(store.CLUSTERS, fields=CLUSTER_FIELDS,
                          immutable=("site_id", "sector_id"))
