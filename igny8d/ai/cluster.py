"""Keyword clustering for the local provider: TF-IDF similarity on head terms, threshold-based
average (or complete) linkage, intent conflicts respected, deterministic.

Similarity of two keywords = `WORD_WEIGHT` * cosine of their word vectors (TF-IDF over the
Snowball stems of the head terms) + (1 - `WORD_WEIGHT`) * cosine of their character vectors
(TF-IDF over the 3- and 4-grams of the head with spaces removed). Words catch word order and
plural/singular ("coffee grinders" / "grinder coffee"), characters catch spelling and
compounds ("pour over" / "pourover", "carry-on" / "carryon").

Candidate pairs are blocked by an inverted index over stems and character 4-grams; a feature
found in more than `block_cap` keywords is too common to propose pairs (it still counts in the
similarity of the pairs proposed by rarer ones). Pairs never proposed have similarity 0.

Agglomeration: every keyword starts alone; the pair of clusters with the highest linkage
(average: mean similarity over all cross pairs; complete: the smallest one) is merged while it
is ≥ `threshold`, unless the merge would mix conflicting firm intents (`CONFLICTS`) or exceed
`max_cluster_size`. Average/complete linkage does not chain: a~b and b~c do not pull a and c
together unless a~c too. Ties break on the keywords' sorted position (normalised text, text,
id), so the result does not depend on the input order.

A keyword left alone is *unclustered*, with a reason: `no_match` (nothing similar enough),
`intent_conflict` (the similar keywords have a conflicting intent), `size_limit` (the cluster
it fits is full), `low_cohesion` (similar to some keyword but not to its cluster as a whole),
`empty` (nothing left after normalisation).

**On embeddings** (`cluster_keywords(items, embeddings=...)`, `assign_to_existing(...,
embeddings=...)`): the cosine of the given vectors (an OpenAI-compatible provider's
`/embeddings`) replaces the TF-IDF similarity; the agglomeration, naming, intent conflicts and
unclustered reasons are the same. Every pair is scored (an embedding relates "sofa" and
"couch", which share no feature to block on), so the cost is O(n² · dimensions): meant for
provider-sized batches, not 10k keywords. The default threshold is `EMBEDDING_THRESHOLD`.

**On someone else's groups** (`clusters_from_groups`, an LLM's answer): the same naming,
intent-conflict and minimum-size rules applied to groups made elsewhere.
"""

from __future__ import annotations

import heapq
import math
import operator
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

from igny8d.ai.intent import IntentResult, classify_analysis
from igny8d.ai.text import Analysis, analyse, char_ngrams
from igny8d.vocab import INTENT_PRECEDENCE, Intent

DEFAULT_THRESHOLD = 0.45
DEFAULT_MAX_CLUSTER_SIZE = 100
WORD_WEIGHT = 0.5
#: Pairs below this similarity are not kept as edges (they count as 0 in the averages).
MIN_EDGE = 0.12
#: Complete-linkage threshold on the cosine of embeddings. Embedding cosines sit much higher
#: than TF-IDF ones (with dense text-embedding models even unrelated short texts score 0.2 or
#: more, rewordings of one query 0.8 or more), so the TF-IDF threshold would merge whole niches.
#: 0.7 is a cautious default (every pair of a cluster at least that close), not tuned on a real
#: model's vectors (the tests' hashed character-trigram vectors behave like the TF-IDF ones and
#: do best near 0.4): an embedding model may need its own `threshold`.
EMBEDDING_THRESHOLD = 0.7

_T, _C, _N, _I = "transactional", "commercial", "navigational", "informational"
#: Intent pairs that never share a cluster. Transactional and commercial may (both are the
#: buying stage: "best espresso machine" and "espresso machine sale" are one page); every other
#: pair of different intents is a different page.
CONFLICTS: frozenset[frozenset[str]] = frozenset({
    frozenset({_T, _I}), frozenset({_C, _I}), frozenset({_N, _I}), frozenset({_N, _T}),
    frozenset({_N, _C}),
})
_BIT: dict[str, int] = {intent: 1 << i for i, intent in enumerate(INTENT_PRECEDENCE)}
_CONFLICT_MASK: dict[int, int] = {
    _BIT[a]: sum(_BIT[b] for b in INTENT_PRECEDENCE if frozenset({a, b}) in CONFLICTS)
    for a in INTENT_PRECEDENCE}

Linkage = Literal["average", "complete"]
DEFAULT_LINKAGE: Linkage = "complete"


@dataclass(frozen=True, slots=True)
class KeywordItem:
    id: int
    text: str
    volume: int = 0
    #: the keyword's intent when known (set by a user or an import): always firm
    intent: Intent | None = None


@dataclass(frozen=True, slots=True)
class Cluster:
    name: str
    #: name keyword first, then by volume (desc), length, text
    keyword_ids: tuple[int, ...]
    intent: Intent
    volume: int
    #: mean pairwise similarity inside the cluster (0..1)
    cohesion: float


class Unclustered(NamedTuple):
    keyword_id: int
    #: "<code>: <detail>", code one of no_match, intent_conflict, size_limit, low_cohesion, empty
    reason: str

    @property
    def code(self) -> str:
        return self.reason.split(":", 1)[0]


@dataclass(frozen=True, slots=True)
class ClusterResult:
    clusters: tuple[Cluster, ...]
    unclustered: tuple[Unclustered, ...]
    #: every keyword's intent as the clustering saw it (given, else classified)
    intents: tuple[tuple[int, Intent], ...]


@dataclass(frozen=True, slots=True)
class ExistingCluster:
    name: str
    keywords: tuple[KeywordItem, ...]
    id: int | None = None


@dataclass(frozen=True, slots=True)
class Assignment:
    keyword_id: int
    cluster_index: int  # position in the `clusters` argument
    cluster_id: int | None
    cluster_name: str
    score: float


@dataclass(frozen=True, slots=True)
class AssignResult:
    assigned: tuple[Assignment, ...]
    #: the new keywords that fit no existing cluster, in sorted order (cluster them next)
    rest: tuple[KeywordItem, ...]


# ---------------------------------------------------------------------------------------------
# vectors and similarity

Vector = dict[str, float]


@dataclass(slots=True)
class _Prepared:
    item: KeywordItem
    analysis: Analysis
    intent: IntentResult
    firm_bit: int  # 0 when the intent is a guess


def _prepare(items: Iterable[KeywordItem]) -> list[_Prepared]:
    out: list[_Prepared] = []
    seen: set[int] = set()
    for item in items:
        if item.id in seen:
            raise ValueError(f"duplicate keyword id {item.id}")
        seen.add(item.id)
        analysis = analyse(item.text)
        guess = classify_analysis(analysis)
        result = guess if item.intent is None else IntentResult(item.intent, ("given",), 1.0)
        out.append(_Prepared(item, analysis, result, _BIT[result.intent] if result.is_firm
                             else 0))
    out.sort(key=lambda p: (p.analysis.normalised, p.item.text, p.item.id))
    return out


def _key(a: Analysis) -> tuple[tuple[str, ...], str]:
    return a.head_stems, a.compact_head


class _Space:
    """TF-IDF vectors of the distinct heads of a set of keywords."""

    def __init__(self, analyses: Sequence[Analysis]) -> None:
        self.keys: list[tuple[tuple[str, ...], str]] = []
        self.index: dict[tuple[tuple[str, ...], str], int] = {}
        for a in analyses:
            k = _key(a)
            if k not in self.index:
                self.index[k] = len(self.keys)
                self.keys.append(k)
        self.word_tf = [Counter(stems) for stems, _ in self.keys]
        self.char_tf = [Counter(char_ngrams(compact)) for _, compact in self.keys]
        n = len(self.keys)
        word_df: Counter[str] = Counter()
        char_df: Counter[str] = Counter()
        for tf in self.word_tf:
            word_df.update(tf.keys())
        for tf in self.char_tf:
            char_df.update(tf.keys())
        self.word_df = word_df
        self.char_df = char_df
        self.word = [self._weigh(tf, word_df, n) for tf in self.word_tf]
        self.char = [self._weigh(tf, char_df, n) for tf in self.char_tf]

    @staticmethod
    def _weigh(tf: Counter[str], df: Counter[str], n: int) -> Vector:
        vec = {t: (1.0 + math.log(c)) * (math.log((1 + n) / (1 + df[t])) + 1.0)
               for t, c in sorted(tf.items())}
        norm = math.sqrt(sum(v * v for v in vec.values()))
        return {t: v / norm for t, v in vec.items()} if norm else {}

    def sim(self, u: int, v: int) -> float:
        if u == v:
            return 1.0
        return WORD_WEIGHT * _dot(self.word[u], self.word[v]) + \
            (1.0 - WORD_WEIGHT) * _dot(self.char[u], self.char[v])

    def candidates(self, block_cap: int) -> dict[int, set[int]]:
        """Distinct-head pairs (u < v) worth scoring: they share features found in at most
        `block_cap` heads — a stem counting 2, a character 4-gram 1 — at least
        `_required(u, v)` times (2 for the shortest heads, up to 5 for long ones)."""
        postings: dict[str, list[int]] = defaultdict(list)
        grams4: list[list[str]] = [[g for g in tf if len(g) == 4] for tf in self.char_tf]
        need = [max(2, min(5, (len(g) + 2) // 3)) for g in grams4]
        for u, (stems, _) in enumerate(self.keys):
            for s in set(stems):
                if self.word_df[s] <= block_cap:
                    postings["w:" + s].append(u)
            for g in grams4[u]:
                if self.char_df[g] <= block_cap:
                    postings[g].append(u)
        out: dict[int, set[int]] = {}
        for u, (stems, _) in enumerate(self.keys):
            shared: Counter[int] = Counter()
            for s in set(stems):
                for v in postings.get("w:" + s, ()):
                    if v > u:
                        shared[v] += 2
            for g in grams4[u]:
                for v in postings.get(g, ()):
                    if v > u:
                        shared[v] += 1
            nu = need[u]
            found = {v for v, c in shared.items() if c >= nu or c >= need[v]}
            if found:
                out[u] = found
        return out


def _dot(a: Vector, b: Vector) -> float:
    # in the vectors' (sorted) order, never a set's: the sum must not depend on hash seeds
    if len(a) > len(b):
        a, b = b, a
    total = 0.0
    get = b.get
    for t, w in a.items():
        x = get(t)
        if x is not None:
            total += w * x
    return total


def _block_cap(n: int) -> int:
    return max(50, int(3 * math.sqrt(n)))


Embeddings = Mapping[int, Sequence[float]]


class _Vectors:
    """The given embeddings as unit vectors (by keyword id), all of one dimension."""

    def __init__(self, embeddings: Embeddings) -> None:
        self.embeddings = embeddings
        self.dim: int | None = None
        self.cache: dict[int, tuple[float, ...]] = {}

    def __contains__(self, keyword_id: int) -> bool:
        return keyword_id in self.embeddings

    def of(self, keyword_id: int) -> tuple[float, ...]:
        unit = self.cache.get(keyword_id)
        if unit is not None:
            return unit
        raw = self.embeddings.get(keyword_id)
        if raw is None:
            raise ValueError(f"no embedding for keyword id {keyword_id}")
        values = tuple(float(x) for x in raw)
        if not values or not all(math.isfinite(x) for x in values):
            raise ValueError(f"the embedding of keyword id {keyword_id} is empty or not finite")
        if self.dim is None:
            self.dim = len(values)
        elif len(values) != self.dim:
            raise ValueError(f"the embedding of keyword id {keyword_id} has {len(values)} "
                             f"dimensions, the others {self.dim}")
        norm = math.sqrt(math.fsum(x * x for x in values))
        # a zero vector stays zero: similarity 0 to everything
        unit = tuple(x / norm for x in values) if norm else values
        self.cache[keyword_id] = unit
        return unit


def _cos(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    # unit vectors; fsum is exact-rounded, so the result never depends on the input order
    return min(1.0, math.fsum(map(operator.mul, a, b)))


def _vector_edges(units: Sequence[tuple[float, ...]], cutoff: float) -> list[dict[int, float]]:
    """Cosine edges (≥ cutoff) between every pair of vectors, symmetric."""
    edges: list[dict[int, float]] = [{} for _ in units]
    for u, a in enumerate(units):
        for v in range(u + 1, len(units)):
            s = _cos(a, units[v])
            if s >= cutoff:
                edges[u][v] = edges[v][u] = s
    return edges


# ---------------------------------------------------------------------------------------------
# clustering

def _conflicts(mask_a: int, mask_b: int) -> bool:
    bits = mask_a
    while bits:
        low = bits & -bits
        if _CONFLICT_MASK[low] & mask_b:
            return True
        bits ^= low
    return False


def _rank(p: _Prepared) -> tuple[int, int, str, int]:
    """Naming order: highest volume, then shortest, then alphabetical (then id)."""
    return (-p.item.volume, len(p.analysis.normalised), p.analysis.normalised, p.item.id)


def _cluster_intent(members: list[_Prepared]) -> Intent:
    votes: dict[Intent, float] = defaultdict(float)
    for p in members:
        votes[p.intent.intent] += (p.item.volume + 1) * p.intent.confidence
    best = max(votes.values())
    return next(i for i in INTENT_PRECEDENCE if votes.get(i) == best)


def _key_edges(space: _Space, cutoff: float) -> list[dict[int, float]]:
    """Similarity edges (≥ cutoff) between distinct heads, symmetric."""
    edges: list[dict[int, float]] = [{} for _ in space.keys]
    for u, vs in sorted(space.candidates(_block_cap(len(space.keys))).items()):
        for v in sorted(vs):
            s = space.sim(u, v)
            if s >= cutoff:
                edges[u][v] = edges[v][u] = s
    return edges


class _State:
    """Agglomeration state. A node is a cluster, named by its smallest item index."""

    def __init__(self, prepared: list[_Prepared], key_of: list[int], linkage: Linkage,
                 threshold: float, max_size: int) -> None:
        self.prepared = prepared
        self.key_of = key_of
        self.linkage = linkage
        self.threshold = threshold
        self.max_size = max_size
        self.members: dict[int, list[int]] = {}
        self.mask: dict[int, int] = {}
        self.link: dict[int, dict[int, float]] = {}

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
                    if not _conflicts(self.mask[node], bit) and \
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
        for u, nodes in parts.items():
            for x, a in enumerate(nodes):
                for b in nodes[x + 1:]:
                    if not _conflicts(self.mask[a], self.mask[b]):
                        self._set(a, b, 1.0)
            for v, s in key_edges[u].items():
                if v > u:
                    for a in nodes:
                        for b in parts[v]:
                            self._set(a, b, s)

    def _set(self, a: int, b: int, s: float) -> None:
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
            if _conflicts(mask[a], mask[b]) or \
                    len(members[a]) + len(members[b]) > self.max_size:
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
            for x in sorted(merged):
                linked = self.score(a, x)
                if linked is not None and linked >= self.threshold:
                    heapq.heappush(heap, (-linked, min(a, x), max(a, x)))


def cluster_keywords(items: Iterable[KeywordItem], *, threshold: float | None = None,
                     max_cluster_size: int = DEFAULT_MAX_CLUSTER_SIZE,
                     min_cluster_size: int = 2,
                     linkage: Linkage = DEFAULT_LINKAGE,
                     embeddings: Embeddings | None = None) -> ClusterResult:
    """Cluster keywords (see the module doc). Deterministic: the same items in any order give
    the same result.

    `threshold` defaults to `DEFAULT_THRESHOLD` (TF-IDF) or `EMBEDDING_THRESHOLD` when
    `embeddings` (keyword id → vector) are given; then every keyword with text needs one
    (ValueError otherwise), and their cosine is the similarity."""
    if threshold is None:
        threshold = DEFAULT_THRESHOLD if embeddings is None else EMBEDDING_THRESHOLD
    if not 0.0 < threshold <= 1.0:
        raise ValueError("threshold must be in (0, 1]")
    if max_cluster_size < 1 or min_cluster_size < 1:
        raise ValueError("cluster sizes must be ≥ 1")
    if linkage not in ("average", "complete"):
        raise ValueError("linkage must be 'average' or 'complete'")
    prepared = _prepare(items)
    # complete linkage: an edge below the threshold blocks its clusters as surely as a missing one
    cutoff = threshold if linkage == "complete" else MIN_EDGE
    if embeddings is None:
        space = _Space([p.analysis for p in prepared if p.analysis.head])
        key_of = [space.index[_key(p.analysis)] if p.analysis.head else -1 for p in prepared]
        key_edges = _key_edges(space, cutoff)
    else:
        # one key per keyword: two keywords are alike only as far as their vectors are
        key_of = [-1] * len(prepared)
        units: list[tuple[float, ...]] = []
        vectors = _Vectors(embeddings)
        for i, p in enumerate(prepared):
            if p.analysis.head:
                key_of[i] = len(units)
                units.append(vectors.of(p.item.id))
        key_edges = _vector_edges(units, cutoff)
    by_key: dict[int, list[int]] = defaultdict(list)
    for i, u in enumerate(key_of):
        if u >= 0:
            by_key[u].append(i)
    state = _State(prepared, key_of, linkage, threshold, max_cluster_size)
    state.seed(by_key, key_edges, [i for i, u in enumerate(key_of) if u < 0])
    state.run()

    clusters: list[Cluster] = []
    unclustered: list[Unclustered] = []
    home = {i: root for root, idx in state.members.items() for i in idx}
    for _root, idx in sorted(state.members.items()):
        if len(idx) < min_cluster_size:
            for i in idx:
                unclustered.append(Unclustered(prepared[i].item.id, _reason(
                    i, state, home, by_key, key_edges, min_cluster_size,
                    vectors=embeddings is not None)))
            continue
        group = sorted((prepared[i] for i in idx), key=_rank)
        clusters.append(Cluster(
            name=group[0].item.text.strip(), keyword_ids=tuple(p.item.id for p in group),
            intent=_cluster_intent(group), volume=sum(p.item.volume for p in group),
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
            key_edges: list[dict[int, float]], min_size: int, *, vectors: bool = False) -> str:
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
        if _conflicts(state.mask[home[i]], state.mask[home[j]]):
            continue
        if len(state.members[home[j]]) >= state.max_size:
            return f"size_limit: the cluster of {prepared[j].item.text.strip()!r} has " \
                   f"reached max_cluster_size {state.max_size}"
        return f"low_cohesion: similar to {prepared[j].item.text.strip()!r} ({s:.2f}) but " \
               f"not to the rest of its cluster ({state.linkage} linkage)"
    return f"intent_conflict: similar keywords such as {prepared[near[0][1]].item.text.strip()!r}" \
           f" have an intent conflicting with {p.intent.intent}"


# ---------------------------------------------------------------------------------------------
# new keywords into existing clusters

def _existing_groups(clusters: Sequence[ExistingCluster]) -> list[list[_Prepared]]:
    """The existing clusters' keywords, prepared; a cluster without keywords stands for its
    name, as a keyword with the id -(position + 1)."""
    existing: list[list[_Prepared]] = []
    next_id = -1
    for c in clusters:
        kws = list(c.keywords) or [KeywordItem(next_id, c.name)]
        next_id -= 1
        existing.append([_Prepared(k, analyse(k.text), IntentResult("informational", (), 0), 0)
                         for k in kws])
    for group in existing:
        for q in group:
            q.intent = (IntentResult(q.item.intent, ("given",), 1.0) if q.item.intent
                        else classify_analysis(q.analysis))
            q.firm_bit = _BIT[q.intent.intent] if q.intent.is_firm else 0
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
    new = _prepare(new_keywords)
    existing = _existing_groups(clusters)
    if embeddings is not None:
        return _assign_by_vectors(clusters, new, existing, _Vectors(embeddings),
                                  EMBEDDING_THRESHOLD if threshold is None else threshold,
                                  max_cluster_size)
    if threshold is None:
        threshold = DEFAULT_THRESHOLD
    space = _Space([q.analysis for q in new if q.analysis.head] +
                   [q.analysis for g in existing for q in g if q.analysis.head])
    masks = [0] * len(existing)
    sizes = [len(c.keywords) for c in clusters]
    # inverted index: stem / 4-gram → clusters
    index: dict[str, set[int]] = defaultdict(set)
    for ci, group in enumerate(existing):
        for q in group:
            masks[ci] |= q.firm_bit
            if q.analysis.head:
                u = space.index[_key(q.analysis)]
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
        u = space.index[_key(p.analysis)]
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
            if _conflicts(p.firm_bit, masks[ci]) or sizes[ci] >= max_cluster_size:
                continue
            group = [q for q in existing[ci] if q.analysis.head]
            avg = sum(space.sim(u, space.index[_key(q.analysis)]) for q in group) / len(group)
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


def _assign_by_vectors(clusters: Sequence[ExistingCluster], new: list[_Prepared],
                       existing: list[list[_Prepared]], vectors: _Vectors, threshold: float,
                       max_cluster_size: int) -> AssignResult:
    masks = [0] * len(existing)
    sizes = [len(c.keywords) for c in clusters]
    units: list[list[tuple[float, ...]]] = []
    for ci, group in enumerate(existing):
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
        best: tuple[float, int] | None = None
        for ci, members in enumerate(units):
            if not members or _conflicts(p.firm_bit, masks[ci]) or \
                    sizes[ci] >= max_cluster_size:
                continue
            avg = sum(_cos(unit, m) for m in members) / len(members)
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


# ---------------------------------------------------------------------------------------------
# groups made elsewhere (an LLM's answer)

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
    prepared = _prepare(items)
    position = {p.item.id: i for i, p in enumerate(prepared)}
    space = _Space([p.analysis for p in prepared if p.analysis.head])
    key_of = [space.index[_key(p.analysis)] if p.analysis.head else -1 for p in prepared]
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
        for i in sorted(idx, key=lambda i: _rank(prepared[i])):
            bit = prepared[i].firm_bit
            for n, part in enumerate(parts):
                if not _conflicts(masks[n], bit) and len(part) < max_cluster_size:
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
                    name=members[0].item.text.strip(),
                    keyword_ids=tuple(p.item.id for p in members),
                    intent=_cluster_intent(members),
                    volume=sum(p.item.volume for p in members),
                    cohesion=round(_full_cohesion(part, key_of, space), 4)))
                continue
            rival = next((parts[m] for m in range(len(parts))
                          if m != n and _conflicts(masks[n], masks[m])), None)
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


def _full_cohesion(idx: list[int], key_of: list[int], space: _Space) -> float:
    size = len(idx)
    if size < 2:
        return 1.0
    total = sum(space.sim(key_of[a], key_of[b]) for n, a in enumerate(idx) for b in idx[n + 1:])
    return min(1.0, total / (size * (size - 1) / 2))
