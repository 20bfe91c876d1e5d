"""`keywords/auto_cluster`: the action (validate, price, charge and queue in one transaction)
and its job (cluster with the local provider, write the clusters in one transaction).

The action: every id must be a keyword the caller can see (else 404 naming them) in the named
sector (else 400); at most `local_cluster_max_ids` distinct ids. The price is
`price("clustering", n)` for the n distinct ids. The job is queued and the credits charged
(the charge's reference is the job's task_id) in ONE transaction: a balance that does not
cover it is a 402 and nothing is queued; a job that fails or is cancelled gets its credits
back (`billing.refund_job`, the kind's hooks).

The job (kind `auto_cluster`, payload `{ids, sector_id, site_id}`):
- PREPARE: reads the sector's keywords and clusters. A keyword placed by hand
  (`cluster_source = "manual"`), or in a cluster by some other way than auto clustering, stays
  where it is; one placed by auto clustering is clustered again.
- CLUSTERING (off the event loop): the keywords first go to the sector's existing clusters
  they fit (`assign_to_existing`), the rest are clustered among themselves
  (`cluster_keywords`). Keywords without an intent get the classifier's.
- SAVING, in `progress.final()` (results and SUCCESS together): new clusters are created —
  a name the sector already has (ignoring case and spacing) joins that cluster — within the
  plan's `max_clusters`; keywords get `cluster_id` and `cluster_source = "auto"`; every write
  goes through crud, so the account's data version is bumped. A keyword re-clustered that fits
  nowhere keeps its previous cluster. Keywords placed by hand while the job ran are left alone.

Result: `{clusters_created, clusters_joined, keywords_clustered, unclustered: [{id, reason}]
(at most UNCLUSTERED_SHOWN), unclustered_count, intents_set, kept_manual}`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.ai import (
    ClusterResult,
    ExistingCluster,
    Intent,
    KeywordItem,
    assign_to_existing,
    classify_intent,
    cluster_keywords,
)
from igny8d.errors import ValidationFailed
from igny8d.permissions import Actor
from igny8d.scope import Scope
from igny8d.services import billing
from igny8d.settings import Settings
from igny8d.store import accounts as accounts_store
from igny8d.store import crud
from igny8d.store.engine import Store
from igny8d.store.errors import RowNotFound
from igny8d.store.keywords import keyword_norm
from igny8d.store.planner import CLUSTERS, KEYWORDS
from igny8d.store.schema import clusters as clusters_table
from igny8d.store.schema import keywords as keywords_table

if TYPE_CHECKING:
    from igny8d.jobs.executor import Executor, Progress
    from igny8d.jobs.registry import Job, JobRegistry

KIND = "auto_cluster"
OPERATION = "clustering"
#: unclustered keywords listed in the result (the count is always complete)
UNCLUSTERED_SHOWN = 200
#: ids named in a 404 (the rest are counted)
IDS_SHOWN = 20
_CHUNK = 900


class ClusterDeps(Protocol):
    """What the action needs of the AppContext."""

    @property
    def store(self) -> Store: ...
    @property
    def settings(self) -> Settings: ...
    @property
    def executor(self) -> Executor: ...


def _shown(ids: Sequence[int]) -> str:
    more = f" and {len(ids) - IDS_SHOWN} more" if len(ids) > IDS_SHOWN else ""
    return ", ".join(map(str, ids[:IDS_SHOWN])) + more


async def _rows_by_id(conn: AsyncConnection, ids: Sequence[int], *, scope: Scope,
                      columns: Sequence[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cols = [keywords_table.c[c] for c in columns]
    for start in range(0, len(ids), _CHUNK):
        part = list(ids[start:start + _CHUNK])
        stmt = KEYWORDS.scoped(select(*cols), scope).where(keywords_table.c.id.in_(part))
        out.extend(dict(r) for r in (await conn.execute(stmt)).mappings())
    return out


# -- the action ----------------------------------------------------------------------------------

async def auto_cluster(deps: ClusterDeps, actor: Actor, *, ids: Sequence[int],
                       sector_id: int) -> dict[str, Any]:
    """Validate, price, charge and queue; returns `{task_id}` (the handler answers 202)."""
    wanted = sorted(set(ids))
    limit = deps.settings.local_cluster_max_ids
    if not wanted:
        raise ValidationFailed(errors={"ids": ["Give at least one keyword id."]})
    if len(wanted) > limit:
        raise ValidationFailed(errors={"ids": [
            f"Ensure this list has at most {limit} keyword ids (it has {len(wanted)})."]})
    amount = billing.price(OPERATION, len(wanted), deps.settings)
    async with deps.store.begin() as conn:
        found = await _rows_by_id(conn, wanted, scope=actor.scope,
                                  columns=("id", "sector_id", "site_id"))
        missing = sorted(set(wanted) - {int(r["id"]) for r in found})
        if missing:
            raise RowNotFound(f"Not found: {_shown(missing)}.", field="ids")
        sector = await crud.require_visible(conn, accounts_store.SECTORS, sector_id,
                                            scope=actor.scope, field="sector_id")
        other = sorted(int(r["id"]) for r in found if r["sector_id"] != sector["id"])
        if other:
            raise ValidationFailed(errors={"ids": [
                f"These keywords are not in sector {sector_id}: {_shown(other)}."]})
        await accounts_store.lock_account(conn, actor.account_id)  # the first lock, always
        task = await deps.executor.submit(conn, actor, kind=KIND, payload={
            "ids": wanted, "sector_id": int(sector["id"]), "site_id": int(sector["site_id"])})
        if amount > 0:  # a price set to 0 makes the operation free
            await billing.charge(
                conn, actor, amount=amount, operation_type=OPERATION, units=len(wanted),
                description=f"Auto cluster {len(wanted)} keywords", reference=task["task_id"])
    return {"task_id": task["task_id"]}


# -- the job ------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Plan:
    #: keyword id → existing cluster id
    joined: dict[int, int]
    result: ClusterResult
    #: keyword id → intent, for keywords that had none
    intents: dict[int, Intent]


def _plan(existing: list[ExistingCluster], items: list[KeywordItem]) -> _Plan:
    """CPU-heavy: assign to existing clusters, cluster the rest, classify missing intents."""
    joined: dict[int, int] = {}
    rest: Sequence[KeywordItem] = items
    if existing and items:
        assigned = assign_to_existing(existing, items)
        joined = {a.keyword_id: int(a.cluster_id) for a in assigned.assigned
                  if a.cluster_id is not None}
        rest = [i for i in items if i.id not in joined]
    result = cluster_keywords(rest) if rest else ClusterResult((), (), ())
    intents = {i.id: classify_intent(i.text).intent for i in items if i.intent is None}
    return _Plan(joined, result, intents)


async def run_auto_cluster(ctx: Any, job: Job, progress: Progress) -> dict[str, Any]:
    store: Store = ctx.store
    scope = Scope(account_id=job.account_id)
    sector_id = int(job.payload["sector_id"])
    site_id = int(job.payload["site_id"])
    ids = sorted({int(i) for i in job.payload["ids"]})
    await progress.update(phase="PREPARE", percentage=5,
                          message=f"Reading {len(ids)} keywords and the sector's clusters.")
    async with store.read() as conn:
        sector_rows = await crud.list_rows(
            conn, KEYWORDS, scope=scope, where=[keywords_table.c.sector_id == sector_id],
            order_by=[keywords_table.c.id])
        cluster_rows = await crud.list_rows(
            conn, CLUSTERS, scope=scope, where=[clusters_table.c.sector_id == sector_id],
            order_by=[clusters_table.c.id])
    by_id = {int(r["id"]): r for r in sector_rows}
    unclustered: dict[int, str] = {i: "gone: the keyword was deleted or moved"
                                   for i in ids if i not in by_id}
    kept_manual = 0
    targets: list[dict[str, Any]] = []
    for i in ids:
        row = by_id.get(i)
        if row is None:
            continue
        if row["cluster_id"] is not None and row["cluster_source"] != "auto":
            kept_manual += 1
            continue
        targets.append(row)
    moving = {int(r["id"]) for r in targets}
    members: dict[int, list[KeywordItem]] = defaultdict(list)
    for r in sector_rows:
        if r["cluster_id"] is not None and int(r["id"]) not in moving:
            members[int(r["cluster_id"])].append(_item(r))
    existing = [ExistingCluster(name=c["name"], keywords=tuple(members.get(int(c["id"]), ())),
                                id=int(c["id"])) for c in cluster_rows]
    items = [_item(r) for r in targets]
    await progress.update(phase="CLUSTERING", percentage=20,
                          message=f"Clustering {len(items)} keywords against "
                                  f"{len(existing)} existing clusters.")
    plan = await progress.run_cpu(_plan, existing, items)
    await progress.update(phase="SAVING", percentage=80, message=(
        f"Saving {len(plan.result.clusters)} new clusters and "
        f"{len(plan.joined)} keywords joining existing ones."))
    previous = {int(r["id"]): r["cluster_id"] for r in targets}
    async with progress.final() as conn:
        result = await _save(conn, scope, site_id=site_id, sector_id=sector_id, plan=plan,
                             previous=previous, unclustered=unclustered)
        result["kept_manual"] += kept_manual
        progress.result = result
    return result


def _item(row: dict[str, Any]) -> KeywordItem:
    return KeywordItem(id=int(row["id"]), text=str(row["keyword"]), volume=int(row["volume"] or 0),
                       intent=row["intent"])


async def _save(conn: AsyncConnection, scope: Scope, *, site_id: int, sector_id: int,
                plan: _Plan, previous: dict[int, int | None],
                unclustered: dict[int, str]) -> dict[str, Any]:
    """Write the plan (inside the job's final transaction); the result dict."""
    account_id = scope.account_id
    assert account_id is not None
    account = await accounts_store.lock_account(conn, account_id)
    # what may have changed while the job ran: re-read under the lock
    now_rows = {int(r["id"]): r for r in await _rows_by_id(
        conn, sorted(previous), scope=scope,
        columns=("id", "sector_id", "cluster_id", "cluster_source", "intent"))}
    movable = {i for i, r in now_rows.items() if r["sector_id"] == sector_id and (
        r["cluster_id"] is None or r["cluster_source"] == "auto")}
    kept_manual = sum(1 for i in previous if i in now_rows and i not in movable
                      and now_rows[i]["sector_id"] == sector_id)
    for i in previous:
        if i not in now_rows or now_rows[i]["sector_id"] != sector_id:
            unclustered[i] = "gone: the keyword was deleted or moved"
    sector_clusters = await crud.list_rows(conn, CLUSTERS, scope=scope,
                                           where=[clusters_table.c.sector_id == sector_id])
    live = {int(c["id"]) for c in sector_clusters}
    by_name = {keyword_norm(c["name"]): int(c["id"]) for c in sector_clusters}
    count = await accounts_store.count_for_account(conn, CLUSTERS, account_id)
    room = max(0, int(account["max_clusters"]) - count)

    target: dict[int, int] = {}
    for kid, cid in plan.joined.items():
        if kid in movable:
            if cid in live:
                target[kid] = cid
            else:
                unclustered[kid] = "no_match: the cluster it fitted was deleted"
    created = joined = 0
    for cluster in plan.result.clusters:
        kids = [k for k in cluster.keyword_ids if k in movable]
        if len(kids) < 2 and not (kids and keyword_norm(cluster.name) in by_name):
            for k in kids:
                unclustered[k] = "no_match: its cluster lost its other keywords"
            continue
        found = by_name.get(keyword_norm(cluster.name))
        if found is None:
            if room <= 0:
                for k in kids:
                    unclustered[k] = (f"plan_limit: the plan allows "
                                      f"{account['max_clusters']} clusters")
                continue
            row = await crud.insert_row(conn, CLUSTERS, {
                "account_id": account_id, "site_id": site_id, "sector_id": sector_id,
                "name": cluster.name[:255], "description": "", "status": "active"})
            found = int(row["id"])
            by_name[keyword_norm(cluster.name)] = found
            room -= 1
            created += 1
        else:
            joined += 1
        for k in kids:
            target[k] = found
    for u in plan.result.unclustered:
        if u.keyword_id in movable:
            unclustered[u.keyword_id] = u.reason
    # a re-clustered keyword that fits nowhere keeps the cluster it had
    for k in list(unclustered):
        if k in movable and k not in target and previous.get(k) in live:
            del unclustered[k]
    for k in target:
        unclustered.pop(k, None)

    by_cluster: dict[int, list[int]] = defaultdict(list)
    for k, cid in target.items():
        if now_rows[k]["cluster_id"] != cid or now_rows[k]["cluster_source"] != "auto":
            by_cluster[cid].append(k)
    for cid, kids in sorted(by_cluster.items()):
        await crud.update_many(conn, KEYWORDS, kids,
                               {"cluster_id": cid, "cluster_source": "auto"}, scope=scope)
    by_intent: dict[Intent, list[int]] = defaultdict(list)
    for k, intent in plan.intents.items():
        if k in now_rows and now_rows[k]["intent"] is None:
            by_intent[intent].append(k)
    for intent, kids in sorted(by_intent.items()):
        await crud.update_many(conn, KEYWORDS, kids, {"intent": intent}, scope=scope)
    listed = sorted(unclustered.items())
    return {
        "clusters_created": created, "clusters_joined": joined,
        "keywords_clustered": len(target),
        "unclustered": [{"id": k, "reason": r} for k, r in listed[:UNCLUSTERED_SHOWN]],
        "unclustered_count": len(listed),
        "intents_set": sum(len(v) for v in by_intent.values()),
        "kept_manual": kept_manual,
    }


def register(registry: JobRegistry) -> None:
    """The kind, with the credit refund on failure and cancellation."""
    registry.register(KIND, run_auto_cluster, on_failed=billing.refund_job,
                      on_revoked=billing.refund_job)
