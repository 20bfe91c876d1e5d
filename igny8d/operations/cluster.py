"""`planner/keywords/auto_cluster`: keywords of one sector grouped into clusters, as a paid job.

**admit**: every id a keyword the caller can see (404 naming the others) in the named sector
(400 otherwise); at most the provider's `max_cluster_ids` (the reference's 20) when an LLM
groups them, `local_cluster_max_ids` otherwise (local and embeddings clustering are no LLM
call). Price:
`price("clustering", n)` for the n distinct ids.

**read**: the sector's keywords and clusters. A keyword placed by hand (`cluster_source =
"manual"`), or in a cluster by some other way than auto clustering, stays where it is; one
placed by auto clustering is clustered again.

**compute**: the keywords first go to the sector's existing clusters they fit
(`assign_to_existing`), the rest are clustered among themselves: by the local algorithms
(`cluster_locally`); with an OpenAI-compatible provider by `provider.cluster` (the account's
`clustering` prompt) or — with the `cluster_with_embeddings` setting and a provider that
offers embeddings, or the local provider with `embedding_model_path` (in-process
sentence-transformers) — on embeddings: one `embed` call for the new keywords and a sample of
each existing cluster's keywords; a keyword joins the existing cluster whose sampled keywords
are closest on average by the clustering's similarity (cosine, lexical bonus, other-page
penalty; ≥ the model's threshold, `Settings.embedding_threshold_for`),
the rest are clustered by the local linkage (`embedding_linkage`) over their vectors
(`cluster_on_vectors`). Vectors that are missing, extra, not finite or of mixed dimensions
fail the job (refunded, nothing written): the provider's `embed` checks them. Every keyword
ends in a cluster: one that fits nowhere (or that a provider left out) gets a cluster of its
own, named after it (`place_leftovers`). Keywords without an intent get the classifier's.

**save**: new clusters are created — a name the sector already has (ignoring case and spacing)
joins that cluster — within the plan's `max_clusters`; keywords get `cluster_id` and
`cluster_source = "auto"`. Keywords placed by hand while the job ran are left alone. Every id
is charged.

Result: `{clusters_created, clusters_joined, keywords_clustered, single_keyword_clusters,
unclustered: [{id, reason}] (at most UNCLUSTERED_SHOWN), unclustered_count, intents_set,
kept_manual, method}` (`method`: local, llm or embeddings). `single_keyword_clusters` counts the
clusters this job created with a single keyword. `unclustered` is empty unless the server
could not place a keyword for a stated reason: `plan_limit` (the plan's `max_clusters` is
reached; a re-clustered keyword then keeps the cluster it had), `empty` (nothing left after
normalisation) or `gone` (deleted or moved while the job ran).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.ai import (
    ClusterResult,
    ExistingCluster,
    KeywordItem,
    assign_to_existing,
    cluster_keywords,
)
from igny8d.ai.cluster import (
    EMBEDDING_THRESHOLD,
    Cluster,
    Linkage,
    Unclustered,
    learned,
    place_leftovers,
)
from igny8d.ai.cluster import intent_model as intent_models
from igny8d.ai.cluster.intent_model import IntentModel
from igny8d.ai.cluster.learned import PairModel
from igny8d.ai.intent import classify_analysis, request_names
from igny8d.ai.providers import provider_for
from igny8d.ai.text import analyse
from igny8d.ai.types import ProviderConfig, ProviderError
from igny8d.errors import ValidationFailed
from igny8d.operations import lifecycle
from igny8d.operations.lifecycle import Admission, JobContext, Operation, Saved
from igny8d.permissions import Actor
from igny8d.schemas.ai import AutoClusterBody
from igny8d.services.integrations import provider_config
from igny8d.settings import Settings
from igny8d.store import accounts as accounts_store
from igny8d.store import clusters as cluster_store
from igny8d.store import keywords as keyword_store
from igny8d.store.clusters import CLUSTERS
from igny8d.store.errors import RowNotFound
from igny8d.store.keywords import KEYWORDS, keyword_norm
from igny8d.store.rows import require_visible, rows_by_id
from igny8d.store.sectors import SECTORS
from igny8d.store.writes import insert_row, update_many
from igny8d.vocab import Intent

KIND = "auto_cluster"
#: unclustered keywords listed in the result (the count is always complete)
UNCLUSTERED_SHOWN = 200
#: keywords of an existing cluster embedded to match new ones against it (its biggest)
EXISTING_SAMPLE = 20

Method = Literal["local", "llm", "embeddings"]


# -- admit ---------------------------------------------------------------------------------------


async def admit(conn: AsyncConnection, settings: Settings, actor: Actor,
                body: AutoClusterBody) -> Admission:
    config = await provider_config(conn, actor.account_id, settings)
    # the embeddings path is the local linkage over vectors, not an LLM call: the local cap
    cap = (provider_for(config, settings).max_cluster_ids
           if method_of(config, settings) == "llm" else settings.local_cluster_max_ids)
    wanted = lifecycle.distinct_ids(body.ids, cap=cap, noun="keyword")
    found = await rows_by_id(conn, KEYWORDS, wanted, scope=actor.scope,
                             columns=("id", "sector_id", "site_id"))
    missing = sorted(set(wanted) - {int(r["id"]) for r in found})
    if missing:
        raise RowNotFound(f"Not found: {lifecycle.shown(missing)}.", field="ids")
    sector = await require_visible(conn, SECTORS, body.sector_id, scope=actor.scope,
                                   field="sector_id")
    other = sorted(int(r["id"]) for r in found if r["sector_id"] != sector["id"])
    if other:
        raise ValidationFailed(errors={"ids": [
            f"These keywords are not in sector {body.sector_id}: "
            f"{lifecycle.shown(other)}."]})
    return Admission(units=len(wanted), description=f"Auto cluster {len(wanted)} keywords",
                     payload={"ids": wanted, "sector_id": int(sector["id"]),
                              "site_id": int(sector["site_id"])})


# -- read ----------------------------------------------------------------------------------------


@dataclass
class Work:
    """The keywords to place and the sector's clusters with their other keywords."""

    ids: list[int]
    targets: list[dict[str, Any]]
    existing: list[ExistingCluster]
    kept_manual: int
    #: keyword id → why it is not clustered (deleted or moved since the action)
    unclustered: dict[int, str] = field(default_factory=dict)


def reading(jc: JobContext) -> str:
    return f"Reading {len(jc.payload['ids'])} keywords and the sector's clusters."


def _item(row: dict[str, Any]) -> KeywordItem:
    return KeywordItem(id=int(row["id"]), text=str(row["keyword"]), volume=int(row["volume"] or 0),
                       intent=row["intent"])


async def read(conn: AsyncConnection, jc: JobContext) -> Work:
    sector_id = int(jc.payload["sector_id"])
    ids = sorted({int(i) for i in jc.payload["ids"]})
    sector_rows = await keyword_store.of_sector(conn, sector_id, scope=jc.scope)
    cluster_rows = await cluster_store.of_sector(conn, sector_id, scope=jc.scope)
    by_id = {int(r["id"]): r for r in sector_rows}
    work = Work(ids=ids, targets=[], existing=[], kept_manual=0, unclustered={
        i: "gone: the keyword was deleted or moved" for i in ids if i not in by_id})
    for i in ids:
        row = by_id.get(i)
        if row is None:
            continue
        if row["cluster_id"] is not None and row["cluster_source"] != "auto":
            work.kept_manual += 1
            continue
        work.targets.append(row)
    moving = {int(r["id"]) for r in work.targets}
    members: dict[int, list[KeywordItem]] = defaultdict(list)
    for r in sector_rows:
        if r["cluster_id"] is not None and int(r["id"]) not in moving:
            members[int(r["cluster_id"])].append(_item(r))
    work.existing = [ExistingCluster(name=c["name"], id=int(c["id"]),
                                     keywords=tuple(members.get(int(c["id"]), ())))
                     for c in cluster_rows]
    return work


# -- compute -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Plan:
    work: Work
    method: Method
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


def intents_to_store(items: list[KeywordItem],
                     embeddings: dict[int, tuple[float, ...]] | None = None,
                     intent_model: IntentModel | None = None) -> dict[int, Intent]:
    """The intents auto_cluster stores for keywords that have none: each read with the
    names the whole request shows (`intent.request_names`), and with an `intent_model` from
    its vector in `embeddings` as well (as `cluster_keywords` reports them)."""
    analyses = {i.id: analyse(i.text) for i in items}
    names = request_names(analyses.values())
    guessed = [i for i in items if i.intent is None]
    rules = [classify_analysis(analyses[i.id], names) for i in guessed]
    if intent_model is not None and embeddings is not None:
        rules = intent_model.read(rules, [embeddings[i.id] for i in guessed])
    return {i.id: r.intent for i, r in zip(guessed, rules, strict=True)}


def cluster_locally(existing: list[ExistingCluster], items: list[KeywordItem]
           ) -> tuple[dict[int, int], ClusterResult, dict[int, Intent]]:
    """CPU-heavy: assign to existing clusters, cluster the rest, classify missing intents."""
    joined, rest = _assign(existing, items)
    result = cluster_keywords(rest) if rest else ClusterResult((), (), ())
    return joined, place_leftovers(result, rest), intents_to_store(items)


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


def method_of(config: ProviderConfig | None, settings: Settings) -> Method:
    """How auto_cluster clusters for this configuration (see the module doc)."""
    if not lifecycle.is_llm(config):
        return "embeddings" if settings.embedding_model_path else "local"
    assert config is not None
    if settings.cluster_with_embeddings and config.embedding_model:
        return "embeddings"
    return "llm"


def embedding_model(jc: JobContext) -> str | None:
    """The model whose vectors cluster the keywords (its threshold is looked up by it)."""
    if jc.config is not None and lifecycle.is_llm(jc.config):
        return jc.config.embedding_model
    return jc.settings.embedding_model_path


def _texts(existing: list[ExistingCluster], items: list[KeywordItem]
           ) -> tuple[list[str], dict[int, str]]:
    """The distinct texts to embed, and the text of each id: the new keywords, a sample of each
    existing cluster's keywords (its EXISTING_SAMPLE biggest by volume; the rest are left out
    of its average) and the name of each cluster without keywords, by the id -(position + 1)
    that `assign_to_existing` gives it."""
    of: dict[int, str] = {i.id: i.text for i in items}
    for n, cluster in enumerate(existing):
        if not cluster.keywords:
            of[-(n + 1)] = cluster.name
        for k in sorted(cluster.keywords, key=lambda k: (-k.volume, k.text, k.id)
                        )[:EXISTING_SAMPLE]:
            of[k.id] = k.text
    return list(dict.fromkeys(of.values())), of


def pair_model_for(settings: Settings, model: str | None) -> PairModel | None:
    """The learned pair model that clusters this embedding model's vectors: the shipped one
    fitted on this model (`learned.shipped_for`: all-MiniLM-L6-v2, all-mpnet-base-v2) when
    `embedding_pair_model` is on and the operator set no threshold of their own for it (one
    named in `embedding_thresholds`, or an `embedding_threshold` other than the default); else
    None, the cosine threshold."""
    pair_model = learned.shipped_for(model)
    if (not settings.embedding_pair_model or pair_model is None
            or settings.embedding_threshold_named(model) is not None
            or settings.embedding_threshold != EMBEDDING_THRESHOLD):
        return None
    return pair_model


def intent_model_for(settings: Settings, model: str | None) -> IntentModel | None:
    """The learned intent model that reads this embedding model's vectors
    (`intent_model.shipped_for`: all-MiniLM-L6-v2, all-mpnet-base-v2) when
    `embedding_intent_model` is on; else None, the rules' intents."""
    return intent_models.shipped_for(model) if settings.embedding_intent_model else None


def cluster_on_vectors(existing: list[ExistingCluster], items: list[KeywordItem],
                       embeddings: dict[int, tuple[float, ...]], threshold: float,
                       linkage: Linkage, pair_model: PairModel | None = None,
                       intent_model: IntentModel | None = None
                       ) -> tuple[dict[int, int], ClusterResult, dict[int, Intent]]:
    """CPU-heavy: the keywords join existing clusters by their vectors (the clustering's
    similarity averaged over the cluster's sampled keywords ≥ threshold, or `pair_model`'s
    mean probability ≥ its `join_threshold`), the rest are clustered on their vectors and
    words (`cluster_keywords` with `embeddings`: the larger of cosine and lexical similarity at
    `threshold`, or `pair_model`'s probabilities); intents by the rules, and `intent_model`
    when given."""
    joined: dict[int, int] = {}
    rest = list(items)
    if existing and items:
        assigned = assign_to_existing(existing, items, embeddings=embeddings,
                                      threshold=threshold, pair_model=pair_model)
        joined = {a.keyword_id: int(a.cluster_id) for a in assigned.assigned
                  if a.cluster_id is not None}
        rest = [i for i in items if i.id not in joined]
    result = cluster_keywords(rest, embeddings=embeddings, threshold=threshold,
                              linkage=linkage, pair_model=pair_model,
                              intent_model=intent_model) if rest else ClusterResult((), (), ())
    return (joined, place_leftovers(result, rest),
            intents_to_store(items, embeddings, intent_model))


async def _by_embeddings(jc: JobContext, work: Work, items: list[KeywordItem]
                         ) -> tuple[dict[int, int], ClusterResult, dict[int, Intent]]:
    if not items:
        return {}, ClusterResult((), (), ()), {}
    texts, text_of = _texts(work.existing, items)
    vectors = await jc.call("embed", f"{len(texts)} texts ({len(items)} keywords)",
                            lambda: jc.provider.embed(tuple(texts)))
    by_text = dict(zip(texts, vectors, strict=True))
    embeddings = {i: by_text[t] for i, t in text_of.items()}
    model = embedding_model(jc)
    threshold = jc.settings.embedding_threshold_for(model)
    pair_model = pair_model_for(jc.settings, model)
    intent_model = intent_model_for(jc.settings, model)
    how = f"threshold {threshold:.2f}" if pair_model is None else \
        f"learned pair model, P ≥ {pair_model.threshold:.2f}"
    if pair_model is not None and pair_model.join_threshold is not None and work.existing:
        how += f"; joining existing clusters at mean P ≥ {pair_model.join_threshold:.2f}"
    if intent_model is not None:
        how += "; intents read from the vectors as well as the words"
    await jc.update(phase="CLUSTERING", percentage=50,
                    message=f"Clustering {len(items)} keywords on embeddings ({model}, {how}).")
    return await jc.run_cpu(cluster_on_vectors, work.existing, items, embeddings, threshold,
                            jc.settings.embedding_linkage, pair_model, intent_model)


async def compute(jc: JobContext, work: Work) -> Plan:
    items = [_item(r) for r in work.targets]
    method = method_of(jc.config, jc.settings)
    await jc.update(phase="CLUSTERING", percentage=20,
                    message=f"Clustering {len(items)} keywords against "
                            f"{len(work.existing)} existing clusters.")
    if method == "local":
        joined, result, intents = await jc.run_cpu(cluster_locally, work.existing, items)
    elif method == "embeddings":
        joined, result, intents = await _by_embeddings(jc, work, items)
    else:
        joined, rest = await jc.run_cpu(_assign, work.existing, items)
        result = ClusterResult((), (), ())
        if rest:
            result = _checked(await jc.call(
                "cluster", f"{len(rest)} keywords",
                lambda: jc.provider.cluster(tuple(rest), jc.prompts)), rest)
            if not result.clusters:  # nothing clustered is no clustering: fail, refund
                raise lifecycle.job_failure(ProviderError(
                    f"The AI provider placed none of the {len(rest)} keywords in a "
                    "cluster."))
            result = place_leftovers(result, rest)
        intents = await jc.run_cpu(intents_to_store, items)
    await jc.update(phase="SAVING", percentage=80, message=(
        f"Saving {len(result.clusters)} new clusters and "
        f"{len(joined)} keywords joining existing ones."))
    return Plan(work=work, method=method, joined=joined, result=result, intents=intents)


# -- save ----------------------------------------------------------------------------------------


async def save(conn: AsyncConnection, jc: JobContext, plan: Plan) -> Saved:
    """Write the plan, re-reading under the account lock what may have changed meanwhile."""
    scope, account = jc.scope, jc.account
    account_id = jc.job.account_id
    sector_id, site_id = int(jc.payload["sector_id"]), int(jc.payload["site_id"])
    previous = {int(r["id"]): r["cluster_id"] for r in plan.work.targets}
    unclustered = dict(plan.work.unclustered)
    now_rows = {int(r["id"]): r for r in await rows_by_id(
        conn, KEYWORDS, sorted(previous), scope=scope,
        columns=("id", "sector_id", "cluster_id", "cluster_source", "intent"))}
    movable = {i for i, r in now_rows.items() if r["sector_id"] == sector_id and (
        r["cluster_id"] is None or r["cluster_source"] == "auto")}
    kept_manual = plan.work.kept_manual + sum(
        1 for i in previous if i in now_rows and i not in movable
        and now_rows[i]["sector_id"] == sector_id)
    for i in previous:
        if i not in now_rows or now_rows[i]["sector_id"] != sector_id:
            unclustered[i] = "gone: the keyword was deleted or moved"
    sector_clusters = await cluster_store.of_sector(conn, sector_id, scope=scope)
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
    created = joined = singles = 0
    for cluster in plan.result.clusters:
        kids = [k for k in cluster.keyword_ids if k in movable]
        if not kids:
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
            singles += len(kids) == 1
        else:
            joined += 1
        for k in kids:
            target[k] = found
    for u in plan.result.unclustered:
        if u.keyword_id in movable:
            unclustered[u.keyword_id] = u.reason
    # a re-clustered keyword the plan limit left out keeps the cluster it had
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
        await update_many(conn, KEYWORDS, kids, {"cluster_id": cid, "cluster_source": "auto"},
                          scope=scope)
    by_intent: dict[Intent, list[int]] = defaultdict(list)
    for k, intent in plan.intents.items():
        if k in now_rows and now_rows[k]["intent"] is None:
            by_intent[intent].append(k)
    for intent, kids in sorted(by_intent.items()):
        await update_many(conn, KEYWORDS, kids, {"intent": intent}, scope=scope)
    listed = sorted(unclustered.items())
    return Saved(units_done=len(plan.work.ids), result={
        "clusters_created": created, "clusters_joined": joined,
        "keywords_clustered": len(target), "single_keyword_clusters": singles,
        "unclustered": [{"id": k, "reason": r} for k, r in listed[:UNCLUSTERED_SHOWN]],
        "unclustered_count": len(listed),
        "intents_set": sum(len(v) for v in by_intent.values()),
        "kept_manual": kept_manual, "method": plan.method,
    })


OPERATION: Operation[AutoClusterBody, Work, Plan] = Operation(
    kind=KIND, price="clustering", admit=admit, reading=reading, read=read, compute=compute,
    save=save)
