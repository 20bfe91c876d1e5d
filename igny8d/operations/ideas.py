"""`planner/clusters/auto_generate_ideas`: content ideas for a cluster, as a paid job.

**admit**: `{ids}` of at most `MAX_CLUSTERS` (the reference's 1) visible clusters (404 naming
the others), each with at least one keyword (400 otherwise). The extension `{sector_id,
all_without_ideas: true}` takes instead every cluster of the sector that has keywords and
neither ideas nor a queued ideas job (at most `MAX_SECTOR_CLUSTERS`; 400 when there is none).
How many ideas a cluster gets is
`ideas_for(keywords)`: 1, plus one per 25 keywords, at most 3 — so a 100-keyword site gets
about one idea per cluster and the free plan's credits cover the whole pipeline. Price:
`price("ideas", planned)`.

**read**: each cluster and its keywords. **compute**: `count` ideas per cluster from the
account's provider (`provider.generate_ideas`; the keyword naming the cluster first, then by
volume). **save**: every idea — status `new`, the cluster's site and sector, its target
keywords and outline (the ideas API's `{heading, level, points}` items: `outline_rows`) — and
a refund for ideas not written: fewer returned than planned, a title the cluster already has
(a re-run of a deterministic provider), or a cluster deleted while the job ran.

Result: `{ideas_created, idea_ids, skipped: [{cluster_id, title?, reason}], clusters}`.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.ai.cluster import KeywordItem
from igny8d.ai.types import ClusterBrief, IdeaDraft, OutlineSection, ProviderError
from igny8d.errors import ValidationFailed
from igny8d.operations import lifecycle
from igny8d.operations.lifecycle import Admission, JobContext, Operation, Saved
from igny8d.permissions import Actor
from igny8d.schemas.ai import AutoGenerateIdeasBody
from igny8d.settings import Settings
from igny8d.store import accounts as accounts_store
from igny8d.store import clusters as cluster_store
from igny8d.store import ideas as idea_store
from igny8d.store import jobs as job_store
from igny8d.store import keywords as keyword_store
from igny8d.store.clusters import CLUSTERS
from igny8d.store.errors import RowNotFound
from igny8d.store.ideas import IDEAS
from igny8d.store.keywords import keyword_norm
from igny8d.store.rows import rows_by_id
from igny8d.store.sectors import SECTORS
from igny8d.store.writes import insert_row
from igny8d.vocab import CONTENT_STRUCTURES, CONTENT_TYPES, MAX_TARGET_KEYWORDS, Intent

KIND = "auto_generate_ideas"
#: The reference: "max 1 cluster per batch".
MAX_CLUSTERS = 1
#: The extension (`all_without_ideas`): at most this many clusters in one job.
MAX_SECTOR_CLUSTERS = 500
#: At most this many ideas for one cluster.
MAX_IDEAS = 3
#: A cluster gets one more idea per this many keywords.
KEYWORDS_PER_IDEA = 25
#: The ideas API's outline limits (schemas/planner_clusters.py): items, points.
OUTLINE_ITEMS = 100
OUTLINE_POINTS = 50


def ideas_for(keywords: int) -> int:
    """How many ideas a cluster of `keywords` keywords gets: 1 + one per 25, at most 3."""
    return max(1, min(MAX_IDEAS, 1 + keywords // KEYWORDS_PER_IDEA))


# -- admit ---------------------------------------------------------------------------------------


async def admit(conn: AsyncConnection, settings: Settings, actor: Actor,
                body: AutoGenerateIdeasBody) -> Admission:
    if body.all_without_ideas:
        return await _admit_sector(conn, actor, body)
    assert body.ids is not None  # the body's validator
    wanted = lifecycle.distinct_ids(body.ids, cap=MAX_CLUSTERS, noun="cluster")
    rows = await lifecycle.require_rows(conn, CLUSTERS, wanted, scope=actor.scope,
                                        columns=("id", "name"))
    stats = await cluster_store.keyword_stats(conn, wanted)
    empty = [cid for cid in wanted if stats.get(cid, (0, 0))[0] == 0]
    if empty:
        raise ValidationFailed(errors={"ids": [
            f"These clusters have no keywords: {lifecycle.shown(empty)}."]})
    plan = [[cid, ideas_for(stats[cid][0])] for cid in wanted]
    names = ", ".join(str(rows[cid]["name"]) for cid in wanted)
    return Admission(units=sum(n for _cid, n in plan), payload={"ids": wanted, "plan": plan},
                     description=f"Ideas for {names}")


async def _admit_sector(conn: AsyncConnection, actor: Actor,
                        body: AutoGenerateIdeasBody) -> Admission:
    """The extension: every cluster of the sector with keywords, no idea and no queued or
    running ideas job, at most `MAX_SECTOR_CLUSTERS` (the oldest; call again for the rest).

    The account row is locked first (the lock `lifecycle.queue_in` takes next anyway), so two
    such calls of one account admit one after the other and the second leaves out the
    clusters the first queued: no cluster is paid for twice."""
    assert body.sector_id is not None  # the body's validator
    if not await rows_by_id(conn, SECTORS, [body.sector_id], scope=actor.scope,
                            columns=("id",)):
        raise RowNotFound("Not found: sector.", field="sector_id")
    await accounts_store.lock_account(conn, actor.account_id)
    queued = {int(cid) for p in await job_store.active_payloads(conn, actor.account_id, KIND)
              for cid in p.get("ids", ())}
    wanted = await cluster_store.without_ideas(conn, body.sector_id, scope=actor.scope,
                                               exclude=queued, limit=MAX_SECTOR_CLUSTERS)
    if not wanted:
        raise ValidationFailed(errors={"sector_id": [
            "No cluster of this sector is without ideas (clusters without keywords, and "
            "those with ideas queued, are left out)."]})
    stats = await cluster_store.keyword_stats(conn, wanted)
    plan = [[cid, ideas_for(stats[cid][0])] for cid in wanted]
    return Admission(units=sum(n for _cid, n in plan), payload={"ids": wanted, "plan": plan},
                     description=f"Ideas for {len(wanted)} cluster(s) of sector "
                                 f"{body.sector_id} without ideas")


# -- read ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Work:
    #: cluster id → how many ideas were paid for
    plan: dict[int, int]
    clusters: dict[int, dict[str, Any]]
    keywords: dict[int, list[dict[str, Any]]]


def _plan(jc: JobContext) -> dict[int, int]:
    return {int(cid): int(n) for cid, n in jc.payload["plan"]}


def reading(jc: JobContext) -> str:
    return f"Reading {len(_plan(jc))} cluster(s) and their keywords."


async def read(conn: AsyncConnection, jc: JobContext) -> Work:
    plan = _plan(jc)
    ids = sorted(plan)
    clusters = {int(r["id"]): r for r in await rows_by_id(conn, CLUSTERS, ids, scope=jc.scope)}
    keywords: dict[int, list[dict[str, Any]]] = {cid: [] for cid in ids}
    for k in await keyword_store.of_clusters(conn, ids, scope=jc.scope):
        keywords[int(k["cluster_id"])].append(k)
    return Work(plan=plan, clusters=clusters, keywords=keywords)


# -- compute -------------------------------------------------------------------------------------


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


@dataclass(frozen=True, slots=True)
class Drafts:
    plan: dict[int, int]
    #: cluster id → the provider's ideas (at most what was paid for)
    drafts: dict[int, tuple[IdeaDraft, ...]]
    skipped: list[dict[str, Any]]


async def compute(jc: JobContext, work: Work) -> Drafts:
    ids = sorted(work.plan)
    skipped: list[dict[str, Any]] = []
    drafts: dict[int, tuple[IdeaDraft, ...]] = {}
    for n, cid in enumerate(ids):
        cluster = work.clusters.get(cid)
        if cluster is None or not work.keywords[cid]:
            skipped.append({"cluster_id": cid, "reason": "gone: the cluster was deleted"
                            if cluster is None else "empty: the cluster has no keywords"})
            continue
        brief = cluster_brief(cluster, work.keywords[cid])
        count = work.plan[cid]
        await jc.update(phase="AI_CALL", percentage=10 + 75 * n / len(ids),
                        message=f"Writing {count} idea(s) for '{brief.name}' "
                                f"({n + 1}/{len(ids)}).")
        got = await jc.call("generate_ideas", brief.name, functools.partial(
            jc.provider.generate_ideas, brief, jc.prompts, count=count))
        if not got:  # an answer without ideas does not do the job: fail, refund
            raise lifecycle.job_failure(ProviderError(
                f"The AI provider answered no ideas for '{brief.name}'."))
        drafts[cid] = tuple(got)[:count]
    await jc.update(phase="SAVING", percentage=90, message=(
        f"Saving {sum(len(d) for d in drafts.values())} idea(s)."))
    return Drafts(plan=work.plan, drafts=drafts, skipped=skipped)


# -- save ----------------------------------------------------------------------------------------


def outline_rows(sections: Sequence[OutlineSection]) -> list[dict[str, Any]]:
    """A provider's outline in the shape ideas store and the API shows: a flat list of
    `{heading, level, points}` — each section an H2 whose points are the keywords it
    covers, followed by its H3s — within the API's limits."""
    out: list[dict[str, Any]] = []
    for section in sections:
        heading = " ".join(section.heading.split())[:255]
        if not heading:
            continue
        points = [p[:1000] for p in (" ".join(k.split()) for k in section.keywords) if p]
        out.append({"heading": heading, "level": 2,
                    "points": list(dict.fromkeys(points))[:OUTLINE_POINTS]})
        for sub in section.subheadings:
            text = " ".join(sub.split())[:255]
            if text:
                out.append({"heading": text, "level": 3, "points": []})
    return out[:OUTLINE_ITEMS]


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
        "outline": outline_rows(draft.outline),
        "estimated_word_count": max(100, min(20000, int(draft.estimated_word_count or 1500))),
        "status": "new",
    }


async def save(conn: AsyncConnection, jc: JobContext, out: Drafts) -> Saved:
    scope = jc.scope
    skipped = list(out.skipped)
    live = {int(r["id"]): r for r in await rows_by_id(
        conn, CLUSTERS, sorted(out.drafts), scope=scope)}
    titles: dict[int, set[str]] = {cid: set() for cid in live}
    for idea in await idea_store.of_clusters(conn, sorted(live), scope=scope):
        titles[int(idea["cluster_id"])].add(keyword_norm(str(idea["title"])))
    created: list[int] = []
    for cid, cluster_drafts in sorted(out.drafts.items()):
        if cid not in live:
            skipped.append({"cluster_id": cid, "reason": "gone: the cluster was deleted"})
            continue
        for draft in cluster_drafts:
            row = idea_row(draft, live[cid])
            title = keyword_norm(row["title"])
            if title in titles[cid]:
                skipped.append({"cluster_id": cid, "title": row["title"],
                                "reason": "duplicate: the cluster has an idea with this title"})
                continue
            titles[cid].add(title)
            created.append(int((await insert_row(conn, IDEAS, row))["id"]))
        short = out.plan[cid] - len(cluster_drafts)
        if short > 0:
            skipped.append({"cluster_id": cid, "reason": (
                f"short: the provider gave {len(cluster_drafts)} of {out.plan[cid]} ideas")})
    return Saved(units_done=len(created), refund_note="Refund: ideas not written", result={
        "ideas_created": len(created), "idea_ids": created, "skipped": skipped,
        "clusters": len(out.plan)})


OPERATION: Operation[AutoGenerateIdeasBody, Work, Drafts] = Operation(
    kind=KIND, price="ideas", admit=admit, reading=reading, read=read, compute=compute,
    save=save)
