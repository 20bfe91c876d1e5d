"""`keywords/auto_cluster`: the action (validate, price, charge and queue in one transaction)
and its job (cluster, then write the clusters in one transaction).

The action: every id must be a keyword the caller can see (else 404 naming them) in the named
sector (else 400); at most `local_cluster_max_ids` distinct ids with the local provider, at
most the provider's `max_cluster_ids` (the reference's 20) with an OpenAI-compatible one. The
price is `price("clustering", n)` for the n distinct ids. The job is queued and the credits
charged (the charge's reference is the job's task_id) in ONE transaction
(`ai_common.submit_charged`): a balance that does not cover it is a 402 and nothing is
queued; a job that fails or is cancelled gets its credits back (`billing.refund_job`, the
kind's hooks).

The job (kind `auto_cluster`, payload `{ids, sector_id, site_id, credits, units}`):
- PREPARE: reads the sector's keywords and clusters, and the account's provider. A keyword
  placed by hand (`cluster_source = "manual"`), or in a cluster by some other way than auto
  clustering, stays where it is; one placed by auto clustering is clustered again.
- CLUSTERING: the keywords first go to the sector's existing clusters they fit
  (`assign_to_existing`), the rest are clustered among themselves: by the local algorithms
  (`cluster_keywords`); with an OpenAI-compatible provider by `provider.cluster` (the
  account's `clustering` prompt) or — with the `cluster_with_embeddings` setting and a
  provider that offers embeddings — by the local linkage over the provider's embeddings.
  CPU-heavy steps run off the event loop; provider calls outside any write transaction.
  Keywords without an intent get the classifier's.
- SAVING, in `progress.final()` (results and SUCCESS together): new clusters are created —
  a name the sector already has (ignoring case and spacing) joins that cluster — within the
  plan's `max_clusters`; keywords get `cluster_id` and `cluster_source = "auto"`; every write
  goes through `writes`, so the account's data version is bumped. A keyword re-clustered that fits
  nowhere keeps its previous cluster. Keywords placed by hand while the job ran are left alone.
  The provider's tokens and cost go on the usage row.

Result: `{clusters_created, clusters_joined, keywords_clustered, unclustered: [{id, reason}]
(at most UNCLUSTERED_SHOWN), unclustered_count, intents_set, kept_manual, method}`
(`method`: local, llm or embeddings).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

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
from igny8d.ai.cluster import Cluster, Unclustered
from igny8d.ai.types import ProviderError
from igny8d.errors import ValidationFailed
from igny8d.permissions import Actor
from igny8d.scope import Scope
from igny8d.services import ai_common
from igny8d.settings import Settings
from igny8d.store import accounts as accounts_store
from igny8d.store import sectors as sector_store
from igny8d.store.clusters import CLUSTERS
from igny8d.store.engine import Store
from igny8d.store.errors import RowNotFound
from igny8d.store.keywords import KEYWORDS, keyword_norm
from igny8d.store.rows import list_rows, require_visible, rows_by_id
from igny8d.store.schema import clusters as clusters_table
from igny8d.store.schema import keywords as keywords_table
from igny8d.store.writes import insert_row, update_many

if TYPE_CHECKING:
    from igny8d.jobs.executor import Progress
    from igny8d.jobs.registry import Job, JobRegistry

KIND = "auto_cluster"
OPERATION = "clustering"
#: unclustered keywords listed in the result (the count is always complete)
UNCLUSTERED_SHOWN = 200

Method = Literal["local", "llm", "embeddings"]


# -- the action ----------------------------------------------------------------------------------

async def auto_cluster(deps: ai_common.AIDeps, actor: Actor, *, ids: Sequence[int],
                       sector_id: int) -> dict[str, Any]:
    """Validate, price, charge and queue; returns `{task_id}` (the handler answers 202)."""
    async with deps.store.read() as conn:
        provider, config = await ai_common.account_provider(conn, actor.account_id,
                                                            deps.settings)
    limit = (provider.max_cluster_ids if ai_common.is_llm(config)
             else deps.settings.local_cluster_max_ids)
    ai_common.close_provider(provider)
    wanted = ai_common.distinct_ids(ids, cap=limit, noun="keyword")
    async with deps.store.begin() as conn:
        found = await rows_by_id(conn, KEYWORDS, wanted, scope=actor.scope,
                                 columns=("id", "sector_id", "site_id"))
        missing = sorted(set(wanted) - {int(r["id"]) for r in found})
        if missing:
            raise RowNotFound(f"Not found: {ai_common.shown(missing)}.", field="ids")
        sector = await require_visible(conn, sector_store.SECTORS, sector_id,
                                       scope=actor.scope, field="sector_id")
        other = sorted(int(r["id"]) for r in found if r["sector_id"] != sector["id"])
        if other:
            raise ValidationFailed(errors={"ids": [
                f"These keywords are not in sector {sector_id}: {ai_common.shown(other)}."]})
        return await ai_common.submit_charged(
            conn, deps, actor, kind=KIND, operation=OPERATION, units=len(wanted),
            payload={"ids": wanted, "sector_id": int(sector["id"]),
                     "site_id": int(sector["site_id"])},
            description=f"Auto cluster {len(wanted)} keywords")


# -- the job ------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Plan:
    #: keyword id → existing cluster id
    joined: dict[int, int]
    result: ClusterResult
    #: keyword id → intent, for keywords that had none
    intents: dict[int, Intent]


def _assign(existing: list[ExistingCluster],
            items: list[KeywordItem]) -> tuple[dict[int, int], list[KeywordItem]]:
    """CPU-heavy: the keywords that fit an existing cluster, and the rest."""
    if not (existing and items):
        return {}, list(items)
    assigned = assign_to_existing(existing, items)
    joined = {a.keyword_id: int(a.cluster_id) for a in assigned.assigned
              if a.cluster_id is not None}
    return joined, [i for i in items if i.id not in joined]


def _intents(items: list[KeywordItem]) -> dict[int, Intent]:
    return {i.id: classify_intent(i.text).intent for i in items if i.intent is None}


def _plan(existing: list[ExistingCluster], items: list[KeywordItem]) -> _Plan:
    """CPU-heavy: assign to existing clusters, cluster the rest, classify missing intents."""
    joined, rest = _assign(existing, items)
    result = cluster_keywords(rest) if rest else ClusterResult((), (), ())
    return _Plan(joined, result, _intents(items))


def _plan_embedded(items: list[KeywordItem], rest: list[KeywordItem], joined: dict[int, int],
                   vectors: tuple[tuple[float, ...], ...]) -> _Plan:
    """CPU-heavy: the local linkage over the provider's embeddings of `rest`."""
    by_id = {item.id: vector for item, vector in zip(rest, vectors, strict=True)}
    result = (cluster_keywords(rest, embeddings=by_id) if rest
              else ClusterResult((), (), ()))
    return _Plan(joined, result, _intents(items))


def _checked(result: ClusterResult, rest: list[KeywordItem]) -> ClusterResult:
    """A provider's clustering, limited to the keywords it was given, each in one place
    (an LLM may repeat, drop or invent keywords): a dropped one is reported unclustered."""
    allowed = {i.id for i in rest}
    seen: set[int] = set()
    clusters: list[Cluster] = []
    for c in result.clusters:
        kids = tuple(k for k in dict.fromkeys(c.keyword_ids) if k in allowed and k not in seen)
        seen.update(kids)
        if kids:
            clusters.append(Cluster(name=c.name, keyword_ids=kids, intent=c.intent,
                                    volume=c.volume, cohesion=c.cohesion))
    unclustered = [u for u in result.unclustered if u.keyword_id in allowed
                   and u.keyword_id not in seen]
    told = {u.keyword_id for u in unclustered}
    unclustered += [Unclustered(i, "no_match: the provider did not place it")
                    for i in sorted(allowed - seen - told)]
    return ClusterResult(tuple(clusters), tuple(unclustered), result.intents)


def _method(setup: ai_common.JobSetup, settings: Settings) -> Method:
    if not ai_common.is_llm(setup.config):
        return "local"
    assert setup.config is not None
    if settings.cluster_with_embeddings and setup.config.embedding_model:
        return "embeddings"
    return "llm"


async def run_auto_cluster(ctx: Any, job: Job, progress: Progress,
                           setup: ai_common.JobSetup) -> dict[str, Any]:
    store: Store = ctx.store
    settings: Settings = ctx.settings
    scope = Scope(account_id=job.account_id)
    sector_id = int(job.payload["sector_id"])
    site_id = int(job.payload["site_id"])
    ids = sorted({int(i) for i in job.payload["ids"]})
    await progress.update(phase="PREPARE", percentage=5,
                          message=f"Reading {len(ids)} keywords and the sector's clusters.")
    meter = ai_common.Meter(progress)
    async with store.read() as conn:
        sector_rows = await list_rows(
            conn, KEYWORDS, scope=scope, where=[keywords_table.c.sector_id == sector_id],
            order_by=[keywords_table.c.id])
        cluster_rows = await list_rows(
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
    method = _method(setup, settings)
    await meter.update(phase="CLUSTERING", percentage=20,
                       message=f"Clustering {len(items)} keywords against "
                               f"{len(existing)} existing clusters.")
    if method == "local":
        plan = await progress.run_cpu(_plan, existing, items)
    else:
        joined, rest = await progress.run_cpu(_assign, existing, items)
        if method == "embeddings":
            vectors: tuple[tuple[float, ...], ...] = ()
            if rest:
                vectors = await meter.call(
                    "embed", f"{len(rest)} keywords",
                    lambda: setup.provider.embed(tuple(i.text for i in rest)))
                if len(vectors) != len(rest):
                    raise ai_common.job_failure(ProviderError(
                        f"The provider returned {len(vectors)} embeddings for "
                        f"{len(rest)} keywords."))
            await meter.update(phase="CLUSTERING", percentage=50,
                               message=f"Clustering {len(rest)} keywords on embeddings.")
            plan = await progress.run_cpu(_plan_embedded, items, rest, joined, vectors)
        else:
            result = ClusterResult((), (), ())
            if rest:
                result = _checked(await meter.call(
                    "cluster", f"{len(rest)} keywords",
                    lambda: setup.provider.cluster(tuple(rest), setup.prompts)), rest)
            plan = _Plan(joined, result, await progress.run_cpu(_intents, items))
    await meter.update(phase="SAVING", percentage=80, message=(
        f"Saving {len(plan.result.clusters)} new clusters and "
        f"{len(plan.joined)} keywords joining existing ones."))
    previous = {int(r["id"]): r["cluster_id"] for r in targets}
    async with progress.final() as conn:
        result_out = await _save(conn, scope, site_id=site_id, sector_id=sector_id, plan=plan,
                                 previous=previous, unclustered=unclustered)
        result_out["kept_manual"] += kept_manual
        result_out["method"] = method
        await ai_common.settle(conn, job, operation=OPERATION, units_done=len(ids),
                               meter=meter, settings=settings)
        progress.result = result_out
    return result_out


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
    now_rows = {int(r["id"]): r for r in await rows_by_id(
        conn, KEYWORDS, sorted(previous), scope=scope,
        columns=("id", "sector_id", "cluster_id", "cluster_source", "intent"))}
    movable = {i for i, r in now_rows.items() if r["sector_id"] == sector_id and (
        r["cluster_id"] is None or r["cluster_source"] == "auto")}
    kept_manual = sum(1 for i in previous if i in now_rows and i not in movable
                      and now_rows[i]["sector_id"] == sector_id)
    for i in previous:
        if i not in now_rows or now_rows[i]["sector_id"] != sector_id:
            unclustered[i] = "gone: the keyword was deleted or moved"
    sector_clusters = await list_rows(conn, CLUSTERS, scope=scope,
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
            row = await insert_row(conn, CLUSTERS, {
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
        await update_many(conn, KEYWORDS, kids,
                          {"cluster_id": cid, "cluster_source": "auto"}, scope=scope)
    by_intent: dict[Intent, list[int]] = defaultdict(list)
    for k, intent in plan.intents.items():
        if k in now_rows and now_rows[k]["intent"] is None:
            by_intent[intent].append(k)
    for intent, kids in sorted(by_intent.items()):
        await update_many(conn, KEYWORDS, kids, {"intent": intent}, scope=scope)
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
    ai_common.register_ai_kind(registry, KIND, run_auto_cluster)
