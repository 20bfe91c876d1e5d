"""ai/cluster/learned.py: the shipped pair model loads, knows the embedding model it was fitted
on by any of its spellings, and `auto_cluster` uses it only where it holds (that model, the
setting on, no threshold of the operator's own for it)."""

from __future__ import annotations

import math

import pytest

from igny8d.ai.cluster import learned
from igny8d.operations.cluster import pair_model_for
from igny8d.settings import Settings


def test_the_shipped_model_loads_with_the_features_this_code_computes() -> None:
    model = learned.shipped()
    assert model is not None
    assert model.features == learned.FEATURES
    assert len(model.coef) == len(model.mean) == len(model.scale) == len(learned.FEATURES)
    assert all(s > 0 and math.isfinite(s) for s in model.scale)
    assert 0.0 < model.threshold < 1.0
    # the hand similarity and the cosine say "one page" (positive weights)
    assert model.coef[learned.FEATURES.index("hand")] > 0
    assert model.coef[learned.FEATURES.index("cos")] > 0


@pytest.mark.parametrize("name", ["all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2",
                                  "/models/all-minilm-l6-v2/", " ALL-MINILM-L6-V2 ",
                                  # Ollama's library names and full-precision conversions
                                  "all-minilm", "all-minilm:latest", "all-minilm:22m",
                                  "all-minilm:l6-v2", "chroma/all-minilm-l6-v2-f32",
                                  "koill/sentence-transformers:all-minilm-l6-v2"])
def test_it_fits_its_model_by_any_spelling(name: str) -> None:
    model = learned.shipped()
    assert model is not None and model.fits(name)
    assert pair_model_for(Settings(), name) is model


@pytest.mark.parametrize("name", [None, "", "nomic-embed-text", "all-MiniLM-L12-v2",
                                  "text-embedding-3-small",
                                  # L12 under Ollama's names; a quantised build's cosines move
                                  "all-minilm:33m", "all-minilm:l12-v2",
                                  "all-minilm-l6-v2-q4_0",
                                  # another model with a tag that is only the short alias
                                  "nomic-embed-text:all-minilm", "foo:all-minilm-f16"])
def test_other_models_keep_the_threshold(name: str | None) -> None:
    assert pair_model_for(Settings(), name) is None


def test_all_mpnet_base_v2_has_a_pair_model_of_its_own() -> None:
    """Its cosines are another scale than MiniLM's: its own coefficients, fitted on its
    vectors, with the same features (docs/decisions.md, "A pair model for
    all-mpnet-base-v2")."""
    mpnet, minilm = learned.shipped(learned.MPNET_MODEL_FILE), learned.shipped()
    assert mpnet is not None and minilm is not None and mpnet is not minilm
    assert mpnet.embedding_model == "all-mpnet-base-v2"
    assert mpnet.features == learned.FEATURES
    assert 0.0 < mpnet.threshold < 1.0
    assert mpnet.coef != minilm.coef
    assert mpnet.coef[learned.FEATURES.index("cos")] > 0
    assert set(learned.MODEL_FILES.values()) == {learned.MODEL_FILE, learned.MPNET_MODEL_FILE}


@pytest.mark.parametrize("name", ["all-mpnet-base-v2", "sentence-transformers/all-mpnet-base-v2",
                                  "/models/all-mpnet-base-v2/", " ALL-MPNET-BASE-V2 ",
                                  "all-mpnet-base-v2:latest", "all-mpnet-base-v2-f16"])
def test_each_model_gets_the_pair_model_fitted_on_it(name: str) -> None:
    mpnet = learned.shipped(learned.MPNET_MODEL_FILE)
    assert learned.shipped_for(name) is mpnet
    assert pair_model_for(Settings(), name) is mpnet
    assert pair_model_for(Settings(), "all-MiniLM-L6-v2") is learned.shipped()


@pytest.mark.parametrize("name", ["all-mpnet-base-v1", "multi-qa-mpnet-base-dot-v1",
                                  "paraphrase-mpnet-base-v2", "all-mpnet-base-v2-q8_0"])
def test_other_mpnet_models_keep_the_threshold(name: str) -> None:
    assert learned.shipped_for(name) is None
    assert pair_model_for(Settings(), name) is None


def test_an_operators_threshold_for_mpnet_keeps_the_threshold_for_it_alone() -> None:
    own = Settings(embedding_thresholds={"all-mpnet-base-v2": 0.65})
    assert pair_model_for(own, "sentence-transformers/all-mpnet-base-v2") is None
    assert own.embedding_threshold_for("all-mpnet-base-v2") == 0.65
    assert pair_model_for(own, "all-MiniLM-L6-v2") is learned.shipped()
    assert pair_model_for(Settings(embedding_pair_model=False), "all-mpnet-base-v2") is None


def test_the_setting_off_or_an_operators_threshold_keeps_the_threshold() -> None:
    assert pair_model_for(Settings(embedding_pair_model=False), "all-MiniLM-L6-v2") is None
    own = Settings(embedding_thresholds={"all-MiniLM-L6-v2": 0.6})
    assert pair_model_for(own, "sentence-transformers/all-MiniLM-L6-v2") is None
    assert own.embedding_threshold_for("all-MiniLM-L6-v2") == 0.6
    # a global threshold of the operator's own, too (the default one does not count)
    assert pair_model_for(Settings(embedding_threshold=0.6), "all-MiniLM-L6-v2") is None
    from igny8d.ai.cluster import EMBEDDING_THRESHOLD

    assert pair_model_for(Settings(embedding_threshold=EMBEDDING_THRESHOLD),
                          "all-MiniLM-L6-v2") is learned.shipped()
    # a threshold for another model leaves it on
    other = Settings(embedding_thresholds={"nomic-embed-text": 0.6})
    assert pair_model_for(other, "all-MiniLM-L6-v2") is learned.shipped()


def test_probabilities_are_the_logistic_of_the_standardised_features() -> None:
    model = learned.shipped()
    assert model is not None
    row = [m + s for m, s in zip(model.mean, model.scale, strict=True)]  # one scale up each
    (p,) = model.probabilities([row])
    assert p == pytest.approx(1.0 / (1.0 + math.exp(-(sum(model.coef) + model.intercept))))
    assert model.probabilities([]) == []


def _niche(seed: int) -> tuple[list, list[tuple[float, ...]]]:
    """A dev niche's keywords, prepared and headed as `cluster_keywords` prepares them, on
    random vectors near one another (many candidate pairs, some above every cutoff)."""
    import numpy as np

    from eval.clustering import by_niche, rows_of
    from igny8d.ai import KeywordItem
    from igny8d.ai.cluster.vectors import Vectors, page_intents, prepare

    rows = by_niche(rows_of("dev"))["skincare"]
    prepared = prepare(KeywordItem(i, r["keyword"], int(r["volume"])) for i, r in enumerate(rows))
    page_intents(prepared)
    headed = [p for p in prepared if p.analysis.head]
    rng = np.random.default_rng(seed)
    base = rng.normal(size=8)
    vectors = Vectors({p.item.id: tuple((base + 0.7 * rng.normal(size=8)).tolist())
                       for p in headed})
    return headed, [vectors.of(p.item.id) for p in headed]


@pytest.mark.parametrize("seed", [3, 5])
def test_the_hand_feature_is_the_hand_rules_similarity(seed: int) -> None:
    """`hand_similarity`, per candidate pair, equals what `semantic_edges` then
    `penalise_other_pages` give the whole batch (the hand path of `cluster_keywords`)."""
    from igny8d.ai.cluster.semantic import penalise_other_pages, semantic_edges

    headed, units = _niche(seed)
    want = penalise_other_pages(semantic_edges(units, [p.analysis for p in headed],
                                               learned.HAND_CUTOFF), headed, learned.HAND_CUTOFF)
    at = learned.FEATURES.index("hand")
    checked = nonzero = 0
    for pairs, rows in learned.vector_pairs(headed, units, 0.4, 0.2):
        for (i, j), row in zip(pairs, rows, strict=True):
            assert row[at] == pytest.approx(want[i].get(j, 0.0), abs=1e-9), (i, j)
            checked += 1
            nonzero += row[at] > 0
    assert checked > 500 and nonzero > 50


def test_chunks_and_the_neighbour_cap_bound_what_is_scored() -> None:
    headed, units = _niche(3)
    whole = [(p, r) for pairs, rows in learned.vector_pairs(headed, units, 0.4, 0.2)
             for p, r in zip(pairs, rows, strict=True)]
    chunked = [(p, r) for pairs, rows in learned.vector_pairs(headed, units, 0.4, 0.2,
                                                              chunk=97)
               for p, r in zip(pairs, rows, strict=True)]
    assert chunked == whole and all(i < j for (i, j), _ in whole)
    capped = {p for pairs, _ in learned.vector_pairs(headed, units, 0.4, 0.2, top_k=3)
              for p in pairs}
    assert capped < {p for p, _ in whole}
    # each keyword brings at most its 3 nearest by cosine, besides lexical and same-key pairs
    cos_at, lex_at = learned.FEATURES.index("cos"), learned.FEATURES.index("lexical")
    by_cosine_only = [p for p, r in whole if p in capped and r[lex_at] < 0.2]
    assert len(by_cosine_only) <= 3 * len(headed)
    assert all(r[cos_at] >= 0.4 for p, r in whole if p in by_cosine_only)


def _unit(*parts: float) -> tuple[float, ...]:
    norm = math.sqrt(sum(p * p for p in parts))
    return tuple(p / norm for p in parts)


def test_new_keywords_join_by_the_models_mean_probability() -> None:
    """With the pair model, a new keyword joins the existing cluster whose mean probability
    with it is highest and reaches `join_threshold`; its score is that mean. One close to no
    cluster, or naming another page type (a price page beside a listicle), is left to cluster."""
    from igny8d.ai import ExistingCluster, KeywordItem, assign_to_existing
    from igny8d.ai.cluster.learned import PairModel

    model = learned.shipped()
    assert model is not None and model.join_threshold is not None
    assert 0.0 < model.join_threshold < 1.0
    shoes, grind = _unit(1, 0.1, 0), _unit(0, 1, 0.1)
    clusters = [
        ExistingCluster("best running shoes", (KeywordItem(1, "best running shoes", 900),
                                               KeywordItem(2, "top running shoes", 400)), id=7),
        ExistingCluster("coffee grinder", (KeywordItem(3, "how to grind coffee beans", 300),),
                        id=8)]
    new = [KeywordItem(10, "best running shoes 2025", 50),
           KeywordItem(11, "running shoes price", 40),
           KeywordItem(12, "how to grind coffee", 30),
           KeywordItem(13, "tarot card meanings", 20)]
    vectors = {1: shoes, 2: shoes, 3: grind, 10: shoes, 11: shoes, 12: grind,
               13: _unit(0, 0, 1)}
    result = assign_to_existing(clusters, new, embeddings=vectors, pair_model=model)
    placed = {a.keyword_id: (a.cluster_id, a.score) for a in result.assigned}
    assert set(placed) == {10, 12}
    assert placed[10][0] == 7 and placed[12][0] == 8
    assert all(model.join_threshold <= s <= 1.0 for _, s in placed.values())
    assert {k.id for k in result.rest} == {11, 13}
    # the score is the model's mean probability over the cluster's keywords
    from igny8d.ai.cluster.vectors import Vectors, page_intents, prepare

    headed = prepare([*clusters[0].keywords, new[0]])
    page_intents(headed)
    edges = model.edges(headed, [Vectors(vectors).of(p.item.id) for p in headed], 0.0)
    at = next(i for i, p in enumerate(headed) if p.item.id == 10)
    mean = sum(edges[at].get(j, 0.0) for j in range(len(headed)) if j != at) / 2
    assert placed[10][1] == pytest.approx(mean, abs=1e-4)
    # without a join threshold the model does not place keywords: the hand similarity does
    hand = assign_to_existing(clusters, new, embeddings=vectors)
    unset = PairModel(**{**model.__dict__, "join_threshold": None})
    assert assign_to_existing(clusters, new, embeddings=vectors, pair_model=unset) == hand
    # `auto_cluster`'s step on embeddings places them so with the pair model it clusters by
    from igny8d.operations.cluster import cluster_on_vectors

    joined, rest, _ = cluster_on_vectors(clusters, new, vectors, 0.675, "complete", model)
    assert joined == {10: 7, 12: 8}
    assert sorted(i for c in rest.clusters for i in c.keyword_ids) == [11, 13]


@pytest.mark.parametrize(("change", "usable", "joins"), [
    ({}, True, True),
    ({"join_threshold": None}, True, False),  # joining by the hand similarity, as before
    ({"join_threshold": 0}, False, False),  # would join every keyword somewhere
    ({"join_threshold": -1}, False, False),
    ({"join_threshold": "nan"}, False, False),
    ({"join_threshold": "abc"}, False, False),
    ({"threshold": 1.5}, False, False),
    ({"features": ["hand"]}, False, False),
])
def test_a_broken_model_file_falls_back_to_the_threshold(
        tmp_path: object, monkeypatch: pytest.MonkeyPatch, change: dict[str, object],
        usable: bool, joins: bool) -> None:
    import json
    from pathlib import Path

    raw = json.loads(learned.MODEL_FILE.read_text(encoding="utf-8"))
    raw.update(change)
    path = Path(str(tmp_path)) / "pair_model.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    monkeypatch.setattr(learned, "MODEL_FILE", path)
    learned.shipped.cache_clear()
    try:
        model = learned.shipped()
        assert (model is not None) is usable
        assert (model is not None and model.join_threshold is not None) is joins
    finally:
        monkeypatch.undo()
        learned.shipped.cache_clear()
    assert learned.shipped() is not None


def test_a_reason_under_the_pair_model_speaks_of_probabilities() -> None:
    from igny8d.ai import KeywordItem, cluster_keywords

    model = learned.shipped()
    assert model is not None
    items = [KeywordItem(1, "best running shoes", 900), KeywordItem(2, "top running shoes", 400),
             KeywordItem(3, "tarot card meanings", 20)]
    shoes = _unit(1, 0.1, 0)
    vectors = {1: shoes, 2: shoes, 3: _unit(0, 0, 1)}
    result = cluster_keywords(items, embeddings=vectors, pair_model=model, min_cluster_size=2)
    (cluster,) = result.clusters
    assert set(cluster.keyword_ids) == {1, 2}
    (alone,) = result.unclustered
    assert alone.keyword_id == 3
    assert alone.reason == ("no_match: no keyword is likely enough to want the same page "
                            f"(learned pair model, P ≥ {model.threshold:.2f})")


def test_pairs_touching_a_position_are_the_whole_batchs_from_there() -> None:
    """Joining scores only the pairs that reach a new keyword (`touching`): the same pairs and
    features as the whole batch's, without those of two earlier keywords."""
    headed, units = _niche(5)
    whole = [(p, r) for pairs, rows in learned.vector_pairs(headed, units, 0.4, 0.2, top_k=8)
             for p, r in zip(pairs, rows, strict=True)]
    start = len(headed) * 2 // 3
    part = [(p, r) for pairs, rows in learned.vector_pairs(headed, units, 0.4, 0.2, top_k=8,
                                                           touching=start)
            for p, r in zip(pairs, rows, strict=True)]
    assert part == [(p, r) for p, r in whole if p[1] >= start]
    assert 0 < len(part) < len(whole)


def test_a_broken_mpnet_file_leaves_mpnet_to_the_threshold_and_minilm_as_it_was(
        tmp_path: object, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """Each model's file is read on its own: a hand-edited mpnet file that does not parse
    costs mpnet its pair model (the cosine threshold, a warning), not MiniLM's."""
    from pathlib import Path

    path = Path(str(tmp_path)) / "pair_model_mpnet.json"
    path.write_text('{"embedding_model": "all-mpnet-base-v2", "features": ', encoding="utf-8")
    monkeypatch.setitem(learned.MODEL_FILES, "all-mpnet-base-v2", path)
    learned.shipped.cache_clear()
    try:
        assert learned.shipped_for("all-mpnet-base-v2") is None
        assert pair_model_for(Settings(), "all-mpnet-base-v2") is None
        assert learned.shipped_for("all-MiniLM-L6-v2") is learned.shipped() is not None
        assert any(str(path) in r.getMessage() for r in caplog.records)
    finally:
        monkeypatch.undo()
        learned.shipped.cache_clear()
    assert learned.shipped_for("all-mpnet-base-v2") is not None
