"""Agglomeration: `cluster_keywords`, average or complete linkage over similarity edges."""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Literal

from igny8d.ai.cluster import learned
from igny8d.ai.cluster.intent_model import IntentModel
from igny8d.ai.cluster.learned import PairModel
from igny8d.ai.cluster.results import Cluster, ClusterResult, KeywordItem, Unclustered
from igny8d.ai.cluster.rules import (
    DEFAULT_MAX_CLUSTER_SIZE,
    DEFAULT_THRESHOLD,
    EMBEDDING_THRESHOLD,
    cluster_intent,
    conflicts,
    rank,
    tidy,
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
    prepare,
    similarity_edges,
)

#: Pairs below this similarity are not kept as edges (they count as 0 in the averages).
MIN_EDGE = 0.15
#: Average linkage merges two clusters only if every cross pair is at least this similar
#: (an edge exists): a large cluster cannot swallow a keyword unrelated to some of its members.
PAIR_FLOOR = 0.15

Linkage = Literal["average", "complete"]
#: On the lexical similarity: average linkage (a keyword joins a cluster it is close to on the
#: whole, not only to its least similar member; complete linkage left rewordings apart).
DEFAULT_LINKAGE: Linkage = "average"
#: On embeddings (see `rules.EMBEDDING_THRESHOLD`).
EMBEDDING_LINKAGE: Linkage = "complete"


class _State:
    """Agglomeration state. A node is a cluster, named by its smallest item index."""

    def __init__(self, prepared: list[Prepared], key_of: list[int], linkage: Linkage,
                 threshold: float, max_size: int) -> None:
        self.prepared = prepared
        self.key_of = key_of
        self.linkage = linkage
        self.threshold = threshold
        self.max_size = max_size
        self.members: dict[int, list[int]] = {}
        self.mask: dict[int, int] = {}
        self.link: dict[int, dict[int, float]] = {}
        #: average linkage: the smallest similarity between two clusters (absent: no edge)
        self.low: dict[int, dict[int, float]] = {}
        self.floor = PAIR_FLOOR if linkage == "average" else 0.0

    def seed(self, by_key: dict[int, list[int]], key_edges: list[dict[int, float]],
             singles: list[int]) -> None:
        """Start from the items grouped by identical head (similarity 1): each group split
        greedily, in index order, into parts without intent conflicts and within the size
        limit — what merging the 1.0 pairs first, in tie-break order, would give."""
        parts: dict[int, list[int]] = {}
        for u in sorted(by_key):
            nodes: list[int] = []
            for i in by_key[u]:
                bit = self.prepared[i].firm_bit
                for node in nodes:
                    if not conflicts(self.mask[node], bit) and \
                            len(self.members[node]) < self.max_size:
                        self.members[node].append(i)
                        self.mask[node] |= bit
                        break
                else:
                    nodes.append(i)
                    self.members[i] = [i]
                    self.mask[i] = bit
            parts[u] = nodes
        for i in singles:
            self.members[i] = [i]
            self.mask[i] = self.prepared[i].firm_bit
        self.link = {node: {} for node in self.members}
        self.low = {node: {} for node in self.members}
        for u, nodes in parts.items():
            for x, a in enumerate(nodes):
                for b in nodes[x + 1:]:
                    if not conflicts(self.mask[a], self.mask[b]):
                        self._set(a, b, 1.0)
            for v, s in key_edges[u].items():
                if v > u:
                    for a in nodes:
                        # a key that shares another's terms holds no keyword of its own
                        for b in parts.get(v, ()):
                            self._set(a, b, s)

    def _set(self, a: int, b: int, s: float) -> None:
        self.low[a][b] = self.low[b][a] = s
        value = s * len(self.members[a]) * len(self.members[b]) \
            if self.linkage == "average" else s
        self.link[a][b] = self.link[b][a] = value

    def score(self, a: int, b: int) -> float | None:
        value = self.link[a].get(b)
        if value is None or self.linkage == "complete":
            return value
        return value / (len(self.members[a]) * len(self.members[b]))

    def run(self) -> None:
        heap: list[tuple[float, int, int]] = []
        for a, row in self.link.items():
            for b in row:
                if a < b:
                    s = self.score(a, b)
                    if s is not None and s >= self.threshold:
                        heap.append((-s, a, b))
        heapq.heapify(heap)
        members, mask, link = self.members, self.mask, self.link
        while heap:
            neg, a, b = heapq.heappop(heap)
            if a not in members or b not in members or self.score(a, b) != -neg:
                continue
            if conflicts(mask[a], mask[b]) or \
                    len(members[a]) + len(members[b]) > self.max_size:
                continue
            if self.floor > 0.0 and self.low[a].get(b, 0.0) < self.floor:
                continue
            members[a].extend(members.pop(b))
            mask[a] |= mask.pop(b)
            la, lb = link[a], link.pop(b)
            del la[b]
            del lb[a]
            merged: dict[int, float] = {}
            if self.linkage == "average":
                for x in la.keys() | lb.keys():
                    merged[x] = la.get(x, 0.0) + lb.get(x, 0.0)
            else:
                for x in la.keys() & lb.keys():
                    merged[x] = min(la[x], lb[x])
            for x in la.keys() | lb.keys():
                lx = link[x]
                lx.pop(b, None)
                if x in merged:
                    lx[a] = merged[x]
                else:
                    lx.pop(a, None)
            link[a] = merged
            low = self.low
            lowa, lowb = low[a], low.pop(b)
            lowa.pop(b, None)
            lowb.pop(a, None)
            both = {x: min(lowa[x], lowb[x]) for x in lowa.keys() & lowb.keys()}
            for x in lowa.keys() | lowb.keys():
                lx = low[x]
                lx.pop(b, None)
                if x in both:
                    lx[a] = both[x]
                else:
                    lx.pop(a, None)
            low[a] = both
            for x in sorted(merged):
                linked = self.score(a, x)
                if linked is not None and linked >= self.threshold:
                    heapq.heappush(heap, (-linked, min(a, x), max(a, x)))


def lexical_space(prepared: list[Prepared]) -> tuple[Space, list[int]]:
    """How the lexical path reads prepared keywords (its page, name and list facets set on
    them): the TF-IDF space of their keys and each keyword's key (-1: empty). One place, so
    an evaluation harness clusters exactly as `cluster_keywords` does.

    Keywords whose terms have the same stems in any order and the same facets share a key
    (the first such key in the space): a plural or a reordering is the same page
    (eval/data/GUIDE.md: "best kayak" / "best kayaks", "insurance for pets" / "pet
    insurance"). Their own keys differ by the character n-grams, similar but under 1.0, so
    average linkage could grow each into another cluster before they met (80 such pairs split
    over the four tuning sets, 9 of them rightly)."""
    page_intents(prepared)
    name_intents(prepared)
    listicle_bits(prepared)
    space = Space([p.analysis for p in prepared if p.analysis.head], acronyms=True,
                  lexical=True)
    shared = space.reordered()
    return space, [shared[space.index[head_key(p.analysis)]] if p.analysis.head else -1
                   for p in prepared]


def vector_space(prepared: list[Prepared], embeddings: Embeddings
                 ) -> tuple[list[int], list[Prepared], list[tuple[float, ...]]]:
    """How the embeddings path reads prepared keywords (page intents set on them): one key
    per keyword with a head, since two keywords are alike only as far as their vectors are
    — each keyword's key (-1: empty), the headed keywords and their unit vectors, by key. One
    place, so the pair model's harness prepares a niche exactly as `cluster_keywords`."""
    key_of = [-1] * len(prepared)
    units: list[tuple[float, ...]] = []
    vectors = Vectors(embeddings)
    for i, p in enumerate(prepared):
        if p.analysis.head:
            key_of[i] = len(units)
            units.append(vectors.of(p.item.id))
    # a keyword naming one page type conflicts as that page's intent, as on the lexical path
    page_intents(prepared)
    return key_of, [p for p in prepared if p.analysis.head], units


def cluster_keywords(items: Iterable[KeywordItem], *, threshold: float | None = None,
                     max_cluster_size: int = DEFAULT_MAX_CLUSTER_SIZE,
                     min_cluster_size: int = 1,
                     linkage: Linkage | None = None,
                     embeddings: Embeddings | None = None,
                     pair_model: PairModel | None = None,
                     intent_model: IntentModel | None = None) -> ClusterResult:
    """Cluster keywords (see the package doc). Deterministic: the same items in any order give
    the same result.

    `threshold` and `linkage` default to `DEFAULT_THRESHOLD` and `DEFAULT_LINKAGE` (lexical)
    or `EMBEDDING_THRESHOLD` and `EMBEDDING_LINKAGE` when `embeddings` (keyword id → vector)
    are given; then every keyword with text needs one (ValueError otherwise), and their cosine
    is the similarity.

    With the default `min_cluster_size` of 1 every keyword with text ends in a cluster (one
    that fits nowhere is a cluster of its own, named after it); only a keyword empty after
    normalisation is unclustered. A larger minimum reports smaller groups as unclustered,
    with a reason.

    With a `pair_model` (embeddings only: `learned.PairModel`, for the vectors of the model it
    was fitted on) a pair's similarity is the model's probability that one page serves both,
    over complete linkage at the model's own threshold (`threshold` and `linkage` unused).
    Without embeddings, `threshold` and `linkage`, the shipped lexical model does the same
    (`learned.shipped_lexical`: average linkage at its floor and threshold); a missing or
    foreign model file leaves the hand rules.

    With an `intent_model` (embeddings only, for the vectors of the model it was fitted on)
    the keywords' reported intents are read from their vectors as well as the rules; which
    keywords may share a cluster still goes by the rules (`intent_model`'s doc)."""
    if intent_model is not None and embeddings is None:
        raise ValueError("an intent model reads embeddings")
    if pair_model is not None:
        if embeddings is None:
            raise ValueError("a pair model scores embeddings")
        threshold, linkage = pair_model.threshold, "complete"
    # the lexical path's learned model clusters when nothing was asked of the hand rules
    lexical_model = learned.shipped_lexical() \
        if embeddings is None and threshold is None and linkage is None else None
    if lexical_model is not None:
        threshold, linkage = lexical_model.threshold, "average"
    if threshold is None:
        threshold = DEFAULT_THRESHOLD if embeddings is None else EMBEDDING_THRESHOLD
    if linkage is None:
        linkage = DEFAULT_LINKAGE if embeddings is None else EMBEDDING_LINKAGE
    if not 0.0 < threshold <= 1.0:
        raise ValueError("threshold must be in (0, 1]")
    if max_cluster_size < 1 or min_cluster_size < 1:
        raise ValueError("cluster sizes must be ≥ 1")
    if linkage not in ("average", "complete"):
        raise ValueError("linkage must be 'average' or 'complete'")
    prepared = prepare(items)
    # complete linkage: an edge below the threshold blocks its clusters as surely as a missing one
    cutoff = threshold if linkage == "complete" else MIN_EDGE
    if embeddings is None:
        space, key_of = lexical_space(prepared)
        key_edges = similarity_edges(space, cutoff) if lexical_model is None \
            else lexical_model.edges(space, prepared, key_of)
    else:
        key_of, headed, units = vector_space(prepared, embeddings)
        if pair_model is not None:
            key_edges = pair_model.edges(headed, units)
        else:
            key_edges = penalise_other_pages(
                semantic_edges(units, [p.analysis for p in headed], cutoff), headed, cutoff)
        if intent_model is not None:
            # after the edges: the pair models were fitted on the rules' intents (a feature)
            guessed = [k for k, p in enumerate(headed) if p.item.intent is None]
            for k, result in zip(guessed, intent_model.read(
                    [headed[k].intent for k in guessed], [units[k] for k in guessed]),
                    strict=True):
                headed[k].intent = result
    by_key: dict[int, list[int]] = defaultdict(list)
    for i, u in enumerate(key_of):
        if u >= 0:
            by_key[u].append(i)
    state = _State(prepared, key_of, linkage, threshold, max_cluster_size)
    if lexical_model is not None:
        state.floor = lexical_model.floor
    state.seed(by_key, key_edges, [i for i, u in enumerate(key_of) if u < 0])
    state.run()

    clusters: list[Cluster] = []
    unclustered: list[Unclustered] = []
    home = {i: root for root, idx in state.members.items() for i in idx}
    for _root, idx in sorted(state.members.items()):
        if len(idx) < min_cluster_size or key_of[idx[0]] < 0:
            for i in idx:
                unclustered.append(Unclustered(prepared[i].item.id, _reason(
                    i, state, home, by_key, key_edges, min_cluster_size,
                    vectors=embeddings is not None,
                    learned=pair_model is not None or lexical_model is not None)))
            continue
        group = sorted((prepared[i] for i in idx), key=rank)
        clusters.append(Cluster(
            name=tidy(group[0].item.text), keyword_ids=tuple(p.item.id for p in group),
            intent=cluster_intent(group), volume=sum(p.item.volume for p in group),
            cohesion=round(_cohesion(idx, key_of, key_edges), 4)))
    clusters.sort(key=lambda c: (-c.volume, c.name, c.keyword_ids))
    unclustered.sort(key=lambda u: u.keyword_id)
    intents = tuple(sorted((p.item.id, p.intent.intent) for p in prepared))
    return ClusterResult(tuple(clusters), tuple(unclustered), intents)


def _cohesion(idx: list[int], key_of: list[int], key_edges: list[dict[int, float]]) -> float:
    """Mean similarity over the cluster's pairs (pairs without an edge count 0)."""
    size = len(idx)
    if size < 2:
        return 1.0
    counts = Counter(key_of[i] for i in idx)
    total = sum(c * (c - 1) / 2 for c in counts.values())
    for u, cu in counts.items():
        for v, s in key_edges[u].items() if u >= 0 else ():
            if v > u and v in counts:
                total += s * cu * counts[v]
    return min(1.0, total / (size * (size - 1) / 2))


def _reason(i: int, state: _State, home: dict[int, int], by_key: dict[int, list[int]],
            key_edges: list[dict[int, float]], min_size: int, *, vectors: bool = False,
            learned: bool = False) -> str:
    """Why keyword `i` is unclustered; with a pair model (`learned`) its edges are
    probabilities that one page serves both keywords, and the reason says so."""
    prepared, threshold = state.prepared, state.threshold
    p = prepared[i]
    u = state.key_of[i]
    if u < 0:
        return "empty: nothing left after normalisation"
    group = state.members[home[i]]
    if len(group) > 1:
        return f"no_match: its group of {len(group)} is below the minimum cluster size " \
               f"{min_size}"
    near: list[tuple[float, int]] = [(1.0, j) for j in by_key[u] if j != i]
    near += [(s, j) for v, s in key_edges[u].items() for j in by_key[v]]
    if not near:
        if learned:
            return f"no_match: no keyword is likely enough to want the same page (learned " \
                   f"pair model, P ≥ {threshold:.2f})"
        if vectors:
            return f"no_match: no keyword's embedding is close enough (threshold " \
                   f"{threshold:.2f})"
        return f"no_match: no keyword shares enough of its terms (threshold {threshold:.2f})"
    near.sort(key=lambda t: (-t[0], t[1]))
    best, j = near[0]
    if best < threshold:
        return f"no_match: closest keyword {prepared[j].item.text.strip()!r} has similarity " \
               f"{best:.2f} < threshold {threshold:.2f}"
    for s, j in near:
        if s < threshold:
            break
        if conflicts(state.mask[home[i]], state.mask[home[j]]):
            continue
        if len(state.members[home[j]]) >= state.max_size:
            return f"size_limit: the cluster of {prepared[j].item.text.strip()!r} has " \
                   f"reached max_cluster_size {state.max_size}"
        measure = f"P {s:.2f}" if learned else f"{s:.2f}"
        return f"low_cohesion: similar to {prepared[j].item.text.strip()!r} ({measure}) but " \
               f"not to the rest of its cluster ({state.linkage} linkage)"
    return f"intent_conflict: similar keywords such as {prepared[near[0][1]].item.text.strip()!r}" \
           f" have an intent conflicting with {p.intent.intent}"
