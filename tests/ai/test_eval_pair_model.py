"""eval/fit_pair_model.py: its agglomeration over the hand similarity is the product's own
clustering (so the baseline it reports is the current code's), on both paths, and so is its
agglomeration over each shipped model's probabilities; a restricted model scores only the
pairs it was fitted on."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from eval import fit_pair_model as pm
from eval.clustering import by_niche, rows_of
from igny8d.ai import ClusterResult, KeywordItem
from igny8d.ai.cluster import DEFAULT_THRESHOLD, cluster_keywords
from igny8d.ai.cluster.groups import place_leftovers


def _partition(labels: Sequence[str]) -> set[frozenset[int]]:
    groups: dict[str, set[int]] = {}
    for i, label in enumerate(labels):
        groups.setdefault(label, set()).add(i)
    return {frozenset(g) for g in groups.values()}


def _of(result: ClusterResult, n: int) -> set[frozenset[int]]:
    groups = {frozenset(c.keyword_ids) for c in result.clusters}
    placed = {i for g in groups for i in g}
    return groups | {frozenset({i}) for i in range(n) if i not in placed}


def _niche(name: str) -> list[dict[str, str]]:
    return by_niche(rows_of("dev"))[name]


def test_the_local_hand_similarity_clusters_as_cluster_keywords() -> None:
    for name in ("skincare", "project-management-software"):
        rows = _niche(name)
        niche = pm.local_niche(name, rows)
        got = pm.cluster(niche, niche.x[:, pm.HAND], pm.MIN_EDGE, 0.2)
        items = [KeywordItem(i, r["keyword"], int(r["volume"])) for i, r in enumerate(rows)]
        want = place_leftovers(cluster_keywords(items, threshold=0.2), items)
        assert _partition(got) == _of(want, len(rows))
        assert len(_partition(got)) < len(rows)  # some keywords do merge
        assert niche.y.min() >= 0.0 and niche.y.max() <= 1.0 and (niche.n >= 1).all()


def test_the_embeddings_hand_similarity_clusters_as_cluster_keywords() -> None:
    rows = _niche("skincare")
    rng = np.random.default_rng(7)
    vector_of = {r["keyword"]: tuple(rng.normal(size=6).tolist()) for r in rows}
    niche = pm.vector_niche("skincare", rows, vector_of)
    got = pm.cluster(niche, niche.x[:, pm.HAND], 0.0, 0.675)
    items = [KeywordItem(i, r["keyword"], int(r["volume"])) for i, r in enumerate(rows)]
    embeddings = {k.id: vector_of[k.text] for k in items}
    want = cluster_keywords(items, embeddings=embeddings, threshold=0.675)
    assert _partition(got) == _of(want, len(rows))
    assert set(niche.y.tolist()) == {0.0, 1.0}


def test_a_restricted_model_scores_only_pairs_above_its_hand_similarity() -> None:
    seen: list[np.ndarray] = []

    def fit(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> pm.Model:
        seen.append(x)
        return lambda z: np.full(len(z), 0.5)

    x = np.array([[0.01, 1.0], [0.2, 2.0], [0.6, 3.0]])
    score = pm.restricted(fit, 0.05)(x, np.array([0.0, 1.0, 1.0]), np.ones(3))
    assert seen[0][:, 1].tolist() == [2.0, 3.0]
    assert score(x).tolist() == [0.0, 0.5, 0.5]


def test_the_shipped_pair_model_clusters_as_the_harness_scores_it() -> None:
    """`cluster_keywords(..., pair_model=...)` is the harness's agglomeration over the model's
    probabilities, page-type conflicts never an edge: the figures `eval.fit_pair_model`
    reports are the product's."""
    from igny8d.ai.cluster import learned

    model = learned.shipped()
    assert model is not None and model.features == learned.FEATURES
    rows = _niche("skincare")
    rng = np.random.default_rng(11)
    base = rng.normal(size=8)
    # near vectors, so that many pairs are candidates and some merge
    vector_of = {r["keyword"]: tuple((base + 0.6 * rng.normal(size=8)).tolist()) for r in rows}
    niche = pm.vector_niche("skincare", rows, vector_of)
    scores = np.asarray(model.probabilities(niche.x.tolist()))
    assert np.allclose(scores, model.scores(niche.x))
    got = pm.cluster(niche, scores, 0.0, model.threshold)
    items = [KeywordItem(i, r["keyword"], int(r["volume"])) for i, r in enumerate(rows)]
    embeddings = {k.id: vector_of[k.text] for k in items}
    want = cluster_keywords(items, embeddings=embeddings, pair_model=model)
    assert _partition(got) == _of(want, len(rows))
    assert 1 < len(_partition(got)) < len(rows)


def test_the_shipped_lexical_model_clusters_as_the_harness_scores_it() -> None:
    """`cluster_keywords(items)` with no threshold is the harness's average linkage over the
    lexical model's probabilities at its floor and threshold: the figures `eval.fit_pair_model
    --path local` reports are the product's. An explicit threshold keeps the hand rules."""
    from igny8d.ai.cluster import learned

    model = learned.shipped_lexical()
    assert model is not None and model.features == learned.LEXICAL_FEATURES
    assert 0.0 < model.floor <= 1.0 and 0.0 < model.threshold <= 1.0
    for name in ("skincare", "project-management-software"):
        rows = _niche(name)
        niche = pm.local_niche(name, rows)
        got = pm.cluster(niche, model.scores(niche.x), model.floor, model.threshold)
        items = [KeywordItem(i, r["keyword"], int(r["volume"])) for i, r in enumerate(rows)]
        want = place_leftovers(cluster_keywords(items), items)
        assert _partition(got) == _of(want, len(rows))
        assert 1 < len(_partition(got)) < len(rows)
        hand = place_leftovers(cluster_keywords(items, threshold=0.25), items)
        assert _of(hand, len(rows)) != _of(want, len(rows))  # the model is what clustered


def test_a_missing_or_foreign_lexical_model_falls_back_to_the_hand_rules(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """No file, one fitted on other features, or one whose floor would link every pair: a
    warning, and the threshold clusters."""
    from igny8d.ai.cluster import learned

    rows = _niche("skincare")
    items = [KeywordItem(i, r["keyword"], int(r["volume"])) for i, r in enumerate(rows)]
    hand = _of(cluster_keywords(items, threshold=DEFAULT_THRESHOLD), len(rows))
    shipped = json.loads(learned.LEXICAL_MODEL_FILE.read_text(encoding="utf-8"))
    assert shipped["kind"] == "trees"

    def edited(**changes: object) -> str:
        return json.dumps({**shipped, **changes})
    tree = shipped["trees"][0]

    def doubling(n: int) -> dict[str, list[float]]:
        """A chain whose nodes send both ways to the next: 2 ** n paths, were it read."""
        return {"feature": [0] * n + [-1], "threshold": [0.0] * (n + 1),
                "left": [i + 1 for i in range(n)] + [0],
                "right": [i + 1 for i in range(n)] + [0], "value": [0.0] * (n + 1)}
    inner = next(i for i, f in enumerate(tree["feature"]) if f >= 0)
    past_the_tree = {**tree, "left": [len(tree["left"]) if i == inner else c
                                      for i, c in enumerate(tree["left"])]}
    unknown_feature = {**tree, "feature": [99 if i == inner else f
                                           for i, f in enumerate(tree["feature"])]}
    for content in (None, '{"features": ["hand"], "mean": [0], "scale": [1], "coef": [1], '
                          '"intercept": 0, "floor": 0.1, "threshold": 0.1}',
                    edited(floor=0.0), edited(kind="forest"),
                    edited(trees=[past_the_tree, *shipped["trees"][1:]]),
                    edited(trees=[unknown_feature, *shipped["trees"][1:]]),
                    edited(baseline=float("nan")), edited(trees=[]), "[]",
                    edited(trees=[doubling(40)]), edited(trees=[{**tree, "value": [
                        float("nan")] * len(tree["value"])}]),
                    edited(trees=[{**tree, "left": [float(c) for c in tree["left"]]}]),
                    json.dumps(shipped).replace('"feature": [', '"feature": [1e999, ', 1),
                    json.dumps({"features": list(learned.LEXICAL_FEATURES),
                                "mean": [0.0] * len(learned.LEXICAL_FEATURES),
                                "scale": [1.0] * len(learned.LEXICAL_FEATURES),
                                "coef": [float("nan")] * len(learned.LEXICAL_FEATURES),
                                "intercept": 0.0, "floor": 0.1, "threshold": 0.1})):
        path = tmp_path / "pair_model_lexical.json"
        if content is not None:
            path.write_text(content, encoding="utf-8")
        monkeypatch.setattr(learned, "LEXICAL_MODEL_FILE", path)
        learned.shipped_lexical.cache_clear()
        try:
            assert learned.shipped_lexical() is None
            assert _of(cluster_keywords(items), len(rows)) == hand
        finally:
            learned.shipped_lexical.cache_clear()
    assert "clustering by the threshold" in caplog.text
    assert "threshold outside (0, 1)" in caplog.text


def test_trees_score_as_their_nodes_say(monkeypatch: pytest.MonkeyPatch) -> None:
    """A row goes left when its feature is at most the node's threshold; P is the logistic of
    the baseline plus one leaf per tree — in blocks of rows as well as at once."""
    from igny8d.ai.cluster import learned
    from igny8d.ai.cluster.learned import Trees

    stump = ((0, -1, -1), (0.5, 0.0, 0.0), (1, 0, 0), (2, 0, 0), (0.0, -1.0, 2.0))
    deeper = ((1, -1, 1, -1, -1), (0.0, 0.0, 3.0, 0.0, 0.0), (1, 0, 3, 0, 0), (2, 0, 4, 0, 0),
              (0.0, 0.5, 0.0, 0.25, -0.25))
    trees = Trees(features=("a", "b"), baseline=0.1, trees=(stump, deeper))
    assert trees.well_formed()
    got = trees.scores(np.array([[0.5, 0.0], [0.6, 3.0], [0.6, 3.5]]))
    raw = np.array([0.1 - 1.0 + 0.5, 0.1 + 2.0 + 0.25, 0.1 + 2.0 - 0.25])
    assert np.allclose(got, 1.0 / (1.0 + np.exp(-raw)))
    monkeypatch.setattr(learned, "_SCORE_ROWS", 2)
    assert trees.scores(np.array([[0.5, 0.0], [0.6, 3.0], [0.6, 3.5]])).tolist() == \
        got.tolist()
    assert not Trees(("a",), 0.0, (deeper,)).well_formed()  # feature 1 of one


def test_boosted_trees_export_as_scikit_learn_predicts() -> None:
    """The harness's export (`fit_pair_model.boosted`) scores exactly as the fitted model, so
    the product needs no scikit-learn to score the shipped trees."""
    pytest.importorskip("sklearn")
    from sklearn.ensemble import HistGradientBoostingClassifier

    niches = [pm.local_niche(name, _niche(name))
              for name in ("skincare", "project-management-software")]
    x, y, w = pm.training(niches)
    trees = pm.boosted(x, y, w, pm.LOCAL_FEATURES)
    model = HistGradientBoostingClassifier(max_iter=150, learning_rate=0.1, max_depth=3,
                                           min_samples_leaf=40, random_state=0)
    xx, yy, ww = pm._twice(x, y, w)
    model.fit(xx, yy, sample_weight=ww * len(y))
    assert trees.well_formed() and len(trees.trees) == model.n_iter_
    assert np.allclose(trees.scores(x), model.predict_proba(x)[:, 1], rtol=0, atol=1e-12)


def test_lexical_pairs_touching_some_keys_are_the_full_pairs_with_one_of_them() -> None:
    """Joining scores only the pairs with a new keyword: the same pairs, with the same
    features, as the whole niche's pairs that touch one."""
    from igny8d.ai.cluster.learned import lexical_pairs
    from igny8d.ai.cluster.linkage import lexical_space
    from igny8d.ai.cluster.vectors import prepare

    rows = _niche("skincare")
    prepared = prepare([KeywordItem(i, r["keyword"], int(r["volume"]))
                        for i, r in enumerate(rows)])
    space, key_of = lexical_space(prepared)
    pairs, features = lexical_pairs(space, prepared, key_of)
    some = set(sorted({u for u in key_of if u >= 0})[::5])
    part, part_features = lexical_pairs(space, prepared, key_of, touching=some)
    want = [(p, f) for p, f in zip(pairs, features, strict=True) if some & set(p)]
    assert 0 < len(part) < len(pairs)
    assert list(zip(part, part_features, strict=True)) == want


def test_a_pairs_size_features_count_the_keywords_each_key_stands_for() -> None:
    """`size_min` / `size_max`: how many keywords of the request each key stands for (its
    plurals and reorderings share it), the smaller and the larger."""
    from igny8d.ai.cluster.learned import LEXICAL_FEATURES, lexical_pairs
    from igny8d.ai.cluster.linkage import lexical_space
    from igny8d.ai.cluster.vectors import prepare

    texts = ["pet insurance", "pet insurances", "insurance for pets", "pet insurance cost",
             "cheap pet insurance"]
    prepared = prepare([KeywordItem(i, t, 10) for i, t in enumerate(texts)])
    space, key_of = lexical_space(prepared)
    key = {p.item.id: key_of[i] for i, p in enumerate(prepared)}  # by the text's position
    assert key[0] == key[1] == key[2] and len({key[0], key[3], key[4]}) == 3
    pairs, features = lexical_pairs(space, prepared, key_of)
    lo, hi = LEXICAL_FEATURES.index("size_min"), LEXICAL_FEATURES.index("size_max")
    sizes = {p: (f[lo], f[hi]) for p, f in zip(pairs, features, strict=True)}
    assert sizes[(min(key[0], key[3]), max(key[0], key[3]))] == (1.0, 3.0)
    assert all(s == (1.0, 1.0) for p, s in sizes.items() if key[0] not in p)


def test_the_stacked_column_reads_each_keyword_pair_as_its_keys() -> None:
    """`--stack`'s last feature for a pair of keywords (embeddings path) is the lexical
    scorer's value for their two keys (local path): 1.0 for one key (a plural or a
    reordering), 0 for keys the lexical blocking never proposes."""
    rows = _niche("skincare")
    rng = np.random.default_rng(5)
    vector_of = {r["keyword"]: tuple(rng.normal(size=8).tolist()) for r in rows}
    vector = pm.vector_niche("skincare", rows, vector_of)
    local = pm.local_niche("skincare", rows)
    # scores whose value names the key pair scored
    column = pm.lexical_column(vector, local, np.arange(len(local.pairs)) / 1e6)
    assert len(column) == len(vector.pairs) and set(column) > {0.0, 1.0}
    index = {pair: k for k, pair in enumerate(local.pairs)}
    prepared_of = {h: i for i, h in enumerate(vector.key_of) if h >= 0}
    text = {i: p.item.text for i, p in enumerate(local.prepared)}
    for (i, j), value in zip(vector.pairs, column.tolist(), strict=True):
        u, v = local.key_of[prepared_of[i]], local.key_of[prepared_of[j]]
        if u == v:
            assert value == 1.0, (text[prepared_of[i]], text[prepared_of[j]])
        elif (min(u, v), max(u, v)) in index:
            assert value == index[(min(u, v), max(u, v))] / 1e6
        else:
            assert value == 0.0
    stacked = pm.stacked(vector, column)
    assert stacked.x.shape == (len(vector.pairs), vector.x.shape[1] + 1)
    assert np.array_equal(stacked.x[:, -1], column)


@pytest.mark.parametrize("args", [["--path", "local", "--stack"], ["--path", "embeddings",
                                  "--stack", "--write"], ["--path", "embeddings", "--stack",
                                  "--model", "boosted"], ["--path", "embeddings", "--stack",
                                  "--restrict", "0.1"]])
def test_stack_refuses_what_it_does_not_measure(args: list[str],
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """`--stack` is a measurement of the embeddings logistic: any other use is refused at
    once, before reading vectors or fitting anything, not silently ignored."""
    with pytest.raises(SystemExit) as exc:
        pm.main(args)
    assert exc.value.code == 2
    assert "--stack measures the embeddings path's logistic only" in capsys.readouterr().err


@pytest.mark.parametrize(("args", "message"), [
    (["--path", "embeddings", "--write", "--embedding-model", "/m/bge-small-en-v1.5"],
     "--write ships pair models for all-minilm-l6-v2, all-mpnet-base-v2 only, not "
     "bge-small-en-v1.5"),
    (["--path", "local", "--embedding-model", "/m/all-mpnet-base-v2"],
     "--embedding-model is read by --path embeddings only")])
def test_an_embedding_model_without_a_file_to_ship_is_refused_at_once(
        args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Refused before minutes of embedding, not after."""
    with pytest.raises(SystemExit) as exc:
        pm.main(args)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_a_pair_model_is_written_under_its_embedding_models_name(tmp_path: object) -> None:
    from igny8d.ai.cluster import learned

    assert pm.embedding_name(None) == "all-minilm-l6-v2"
    assert pm.embedding_name("/opt/models/all-mpnet-base-v2/") == "all-mpnet-base-v2"
    rows = _niche("skincare")
    rng = np.random.default_rng(3)
    base = rng.normal(size=8)
    vector_of = {r["keyword"]: tuple((base + 0.6 * rng.normal(size=8)).tolist()) for r in rows}
    niche = pm.vector_niche("skincare", rows, vector_of)
    path = Path(str(tmp_path)) / "pair_model_mpnet.json"
    written = pm.write_model([niche], path, embedding_model="all-mpnet-base-v2")
    learned.shipped.cache_clear()
    try:
        read = learned.shipped(path)
    finally:
        learned.shipped.cache_clear()
    assert read == written and read.embedding_model == "all-mpnet-base-v2"
    assert read.fits("sentence-transformers/all-mpnet-base-v2") and not read.fits(
        "all-MiniLM-L6-v2")
