"""`planner/clusters/auto_generate_ideas`: content ideas for a cluster, as a paid job.

The action: `{ids}` of at most `MAX_CLUSTERS` (the reference's 1) visible clusters (404 naming
the others), each with at least one keyword (400 otherwise). How many ideas a cluster gets
is `ideas_for(keywords)`: 1, plus one per 25 keywords, at most 3 — a setting-free rule, so a
100-keyword site gets about one idea per cluster and the free plan's credits cover the whole
pipeline (ideas, their articles, image prompts and images). The price is
`price("ideas", planned)`, charged up front with the job queued in one transaction
(`ai_common.submit_charged`; 402 when short, nothing queued).

The job (kind `auto_generate_ideas`, payload `{ids, plan: [[cluster_id, count]], credits,
units}`): reads each cluster and its keywords (name keyword first, then by volume), asks the
account's provider for `count` ideas (`provider.generate_ideas`, outside any transaction),
then in `progress.final()` writes every idea — status `new`, the cluster's site and sector,
its target keywords and outline (the ideas API's `{heading, level, points}` items:
`ai_common.outline_rows`) — and refunds what was charged for ideas not written: fewer
returned than planned, a title the cluster already has (a re-run of a deterministic
provider), or a cluster deleted while the job ran.

Result: `{ideas_created, idea_ids, skipped: [{cluster_id, title?, reason}], clusters}`.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from igny8d.ai.cluster import KeywordItem
from igny8d.ai.types import ClusterBrief, IdeaDraft
from igny8d.errors import ValidationFailed
from igny8d.permissions import Actor
from igny8d.schemas.planner_clusters import (
    CONTENT_STRUCTURES,
    CONTENT_TYPES,
    MAX_TARGET_KEYWORDS,
)
from igny8d.scope import Scope
from igny8d.services import ai_common
from igny8d.settings import Settings
from igny8d.store import accounts as accounts_store
from igny8d.store import clusters as clusters_store
from igny8d.store.clusters import CLUSTERS
from igny8d.store.engine import Store
from igny8d.store.ideas import IDEAS
from igny8d.store.keywords import KEYWORDS, keyword_norm
from igny8d.store.rows import list_rows, rows_by_id
from igny8d.store.schema import content_ideas
from igny8d.store.schema import keywords as keywords_table
from igny8d.store.writes import insert_row
from igny8d.vocab import Intent

if TYPE_CHECKING:
    from igny8d.jobs.executor import Progress
    from igny8d.jobs.registry import Job, JobRegistry

KIND = "auto_generate_ideas"
OPERATION = "ideas"
#: The reference: "max 1 cluster per batch".
MAX_CLUSTERS = 1
#: At most this many ideas for one cluster.
MAX_IDEAS = 3
#: A cluster gets one more idea per this many keywords.
KEYWORDS_PER_IDEA = 25


def ideas_for(keywords: int) -> int:
    """How many ideas a cluster of `keywords` keywords gets: 1 + one per 25, at most 3."""
    return max(1, min(MAX_IDEAS, 1 + keywords // KEYWORDS_PER_IDEA))


# -- the action ----------------------------------------------------------------------------------

async def auto_generate_ideas(deps: ai_common.AIDeps, actor: Actor, *,
                              ids: Sequence[int]) -> dict[str, Any]:
    """Validate, price, charge and queue; `{task_id}` (the handler answers 202)."""
    wanted = ai_common.distinct_ids(ids, cap=MAX_CLUSTERS, noun="cluster")
    async with deps.store.begin() as conn:
        rows = await ai_common.require_rows(conn, CLUSTERS, wanted, scope=actor.scope,
                                            columns=("id", "name"))
        stats = await clusters_store.keyword_stats(conn, wanted)
        empty = [cid for cid in wanted if stats.get(cid, (0, 0))[0] == 0]
        if empty:
            raise ValidationFailed(errors={"ids": [
                f"These clusters have no keywords: {ai_common.shown(empty)}."]})
        plan = [[cid, ideas_for(stats[cid][0])] for cid in wanted]
        planned = sum(n for _cid, n in plan)
        names = ", ".join(str(rows[cid]["name"]) for cid in wanted)
        return await ai_common.submit_charged(
            conn, deps, actor, kind=KIND, operation=OPERATION, units=planned,
            payload={"ids": wanted, "plan": plan},
            description=f"Ideas for {names}")


# -- the job ------------------------------------------------------------------------------------

def _dominant_intent(items: Sequence[KeywordItem]) -> Intent | None:
    """The intent most of the cluster's volume has (None when no keyword has one)."""
    weight: Counter[Intent] = Counter()
    for item in items:
        if item.intent is not None:
            weight[item.intent] += max(1, item.volume)
    if not weight:
        return None
    return sorted(weight.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]


def cluster_brief(cluster: dict[str, Any], keywords: Sequence[dict[str, Any]]) -> ClusterBrief:
    """The provider's view of a cluster: the keyword naming it first, then by volume."""
    name = keyword_norm(str(cluster["name"]))
    items = [KeywordItem(id=int(k["id"]), text=str(k["keyword"]), volume=int(k["volume"] or 0),
                         intent=k["intent"]) for k in keywords]
    items.sort(key=lambda i: (keyword_norm(i.text) != name, -i.volume, i.text, i.id))
    return ClusterBrief(cluster_id=int(cluster["id"]), name=str(cluster["name"]),
                        keywords=tuple(items), description=str(cluster["description"] or ""),
                        intent=_dominant_intent(items))


def idea_row(draft: IdeaDraft, cluster: dict[str, Any]) -> dict[str, Any]:
    """An idea as the `content_ideas` row takes it, within the ideas API's limits."""
    keywords = [k for k in dict.fromkeys(" ".join(t.split()) for t in draft.target_keywords)
                if k][:MAX_TARGET_KEYWORDS]
    return {
        "account_id": cluster["account_id"], "site_id": cluster["site_id"],
        "sector_id": cluster["sector_id"], "cluster_id": cluster["id"],
        "title": " ".join(draft.title.split())[:255] or str(cluster["name"])[:255],
        "description": draft.description[:20000],
        "content_type": draft.content_type if draft.content_type in CONTENT_TYPES
        else "blog_post",
        "content_structure": draft.content_structure
        if draft.content_structure in CONTENT_STRUCTURES else "guide",
        "target_keywords": [k[:255] for k in keywords],
        "outline": ai_common.outline_rows(draft.outline),
        "estimated_word_count": max(100, min(20000, int(draft.estimated_word_count or 1500))),
        "status": "new",
    }


async def run_auto_generate_ideas(ctx: Any, job: Job, progress: Progress,
                                  setup: ai_common.JobSetup) -> dict[str, Any]:
    store: Store = ctx.store
    settings: Settings = ctx.settings
    scope = Scope(account_id=job.account_id)
    plan = {int(cid): int(n) for cid, n in job.payload["plan"]}
    ids = sorted(plan)
    meter = ai_common.Meter(progress)
    await meter.update(phase="PREPARE", percentage=5,
                       message=f"Reading {len(ids)} cluster(s) and their keywords.")
    async with store.read() as conn:
        clusters = {int(r["id"]): r for r in await rows_by_id(
            conn, CLUSTERS, ids, scope=scope)}
        keywords = await list_rows(
            conn, KEYWORDS, scope=scope, where=[keywords_table.c.cluster_id.in_(ids)],
            order_by=[keywords_table.c.id])
    by_cluster: dict[int, list[dict[str, Any]]] = {cid: [] for cid in ids}
    for k in keywords:
        by_cluster[int(k["cluster_id"])].append(k)

    skipped: list[dict[str, Any]] = []
    drafts: dict[int, Sequence[IdeaDraft]] = {}
    for n, cid in enumerate(ids):
        cluster = clusters.get(cid)
        if cluster is None or not by_cluster[cid]:
            skipped.append({"cluster_id": cid, "reason": "gone: the cluster was deleted"
                            if cluster is None else "empty: the cluster has no keywords"})
            continue
        brief = cluster_brief(cluster, by_cluster[cid])
        await meter.update(phase="AI_CALL", percentage=10 + 75 * n / len(ids),
                           message=f"Writing {plan[cid]} idea(s) for '{brief.name}' "
                                   f"({n + 1}/{len(ids)}).")
        count = plan[cid]
        got = await meter.call("generate_ideas", brief.name, functools.partial(
            setup.provider.generate_ideas, brief, setup.prompts, count=count))
        drafts[cid] = tuple(got)[:count]
    await meter.update(phase="SAVING", percentage=90, message=(
        f"Saving {sum(len(d) for d in drafts.values())} idea(s)."))

    async with progress.final() as conn:
        await accounts_store.lock_account(conn, job.account_id)
        live = {int(r["id"]): r for r in await rows_by_id(
            conn, CLUSTERS, sorted(drafts), scope=scope)}
        titles: dict[int, set[str]] = {cid: set() for cid in live}
        if live:
            for idea in await list_rows(
                    conn, IDEAS, scope=scope, where=[content_ideas.c.cluster_id.in_(sorted(live))]):
                titles[int(idea["cluster_id"])].add(keyword_norm(str(idea["title"])))
        created: list[int] = []
        for cid, cluster_drafts in sorted(drafts.items()):
            if cid not in live:
                skipped.append({"cluster_id": cid, "reason": "gone: the cluster was deleted"})
                continue
            for draft in cluster_drafts:
                row = idea_row(draft, live[cid])
                title = keyword_norm(row["title"])
                if title in titles[cid]:
                    skipped.append({"cluster_id": cid, "title": row["title"],
                                    "reason": "duplicate: the cluster has an idea with this "
                                              "title"})
                    continue
                titles[cid].add(title)
                created.append(int((await insert_row(conn, IDEAS, row))["id"]))
            short = plan[cid] - len(cluster_drafts)
            if short > 0:
                skipped.append({"cluster_id": cid, "reason": (
                    f"short: the provider gave {len(cluster_drafts)} of {plan[cid]} ideas")})
        await ai_common.settle(conn, job, operation=OPERATION, units_done=len(created),
                               meter=meter, settings=settings,
                               description="Refund: ideas not written")
        result = {"ideas_created": len(created), "idea_ids": created, "skipped": skipped,
                  "clusters": len(ids)}
        progress.result = result
    return result


def register(registry: JobRegistry) -> None:
    ai_common.register_ai_kind(registry, KIND, run_auto_generate_ideas)
