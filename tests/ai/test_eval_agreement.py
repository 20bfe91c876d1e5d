"""The writers' agreement (`python -m eval agreement`): the second writer's file holds exactly
the gold set's keywords of its niches, the figures are what the metrics say, and a file that
drifts from the gold set is reported as a failure rather than scored."""

from __future__ import annotations

from pathlib import Path

import pytest

from eval import agreement


def test_second_writer_is_scored_against_the_gold_set() -> None:
    report = agreement.evaluate()
    assert report.failures == []
    assert report.keywords == 920
    writers, machine, machine_other = report.rows
    assert len(writers.niche_ari) == 8 and writers.intent_f1 is not None
    # the writers agree closely; the clusterer agrees with either far less (decisions.md)
    assert writers.ari > 0.9
    assert machine.ari < writers.ari and machine_other.ari < writers.ari
    assert "second writer vs gold" in agreement.render(report)


def test_a_file_that_drifted_from_the_gold_set_fails(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    lines = agreement.FILE.read_text(encoding="utf-8").splitlines()
    dropped = lines[1].split(",")[1]  # the niche of the first row
    drifted = tmp_path / "agreement.csv"
    drifted.write_text("\n".join([lines[0], *lines[2:]]) + "\n", encoding="utf-8")
    monkeypatch.setattr(agreement, "FILE", drifted)
    report = agreement.evaluate()
    assert any(dropped in f for f in report.failures)
    assert dropped not in report.rows[0].niche_ari
