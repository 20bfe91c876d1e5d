"""New keywords into existing clusters: `assign_to_existing`."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

from igny8d.ai.cluster import learned
from igny8d.ai.cluster.learned import LexicalPairModel, PairModel
from igny8d.ai.cluster.results import Assignment, AssignResult, ExistingCluster, KeywordItem
from igny8d.ai.cluster.rules import (
    DEFAULT_MAX_CLUSTER_SIZE,
    DEFAULT_THRESHOLD,
    EMBEDDING_THRESHOLD,
    INTENT_BIT,
    conflicts,
)
from igny8d.ai.cluster.semantic import penalise_other_pages, semantic_edges
from igny8d.ai.cluster.vectors import (
    Embeddings,
    Prepared,
    Space,
    Vectors,
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
                       embeddings: Embeddings | None = None,
                       pair_model: PairModel | None = None,
                       lexical_model: LexicalPairModel | None = None) -> AssignResult:
    """Put each new keyword in the existing cluster it fits best: the highest average
    similarity to the cluster's keywords (its name when it has none), ≥ `threshold`, with no
    intent conflict and room below `max_cluster_size`. The rest come back for clustering.
    Deterministic: keywords are taken in sorted order; ties go to the earlier cluster.

    With `embeddings` the similarity is the clustering's on embeddings (their cosine with the
    lexical bonus and the other-page penalty, `semantic`; threshold `EMBEDDING_THRESHOLD` by
    default): every new keyword with text needs a vector; an existing keyword without one is
    left out of its cluster's average, and a cluster without keywords is matched on the vector
    given for -(its position + 1), if any.

    With a `pair_model` too (`learned.PairModel`, for the model the vectors come from) and its
    `join_threshold` set, the similarity is the model's probability that one page serves both
    keywords, and the threshold its `join_threshold` (`threshold` unused), as the clustering
    of the rest scores pairs.

    Without embeddings and `threshold`, the lexical path's model (`lexical_model`, by default
    the shipped one, `learned.shipped_lexical`) scores the pairs when it has a
    `join_threshold`: a cluster's mean probability with the new keyword, pairs under the
    model's floor counting 0 (unlike the clustering's average linkage, no pair must reach the
    floor: measured, docs/decisions.md "Boosted trees on the lexical path"). An explicit
    `threshold` keeps the hand similarity."""
    new = prepare(new_keywords)
    existing = _existing_groups(clusters)
    if embeddings is not None:
        if pair_model is not None and pair_model.join_threshold is not None:
            threshold = pair_model.join_threshold
        else:
            pair_model = None
        return _assign_by_vectors(clusters, new, existing, Vectors(embeddings),
                                  EMBEDDING_THRESHOLD if threshold is None else threshold,
                                  max_cluster_size, pair_model)
    model = None
    if threshold is None:
        model = lexical_model if lexical_model is not None else learned.shipped_lexical()
        if model is not None and model.join_threshold is None:
            model = None
        threshold = DEFAULT_THRESHOLD if model is None else model.join_threshold
    assert threshold is not None
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
    scored: list[dict[int, float]] | None = None
    shared: list[int] = []
    if model is not None:
        # a plural or a reordering shares its key, as when clustering (`lexical_space`)
        shared = space.reordered()
        # the model's probabilities of the pairs with a new keyword (two existing ones are
        # never compared); none under its floor
        everyone = [*new, *(q for g in existing for q in g)]
        key_of = [shared[space.index[head_key(q.analysis)]] if q.analysis.head else -1
                  for q in everyone]
        scored = model.edges(space, everyone, key_of,
                             touching={key_of[i] for i in range(len(new)) if key_of[i] >= 0})
    masks = [0] * len(existing)
    sizes = [len(c.keywords) for c in clusters]
    # inverted index: stem / 4-gram → clusters; each cluster's keys, read once
    index: dict[str, set[int]] = defaultdict(set)
    cluster_keys: list[list[int]] = [[] for _ in existing]
    for ci, group in enumerate(existing):
        for q in group:
            masks[ci] |= q.firm_bit
            if q.analysis.head:
                u = space.index[head_key(q.analysis)]
                cluster_keys[ci].append(u)
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
            keys = cluster_keys[ci]
            if scored is None:
                avg = sum(space.sim(u, k) for k in keys) / len(keys)
            else:
                su = shared[u]
                avg = sum(1.0 if shared[k] == su else scored[su].get(shared[k], 0.0)
                          for k in keys) / len(keys)
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


#: On embeddings a pair under this share of the threshold counts 0 in a cluster's average (0.15
#: to 0.45 of 0.675 give the same figures on dev and dev2); it keeps the edge lists short.
AVERAGE_FLOOR_SHARE = 0.5


def _assign_by_vectors(clusters: Sequence[ExistingCluster], new: list[Prepared],
                       existing: list[list[Prepared]], vectors: Vectors, threshold: float,
                       max_cluster_size: int, pair_model: PairModel | None = None
                       ) -> AssignResult:
    """The clustering's similarity on embeddings (`semantic.semantic_edges`, penalised by
    `semantic.penalise_other_pages`, page intents; or `pair_model`'s probabilities), averaged
    over a cluster's keywords with vectors; a keyword that joins counts in the average for the
    next ones, as in the clustering.
    Average rather than complete linkage: on dev + dev2 complete linkage missed a fifth of the
    keywords whose cluster was there (docs/decisions.md, round 8)."""
    # a keyword naming one page type conflicts as that page's intent, as in the clustering
    page_intents(new)
    for group in existing:
        page_intents(group)
    masks = [0] * len(existing)
    sizes = [len(c.keywords) for c in clusters]
    headed: list[Prepared] = []  # the existing keywords with vectors, then the new ones
    units: list[tuple[float, ...]] = []
    members: list[list[int]] = []  # per cluster, its keywords' positions in `headed`
    #: the distinct page types each cluster's keywords name (a new keyword naming another
    #: type does not join: `pages_conflict`)
    pages: list[set[frozenset[str]]] = []
    for ci, group in enumerate(existing):
        pages.append({page_types(q.analysis) for q in group if q.analysis.head} - {frozenset()})
        idx: list[int] = []
        for q in group:
            masks[ci] |= q.firm_bit
            if q.analysis.head and q.item.id in vectors:
                idx.append(len(headed))
                headed.append(q)
                units.append(vectors.of(q.item.id))
        members.append(idx)
    at: dict[int, int] = {}
    first_new = len(headed)
    for p in new:
        if p.analysis.head:
            at[p.item.id] = len(headed)
            headed.append(p)
            units.append(vectors.of(p.item.id))
    cutoff = threshold * AVERAGE_FLOOR_SHARE
    if pair_model is not None:
        # a pair of two existing keywords is never read: not scored
        edges = pair_model.edges(headed, units, cutoff, touching=first_new)
    else:
        edges = penalise_other_pages(
            semantic_edges(units, [q.analysis for q in headed], cutoff), headed, cutoff)
    assigned: list[Assignment] = []
    rest: list[KeywordItem] = []
    for p in new:
        if not p.analysis.head:
            rest.append(p.item)
            continue
        u = at[p.item.id]
        mine = page_types(p.analysis)
        best: tuple[float, int] | None = None
        for ci, idx in enumerate(members):
            if not idx or conflicts(p.firm_bit, masks[ci]) or \
                    sizes[ci] >= max_cluster_size or \
                    any(pages_conflict(mine, t) for t in pages[ci]):
                continue
            avg = sum(edges[u].get(m, 0.0) for m in idx) / len(idx)
            if avg >= threshold and (best is None or avg > best[0]):
                best = (avg, ci)
        if best is None:
            rest.append(p.item)
            continue
        score, ci = best
        sizes[ci] += 1
        masks[ci] |= p.firm_bit
        members[ci].append(u)
        if mine:
            pages[ci].add(mine)
        assigned.append(Assignment(p.item.id, ci, clusters[ci].id, clusters[ci].name,
                                   round(score, 4)))
    return AssignResult(tuple(assigned), tuple(rest))
