"""Keywords: the sector's duplicate rule, the plan's keyword limit, seeds, clusters, CSV.

Every write that adds keywords (create, bulk_add_from_seed, import) locks the account row
first and counts the account's keywords under that lock, so concurrent requests can never
pass the plan's `max_keywords` together. Duplicates (same text ignoring case and spacing,
`keyword_norm`) are a 409 on create and update, and skipped and counted by the bulk adds.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.errors import PlanLimit, ValidationFailed
from igny8d.memory import release_free_memory
from igny8d.permissions import Actor
from igny8d.scope import Scope
from igny8d.services import idempotency
from igny8d.services.base import Deps, ResourceService, Row, invalid_pk
from igny8d.services.csv_io import EXPORT_COLUMNS, ParsedImport, export_header, export_rows
from igny8d.services.csv_io import parse_keywords as parse_csv
from igny8d.services.sector_objects import site_and_sector
from igny8d.store import accounts as account_store
from igny8d.store import keywords as store
from igny8d.store.clusters import CLUSTERS
from igny8d.store.errors import RowNotFound
from igny8d.store.reference import SEED_KEYWORDS, seeds_by_id
from igny8d.store.rows import count_rows, get_row, require_visible
from igny8d.store.writes import insert_many, insert_row

KEYWORD_FIELDS = ("id", "account_id", "site_id", "sector_id", "keyword", "seed_keyword_id",
                  "volume", "difficulty", "intent", "status", "cluster_id", "created_at",
                  "updated_at")
#: Copied from the seed keyword when the body leaves them out.
SEED_COPIED = ("volume", "difficulty", "intent")


async def _seed(conn: AsyncConnection, seed_id: int) -> Row:
    try:
        return await get_row(conn, SEED_KEYWORDS, seed_id, scope=Scope.everything())
    except RowNotFound:
        raise invalid_pk("seed_keyword_id", seed_id) from None


async def _check_cluster(conn: AsyncConnection, actor: Actor, cluster_id: int,
                         sector_id: int) -> None:
    """A visible cluster (else 404 naming `cluster_id`) of the keyword's sector (else 400)."""
    cluster = await require_visible(conn, CLUSTERS, cluster_id, scope=actor.scope,
                                    field="cluster_id")
    if cluster["sector_id"] != sector_id:
        raise ValidationFailed(errors={"cluster_id": [
            f"Cluster {cluster_id} is not in the keyword's sector ({sector_id})."]})


def _check_room(account: Row, count: int, adding: int) -> None:
    """Refuse when `adding` more keywords would pass the (locked) account's plan limit."""
    if adding > 0 and count + adding > account["max_keywords"]:
        raise PlanLimit("keywords", account["max_keywords"], account["plan_name"])


async def _lock(conn: AsyncConnection, account_id: int) -> tuple[Row, int]:
    """Lock the account row, then count its keywords: concurrent adds count in turn."""
    account = await account_store.lock_account(conn, account_id)
    return account, await count_rows(conn, store.KEYWORDS, scope=Scope(account_id))


class KeywordService(ResourceService):
    async def create(self, conn: AsyncConnection, actor: Actor, data: Row) -> Row:
        site, sector = await site_and_sector(conn, actor, site_id=data["site_id"],
                                             sector_id=data["sector_id"])
        values = dict(data)
        if values.get("seed_keyword_id") is not None:
            seed = await _seed(conn, values["seed_keyword_id"])
            for name in SEED_COPIED:
                if values.get(name) is None:
                    values[name] = seed[name]
        values["volume"] = values.get("volume") or 0
        values["difficulty"] = values.get("difficulty") or 0
        if values.get("cluster_id") is not None:
            await _check_cluster(conn, actor, values["cluster_id"], sector["id"])
            values["cluster_source"] = "manual"
        account, count = await _lock(conn, site["account_id"])
        _check_room(account, count, 1)
        values["keyword_norm"] = store.keyword_norm(values["keyword"])
        values["account_id"] = site["account_id"]
        return await insert_row(conn, self.spec, values)

    async def update(self, conn: AsyncConnection, actor: Actor, row: Row, data: Row) -> Row:
        values = dict(data)
        if "keyword" in values:
            values["keyword_norm"] = store.keyword_norm(values["keyword"])
        seed_id = values.get("seed_keyword_id")
        if seed_id is not None and seed_id != row["seed_keyword_id"]:
            await _seed(conn, seed_id)
        if "cluster_id" in values and values["cluster_id"] != row["cluster_id"]:
            # a user's choice: automatic clustering leaves a "manual" keyword where it is
            if values["cluster_id"] is not None:
                await _check_cluster(conn, actor, values["cluster_id"], row["sector_id"])
                values["cluster_source"] = "manual"
            else:
                values["cluster_source"] = None
        return await super().update(conn, actor, row, values)

    async def bulk_update_status(self, conn: AsyncConnection, actor: Actor, ids: list[int],
                                 status: str) -> int:
        """All ids or nothing (as bulk_delete): one the actor cannot see refuses the call."""
        return await self.bulk_update(conn, actor, ids, {"status": status})

    async def bulk_add_from_seed(self, conn: AsyncConnection, actor: Actor, *,
                                 seed_keyword_ids: list[int], site_id: int,
                                 sector_id: int) -> Row:
        """Add the library's keywords the sector does not have yet (by keyword text)."""
        site, sector = await site_and_sector(conn, actor, site_id=site_id, sector_id=sector_id)
        wanted = sorted(set(seed_keyword_ids))
        seeds = await seeds_by_id(conn, wanted)
        missing = [i for i in wanted if i not in seeds]
        if missing:
            shown = ", ".join(map(str, missing[:20])) + (" ..." if len(missing) > 20 else "")
            raise ValidationFailed(errors={"seed_keyword_ids": [
                f"Invalid pk - these seed keywords do not exist: {shown}."]})
        by_norm: dict[str, Row] = {}
        for seed_id in wanted:
            by_norm.setdefault(store.keyword_norm(seeds[seed_id]["keyword"]), seeds[seed_id])
        account_id = site["account_id"]
        # locked before reading what the sector has: two concurrent adds cannot both insert
        account, count = await _lock(conn, account_id)
        have = await store.norms_in_sector(conn, sector["id"], by_norm)
        new = {norm: seed for norm, seed in by_norm.items() if norm not in have}
        _check_room(account, count, len(new))
        await insert_many(conn, self.spec, [{
            "account_id": account_id, "site_id": site["id"], "sector_id": sector["id"],
            "keyword": seed["keyword"], "keyword_norm": norm, "seed_keyword_id": seed["id"],
            "volume": seed["volume"], "difficulty": seed["difficulty"],
            "intent": seed["intent"], "status": "active",
        } for norm, seed in new.items()])
        ids = await store.ids_by_norm(conn, sector["id"], list(new))
        return {"added": len(new), "skipped": len(wanted) - len(new), "keyword_ids": ids}

    async def import_csv(self, deps: Deps, actor: Actor, *, site_id: int, sector_id: int,
                         data: bytes, keyed: idempotency.Keyed | None = None
                         ) -> tuple[idempotency.Answer, bool]:
        """Check the whole file first (off the event loop), then import it in one
        transaction: all rows or none; (answer, replayed). Keywords the sector has, or that
        repeat an earlier row, are skipped and counted. With `keyed`, the key's claim and
        answer are in that transaction (a retry answers this answer). After a large file the
        memory its rows and the load's page cache took is handed back to the system (else
        the server keeps it)."""
        parsed: ParsedImport = await asyncio.get_running_loop().run_in_executor(
            None, parse_csv, data)
        big = len(parsed.rows) >= store.BULK_FAST_MIN

        async def load(conn: AsyncConnection) -> idempotency.Answer:
            site, sector = await site_and_sector(conn, actor, site_id=site_id,
                                                 sector_id=sector_id)
            account_id = site["account_id"]
            account, count = await _lock(conn, account_id)
            have = await store.norms_in_sector(conn, sector["id"])
            new = [r for r in parsed.rows if r.keyword_norm not in have] if have else parsed.rows
            _check_room(account, count, len(new))
            await store.insert_keywords(conn, account_id=account_id, site_id=site["id"],
                                        sector_id=sector["id"], rows=new)
            created, skipped = len(new), parsed.duplicates + len(parsed.rows) - len(new)
            return idempotency.Answer(
                200, {"created": created, "skipped_duplicates": skipped},
                f"{created} imported, {skipped} duplicates skipped")

        answer = await idempotency.once(deps.store, keyed, load)
        if big:
            del parsed, load
            release_free_memory()
        return answer

    async def export_csv(self, conn: AsyncConnection, actor: Actor, *,
                         where: Sequence[ColumnElement[bool]],
                         order_by: Sequence[Any]) -> AsyncIterator[str]:
        """The listed keywords as CSV text, chunk by chunk from a server-side cursor; the
        first chunk carries the header (so a failing query fails before anything is sent)."""
        header = export_header()
        async for rows in store.stream_rows(conn, self.spec, scope=self.scope(actor),
                                            where=[*where, *self.where(actor)],
                                            order_by=order_by, columns=EXPORT_COLUMNS):
            yield header + export_rows(rows)
            header = ""
        if header:
            yield header


KEYWORDS_SERVICE = KeywordService(store.KEYWORDS, fields=KEYWORD_FIELDS,
                                  immutable=("site_id", "sector_id"))
