"""New keywords into existing clusters: `assign_to_existing`."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

from igny8d.ai.cluster.results import Assignment, AssignResult, ExistingCluster, KeywordItem
from igny8d.ai.cluster.rules import (
    DEFAULT_MAX_CLUSTER_SIZE,
    DEFAULT_THRESHOLD,
    EMBEDDING_THRESHOLD,
    INTENT_BIT,
    conflicts,
)
from igny8d.ai.cluster.vectors import (
    Embeddings,
    Prepared,
    Space,
    Vectors,
    cos,
    head_key,
    listicle_bits,
    name_intents,
    page_intents,
    page_types,
    pages_conflict,
    prepare,
)
from igny8d.ai.intent import IntentResult, classify_analysis
from igny8d.ai.text import analyse


def _existing_groups(clusters: Sequence[ExistingCluster]) -> list[list[Prepared]]:
    """The existing clusters' keywords, prepared; a cluster without keywords stands for its
    name, as a keyword with the id -(position + 1)."""
    existing: list[list[Prepared]] = []
    next_id = -1
    for c in clusters:
        kws = list(c.keywords) or [KeywordItem(next_id, c.name)]
        next_id -= 1
        existing.append([Prepared(k, analyse(k.text), IntentResult("informational", (), 0), 0)
                         for k in kws])
    for group in existing:
        for q in group:
            q.intent = (IntentResult(q.item.intent, ("given",), 1.0) if q.item.intent
                        else classify_analysis(q.analysis))
            q.firm_bit = INTENT_BIT[q.intent.intent] if q.intent.is_firm else 0
    return existing


def assign_to_existing(clusters: Sequence[ExistingCluster], new_keywords: Iterable[KeywordItem],
                       *, threshold: float | None = None,
                       max_cluster_size: int = DEFAULT_MAX_CLUSTER_SIZE,
                       embeddings: Embeddings | None = None) -> AssignResult:
    """Put each new keyword in the existing cluster it fits best: the highest average
    similarity to the cluster's keywords (its name when it has none), ≥ `threshold`, with no
    intent conflict and room below `max_cluster_size`. The rest come back for clustering.
    Deterministic: keywords are taken in sorted order; ties go to the earlier cluster.

    With `embeddings` the similarity is their cosine (threshold `EMBEDDING_THRESHOLD` by
    default): every new keyword with text needs a vector; an existing keyword without one is
    left out of its cluster's average, and a cluster without keywords is matched on the vector
    given for -(its position + 1), if any."""
    new = prepare(new_keywords)
    existing = _existing_groups(clusters)
    if embeddings is not None:
        return _assign_by_vectors(clusters, new, existing, Vectors(embeddings),
                                  EMBEDDING_THRESHOLD if threshold is None else threshold,
                                  max_cluster_size)
    if threshold is None:
        threshold = DEFAULT_THRESHOLD
    page_intents(new)
    for group in existing:
        page_intents(group)
    # the clustering's lexical rules, so that clustering the same keywords again places them
    # where they are
    name_intents([*new, *(q for g in existing for q in g)])
    listicle_bits([*new, *(q for g in existing for q in g)])
    space = Space([q.analysis for q in new if q.analysis.head] +
                  [q.analysis for g in existing for q in g if q.analysis.head], acronyms=True,
                  lexical=True)
    masks = [0] * len(existing)
    sizes = [len(c.keywords) for c in clusters]
    # inverted index: stem / 4-gram → clusters
    index: dict[str, set[int]] = defaultdict(set)
    for ci, group in enumerate(existing):
        for q in group:
            masks[ci] |= q.firm_bit
            if q.analysis.head:
                u = space.index[head_key(q.analysis)]
                for s in q.analysis.head_stems:
                    index["w:" + s].add(ci)
                for g in space.char_tf[u]:
                    if len(g) == 4:
                        index[g].add(ci)
    assigned: list[Assignment] = []
    rest: list[KeywordItem] = []
    for p in new:
        if not p.analysis.head:
            rest.append(p.item)
            continue
        u = space.index[head_key(p.analysis)]
        hits: Counter[int] = Counter()
        for s in set(p.analysis.head_stems):
            for ci in index.get("w:" + s, ()):
                hits[ci] += 2
        for g in space.char_tf[u]:
            if len(g) == 4:
                for ci in index.get(g, ()):
                    hits[ci] += 1
        best: tuple[float, int] | None = None
        for ci in sorted(c for c, h in hits.items() if h >= 2):
            if conflicts(p.firm_bit, masks[ci]) or sizes[ci] >= max_cluster_size:
                continue
            group = [q for q in existing[ci] if q.analysis.head]
            avg = sum(space.sim(u, space.index[head_key(q.analysis)]) for q in group) / len(group)
            if avg >= threshold and (best is None or avg > best[0]):
                best = (avg, ci)
        if best is None:
            rest.append(p.item)
            continue
        score, ci = best
        sizes[ci] += 1
        masks[ci] |= p.firm_bit
        assigned.append(Assignment(p.item.id, ci, clusters[ci].id, clusters[ci].name,
                                   round(score, 4)))
    return AssignResult(tuple(assigned), tuple(rest))


def _assign_by_vectors(clusters: Sequence[ExistingCluster], new: list[Prepared],
                       existing: list[list[Prepared]], vectors: Vectors, threshold: float,
                       max_cluster_size: int) -> AssignResult:
    masks = [0] * len(existing)
    sizes = [len(c.keywords) for c in clusters]
    units: list[list[tuple[float, ...]]] = []
    #: the distinct page types each cluster's keywords name (a new keyword naming another
    #: type does not join: `pages_conflict`)
    pages: list[set[frozenset[str]]] = []
    for ci, group in enumerate(existing):
        pages.append({page_types(q.analysis) for q in group if q.analysis.head} - {frozenset()})
        for q in group:
            masks[ci] |= q.firm_bit
        units.append([vectors.of(q.item.id) for q in group
                      if q.analysis.head and q.item.id in vectors])
    assigned: list[Assignment] = []
    rest: list[KeywordItem] = []
    for p in new:
        if not p.analysis.head:
            rest.append(p.item)
            continue
        unit = vectors.of(p.item.id)
        mine = page_types(p.analysis)
        best: tuple[float, int] | None = None
        for ci, members in enumerate(units):
            if not members or conflicts(p.firm_bit, masks[ci]) or \
                    sizes[ci] >= max_cluster_size or \
                    any(pages_conflict(mine, t) for t in pages[ci]):
                continue
            avg = sum(cos(unit, m) for m in members) / len(members)
            if avg >= threshold and (best is None or avg > best[0]):
                best = (avg, ci)
        if best is None:
            rest.append(p.item)
            continue
        score, ci = best
        sizes[ci] += 1
        masks[ci] |= p.firm_bit
        if mine:
            pages[ci].add(mine)
        assigned.append(Assignment(p.item.id, ci, clusters[ci].id, clusters[ci].name,
                                   round(score, 4)))
    return AssignResult(tuple(assigned), tuple(rest))
