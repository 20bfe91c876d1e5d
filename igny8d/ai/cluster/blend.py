"""A lexical + semantic blend as one vector per keyword: `blended`.

The TF-IDF similarity (`vectors.Space.sim`) is WORD_WEIGHT · cos(word vectors) + (1 -
WORD_WEIGHT) · cos(character vectors), both unit vectors; so it is the dot product of the
concatenation [√WORD_WEIGHT · word, √(1 - WORD_WEIGHT) · char]. Concatenating that (times
√(1 - w)) with the unit embedding (times √w) gives vectors whose cosine is
w · cos(embeddings) + (1 - w) · TF-IDF similarity: the blend goes through the same linkage and
assignment code as any embeddings.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

from igny8d.ai.cluster.results import KeywordItem
from igny8d.ai.cluster.vectors import WORD_WEIGHT, Space, head_key, prepare


def blended(items: Iterable[KeywordItem], embeddings: Mapping[int, Sequence[float]], *,
            semantic_weight: float) -> dict[int, tuple[float, ...]]:
    """Per keyword id, its embedding blended with its TF-IDF vector over these keywords
    (`semantic_weight` of the cosine from the embedding, the rest from the terms); a keyword
    with no head (nothing left after normalisation) keeps only its weighted embedding."""
    if not 0.0 <= semantic_weight <= 1.0:
        raise ValueError("semantic_weight must be in [0, 1]")
    prepared = prepare(items)
    space = Space([p.analysis for p in prepared if p.analysis.head])
    columns: dict[str, int] = {}
    for u in range(len(space.keys)):
        for t in space.word[u]:
            columns.setdefault("w:" + t, len(columns))
        for t in space.char[u]:
            columns.setdefault("c:" + t, len(columns))
    sem, lex = math.sqrt(semantic_weight), math.sqrt(1.0 - semantic_weight)
    word_scale, char_scale = lex * math.sqrt(WORD_WEIGHT), lex * math.sqrt(1.0 - WORD_WEIGHT)
    out: dict[int, tuple[float, ...]] = {}
    for p in prepared:
        raw = [float(x) for x in embeddings[p.item.id]]
        norm = math.sqrt(math.fsum(x * x for x in raw))
        lexical = [0.0] * len(columns)
        if p.analysis.head:
            u = space.index[head_key(p.analysis)]
            for t, v in space.word[u].items():
                lexical[columns["w:" + t]] = word_scale * v
            for t, v in space.char[u].items():
                lexical[columns["c:" + t]] = char_scale * v
        out[p.item.id] = tuple((sem * x / norm if norm else 0.0) for x in raw) + tuple(lexical)
    return out
