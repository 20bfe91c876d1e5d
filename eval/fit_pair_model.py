"""A learned pair scorer for the clustering: fitted, measured, and written for the product.

    python -m eval.fit_pair_model [--path local|embeddings] [--model logistic|boosted]
                                  [--embedding-model DIR] [--restrict 0.05]
                                  [--vectors /tmp/vectors.pkl]
                                  [--top-k K] [--stack] [--write]

Instead of the hand-multiplied penalties (`vectors.Space.factor`,
`semantic.penalise_other_pages`), a small model maps a pair's features to P(same page). Each
candidate pair is described by the clustering's own measures (word and character TF-IDF
cosine, the facet factor and its parts, page-type and intent conflicts, the hand-rule
similarity itself, on embeddings the MiniLM cosine…) and labelled by the gold sets. The
model's probabilities replace the similarity as edges of the same agglomeration
(`linkage._State`, intent conflicts as before), at each configuration of a grid.

* local: pairs of keys (distinct terms and facets) the blocking proposes (`Space.candidates`,
  TF-IDF similarity ≥ `LOW`) and keys sharing their terms, labelled by the share of their
  keyword pairs in one gold cluster; average linkage swept over (pair floor, threshold).
  Landed on eight writers: `--model boosted --write` fits gradient-boosted trees on every
  tuning niche and writes them as `learned.Trees` to `igny8d/ai/data/pair_model_lexical.json`
  (features: `learned.lexical_pairs`; `--model logistic --write` writes a logistic instead).
* embeddings: the candidate pairs and features of the product (`learned.vector_pairs`),
  labelled same gold cluster or not; complete linkage swept over the threshold. Landed for
  all-MiniLM-L6-v2: `--write` fits the logistic on every tuning niche and writes
  `igny8d/ai/data/pair_model.json`; with `--embedding-model` naming all-mpnet-base-v2's
  directory, `pair_model_mpnet.json` (landed; docs/decisions.md, "A pair model for
  all-mpnet-base-v2"). `--stack` measures (nested leave-one-writer-out) the
  lexical trees' probability as a last feature; not shipped (docs/decisions.md, "Two more
  writers (dev9, dev10)").

Each niche weighs the same in the fit. Figures, on the tuning sets only (`TUNING_SETS`, four
writers; the holdouts are never read): leave-one-niche-out (each niche's probabilities from
a model fitted on the others, then `eval.clustering_cv.leave_one_niche_out` picks the
configuration on the others and scores the held-out niche — as for the hand rules, whose
baseline goes through the same agglomeration), and leave-one-writer-out (`lowo`). Results:
docs/decisions.md, "A learned pair scorer (measured, not landed)" and "Two more tuning
writers, and a learned pair scorer on four writers".
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import pickle
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eval.clustering import by_niche, rows_of
from eval.clustering_cv import (
    TUNING_SETS,
    Config,
    Predictions,
    _pooled,
    leave_one_niche_out,
    tuning_rows,
)
from eval.metrics import adjusted_rand_index
from igny8d.ai import KeywordItem
from igny8d.ai.cluster.learned import (
    FEATURES,
    LEXICAL_FEATURES,
    LEXICAL_MODEL_FILE,
    MODEL_FILE,
    MODEL_FILES,
    LexicalPairModel,
    Logistic,
    PairModel,
    Trees,
    lexical_pairs,
    short_name,
    vector_pairs,
)
from igny8d.ai.cluster.linkage import MIN_EDGE, Linkage, _State, lexical_space, vector_space
from igny8d.ai.cluster.rules import DEFAULT_MAX_CLUSTER_SIZE
from igny8d.ai.cluster.vectors import (
    Prepared,
    prepare,
)

#: Local path: (pair floor, threshold) configurations of average linkage; the floor is the
#: least probability every cross pair of a merge needs (below it a pair is no edge), the
#: threshold the least mean.
LOCAL_GRID = tuple((f, t) for f in (0.05, 0.075, 0.1, 0.125, 0.15, 0.2, 0.3)
                   for t in (0.1, 0.15, 0.2, 0.3, 0.4) if t >= f - 0.05)
#: The hand rules' own thresholds (`eval.clustering_cv`), pair floor `MIN_EDGE`.
LOCAL_HAND_GRID = tuple((MIN_EDGE, t) for t in (0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4))
#: Embeddings: complete-linkage thresholds on the probability, and on the hand similarity.
VECTOR_GRID = tuple((0.0, t) for t in (0.05, 0.075, 0.1, 0.125, 0.15, 0.2, 0.25, 0.3, 0.4))
VECTOR_HAND_GRID = tuple((0.0, t) for t in (0.5, 0.55, 0.6, 0.625, 0.65, 0.675, 0.7, 0.75))
#: Embeddings: pairs scored (cosine, or lexical similarity, at least this); the hand
#: similarity is computed down to `HAND_CUTOFF`.
MIN_COSINE, MIN_LEXICAL = 0.4, 0.2
#: Embeddings: each keyword's nearest neighbours that may be cosine candidates (None: all).
TOP_K: int | None = 40
#: Embeddings: the mean probability a new keyword needs with an existing cluster to join it
#: (`PairModel.join_threshold`), chosen with `eval.clustering_assign` on the four tuning sets:
#: pooled ARI 0.680 / 0.682 / 0.682 / 0.680 / 0.676 at 0.1 / 0.15 / 0.2 / 0.25 / 0.3, the hand
#: similarity 0.670 (docs/decisions.md, "New keywords join by the pair model"); refitted on six
#: writers, 0.663 / 0.664 / 0.654 at 0.15 / 0.2 / 0.3 against 0.650.
JOIN_THRESHOLD = 0.2
LOCAL_FEATURES = LEXICAL_FEATURES
VECTOR_FEATURES = FEATURES
HAND = 0  # the hand-rule similarity is the first feature of both paths


@dataclass
class Niche:
    """One niche prepared as its path prepares it, with its candidate pairs (of keys, or of
    headed keywords on embeddings), their features and labels."""

    name: str
    linkage: Linkage
    prepared: list[Prepared]
    key_of: list[int]
    keys: int
    pairs: list[tuple[int, int]]
    x: np.ndarray
    #: the share of each pair's keyword pairs in one gold cluster, and their number
    y: np.ndarray
    n: np.ndarray
    gold: list[str]


def _items(rows: Sequence[dict[str, str]]) -> list[KeywordItem]:
    return [KeywordItem(i, r["keyword"], int(r["volume"])) for i, r in enumerate(rows)]


def local_niche(name: str, rows: Sequence[dict[str, str]]) -> Niche:
    """A niche as `cluster_keywords` prepares it without embeddings, its key pairs and
    features as the product computes them (`learned.lexical_pairs`)."""
    prepared = prepare(_items(rows))
    space, key_of = lexical_space(prepared)
    members: dict[int, list[int]] = defaultdict(list)
    for i, u in enumerate(key_of):
        if u >= 0:
            members[u].append(i)
    pairs, rows_x = lexical_pairs(space, prepared, key_of)
    gold_of = [rows[p.item.id]["cluster"] for p in prepared]
    y, n = np.empty(len(pairs)), np.empty(len(pairs))
    for k, (u, v) in enumerate(pairs):
        same = sum(gold_of[i] == gold_of[j] for i in members[u] for j in members[v])
        n[k] = len(members[u]) * len(members[v])
        y[k] = same / n[k]
    x = np.array(rows_x, dtype=np.float64).reshape(len(pairs), len(LOCAL_FEATURES))
    return Niche(name, "average", prepared, key_of, len(space.keys), pairs, x, y, n,
                 [r["cluster"] for r in rows])


def vector_niche(name: str, rows: Sequence[dict[str, str]],
                 vector_of: dict[str, tuple[float, ...]], top_k: int | None = TOP_K) -> Niche:
    """A niche as `cluster_keywords(..., embeddings=...)` prepares it (`vector_space`): one
    key per headed keyword; its candidate pairs and their features as the product computes
    them (`learned.vector_pairs`)."""
    prepared = prepare(_items(rows))
    key_of, headed, units = vector_space(prepared, {p.item.id: vector_of[p.item.text]
                                                    for p in prepared if p.analysis.head})
    pairs: list[tuple[int, int]] = []
    rows_x: list[list[float]] = []
    for part, part_rows in vector_pairs(headed, units, MIN_COSINE, MIN_LEXICAL, top_k):
        pairs += part
        rows_x += part_rows
    gold_of = [rows[p.item.id]["cluster"] for p in headed]
    labels_y = [float(gold_of[i] == gold_of[j]) for i, j in pairs]
    x = np.array(rows_x, dtype=np.float64).reshape(len(pairs), len(VECTOR_FEATURES))
    return Niche(name, "complete", prepared, key_of, len(headed), pairs, x,
                 np.array(labels_y), np.ones(len(pairs)), [r["cluster"] for r in rows])


def lexical_column(vector: Niche, local: Niche, scores: np.ndarray) -> np.ndarray:
    """A last feature for `vector`'s pairs (`--stack`): `scores`, the lexical scorer's values
    for the same niche's key pairs (`local`, from `local_niche`), read per keyword pair; 1.0
    for one key, 0 for keys the lexical blocking never proposes."""
    prepared_of = {h: i for i, h in enumerate(vector.key_of) if h >= 0}
    index = {pair: k for k, pair in enumerate(local.pairs)}
    out = np.zeros(len(vector.pairs))
    for k, (i, j) in enumerate(vector.pairs):
        u, v = local.key_of[prepared_of[i]], local.key_of[prepared_of[j]]
        at = index.get((min(u, v), max(u, v)))
        out[k] = 1.0 if u == v else 0.0 if at is None else scores[at]
    return out


def stacked(vector: Niche, column: np.ndarray) -> Niche:
    """`vector` with `column` as its last feature."""
    return dataclasses.replace(vector, x=np.column_stack([vector.x, column]))


def stacked_sets(vectors: dict[str, list[Niche]], locals_: dict[str, list[Niche]]
                 ) -> dict[str, list[Niche]]:
    """Each writer of `vectors` with its last feature from the lexical trees fitted on the
    other writers of `locals_` (`out_of_fold`): as the shipped trees score a writer they have
    not seen."""
    lexical = out_of_fold({s: locals_[s] for s in vectors}, fit_boosted)
    return {s: [stacked(v, lexical_column(v, loc, lexical[loc.name]))
                for v, loc in zip(group, locals_[s], strict=True)]
            for s, group in vectors.items()}


def cluster(niche: Niche, scores: np.ndarray, floor: float, threshold: float) -> list[str]:
    """The niche clustered by the agglomeration of its path over `scores` as edges (none below
    the floor, or below the threshold on complete linkage): a label per gold row."""
    cutoff = floor if niche.linkage == "average" else threshold
    edges: list[dict[int, float]] = [{} for _ in range(niche.keys)]
    # on embeddings two keywords naming conflicting page types are never an edge, as in the
    # product (`PairModel.edges`; the hand similarity is 0 for them already)
    blocked = (niche.x[:, VECTOR_FEATURES.index("page_conflict")] > 0).tolist() \
        if niche.linkage == "complete" else [False] * len(niche.pairs)
    for (u, v), s, no in zip(niche.pairs, scores.tolist(), blocked, strict=True):
        if s >= cutoff and not no:
            edges[u][v] = edges[v][u] = s
    return _agglomerate(niche, edges, floor, threshold)


def _agglomerate(niche: Niche, edges: list[dict[int, float]], floor: float, threshold: float
                 ) -> list[str]:
    by_key: dict[int, list[int]] = defaultdict(list)
    for i, u in enumerate(niche.key_of):
        if u >= 0:
            by_key[u].append(i)
    state = _State(niche.prepared, niche.key_of, niche.linkage, threshold,
                   DEFAULT_MAX_CLUSTER_SIZE)
    state.floor = floor if niche.linkage == "average" else 0.0
    state.seed(by_key, edges, [i for i, u in enumerate(niche.key_of) if u < 0])
    state.run()
    label = {niche.prepared[i].item.id: f"c{root}" for root, idx in state.members.items()
             for i in idx}
    return [label[i] for i in range(len(niche.gold))]


Model = Callable[[np.ndarray], np.ndarray]
Fit = Callable[[np.ndarray, np.ndarray, np.ndarray], Model]


def _twice(x: np.ndarray, y: np.ndarray, w: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each pair twice: positive weighted by its share, negative by one minus it."""
    return (np.vstack([x, x]), np.concatenate([np.ones(len(y)), np.zeros(len(y))]),
            np.concatenate([w * y, w * (1 - y)]))


def logistic(x: np.ndarray, y: np.ndarray, w: np.ndarray
             ) -> tuple[list[float], list[float], list[float], float]:
    """A logistic regression on standardised features: (mean, scale, coef, intercept)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(x)
    xx, yy, ww = _twice(scaler.transform(x), y, w)
    model = LogisticRegression(C=1.0, max_iter=3000).fit(xx, yy, sample_weight=ww * len(y))
    return ([float(v) for v in scaler.mean_], [float(v) for v in scaler.scale_],
            [float(v) for v in model.coef_[0]], float(model.intercept_[0]))


def fit_logistic(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> Model:
    """Scores as the product computes them (`PairModel.scores`)."""
    return _model(*logistic(x, y, w)).scores


def _model(mean: list[float], scale: list[float], coef: list[float], intercept: float,
           threshold: float = 0.0, top_k: int | None = TOP_K) -> PairModel:
    return PairModel(embedding_model="all-MiniLM-L6-v2", features=FEATURES, mean=tuple(mean),
                     scale=tuple(scale), coef=tuple(coef), intercept=intercept,
                     threshold=threshold, min_cosine=MIN_COSINE, min_lexical=MIN_LEXICAL,
                     top_k=top_k)


def write_model(niches: Sequence[Niche], path: Path, top_k: int | None = TOP_K,
                embedding_model: str = "all-MiniLM-L6-v2") -> PairModel:
    """The logistic fitted on every tuning niche (on `embedding_model`'s vectors), its
    threshold the grid's best pooled ARI over them (as each fold of `lowo` chooses), written
    to `path` for the product."""
    fitted = logistic(*training(niches))
    preds = predictions(niches, {n.name: _model(*fitted).scores(n.x) for n in niches},
                        VECTOR_GRID)
    best = max(preds, key=lambda c: pooled(niches, preds[c]))
    model = dataclasses.replace(_model(*fitted, threshold=best[1], top_k=top_k),
                                embedding_model=embedding_model,
                                join_threshold=JOIN_THRESHOLD)
    path.write_text(json.dumps(model.to_json(), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {path}: threshold {best[1]:.3f}, in-sample ARI {pooled(niches, preds[best]):.4f}")
    return model


def _by_line(raw: dict[str, object]) -> str:
    """JSON with a line per key and, for trees, a line per tree: small, and a refit's diff
    reads tree by tree."""
    parts = []
    for key, value in raw.items():
        if key == "trees" and isinstance(value, list):
            parts.append('"trees": [\n' + ",\n".join(json.dumps(t) for t in value) + "\n]")
        else:
            parts.append(f"{json.dumps(key)}: {json.dumps(value)}")
    return "{\n" + ",\n".join(parts) + "\n}"


def out_of_fold(sets: dict[str, list[Niche]], fit: Fit) -> dict[str, np.ndarray]:
    """Each niche scored by `fit` on the other writers' niches only (as `lowo` folds)."""
    scores: dict[str, np.ndarray] = {}
    for held in sets:
        model = fit(*training([n for s, group in sets.items() if s != held for n in group]))
        scores.update({n.name: model(n.x) for n in sets[held]})
    return scores


def write_lexical_model(sets: dict[str, list[Niche]], path: Path, kind: str = "boosted"
                        ) -> LexicalPairModel:
    """The lexical path's scorer (`kind`: boosted trees or a logistic) fitted on every tuning
    niche, written to `path` for the product. Its (floor, threshold) is the `LOCAL_GRID`
    configuration with the best pooled ARI on out-of-fold scores (each writer's niches scored
    by the scorer fitted on the others'): the trees' scores on the niches they were fitted on
    are surer than on a new writer's, and chose other settings (docs/decisions.md, "How many
    keywords a key stands for")."""
    niches = [n for group in sets.values() for n in group]
    x, y, w = training(niches)
    scorer: Logistic | Trees
    if kind == "boosted":
        scorer = boosted(x, y, w, LEXICAL_FEATURES)
    else:
        mean, scale, coef, intercept = logistic(x, y, w)
        scorer = Logistic(LEXICAL_FEATURES, tuple(mean), tuple(scale), tuple(coef), intercept)
    unset = LexicalPairModel(scorer, 0.0, 0.0)
    held_out = predictions(niches, out_of_fold(
        sets, fit_boosted if kind == "boosted" else fit_logistic), LOCAL_GRID)
    floor, threshold = max(held_out, key=lambda c: pooled(niches, held_out[c]))
    preds = predictions(niches, {n.name: unset.scores(n.x) for n in niches},
                        [(float(floor.split()[1]), threshold)])
    # new keywords join a cluster as the clustering would merge them into it: a mean
    # probability of at least its threshold (docs/decisions.md, "New keywords join by the
    # lexical model")
    model = dataclasses.replace(unset, floor=float(floor.split()[1]), threshold=threshold,
                                join_threshold=threshold)
    path.write_text(_by_line(model.to_json()) + "\n", encoding="utf-8")
    print(f"wrote {path}: {floor}, threshold {threshold:.3f}, out-of-fold ARI "
          f"{pooled(niches, held_out[(floor, threshold)]):.4f}, in-sample ARI "
          f"{pooled(niches, preds[(floor, threshold)]):.4f}")
    return model


def boosted(x: np.ndarray, y: np.ndarray, w: np.ndarray, features: Sequence[str]) -> Trees:
    """Gradient-boosted trees (depth 3, 150 rounds), exported as the product scores them."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    # scikit-learn routes a missing value by a learned flag `Trees` does not keep
    if not np.isfinite(x).all():
        raise ValueError("pair features must be finite")
    model = HistGradientBoostingClassifier(max_iter=150, learning_rate=0.1, max_depth=3,
                                           min_samples_leaf=40, random_state=0)
    xx, yy, ww = _twice(x, y, w)
    model.fit(xx, yy, sample_weight=ww * len(y))
    trees = []
    for (predictor,) in model._predictors:
        nodes = predictor.nodes
        leaf = nodes["is_leaf"].astype(bool)
        trees.append((tuple(int(f) for f in np.where(leaf, -1, nodes["feature_idx"])),
                      tuple(float(t) for t in nodes["num_threshold"]),
                      tuple(int(i) for i in nodes["left"]),
                      tuple(int(i) for i in nodes["right"]),
                      tuple(float(v) for v in nodes["value"])))
    return Trees(features=tuple(features),
                 baseline=float(np.ravel(model._baseline_prediction)[0]), trees=tuple(trees))


def fit_boosted(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> Model:
    """Scores as the product computes them (`learned.Trees.scores`)."""
    return boosted(x, y, w, LOCAL_FEATURES if x.shape[1] == len(LOCAL_FEATURES)
                   else VECTOR_FEATURES).scores


def restricted(fit: Fit, low: float) -> Fit:
    """`fit` on the pairs whose hand similarity is at least `low` only; the others score 0."""
    def run(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> Model:
        keep = x[:, HAND] >= low
        model = fit(x[keep], y[keep], w[keep])

        def score(z: np.ndarray) -> np.ndarray:
            out = np.zeros(len(z))
            inside = z[:, HAND] >= low
            if inside.any():
                out[inside] = model(z[inside])
            return out
        return score
    return run


def training(niches: Sequence[Niche]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features, labels and weights: each niche weighs the same (shared by its keyword
    pairs)."""
    return (np.vstack([n.x for n in niches]), np.concatenate([n.y for n in niches]),
            np.concatenate([n.n / n.n.sum() if len(n.n) else n.n for n in niches]))


def predictions(niches: Sequence[Niche], scores: dict[str, np.ndarray],
                grid: Sequence[tuple[float, float]]) -> Predictions:
    """Each niche clustered at each (floor, threshold) of `grid`, keyed as
    `eval.clustering_cv` keys its configurations."""
    return {(f"floor {floor:.3f}", th): {n.name: cluster(n, scores[n.name], floor, th)
                                         for n in niches}
            for floor, th in grid}


def pooled(niches: Sequence[Niche], pred: dict[str, list[str]]) -> float:
    gold = {n.name: n.gold for n in niches}
    return adjusted_rand_index(*_pooled(gold, pred, [n.name for n in niches]))


def transfer(train: Sequence[Niche], test: Sequence[Niche], train_scores: dict[str, np.ndarray],
             test_scores: dict[str, np.ndarray], grid: Sequence[tuple[float, float]]
             ) -> tuple[Config, float, float]:
    """(configuration best on `train`, `test` ARI at it, `test` ARI at its own best)."""
    p_train = predictions(train, train_scores, grid)
    p_test = predictions(test, test_scores, grid)
    best = max(p_train, key=lambda c: pooled(train, p_train[c]))
    return best, pooled(test, p_test[best]), max(pooled(test, p) for p in p_test.values())


def _hand(niches: Sequence[Niche]) -> dict[str, np.ndarray]:
    return {n.name: n.x[:, HAND] for n in niches}


def embedding_name(model: str | None) -> str:
    """The name a pair model is shipped under for `model` (a directory's or hub id's last
    part, lower case; the default model's when none is named)."""
    return short_name(model or "all-MiniLM-L6-v2")


def _load_vectors(cache: Path | None, model: str | None = None
                  ) -> dict[str, tuple[float, ...]]:
    """The tuning sets' keywords embedded in process (by `model`, default all-MiniLM-L6-v2),
    from `cache` when it exists (written after embedding otherwise)."""
    if cache is not None and cache.exists():
        with cache.open("rb") as f:
            loaded: dict[str, tuple[float, ...]] = pickle.load(f)  # noqa: S301 - own file
        return loaded
    from igny8d.ai.providers.embedded import SentenceEmbedder

    texts = sorted({r["keyword"] for r in tuning_rows()})
    vectors = dict(zip(texts, SentenceEmbedder(model).embed(texts), strict=True))
    if cache is not None:
        with cache.open("wb") as f:
            pickle.dump(vectors, f)
    return vectors


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m eval.fit_pair_model")
    ap.add_argument("--path", choices=("local", "embeddings"), default="local")
    ap.add_argument("--model", choices=("logistic", "boosted"), default=None,
                    help="the pair scorer (default: what each path ships: boosted on local, "
                         "logistic on embeddings)")
    ap.add_argument("--restrict", type=float, default=0.0,
                    help="fit and score only pairs with at least this hand similarity")
    ap.add_argument("--embedding-model", default=None,
                    help="embeddings: the in-process model whose vectors are read, a "
                         "directory or a name (default all-MiniLM-L6-v2; --write takes one of "
                         f"{', '.join(MODEL_FILES)})")
    ap.add_argument("--vectors", type=Path, default=None,
                    help="a pickle caching the embedding model's vectors of the tuning "
                         "keywords")
    ap.add_argument("--top-k", type=int, default=TOP_K,
                    help="embeddings: each keyword's nearest neighbours that may be candidates")
    ap.add_argument("--stack", action="store_true",
                    help="embeddings: leave-one-writer-out with the lexical trees' probability "
                         "as a last feature, nested out of fold (measured, not shipped)")
    ap.add_argument("--write", action="store_true",
                    help=f"fit on every tuning niche and write {MODEL_FILE.name} "
                         f"(embeddings, logistic only) or {LEXICAL_MODEL_FILE.name} (local: "
                         "the shipped one is --model boosted), no cross-validation")
    args = ap.parse_args(argv)
    if args.model is None:
        args.model = "boosted" if args.path == "local" else "logistic"
    if args.stack and (args.path != "embeddings" or args.model != "logistic" or args.write
                       or args.restrict > 0.0):
        ap.error("--stack measures the embeddings path's logistic only: no --path local, "
                 "--model boosted, --restrict or --write (docs/decisions.md, \"Two more "
                 "writers (dev9, dev10)\")")
    name = embedding_name(args.embedding_model)
    if args.embedding_model is not None and args.path != "embeddings":
        ap.error("--embedding-model is read by --path embeddings only")
    if args.write and args.path == "embeddings" and name not in MODEL_FILES:
        ap.error(f"--write ships pair models for {', '.join(MODEL_FILES)} only, not {name}")
    fit: Fit = fit_logistic if args.model == "logistic" else fit_boosted
    if args.restrict > 0.0:
        fit = restricted(fit, args.restrict)
    if args.path == "local":
        sets = {s: [local_niche(k, rows) for k, rows in by_niche(rows_of(s)).items()]
                for s in TUNING_SETS}
        grid, hand_grid = LOCAL_GRID, LOCAL_HAND_GRID
    else:
        vector_of = _load_vectors(args.vectors, args.embedding_model)
        sets = {s: [vector_niche(k, rows, vector_of, args.top_k)
                    for k, rows in by_niche(rows_of(s)).items()] for s in TUNING_SETS}
        grid, hand_grid = VECTOR_GRID, VECTOR_HAND_GRID
        if args.stack:
            stacked_lowo(sets, {s: [local_niche(k, rows)
                                    for k, rows in by_niche(rows_of(s)).items()]
                                for s in TUNING_SETS})
            return 0
    niches = [n for s in TUNING_SETS for n in sets[s]]
    print(f"{args.path}: {sum(len(n.pairs) for n in niches)} candidate pairs")
    if args.write:
        if args.path == "local":
            write_lexical_model(sets, LEXICAL_MODEL_FILE, args.model)
            return 0
        if args.model != "logistic":
            ap.error("--write on embeddings takes --model logistic")
        write_model(niches, MODEL_FILES[name], args.top_k,
                    "all-MiniLM-L6-v2" if MODEL_FILES[name] == MODEL_FILE else name)
        return 0

    def show(name: str, preds: Predictions) -> None:
        ari, p, r, chosen = leave_one_niche_out(preds)
        print(f"{name:10} LONO ARI {ari:.4f} (P {p:.3f} R {r:.3f}); chosen "
              + ", ".join(f"{c[0]} threshold {c[1]:.3f} ×{k}" for c, k in chosen.most_common()))

    show("hand", predictions(niches, _hand(niches), hand_grid))
    lowo("hand", sets, lambda train: _hand, hand_grid)
    scores: dict[str, np.ndarray] = {}
    for held in niches:
        scores[held.name] = fit(*training([n for n in niches if n is not held]))(held.x)
    show(args.model, predictions(niches, scores, grid))

    def fitted(train: Sequence[Niche]) -> Callable[[Sequence[Niche]], dict[str, np.ndarray]]:
        model = fit(*training(train))
        return lambda some: {n.name: model(n.x) for n in some}
    lowo(args.model, sets, fitted, grid)
    return 0


def stacked_lowo(vectors: dict[str, list[Niche]], locals_: dict[str, list[Niche]]) -> float:
    """Leave one writer out with `--stack`, nested: the held writer's lexical column from
    trees fitted on the other writers, each training writer's from trees fitted on neither it
    nor the held one; the logistic fitted and its threshold chosen on the others."""
    tested = stacked_sets(vectors, locals_)  # each writer's column from all the others
    features = (*FEATURES, "lexical_p")
    figures = []
    for held in vectors:
        train_sets = stacked_sets({s: g for s, g in vectors.items() if s != held}, locals_)
        train = [n for group in train_sets.values() for n in group]
        mean, scale, coef, intercept = logistic(*training(train))
        model = Logistic(features, tuple(mean), tuple(scale), tuple(coef), intercept).scores
        c, at, best = transfer(train, tested[held], {n.name: model(n.x) for n in train},
                               {n.name: model(n.x) for n in tested[held]}, VECTOR_GRID)
        figures.append(at)
        print(f"stacked    others → {held}: ARI {at:.4f} at threshold {c[1]:.3f} "
              f"(best {best:.4f})", flush=True)
    mean_ari = sum(figures) / len(figures)
    print(f"stacked    leave-one-writer-out mean ARI {mean_ari:.4f}")
    return mean_ari


def lowo(name: str, sets: dict[str, list[Niche]],
         scorer: Callable[[Sequence[Niche]], Callable[[Sequence[Niche]], dict[str, np.ndarray]]],
         grid: Sequence[tuple[float, float]]) -> float:
    """Leave one writer out: for each tuning set, the scorer fitted and the configuration
    chosen on the other writers' niches, scored on its own; printed per writer and as the
    mean of the writers' ARIs (each writer weighs the same). The closest estimate here of a
    writer nobody tuned on."""
    figures = []
    for held in sets:
        train = [n for s, group in sets.items() if s != held for n in group]
        score = scorer(train)
        c, at, best = transfer(train, sets[held], score(train), score(sets[held]), grid)
        figures.append(at)
        print(f"{name:10} others → {held}: ARI {at:.4f} at {c[0]} threshold {c[1]:.3f} "
              f"(best {best:.4f})")
    mean = sum(figures) / len(figures)
    print(f"{name:10} leave-one-writer-out mean ARI {mean:.4f}")
    return mean


if __name__ == "__main__":
    raise SystemExit(main())
