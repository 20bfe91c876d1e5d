"""The cosine edges of the embeddings path (`vectors.vector_edges`): numpy in blocks gives
exactly the edges of the pure-Python reference (similarities rounded, so ties and the
clustering do not depend on the BLAS), and a local-cap-sized batch clusters in seconds."""

from __future__ import annotations

import math
import random
import string
import time

from igny8d.ai.cluster import KeywordItem, cluster_keywords
from igny8d.ai.cluster import vectors as V


def _units(n: int, dim: int, seed: int) -> list[tuple[float, ...]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        v = [rng.gauss(0, 1) for _ in range(dim)]
        norm = math.sqrt(math.fsum(x * x for x in v))
        out.append(tuple(x / norm for x in v))
    return out


def test_numpy_edges_are_the_reference_edges(monkeypatch) -> None:
    units = _units(700, 16, seed=7)  # more rows than one block
    units += [units[3], units[3]]    # exact ties
    monkeypatch.setattr(V, "BLOCK", 256)
    for cutoff in (0.2, 0.5, 0.9):
        fast = V.vector_edges(units, cutoff)
        assert fast == V._vector_edges_python(units, cutoff)
        assert fast[3][700] == fast[700][701] == 1.0
    assert V.vector_edges(units[:1], 0.1) == [{}] and V.vector_edges([], 0.1) == []


def test_a_big_batch_clusters_in_seconds() -> None:
    # 3,000 keywords in 300 tight groups (what a sector of the local cap's size looks like);
    # their texts are random letters, so the words (the lexical side of the similarity) do not
    # group them: the vectors do
    rng = random.Random(3)
    centres = _units(300, 64, seed=11)
    items, emb = [], {}
    for n in range(3000):
        c = centres[n % 300]
        v = [x + rng.gauss(0, 0.02) for x in c]
        items.append(KeywordItem(n, "".join(rng.choices(string.ascii_lowercase, k=10))))
        emb[n] = v
    started = time.process_time()
    result = cluster_keywords(items, embeddings=emb, threshold=0.6)
    spent = time.process_time() - started
    print(f"\n[3,000 keywords on 64-dimension vectors] {spent:.1f} s CPU")
    placed = sorted(k for c in result.clusters for k in c.keyword_ids)
    assert placed == list(range(3000))
    assert {frozenset(c.keyword_ids) for c in result.clusters} == \
        {frozenset(range(g, 3000, 300)) for g in range(300)}
