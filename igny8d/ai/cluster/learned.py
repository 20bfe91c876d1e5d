"""A learned probability that two keywords want one page, in place of the hand-multiplied
similarity: on embeddings of the model it was fitted for (`PairModel`), and on the lexical
path (`LexicalPairModel`, at the end of this module).

The hand rules on embeddings (`semantic`: the larger of cosine and lexical similarity, a bonus,
a penalty for other pages, a cosine threshold) were tuned on two writers' gold sets and lose
0.05 to 0.1 ARI on every writer they were not tuned on. A logistic regression over the pair's
own measures — the hand similarity itself, the cosine, the lexical similarity, whether the
facets say another page, and the lexical path's parts (`pair_features`: TF-IDF cosines, facet
differences, page-type and intent conflicts, a question on one side) — fitted on six writers'
gold sets (99 niches, `eval/fit_pair_model.py --write`), gains on each writer left out of its
fit (docs/decisions.md, "A learned pair scorer on four writers" and "Two more writers, and the
pair model refitted on six"). Its coefficients hold for the
cosines of the model it was fitted on only (`PairModel.embedding_model`): any other model keeps
the hand rules and its threshold.

Pairs scored: cosine ≥ `PairModel.min_cosine` or lexical similarity ≥ `PairModel.min_lexical`
(others are no edge, as in the fit); complete linkage over the probabilities at
`PairModel.threshold`. New keywords join an existing cluster by the same probabilities: the
cluster whose mean probability with them is highest and at least `PairModel.join_threshold`
(`assign_to_existing(..., pair_model=)`; on each tuning set it places more keywords right
and fewer wrong than the hand similarity did, docs/decisions.md, "New keywords join by the pair
model").
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import math
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from igny8d.ai.cluster.rules import conflicts
from igny8d.ai.cluster.semantic import LEXICAL_BONUS, blend, other_pages, penalised
from igny8d.ai.cluster.vectors import (
    DECIMALS,
    DESTINATIONS,
    PAGE_FACETS,
    Prepared,
    Space,
    _block_cap,
    head_key,
    mix,
    page_types,
    pages_conflict,
    similarity_edges,
)

log = logging.getLogger(__name__)

#: The fitted model shipped with igny8d for the default embedding model, all-MiniLM-L6-v2
#: (written by `eval/fit_pair_model.py --write`).
MODEL_FILE = Path(__file__).resolve().parent.parent / "data" / "pair_model.json"
#: The one for all-mpnet-base-v2 (`--embedding-model`): its cosines are another scale, so it
#: has coefficients of its own (docs/decisions.md, "A pair model for all-mpnet-base-v2").
MPNET_MODEL_FILE = MODEL_FILE.with_name("pair_model_mpnet.json")
#: Each embedding model a pair model is shipped for → its file.
MODEL_FILES: dict[str, Path] = {"all-minilm-l6-v2": MODEL_FILE,
                                "all-mpnet-base-v2": MPNET_MODEL_FILE}

#: Facets whose difference is a feature of its own.
NAMED_FACETS = ("best", "buy", "local", "alternative", "login", "support", "compare", "free",
                "used", "beginner", "budget", "yes_no")
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


class Facts(NamedTuple):
    """What `pair_features` reads of one key, taken once per key rather than once per pair."""

    stems: frozenset[str]
    length: int
    last: str | None
    facets: frozenset[str]
    pages: frozenset[str]
    question: bool
    intent: str
    mask: int


def facts(space: Space, u: int, p: Prepared, mask: int) -> Facts:
    """`Facts` of key `u` of `space`, read as keyword `p` with firm-intent mask `mask`."""
    stems, _, fs = space.keys[u]
    tokens = p.analysis.tokens
    return Facts(frozenset(stems), len(stems), stems[-1] if stems else None, frozenset(fs),
                 PAGE_FACETS.intersection(fs), bool(tokens) and tokens[0] in _QUESTIONS,
                 p.intent.intent, mask)


_NO_FACET_DIFF = (0.0,) * len(NAMED_FACETS)


def pair_features(space: Space, u: int, v: int, a: Facts, b: Facts,
                  dots: tuple[float, float] | None = None, factor: float | None = None
                  ) -> list[float]:
    """`SHARED` of keys `u`, `v` of `space` (their `facts` `a`, `b`); their terms'
    `Space.term_dots` and their `Space.factor` when the caller has them."""
    t, w = space.term_of[u], space.term_of[v]
    word, char = space.term_dots(t, w) if dots is None else dots
    diff = a.facets ^ b.facets
    shared, either = len(a.stems & b.stems), len(a.stems | b.stems)
    return [
        word, char, 1.0 if t == w else mix(word, char),
        space.factor(u, v) if factor is None else factor, float(len(diff)),
        float(bool(a.pages and b.pages and a.pages != b.pages)), shared / max(1, either),
        float(either - shared), float(min(a.length, b.length)), float(max(a.length, b.length)),
        float(a.last is not None and a.last == b.last), float(a.intent == b.intent),
        float(bool(a.mask) and bool(b.mask)), float(bool(a.mask) != bool(b.mask)),
        float(conflicts(a.mask, b.mask)), float(a.question != b.question),
        *_facet_diff(diff)]


@functools.lru_cache(maxsize=4096)
def _facet_diff(diff: frozenset[str]) -> tuple[float, ...]:
    """Which `NAMED_FACETS` two keys differ by (few distinct differences; most pairs have one)."""
    return tuple(float(f in diff) for f in NAMED_FACETS) if diff else _NO_FACET_DIFF


def hand_similarity(cosine: float, lexical: float | None, same_key: bool, other: bool,
                    conflict: bool) -> float:
    """The hand rules' similarity on embeddings (`semantic.semantic_edges` then
    `semantic.penalise_other_pages`, both at `HAND_CUTOFF`) of one pair, from its rounded
    cosine, its lexical edge (`similarity_edges` at 0.2, None without one), whether the two
    share their key, want other pages or name conflicting page types — so it is computed for
    the candidate pairs only, not for every pair of the batch (a test keeps the two equal)."""
    low = HAND_CUTOFF - LEXICAL_BONUS
    near = cosine if cosine >= low else None
    if same_key:
        sim = 1.0
    elif lexical is not None:
        sim = blend(near, lexical, low)
    else:
        sim = near if near is not None else 0.0
    if sim < HAND_CUTOFF or conflict:
        return 0.0
    return penalised(sim, other, HAND_CUTOFF) or 0.0


def vector_pairs(headed: Sequence[Prepared], units: Sequence[tuple[float, ...]],
                 min_cosine: float, min_lexical: float, top_k: int | None = None,
                 chunk: int = 20_000, touching: int = 0
                 ) -> Iterator[tuple[list[tuple[int, int]], list[list[float]]]]:
    """The candidate pairs (i < j) of headed keywords on their unit vectors and the
    `FEATURES` of each, in chunks of at most `chunk` pairs (so a large batch is scored a
    chunk at a time). Candidates: a cosine ≥ `min_cosine` among each keyword's `top_k`
    nearest (all of them when None; in blocks of rows with numpy, rounded as
    `vectors.vector_edges` rounds), or a lexical similarity ≥ `min_lexical` found as the
    lexical path finds its edges (`vectors.similarity_edges`: pairs sharing only very common
    words or grams are not proposed), or the same key. One place for the product and the fit
    (`eval/fit_pair_model.py`), so both score alike.

    With `touching`, only the pairs whose later keyword is at that position or after are
    scored: joining (`assign_to_existing`) puts the new keywords after the existing ones and
    reads no pair of two existing keywords. The candidates are the same either way."""
    import numpy as np

    if len(headed) < 2:
        return
    analyses = [p.analysis for p in headed]
    space = Space(analyses)
    key = [space.index[head_key(a)] for a in analyses]
    by_key: dict[int, list[int]] = {}
    for i, u in enumerate(key):
        by_key.setdefault(u, []).append(i)
    lexical: dict[tuple[int, int], float] = {}
    for u, near in enumerate(similarity_edges(space, min(min_lexical, HAND_CUTOFF
                                                          - LEXICAL_BONUS))):
        for v, sim in near.items():
            for i in by_key.get(u, ()):
                for j in by_key.get(v, ()):
                    if i < j:
                        lexical[(i, j)] = sim
    same: set[tuple[int, int]] = set()
    for group in by_key.values():
        same.update((i, j) for x, i in enumerate(group) for j in group[x + 1:])
    matrix = np.asarray(units, dtype=np.float64)
    n = len(headed)
    cosine: dict[tuple[int, int], float] = {}
    for start in range(0, n, _BLOCK):
        block = np.round(matrix[start:start + _BLOCK] @ matrix.T, DECIMALS)
        for a in range(block.shape[0]):
            i = start + a
            row = block[a]
            row[i] = -np.inf
            if top_k is not None and top_k < n - 1:
                near_js = np.argpartition(-row, top_k)[:top_k]
            else:
                near_js = np.arange(n)
            for j in near_js[row[near_js] >= min_cosine].tolist():
                cosine[(min(i, j), max(i, j))] = min(1.0, float(row[j]))
    pages = [page_types(a) for a in analyses]
    fact = [facts(space, key[i], p, p.firm_bit) for i, p in enumerate(headed)]
    wanted = {pair for pair, sim in lexical.items() if sim >= min_lexical}
    pairs = sorted(p for p in set(cosine) | wanted | same if p[1] >= touching)
    conflict_at = FEATURES.index("page_conflict")
    for begin in range(0, len(pairs), chunk):
        part = pairs[begin:begin + chunk]
        rows: list[list[float]] = []
        for i, j in part:
            pa, pb = headed[i], headed[j]
            cos = cosine.get((i, j))
            if cos is None:
                cos = min(1.0, round(float(matrix[i] @ matrix[j]), DECIMALS))
            edge = lexical.get((i, j))
            u, v = key[i], key[j]
            is_same = u == v  # one key: a plural or a reordering
            t, w = space.term_of[u], space.term_of[v]
            # the terms' cosines and the facets' factor once, for `Space.sim` and the features
            dots, factor = space.term_dots(t, w), space.factor(u, v)
            lex = (1.0 if is_same else edge if edge is not None
                   else (1.0 if t == w else mix(*dots)) * factor)
            other = other_pages(pa, pb)
            conflict = pages_conflict(pages[i], pages[j])
            row = [hand_similarity(cos, edge, is_same, other, conflict), cos, lex, float(other),
                   *pair_features(space, u, v, fact[i], fact[j], dots, factor)]
            row[conflict_at] = float(conflict)
            rows.append(row)
        yield part, rows


#: Other names servers give a model's full-precision weights: Ollama's library tags
#: ("all-minilm" and "all-minilm:latest" are its 22M-parameter L6-v2 build in F16; ":33m" is
#: L12, another model). A quantised build (q4, q8) is not listed: its cosines move.
ALIASES: dict[str, tuple[str, ...]] = {
    "all-minilm-l6-v2": ("all-minilm", "all-minilm:22m", "all-minilm:l6-v2")}
#: Suffixes of a full-precision conversion's name ("chroma/all-minilm-l6-v2-f32").
_FULL_PRECISION = ("-f32", "-f16", "-fp32", "-fp16")


def short_name(model: str) -> str:
    """A model setting's name as the pair models are keyed: a hub id's or a directory's last
    part, lower case ("sentence-transformers/all-mpnet-base-v2" → "all-mpnet-base-v2")."""
    return model.strip().rstrip("/").rsplit("/", 1)[-1].lower()


def _spellings(model: str) -> tuple[set[str], set[str]]:
    """How a served model's name may spell its weights: the last part of a hub id or path,
    lower case, without Ollama's ":latest" or a full-precision suffix (its names); and its
    Ollama tag alone, which names the weights only when it is their full name
    ("sentence-transformers:all-minilm-l6-v2"; not "nomic-embed-text:all-minilm")."""
    base, _, tag = short_name(model).partition(":")

    def bare(n: str) -> set[str]:
        return {n, *(n.removesuffix(s) for s in _FULL_PRECISION)}
    return bare(base if tag in ("", "latest") else f"{base}:{tag}"), bare(tag) if tag else set()


def names_model(own: str, model: str | None) -> bool:
    """Whether the setting `model` (a name, a hub id, a path or an Ollama tag) names the
    weights `own` a shipped model was fitted on (`ALIASES` included)."""
    if not model:
        return False
    own = own.lower()
    names, tag = _spellings(model)
    return bool(names & {own, *ALIASES.get(own, ())}) or own in tag


@dataclass(frozen=True)
class Logistic:
    """A logistic regression over standardised features: P(one page) is the logistic of
    coef . ((x - mean) / scale) + intercept."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float

    def scores(self, x: Any) -> Any:
        """Probabilities of a numpy matrix of feature rows (one place for the product and
        the fit's harness)."""
        import numpy as np

        z = ((x - np.asarray(self.mean)) / np.asarray(self.scale)) @ np.asarray(self.coef)
        return 1.0 / (1.0 + np.exp(-(z + self.intercept)))


#: Rows `Trees.scores` takes at once.
_SCORE_ROWS = 65_536


@dataclass(frozen=True)
class Trees:
    """Gradient-boosted trees on the log-odds (scikit-learn's HistGradientBoostingClassifier,
    exported by `eval/fit_pair_model.py` so the product needs no scikit-learn): P(one page) is
    the logistic of `baseline` plus one leaf value per tree. Each tree is five parallel
    tuples over its nodes — feature index (-1 at a leaf), threshold (a row goes left when its
    feature is at most it), left child, right child, leaf value; node 0 is the root, and a
    node's children come after it (as scikit-learn numbers them; `well_formed`)."""

    features: tuple[str, ...]
    baseline: float
    trees: tuple[tuple[tuple[int, ...], tuple[float, ...], tuple[int, ...], tuple[int, ...],
                       tuple[float, ...]], ...]

    @functools.cached_property
    def _paths(self) -> list[tuple[list[tuple[int, float]],
                                   list[tuple[float, list[tuple[int, bool]]]]]]:
        """Per tree, its tests (feature, threshold) and its leaves, each a value and the path
        to it as (test, left?) steps."""
        out = []
        for feature, threshold, left, right, value in self.trees:
            tests: list[tuple[int, float]] = []
            leaves: list[tuple[float, list[tuple[int, bool]]]] = []
            stack: list[tuple[int, list[tuple[int, bool]]]] = [(0, [])]
            while stack:
                node, path = stack.pop()
                if feature[node] < 0:
                    leaves.append((value[node], path))
                    continue
                tests.append((feature[node], threshold[node]))
                slot = len(tests) - 1
                stack.append((left[node], [*path, (slot, True)]))
                stack.append((right[node], [*path, (slot, False)]))
            out.append((tests, leaves))
        return out

    def scores(self, x: Any) -> Any:
        """Probabilities of a numpy matrix of feature rows (one place for the product and
        the fit's harness). Each tree adds its leaves' values where their paths hold, over
        blocks of rows: nine times faster than walking rows node by node through fancy
        indexing (a 10,000-keyword batch has ~840,000 pairs: 16.7 s → 1.8 s)."""
        import numpy as np

        rows = np.asarray(x, dtype=np.float64)
        raw = np.full(len(rows), self.baseline)
        for start in range(0, len(rows), _SCORE_ROWS):
            # a block's columns contiguous (a copy of the block only, not of every row)
            part = np.asfortranarray(rows[start:start + _SCORE_ROWS])
            total = raw[start:start + _SCORE_ROWS]
            for tests, leaves in self._paths:
                holds = [part[:, f] <= t for f, t in tests]
                fails = [~h for h in holds]
                for value, path in leaves:
                    if not path:
                        total += value
                        continue
                    (k, go_left), *rest = path
                    mask = holds[k] if go_left else fails[k]
                    for k, go_left in rest:
                        mask = mask & (holds[k] if go_left else fails[k])
                    total += value * mask
        return 1.0 / (1.0 + np.exp(-raw))

    def well_formed(self) -> bool:
        """Whether the trees can be scored as fitted: at least one; in each, every node's
        feature known, its two children distinct, inside the tree and after it, no node the
        child of two (so a path can neither loop nor multiply), every number finite. A
        hand-edited file that is not must leave the hand rules, not hang or score NaN."""
        n = len(self.features)
        if not self.trees or not math.isfinite(self.baseline):
            return False
        for f, t, lo, hi, v in self.trees:
            size = len(f)
            if not size or not len(t) == len(lo) == len(hi) == len(v) == size:
                return False
            if not all(map(math.isfinite, (*t, *v))):
                return False
            children = [c for node in range(size) if f[node] >= 0 for c in (lo[node], hi[node])]
            if len(children) != len(set(children)):
                return False
            for node in range(size):
                if f[node] >= 0 and not (f[node] < n and node < lo[node] < size
                                         and node < hi[node] < size):
                    return False
        return True

    def to_json(self) -> dict[str, object]:
        return {"kind": "trees", "features": list(self.features), "baseline": self.baseline,
                "trees": [{"feature": list(f), "threshold": list(t), "left": list(lo),
                           "right": list(hi), "value": list(v)}
                          for f, t, lo, hi, v in self.trees]}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Trees:
        """As `to_json` wrote it; a node index that is not a whole number is a TypeError."""
        def index(i: object) -> int:
            if type(i) is not int:
                raise TypeError(f"node index {i!r} is not an integer")
            return i
        return cls(features=tuple(raw["features"]), baseline=float(raw["baseline"]),
                   trees=tuple((tuple(index(i) for i in t["feature"]),
                                tuple(float(x) for x in t["threshold"]),
                                tuple(index(i) for i in t["left"]),
                                tuple(index(i) for i in t["right"]),
                                tuple(float(x) for x in t["value"])) for t in raw["trees"]))


@dataclass(frozen=True)
class PairModel(Logistic):
    """On embeddings: a `Logistic` over `FEATURES`, for one embedding model's cosines."""

    embedding_model: str
    threshold: float
    min_cosine: float
    min_lexical: float
    #: each keyword's nearest neighbours (by cosine) that may be candidates; None: all
    top_k: int | None = None
    #: new keywords join an existing cluster whose mean probability with them reaches this
    #: (`assign_to_existing`); None: they join by the hand similarity and its threshold
    join_threshold: float | None = None

    def fits(self, model: str | None) -> bool:
        """Whether `model` (a name, a hub id, a path or an Ollama tag) is the one the
        coefficients hold for."""
        return names_model(self.embedding_model, model)

    def probabilities(self, rows: Sequence[Sequence[float]]) -> list[float]:
        import numpy as np

        if not rows:
            return []
        return [float(p) for p in self.scores(np.asarray(rows, dtype=np.float64)).tolist()]

    def edges(self, headed: Sequence[Prepared], units: Sequence[tuple[float, ...]],
              cutoff: float | None = None, touching: int = 0) -> list[dict[int, float]]:
        """Edges (≥ `cutoff`, by default `threshold`; symmetric) between headed keywords, by
        probability, without the pairs whose page types conflict (as on the hand path); scored
        a chunk at a time; with `touching`, only pairs reaching that position (`vector_pairs`)."""
        least = self.threshold if cutoff is None else cutoff
        out: list[dict[int, float]] = [{} for _ in headed]
        conflict_at = FEATURES.index("page_conflict")
        for pairs, rows in vector_pairs(headed, units, self.min_cosine, self.min_lexical,
                                        self.top_k, touching=touching):
            for (i, j), row, p in zip(pairs, rows, self.probabilities(rows), strict=True):
                if p >= least and not row[conflict_at]:
                    out[i][j] = out[j][i] = p
        return out

    def to_json(self) -> dict[str, object]:
        return {"embedding_model": self.embedding_model, "features": list(self.features),
                "mean": list(self.mean), "scale": list(self.scale), "coef": list(self.coef),
                "intercept": self.intercept, "threshold": self.threshold,
                "min_cosine": self.min_cosine, "min_lexical": self.min_lexical,
                "top_k": self.top_k, "join_threshold": self.join_threshold}


@functools.cache
def shipped(path: Path | None = None) -> PairModel | None:
    """The model shipped in `path` (default `MODEL_FILE`, the default embedding model's), or
    None when it is missing or was fitted on other features than this code computes (then
    the hand rules cluster)."""
    path = MODEL_FILE if path is None else path
    try:
        raw = _json_object(path)
        base = _logistic_from_json(raw)
        model = PairModel(
            **{f.name: getattr(base, f.name) for f in dataclasses.fields(Logistic)},
            embedding_model=str(raw["embedding_model"]),
            threshold=float(raw["threshold"]), min_cosine=float(raw["min_cosine"]),
            min_lexical=float(raw["min_lexical"]),
            top_k=None if raw.get("top_k") is None else int(raw["top_k"]),
            join_threshold=None if raw.get("join_threshold") is None
            else float(raw["join_threshold"]))
    except _UNREADABLE as exc:
        log.warning("pair model %s not usable (%s): clustering by the threshold", path, exc)
        return None
    join = 0.5 if model.join_threshold is None else model.join_threshold
    return model if _usable(model, path, FEATURES, (model.threshold, join)) else None


def shipped_for(model: str | None) -> PairModel | None:
    """The shipped pair model fitted on `model`'s vectors (any spelling of its name), or
    None: no model of ours was fitted on it."""
    for pair_model in (shipped(), *(shipped(p) for p in MODEL_FILES.values()
                                    if p != MODEL_FILE)):
        if pair_model is not None and pair_model.fits(model):
            return pair_model
    return None


#: What reading a hand-edited model file can raise (1e999 as an index: OverflowError).
_UNREADABLE = (OSError, ValueError, KeyError, TypeError, ArithmeticError)


def _json_object(path: Path) -> dict[str, Any]:
    raw = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(raw, dict):
        raise TypeError("not a JSON object")
    return raw


def _logistic_from_json(raw: dict[str, Any]) -> Logistic:
    return Logistic(features=tuple(raw["features"]), mean=tuple(float(v) for v in raw["mean"]),
                    scale=tuple(float(v) for v in raw["scale"]),
                    coef=tuple(float(v) for v in raw["coef"]),
                    intercept=float(raw["intercept"]))


def _usable(model: Logistic | Trees, path: Path, features: tuple[str, ...],
            thresholds: Sequence[float]) -> bool:
    """Whether a model read from `path` was fitted on `features` and its probability
    thresholds lie in (0, 1) — a 0 (or NaN) would merge or join every keyword; logged when
    not, and the hand rules cluster."""
    if isinstance(model, Trees):
        formed = model.well_formed()
    else:
        # a NaN or infinite weight, or a zero scale, would make every probability NaN: no
        # edges, every keyword alone, and nothing said
        formed = len(model.mean) == len(model.scale) == len(model.coef) == len(features) \
            and all(map(math.isfinite, (*model.mean, *model.scale, *model.coef,
                                        model.intercept))) and all(model.scale)
    if model.features != features or not formed:
        log.warning("pair model %s is malformed or was fitted on other features: clustering "
                    "by the threshold", path)
        return False
    if not all(0.0 < t < 1.0 for t in thresholds):
        log.warning("pair model %s has a threshold outside (0, 1): clustering by the threshold",
                    path)
        return False
    return True


# -- the lexical path --------------------------------------------------------------------------
# The hand similarity's penalties were tuned on two writers and score 0.05 to 0.1 ARI under them
# on writers they were not tuned on. Fitted on eight (131 niches), a logistic over the key
# pair's measures gained +0.008 to +0.026 on the three blind holdouts (docs/decisions.md, "The
# learned pair model on the lexical path"); boosted trees over the same measures gain on every
# writer left out and +0.005 to +0.017 more on the holdouts ("Boosted trees on the lexical
# path").

#: The lexical path's fitted model (`eval/fit_pair_model.py --path local --model boosted
#: --write`).
LEXICAL_MODEL_FILE = MODEL_FILE.with_name("pair_model_lexical.json")
#: A pair of keys on the lexical path: the hand similarity first, the facet factor's parts,
#: how many keywords of the request each key stands for (its plurals and reorderings; the
#: smaller, the larger), then `SHARED`.
LEXICAL_FEATURES = ("hand", "log_factor", "same_terms", "destination_diff", "both_best",
                    "both_compare", "facet_subset", "unshared_idf", "size_min", "size_max",
                    *SHARED)
#: Term pairs whose TF-IDF similarity is below this are never scored.
LEXICAL_LOW = 0.1


def lexical_pairs(space: Space, prepared: Sequence[Prepared], key_of: Sequence[int],
                  touching: Collection[int] | None = None
                  ) -> tuple[list[tuple[int, int]], list[list[float]]]:
    """The key pairs (u < v) the lexical path could link — keys sharing their terms, and the
    keys of the term pairs `Space.candidates` proposes at TF-IDF similarity ≥ `LEXICAL_LOW` —
    with their `LEXICAL_FEATURES`: one place for the product and the fit's harness. With
    `touching` (keys), only the pairs with at least one key of it: joining new keywords to
    existing clusters reads no pair of two existing keywords."""
    near = None if touching is None else {space.term_of[u] for u in touching}
    members: dict[int, list[int]] = {}
    for i, u in enumerate(key_of):
        if u >= 0:
            members.setdefault(u, []).append(i)
    fact = {u: facts(space, u, prepared[idx[0]], _mask(prepared, idx))
            for u, idx in members.items()}
    found: set[tuple[int, int]] = set()
    for keys in space.keys_of_term:
        for x, u in enumerate(keys):
            found.update((min(u, v), max(u, v)) for v in keys[x + 1:])
    # each term pair's cosines once: the blocking's test, the hand similarity and the
    # features all read them (computing them anew for each was most of the path's CPU)
    dots: dict[tuple[int, int], tuple[float, float]] = {}
    for t, ws in space.candidates(_block_cap(len(space.terms))).items():
        for w in ws:
            if near is not None and t not in near and w not in near:
                continue
            d = space.term_dots(t, w)
            if mix(*d) >= LEXICAL_LOW:
                dots[(t, w)] = dots[(w, t)] = d
                found.update((min(u, v), max(u, v)) for u in space.keys_of_term[t]
                             for v in space.keys_of_term[w])
    pairs = sorted((u, v) for u, v in found if u in members and v in members
                   and (touching is None or u in touching or v in touching))
    n_terms = len(space.terms)
    idf = {s: math.log((1 + n_terms) / (1 + df)) + 1.0 for s, df in space.word_df.items()}
    unseen = math.log(1 + n_terms) + 1.0  # a key's stem no term has (acronyms expanded)
    rows: list[list[float]] = []
    for u, v in pairs:
        a, b = fact[u], fact[v]
        t, w = space.term_of[u], space.term_of[v]
        d = (1.0, 1.0) if t == w else dots[(t, w)]
        factor = space.factor(u, v)
        rows.append([
            (1.0 if t == w else mix(*d)) * factor, math.log(factor), float(t == w),
            float(bool(DESTINATIONS & (a.facets ^ b.facets))),
            float("best" in a.facets and "best" in b.facets),
            float("compare" in a.facets and "compare" in b.facets),
            float(a.facets <= b.facets or b.facets <= a.facets),
            max((idf.get(s, unseen) for s in a.stems ^ b.stems), default=0.0),
            float(min(len(members[u]), len(members[v]))),
            float(max(len(members[u]), len(members[v]))),
            *pair_features(space, u, v, a, b, d, factor)])
    return pairs, rows


def _mask(prepared: Sequence[Prepared], idx: Sequence[int]) -> int:
    m = 0
    for i in idx:
        m |= prepared[i].firm_bit
    return m


Scorer = Logistic | Trees


def _scorer_json(scorer: Scorer) -> dict[str, object]:
    if isinstance(scorer, Trees):
        return scorer.to_json()
    return {"kind": "logistic", "features": list(scorer.features), "mean": list(scorer.mean),
            "scale": list(scorer.scale), "coef": list(scorer.coef),
            "intercept": scorer.intercept}


def _scorer_from_json(raw: dict[str, Any]) -> Scorer:
    """A scorer as `_scorer_json` wrote it (a file without "kind" is a logistic)."""
    kind = raw.get("kind", "logistic")
    if kind == "trees":
        return Trees.from_json(raw)
    if kind != "logistic":
        raise ValueError(f"unknown scorer kind {kind!r}")
    return _logistic_from_json(raw)


@dataclass(frozen=True)
class LexicalPairModel:
    """The lexical path's scorer (a `Logistic` or `Trees`) over `LEXICAL_FEATURES`; its
    probabilities are the edges of average linkage with a pair floor (`floor`: every cross
    pair of a merge at least this) and a mean of at least `threshold`."""

    scorer: Scorer
    floor: float
    threshold: float
    #: a new keyword joins an existing cluster whose mean probability with it reaches this
    #: (`assign_to_existing`); None: it joins by the hand similarity and its threshold
    join_threshold: float | None = None

    @property
    def features(self) -> tuple[str, ...]:
        return self.scorer.features

    def scores(self, x: Any) -> Any:
        return self.scorer.scores(x)

    def edges(self, space: Space, prepared: Sequence[Prepared], key_of: Sequence[int],
              touching: Collection[int] | None = None) -> list[dict[int, float]]:
        """Edges between keys (symmetric), by probability, none under `floor`; with
        `touching`, only pairs with a key of it (`lexical_pairs`)."""
        import numpy as np

        out: list[dict[int, float]] = [{} for _ in space.keys]
        pairs, rows = lexical_pairs(space, prepared, key_of, touching)
        if not pairs:
            return out
        probabilities = self.scores(np.asarray(rows, dtype=np.float64)).tolist()
        for (u, v), p in zip(pairs, probabilities, strict=True):
            if p >= self.floor:
                out[u][v] = out[v][u] = float(p)
        return out

    def to_json(self) -> dict[str, object]:
        return {**_scorer_json(self.scorer), "floor": self.floor, "threshold": self.threshold,
                "join_threshold": self.join_threshold}


@functools.cache
def shipped_lexical() -> LexicalPairModel | None:
    """The lexical path's model in `LEXICAL_MODEL_FILE`, or None when it is missing or was
    fitted on other features than this code computes (then the hand rules cluster)."""
    try:
        raw = _json_object(LEXICAL_MODEL_FILE)
        join = raw.get("join_threshold")
        model = LexicalPairModel(scorer=_scorer_from_json(raw), floor=float(raw["floor"]),
                                 threshold=float(raw["threshold"]),
                                 join_threshold=None if join is None else float(join))
    except _UNREADABLE as exc:
        log.warning("pair model %s not usable (%s): clustering by the threshold",
                    LEXICAL_MODEL_FILE, exc)
        return None
    usable = _usable(model.scorer, LEXICAL_MODEL_FILE, LEXICAL_FEATURES,
                     (model.floor, model.threshold,
                      0.5 if model.join_threshold is None else model.join_threshold))
    return model if usable else None
