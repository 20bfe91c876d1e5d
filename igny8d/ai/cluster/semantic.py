"""On embeddings: what the words say about a pair the vectors misjudge.

A small sentence-embedding model reads "best road bike" and "best budget road bike", "yoga
classes" and "yoga classes near me", "best espresso machine" and "espresso machine price" as
near rewordings (cosine 0.8 or more); an SEO gives each its own page (eval/data/GUIDE.md: a
modifier that changes the page, local, commercial vs transactional). The lexical path says so
through its facet penalties (`vectors.Space.factor`); here the same facets lower the cosine by
`OTHER_PAGE_PENALTY` (`penalise_other_pages`), so only a pair the model reads as nearly the same
text still merges. The other way, two keywords sharing most of their terms and facets are
usually one page even when the model scores them a little under the threshold: the lexical
similarity, when strong, adds to the cosine (`semantic_edges`). Both measured on dev + dev2
(docs/decisions.md, "Embeddings round 7 (dev + dev2)").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from igny8d.ai.cluster.facets import terms_of
from igny8d.ai.cluster.rules import INTENT_BIT
from igny8d.ai.cluster.vectors import (
    Prepared,
    Space,
    drop_page_conflicts,
    head_key,
    page_types,
    similarity_edges,
    vector_edges,
)
from igny8d.ai.text import Analysis

#: The lexical similarity (`Space.sim`) from which it adds to a pair's similarity ...
STRONG_LEXICAL = 0.4
#: ... times this (dev + dev2 leave-one-niche-out 0.672 → 0.689; 0.05 or 0.15 less stable).
LEXICAL_BONUS = 0.1

#: The similarity of two keywords wanting different pages is multiplied by this (dev + dev2
#: leave-one-niche-out: 0.8 to 0.85 best, a never-merge rule 0.005 lower, 0.95 0.016 lower).
OTHER_PAGE_PENALTY = 0.85
#: Facets that make another page wherever one keyword has them and the other does not: a
#: local pack, free things, used goods.
ANYWHERE = frozenset({"local", "free", "used"})
#: Facets that make another list beside a listicle ("best road bike for beginners", "best
#: budget road bike"); in a question they often do not ("how to start yoga as a beginner").
BESIDE_LISTICLE = frozenset({"beginner", "budget"})
#: Firm commercial and transactional intents: the review or listicle page and the price or
#: buy page (the linkage's intent rules let them share a cluster on the lexical path).
_BUYING = INTENT_BIT["commercial"] | INTENT_BIT["transactional"]


def other_pages(a: Prepared, b: Prepared) -> bool:
    """Whether two keywords want different pages by their facets or firm buying intents."""
    fa, fb = set(terms_of(a.analysis).facets), set(terms_of(b.analysis).facets)
    diff = fa ^ fb
    if diff & ANYWHERE:
        return True
    if diff & BESIDE_LISTICLE and ("best" in fa or "best" in fb):
        return True
    return a.firm_bit != b.firm_bit and a.firm_bit | b.firm_bit == _BUYING


def blend(cosine: float | None, lexical: float, low: float) -> float:
    """One pair's similarity from its cosine (None: under `low`) and its lexical similarity:
    the larger of the lexical similarity (0 under `low`) and the cosine plus `LEXICAL_BONUS`
    times a strong lexical similarity, at most 1.0. One formula for the batch
    (`semantic_edges`) and for a single pair (`learned.hand_similarity`)."""
    best = lexical if lexical >= low else 0.0
    if cosine is not None:
        best = max(best, min(1.0, cosine + (
            LEXICAL_BONUS * lexical if lexical >= STRONG_LEXICAL else 0.0)))
    return best


def penalised(sim: float, other: bool, cutoff: float) -> float | None:
    """A pair's similarity after the other-page penalty (`other`: `other_pages`), or None
    when it falls under `cutoff`."""
    if other:
        sim *= OTHER_PAGE_PENALTY
    return sim if sim >= cutoff else None


def penalise_other_pages(edges: list[dict[int, float]], prepared: Sequence[Prepared],
                         cutoff: float) -> list[dict[int, float]]:
    """`edges` (symmetric, between `prepared[i]` and `prepared[j]`) with each pair wanting
    different pages (`other_pages`) scaled by `OTHER_PAGE_PENALTY`, and dropped below
    `cutoff`."""
    for u, row in enumerate(edges):
        for v in sorted(v for v in row if v > u):
            if other_pages(prepared[u], prepared[v]):
                s = penalised(row[v], True, cutoff)
                if s is not None:
                    row[v] = edges[v][u] = s
                else:
                    del row[v]
                    del edges[v][u]
    return edges


def semantic_edges(units: Sequence[tuple[float, ...]], analyses: Sequence[Analysis],
                   cutoff: float) -> list[dict[int, float]]:
    """Edges (≥ cutoff) between keywords on embeddings: per pair the larger of the vectors'
    cosine and the lexical similarity (`Space.sim`: 1.0 for the same terms and facets, high for
    rewordings and misspellings a small embedding model scores lower), plus `LEXICAL_BONUS`
    times the lexical similarity where it is at least `STRONG_LEXICAL`, at most 1.0; without the
    pairs whose page types conflict (`vectors.pages_conflict`). `units[i]` is the vector of the
    keyword analysed as `analyses[i]`; every analysis has a head."""
    low = cutoff - LEXICAL_BONUS
    edges = vector_edges(units, low)
    space = Space(analyses)
    by_key: dict[int, list[int]] = defaultdict(list)
    for i, a in enumerate(analyses):
        by_key[space.index[head_key(a)]].append(i)
    for same in by_key.values():
        for x, i in enumerate(same):
            for j in same[x + 1:]:
                edges[i][j] = edges[j][i] = 1.0
    for u, row in enumerate(similarity_edges(space, min(low, STRONG_LEXICAL))):
        for v, s in row.items():
            if v > u:
                for i in by_key[u]:
                    for j in by_key[v]:
                        best = blend(edges[i].get(j), s, low)
                        if best > 0.0:
                            edges[i][j] = edges[j][i] = best
    for row in edges:
        for j in [j for j, s in row.items() if s < cutoff]:
            del row[j]
    return drop_page_conflicts(edges, [page_types(a) for a in analyses])
