"""On embeddings of the model it was fitted for: a learned probability that two keywords want
one page, in place of the hand-multiplied similarity.

The hand rules on embeddings (`semantic`: the larger of cosine and lexical similarity, a bonus,
a penalty for other pages, a cosine threshold) were tuned on two writers' gold sets and lose
0.05 to 0.1 ARI on every writer they were not tuned on. A logistic regression over the pair's
own measures — the hand similarity itself, the cosine, the lexical similarity, whether the
facets say another page, and the lexical path's parts (`pair_features`: TF-IDF cosines, facet
differences, page-type and intent conflicts, a question on one side) — fitted on four writers'
gold sets (67 niches, `eval/fit_pair_model.py --write`), gains on each writer left out of its
fit (docs/decisions.md, "A learned pair scorer on four writers"). Its coefficients hold for the
cosines of the model it was fitted on only (`PairModel.embedding_model`): any other model keeps
the hand rules and its threshold.

Pairs scored: cosine ≥ `PairModel.min_cosine` or lexical similarity ≥ `PairModel.min_lexical`
(others are no edge, as in the fit); complete linkage over the probabilities at
`PairModel.threshold`.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from igny8d.ai.cluster.rules import conflicts
from igny8d.ai.cluster.semantic import other_pages, penalise_other_pages, semantic_edges
from igny8d.ai.cluster.vectors import (
    PAGE_FACETS,
    Prepared,
    Space,
    _dot,
    head_key,
    page_types,
    pages_conflict,
    similarity_edges,
)

#: The fitted model shipped with igny8d (written by `eval/fit_pair_model.py --write`).
MODEL_FILE = Path(__file__).resolve().parent.parent / "data" / "pair_model.json"

#: Facets whose difference is a feature of its own.
NAMED_FACETS = ("best", "buy", "local", "alternative", "login", "support", "compare", "free",
                "used", "beginner", "budget", "yes_no", "m:app")
_QUESTIONS = frozenset({"how", "what", "why", "when", "which", "who", "where", "is", "are",
                        "can", "do", "does", "should", "will"})
#: The lexical parts of a pair (`pair_features`), shared with the lexical path's harness.
SHARED = ("word", "char", "term_sim", "factor", "facet_diff", "page_conflict", "stem_jaccard",
          "stem_symdiff", "min_len", "max_len", "same_last", "intent_equal", "both_firm",
          "one_firm", "mask_conflict", "question_xor", *(f"diff:{f}" for f in NAMED_FACETS))
#: A pair on embeddings: the hand similarity first, then the model's cosine, the lexical
#: similarity, `semantic.other_pages`, then `SHARED`.
FEATURES = ("hand", "cos", "lexical", "other_pages", *SHARED)
#: The hand similarity is computed down to this (a pair under it has hand similarity 0).
HAND_CUTOFF = 0.3
#: Rows of the cosine matrix computed at once (memory: this many times the batch's size).
_BLOCK = 512


def pair_features(space: Space, u: int, v: int, pa: Prepared, pb: Prepared, ma: int, mb: int
                  ) -> list[float]:
    """`SHARED` of two keys of `space` (keywords `pa`, `pb`, firm-intent masks `ma`, `mb`)."""
    t, w = space.term_of[u], space.term_of[v]
    (su, _, fu), (sv, _, fv) = space.keys[u], space.keys[v]
    diff = set(fu) ^ set(fv)
    pu, pv = PAGE_FACETS.intersection(fu), PAGE_FACETS.intersection(fv)
    a, b = set(su), set(sv)
    qa = pa.analysis.tokens[:1] and pa.analysis.tokens[0] in _QUESTIONS
    qb = pb.analysis.tokens[:1] and pb.analysis.tokens[0] in _QUESTIONS
    return [
        1.0 if t == w else _dot(space.word[t], space.word[w]),
        1.0 if t == w else _dot(space.char[t], space.char[w]),
        space.term_sim(t, w), space.factor(u, v), float(len(diff)),
        float(bool(pu and pv and pu != pv)), len(a & b) / max(1, len(a | b)), float(len(a ^ b)),
        float(min(len(su), len(sv))), float(max(len(su), len(sv))),
        float(bool(su) and bool(sv) and su[-1] == sv[-1]),
        float(pa.intent.intent == pb.intent.intent), float(bool(ma) and bool(mb)),
        float(bool(ma) != bool(mb)), float(conflicts(ma, mb)), float(bool(qa) != bool(qb)),
        *(float(f in diff) for f in NAMED_FACETS)]


def vector_pairs(headed: Sequence[Prepared], units: Sequence[tuple[float, ...]],
                 min_cosine: float, min_lexical: float
                 ) -> tuple[list[tuple[int, int]], list[list[float]]]:
    """The candidate pairs (i < j) of headed keywords on their unit vectors, and the
    `FEATURES` of each: cosine ≥ `min_cosine` (found in blocks of rows with numpy), or a
    lexical similarity ≥ `min_lexical` (found as the lexical path finds its edges,
    `vectors.similarity_edges`: pairs sharing only very common words or grams are not
    proposed). One place for the product and the fit (`eval/fit_pair_model.py`), so both
    score alike."""
    import numpy as np

    analyses = [p.analysis for p in headed]
    hand = penalise_other_pages(semantic_edges(units, analyses, HAND_CUTOFF), headed,
                                HAND_CUTOFF)
    space = Space(analyses)
    key = [space.index[head_key(a)] for a in analyses]
    by_key: dict[int, list[int]] = {}
    for i, u in enumerate(key):
        by_key.setdefault(u, []).append(i)
    lexical: dict[tuple[int, int], float] = {}
    for u, near in enumerate(similarity_edges(space, min_lexical)):
        for v, sim in near.items():
            for i in by_key.get(u, ()):
                for j in by_key.get(v, ()):
                    if i < j:
                        lexical[(i, j)] = sim
    for same in by_key.values():
        for x, i in enumerate(same):
            for j in same[x + 1:]:
                lexical[(i, j)] = 1.0
    matrix = np.asarray(units, dtype=np.float64)
    cosine: dict[tuple[int, int], float] = {}
    for start in range(0, len(headed), _BLOCK):
        block = matrix[start:start + _BLOCK] @ matrix.T
        for a, j in zip(*np.nonzero(block >= min_cosine), strict=True):
            i = start + int(a)
            if i < int(j):
                cosine[(i, int(j))] = float(block[a, j])
    pages = [page_types(a) for a in analyses]
    conflict_at = FEATURES.index("page_conflict")
    pairs = sorted(set(cosine) | set(lexical))
    rows: list[list[float]] = []
    for i, j in pairs:
        pa, pb = headed[i], headed[j]
        cos = cosine.get((i, j))
        if cos is None:
            cos = float(matrix[i] @ matrix[j])
        lex = lexical.get((i, j))
        if lex is None:
            lex = space.sim(key[i], key[j])
        row = [hand[i].get(j, 0.0), cos, lex, float(other_pages(pa, pb)),
               *pair_features(space, key[i], key[j], pa, pb, pa.firm_bit, pb.firm_bit)]
        row[conflict_at] = float(pages_conflict(pages[i], pages[j]))
        rows.append(row)
    return pairs, rows


@dataclass(frozen=True)
class PairModel:
    """A logistic regression over standardised `FEATURES`: P(one page) is the logistic of
    coef . ((x - mean) / scale) + intercept."""

    embedding_model: str
    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    threshold: float
    min_cosine: float
    min_lexical: float

    def fits(self, model: str | None) -> bool:
        """Whether `model` (a name, a hub id or a path) is the one the coefficients hold for."""
        if not model:
            return False
        tail = model.strip().rstrip("/").rsplit("/", 1)[-1].lower()
        return tail == self.embedding_model.lower()

    def probabilities(self, rows: Sequence[Sequence[float]]) -> list[float]:
        import numpy as np

        if not rows:
            return []
        x = (np.asarray(rows, dtype=np.float64) - np.asarray(self.mean)) / np.asarray(self.scale)
        z = x @ np.asarray(self.coef) + self.intercept
        return [1.0 / (1.0 + math.exp(-v)) for v in z.tolist()]

    def edges(self, headed: Sequence[Prepared], units: Sequence[tuple[float, ...]]
              ) -> list[dict[int, float]]:
        """Edges (≥ `threshold`, symmetric) between headed keywords, by probability, without
        the pairs whose page types conflict (as on the hand path)."""
        pairs, rows = vector_pairs(headed, units, self.min_cosine, self.min_lexical)
        out: list[dict[int, float]] = [{} for _ in headed]
        conflict_at = FEATURES.index("page_conflict")
        for (i, j), row, p in zip(pairs, rows, self.probabilities(rows), strict=True):
            if p >= self.threshold and not row[conflict_at]:
                out[i][j] = out[j][i] = p
        return out

    def to_json(self) -> dict[str, object]:
        return {"embedding_model": self.embedding_model, "features": list(self.features),
                "mean": list(self.mean), "scale": list(self.scale), "coef": list(self.coef),
                "intercept": self.intercept, "threshold": self.threshold,
                "min_cosine": self.min_cosine, "min_lexical": self.min_lexical}


@functools.cache
def shipped() -> PairModel | None:
    """The model shipped in `MODEL_FILE`, or None when it is missing or was fitted on other
    features than this code computes (then the hand rules cluster)."""
    try:
        raw = json.loads(MODEL_FILE.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    model = PairModel(
        embedding_model=str(raw["embedding_model"]), features=tuple(raw["features"]),
        mean=tuple(float(v) for v in raw["mean"]), scale=tuple(float(v) for v in raw["scale"]),
        coef=tuple(float(v) for v in raw["coef"]), intercept=float(raw["intercept"]),
        threshold=float(raw["threshold"]), min_cosine=float(raw["min_cosine"]),
        min_lexical=float(raw["min_lexical"]))
    if model.features != FEATURES or not (len(model.mean) == len(model.scale)
                                         == len(model.coef) == len(FEATURES)):
        return None
    return model
