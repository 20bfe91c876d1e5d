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


def test_topics_carry_the_intents_auto_cluster_stores() -> None:
    """The writer is measured as production reaches it: after auto_cluster every keyword has
    a stored intent, read with the names the whole request shows (a gold set's niche), and
    the brief's intent is the one with most volume."""
    from eval.content import cluster_topics, load, stored_intents

    (login,) = [t for t in load("dev") if t.keywords[0] == "hubspot login"]
    assert set(login.stored) == {"navigational"}
    topics = cluster_topics("dev2")
    assert all(len(t.stored) == len(t.keywords) for t in topics)
    # "cutco knives" is the brand's product page because its niche searches "cutco.com"
    (cutco,) = [t for t in topics if t.keywords[0] == "cutco"]
    assert cutco.stored[cutco.keywords.index("cutco knives")] == "navigational"
    assert stored_intents(["cutco knives"]) == {"cutco knives": "informational"}
