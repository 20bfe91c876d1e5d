"""CI enforces the content evaluation's floors on its dev set (`python -m eval content`)."""

from __future__ import annotations

from eval.content import FLOORS, evaluate, load, render


def test_the_dev_set_meets_every_floor() -> None:
    report = evaluate(("dev",))
    assert report.sizes["dev"] == len(load("dev")) >= 60
    assert set(report.figures["dev"]) == set(FLOORS)
    assert not report.failures, render(report)


def test_the_holdout_is_separate_from_dev() -> None:
    dev = {t.keywords[0] for t in load("dev")}
    holdout = {t.keywords[0] for t in load("holdout")}
    assert len(holdout) >= 20 and not dev & holdout


def test_the_dev_gold_clusters_meet_every_floor_but_title_intent() -> None:
    report = evaluate(("dev-clusters", "dev2-clusters"))
    assert report.sizes["dev-clusters"] >= 400 and report.sizes["dev2-clusters"] >= 400
    assert set(report.figures["dev-clusters"]) == set(FLOORS) - {"title_intent_pct"}
    assert not report.failures, render(report)
    assert "n/a" in render(report)
