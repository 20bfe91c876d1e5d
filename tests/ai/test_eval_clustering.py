"""eval/clustering.py: the local clustering of the dev gold set (eval/data) stays above its
floors, every keyword placed; the report renders every figure and says why a mode is skipped."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from eval import clustering
from eval.clustering import FLOORS, Report, evaluate, labels, render
from igny8d.ai import ClusterResult
from igny8d.ai.cluster import Cluster, Unclustered


def test_the_local_dev_figures_stay_above_their_floors() -> None:
    report = evaluate(sets=("dev",), modes=("local",))
    assert report.failures == [], render(report)
    (fig,) = report.figures
    assert fig.keywords == len(clustering.rows_of("dev")) and len(fig.niche_ari) == 18
    floors = FLOORS[("dev", "local")]
    assert fig.ari >= floors["ari"] and fig.pair_f1 >= floors["pair_f1"]
    assert fig.intent_f1 >= floors["intent_f1"]
    assert fig.unclustered == 0  # every keyword ends in a cluster
    assert 0 < fig.single_keyword_clusters < fig.clusters
    text = render(report)
    assert "dev      local" in text and "per-niche ARI" in text


def test_the_local_dev2_figures_stay_above_their_floors() -> None:
    report = evaluate(sets=("dev2",), modes=("local",))
    assert report.failures == [], render(report)
    (fig,) = report.figures
    assert len(fig.niche_ari) == 17 and fig.unclustered == 0
    assert fig.ari >= FLOORS[("dev2", "local")]["ari"]


@pytest.mark.parametrize("name", ["dev3", "dev4", "dev5", "dev6", "dev7", "dev8", "dev9",
                                  "dev10", "dev11", "dev12"])
def test_the_local_figures_of_the_newer_tuning_sets_stay_above_their_floors(name: str) -> None:
    report = evaluate(sets=(name,), modes=("local",))
    assert report.failures == [], render(report)
    (fig,) = report.figures
    assert len(fig.niche_ari) == (8 if name in ("dev11", "dev12") else 16)
    assert fig.unclustered == 0
    assert fig.ari >= FLOORS[(name, "local")]["ari"]
    assert fig.intent_f1 >= FLOORS[(name, "local")]["intent_f1"]


def test_the_three_blind_sets_are_reported_without_a_floor() -> None:
    """The holdouts are measured by default (`python -m eval clustering`) and never floored:
    they are not tuned on (eval/data/GUIDE.md)."""
    blind = {"holdout", "holdout2", "holdout3"}
    import inspect

    default = inspect.signature(evaluate).parameters["sets"].default
    assert blind <= set(clustering.SETS) and blind <= set(default)
    assert not blind & {s for s, _ in FLOORS}


@pytest.mark.parametrize("name", sorted(clustering.SETS))
def test_every_gold_set_keeps_the_guide_format(name: str) -> None:
    """eval/data/GUIDE.md "Conventions": UTF-8, LF, the five columns, one of four intents, a
    positive volume, lower-case keywords unique in their niche (ignoring case and whitespace),
    short hyphenated slugs, a niche's rows together, by volume (highest first) except in the
    first holdout, which keeps its original row order. Format only: nothing is scored."""
    import re

    raw = clustering.SETS[name].read_bytes()
    assert b"\r" not in raw
    assert raw.decode("utf-8").split("\n", 1)[0] == "niche,cluster,intent,volume,keyword"
    rows = clustering.rows_of(name)
    assert len(rows) >= 700
    intents = {"informational", "commercial", "transactional", "navigational"}
    seen: set[tuple[str, str]] = set()
    done: set[str] = set()
    previous: dict[str, str] | None = None
    for r in rows:
        assert r["intent"] in intents and int(r["volume"]) > 0, r
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", r["cluster"]), r
        assert r["keyword"] == r["keyword"].lower().strip() != "", r
        key = (r["niche"], "".join(r["keyword"].split()))
        assert key not in seen, r
        seen.add(key)
        if previous is not None and previous["niche"] == r["niche"]:
            assert name == "holdout" or int(previous["volume"]) >= int(r["volume"]), r
        else:
            assert r["niche"] not in done, r
            done.add(r["niche"])
        previous = r


def test_a_figure_under_its_floor_is_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(FLOORS, ("dev", "local"), {"ari": 0.99, "unclustered_max": 0.0})
    report = evaluate(sets=("dev",), modes=("local",))
    assert len(report.failures) == 1 and "ari" in report.failures[0]
    assert "FAIL dev/local: ari" in render(report)


def test_labels_count_an_unclustered_keyword_as_its_own_cluster() -> None:
    result = ClusterResult((Cluster("a", (1, 2), "informational", 3, 1.0),
                            Cluster("b", (3,), "informational", 1, 1.0)),
                           (Unclustered(4, "empty: nothing left after normalisation"),), ())
    got, missing, singles = labels(result, [1, 2, 3, 4])
    assert got == ["c0", "c0", "c1", "u4"] and missing == 1 and singles == 1


def test_a_missing_embeddings_mode_is_skipped_with_a_reason(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clustering, "embedder", lambda model: (None, "no model here"))
    report = evaluate(sets=("dev",), modes=("embeddings",))
    assert report.figures == [] and report.failures == []
    assert report.skipped == ["embeddings: skipped, no model here"]
    assert "embeddings: skipped, no model here" in render(Report(skipped=report.skipped))
    # another model is named in its figures and its skip
    report = evaluate(sets=("dev",), modes=("embeddings",), model="/m/all-mpnet-base-v2")
    assert report.skipped == ["embeddings:all-mpnet-base-v2: skipped, no model here"]


class _HashedEmbedder:
    """A stand-in for igny8d.ai.providers.embedded.SentenceEmbedder: hashed character
    trigrams, so the embeddings mode runs without a model."""

    def __init__(self, model: str | None = None) -> None:
        self.model = model

    def embed(self, texts: list[str]) -> list[tuple[float, ...]]:
        out = []
        for text in texts:
            vec = [0.0] * 64
            padded = f"#{text.lower()}#"
            for i in range(len(padded) - 2):
                vec[sum(map(ord, padded[i:i + 3])) % 64] += 1.0
            out.append(tuple(vec))
        return out


def test_the_embeddings_mode_clusters_through_the_operation(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    import types

    fake = types.ModuleType("igny8d.ai.providers.embedded")
    fake.SentenceEmbedder = _HashedEmbedder  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "igny8d.ai.providers.embedded", fake)
    # the floors are for the real model's vectors, not the stand-in's
    monkeypatch.setitem(FLOORS, ("dev", "embeddings"), {})
    monkeypatch.setitem(FLOORS, ("dev", "embeddings-assign"), {})
    report = evaluate(sets=("dev",), modes=("embeddings",))
    assert report.skipped == [] and report.failures == []
    (fig,) = report.figures
    assert fig.mode == "embeddings" and fig.unclustered == 0 and 0 < fig.ari < 1
    assert "dev      embeddings" in render(report)
    # and new keywords into the clusters of the other ~70 %, every one of them accounted for
    got = report.assign
    assert got is not None and got.keywords == fig.keywords and 0 < got.new < got.keywords
    assert got.right + got.wrong + got.missed == got.placeable
    assert got.placeable + got.unplaceable == got.new and 0 < got.ari < 1
    assert "new keywords into existing clusters" in render(report)


def test_new_keywords_are_measured_on_each_tuning_set_and_pooled() -> None:
    """`eval.clustering_assign` on dev and dev2 (the stand-in's vectors): each set on its own,
    and the pooled figures are their sums; a blind set is refused."""
    from eval import clustering_assign

    embedder = _HashedEmbedder()

    def vectors(texts: Sequence[str]) -> list[tuple[float, ...]]:
        return embedder.embed(list(texts))
    step, whole = clustering_assign.operation_step(0.4, "complete")
    got = clustering_assign.measure_sets(vectors, step, whole, ("dev", "dev2"))
    assert list(got) == ["dev", "dev2", "pooled"]
    dev, dev2, pooled = got["dev"], got["dev2"], got["pooled"]
    assert dev.keywords == len(clustering.rows_of("dev"))
    assert dev2.keywords == len(clustering.rows_of("dev2"))
    for name in ("keywords", "new", "placeable", "right", "wrong", "missed", "unplaceable",
                 "intruded"):
        assert getattr(pooled, name) == getattr(dev, name) + getattr(dev2, name)
    assert len(pooled.niche_ari) == 35 and 0 < pooled.ari < 1
    assert "dev+dev2]" in clustering_assign.render(pooled)
    with pytest.raises(SystemExit):
        clustering_assign.main(["--sets", "holdout"])


def test_leave_one_niche_out_never_chooses_on_the_held_niche() -> None:
    """A configuration perfect on one niche only is not chosen for that niche (the choice is
    made on the other 178 niches of the twelve tuning sets, where another is better); one perfect
    everywhere is chosen in every fold."""
    from eval.clustering import by_niche
    from eval.clustering_cv import leave_one_niche_out, tuning_rows

    gold = {n: [r["cluster"] for r in rows] for n, rows in by_niche(tuning_rows()).items()}
    assert len(gold) == 179
    first = sorted(gold)[0]
    alone = {n: [f"k{i}" for i in range(len(g))] for n, g in gold.items()}
    only_first = {n: (gold[n] if n == first else alone[n]) for n in gold}
    all_but_first = {n: (alone[n] if n == first else gold[n]) for n in gold}
    ari, precision, recall, chosen = leave_one_niche_out(
        {("a", 0.1): only_first, ("b", 0.2): all_but_first})
    assert chosen == {("b", 0.2): 179}  # `first` is scored with b: every keyword alone
    assert ari < 1.0 and precision == 1.0 and recall < 1.0
    ari, precision, recall, chosen = leave_one_niche_out({("a", 0.1): gold, ("b", 0.2): alone})
    assert (ari, precision, recall) == (1.0, 1.0, 1.0) and chosen == {("a", 0.1): 179}


def test_leave_one_writer_out_chooses_on_the_other_writers() -> None:
    """A configuration perfect on one writer's niches only is not chosen for that writer:
    its fold is scored at the configuration best on the other three sets."""
    from eval.clustering import by_niche
    from eval.clustering_cv import TUNING_SETS, leave_one_writer_out, tuning_rows, writers

    gold = {n: [r["cluster"] for r in rows] for n, rows in by_niche(tuning_rows()).items()}
    groups = writers()
    assert sorted(groups) == sorted(TUNING_SETS) and sum(map(len, groups.values())) == 179
    alone = {n: [f"k{i}" for i in range(len(g))] for n, g in gold.items()}
    dev = set(groups["dev"])
    only_dev = {n: (gold[n] if n in dev else alone[n]) for n in gold}
    not_dev = {n: (alone[n] if n in dev else gold[n]) for n in gold}
    out = leave_one_writer_out({"only dev": only_dev, "not dev": not_dev})
    assert out["dev"] == ("not dev", 0.0)  # every dev keyword alone
    out = leave_one_writer_out({"alone": alone, "gold": gold})
    assert out == {name: ("gold", 1.0) for name in TUNING_SETS}


def test_the_density_variants_keep_what_they_say() -> None:
    """eval.clustering_density: deterministic parts of dev, each of the shape it names."""
    from collections import Counter

    from eval.clustering import rows_of
    from eval.clustering_density import VARIANTS, variant

    dev = rows_of("dev")
    for how, seed in VARIANTS:
        rows = variant(dev, how, seed)
        assert rows == variant(dev, how, seed) and 0 < len(rows) <= len(dev)
    sizes = Counter((r["niche"], r["cluster"]) for r in variant(dev, "two-per-cluster"))
    assert max(sizes.values()) == 2 and len(sizes) == len({(r["niche"], r["cluster"])
                                                             for r in dev})
    whole = Counter((r["niche"], r["cluster"]) for r in dev)
    assert all(whole[k] >= 3 for k in Counter((r["niche"], r["cluster"])
                                              for r in variant(dev, "big-clusters")))
    kept = Counter((r["niche"], r["cluster"]) for r in variant(dev, "half-clusters", "b"))
    assert all(kept[k] == whole[k] for k in kept)  # whole clusters or none
