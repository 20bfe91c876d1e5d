"""`make eval` runs `python -m eval` with no argument: every suite (argparse once refused that)."""

from __future__ import annotations

import pytest

from eval.__main__ import SUITES, chosen


def test_no_argument_runs_every_suite() -> None:
    assert chosen([]) == SUITES


def test_named_suites_run_in_the_order_given() -> None:
    assert chosen(["content", "clustering"]) == ("content", "clustering")


def test_an_unknown_suite_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        chosen(["nope"])
    assert exc.value.code == 2
    assert "unknown suite 'nope'" in capsys.readouterr().err
