"""Groups made elsewhere (an LLM's answer) put under our rules: `clusters_from_groups`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from igny8d.ai.cluster.results import Cluster, ClusterResult, KeywordItem, Unclustered
from igny8d.ai.cluster.rules import (
    DEFAULT_MAX_CLUSTER_SIZE,
    cluster_intent,
    conflicts,
    rank,
    tidy,
)
from igny8d.ai.cluster.vectors import Space, head_key, prepare
from igny8d.ai.intent import classify_intent


def clusters_from_groups(items: Iterable[KeywordItem], groups: Iterable[Iterable[int]], *,
                         reasons: Mapping[int, str] | None = None, min_cluster_size: int = 2,
                         max_cluster_size: int = DEFAULT_MAX_CLUSTER_SIZE) -> ClusterResult:
    """Our rules over groups of keyword ids someone else made: each group is split so that no
    part mixes conflicting firm intents (keywords taken highest volume first, each into the
    first part it fits; a part also holds at most `max_cluster_size`), every part is named after
    its highest-volume keyword, and a part below `min_cluster_size` is unclustered. Keywords in
    no group are unclustered with `reasons[id]` (default "no_match: not placed in any group").
    Cohesion is the mean TF-IDF similarity of the part's pairs. An id not among `items`, or in
    two groups, is a ValueError. Deterministic for the same groups."""
    if max_cluster_size < 1 or min_cluster_size < 1:
        raise ValueError("cluster sizes must be ≥ 1")
    prepared = prepare(items)
    position = {p.item.id: i for i, p in enumerate(prepared)}
    space = Space([p.analysis for p in prepared if p.analysis.head])
    key_of = [space.index[head_key(p.analysis)] if p.analysis.head else -1 for p in prepared]
    placed: set[int] = set()
    clusters: list[Cluster] = []
    unclustered: list[Unclustered] = []
    for group in groups:
        idx: list[int] = []
        for keyword_id in group:
            if keyword_id not in position:
                raise ValueError(f"unknown keyword id {keyword_id}")
            if keyword_id in placed:
                raise ValueError(f"keyword id {keyword_id} is in two groups")
            placed.add(keyword_id)
            i = position[keyword_id]
            if key_of[i] < 0:
                unclustered.append(Unclustered(keyword_id,
                                               "empty: nothing left after normalisation"))
            else:
                idx.append(i)
        parts: list[list[int]] = []
        masks: list[int] = []
        for i in sorted(idx, key=lambda i: rank(prepared[i])):
            bit = prepared[i].firm_bit
            for n, part in enumerate(parts):
                if not conflicts(masks[n], bit) and len(part) < max_cluster_size:
                    part.append(i)
                    masks[n] |= bit
                    break
            else:
                parts.append([i])
                masks.append(bit)
        for n, part in enumerate(parts):
            if len(part) >= min_cluster_size:
                members = [prepared[i] for i in part]
                clusters.append(Cluster(
                    name=tidy(members[0].item.text),
                    keyword_ids=tuple(p.item.id for p in members),
                    intent=cluster_intent(members),
                    volume=sum(p.item.volume for p in members),
                    cohesion=round(_full_cohesion(part, key_of, space), 4)))
                continue
            rival = next((parts[m] for m in range(len(parts))
                          if m != n and conflicts(masks[n], masks[m])), None)
            for i in part:
                p = prepared[i]
                if rival is not None:
                    reason = f"intent_conflict: its intent {p.intent.intent} conflicts with " \
                             f"{prepared[rival[0]].item.text.strip()!r} of its group"
                else:
                    reason = f"no_match: its group of {len(part)} is below the minimum " \
                             f"cluster size {min_cluster_size}"
                unclustered.append(Unclustered(p.item.id, reason))
    for p in prepared:
        if p.item.id not in placed:
            unclustered.append(Unclustered(p.item.id, (reasons or {}).get(p.item.id)
                                           or "no_match: not placed in any group"))
    clusters.sort(key=lambda c: (-c.volume, c.name, c.keyword_ids))
    unclustered.sort(key=lambda u: u.keyword_id)
    intents = tuple(sorted((p.item.id, p.intent.intent) for p in prepared))
    return ClusterResult(tuple(clusters), tuple(unclustered), intents)


def _full_cohesion(idx: list[int], key_of: list[int], space: Space) -> float:
    size = len(idx)
    if size < 2:
        return 1.0
    total = sum(space.sim(key_of[a], key_of[b]) for n, a in enumerate(idx) for b in idx[n + 1:])
    return min(1.0, total / (size * (size - 1) / 2))


def place_leftovers(result: ClusterResult, items: Iterable[KeywordItem]) -> ClusterResult:
    """`result` with every unclustered keyword that has text in a cluster of its own, named
    after it (a provider's answer may leave keywords out; none is left silently). Only
    keywords empty after normalisation stay unclustered."""
    by_id = {i.id: i for i in items}
    intents = dict(result.intents)
    clusters = list(result.clusters)
    rest: list[Unclustered] = []
    for u in result.unclustered:
        item = by_id.get(u.keyword_id)
        if item is None or u.code == "empty" or not tidy(item.text):
            rest.append(u)
            continue
        intent = intents.get(item.id) or item.intent or classify_intent(item.text).intent
        clusters.append(Cluster(name=tidy(item.text), keyword_ids=(item.id,), intent=intent,
                                volume=item.volume, cohesion=1.0))
    if len(rest) == len(result.unclustered):
        return result
    clusters.sort(key=lambda c: (-c.volume, c.name, c.keyword_ids))
    return ClusterResult(tuple(clusters), tuple(rest), result.intents)
