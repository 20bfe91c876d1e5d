"""`make eval` runs `python -m eval` with no argument: every suite (argparse once refused that)."""

from __future__ import annotations

import pytest

from eval.__main__ import SUITES, chosen, parse


def test_no_argument_runs_every_suite() -> None:
    assert chosen([]) == SUITES


def test_named_suites_run_in_the_order_given() -> None:
    assert chosen(["content", "clustering"]) == ("content", "clustering")


def test_an_unknown_suite_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        chosen(["nope"])
    assert exc.value.code == 2
    assert "unknown suite 'nope'" in capsys.readouterr().err


def test_the_clustering_takes_another_embedding_model() -> None:
    """`--embedding-model` measures another in-process model; its figures are named after it
    and carry no floors (the floors are all-MiniLM-L6-v2's)."""
    from eval.clustering import FLOORS, embeddings_mode

    args = parse(["clustering", "--embedding-model", "/models/all-mpnet-base-v2/"])
    assert args.suites == ("clustering",) and args.embedding_model == "/models/all-mpnet-base-v2/"
    assert parse([]).embedding_model is None
    assert embeddings_mode("/models/all-mpnet-base-v2/") == "embeddings:all-mpnet-base-v2"
    assert embeddings_mode("all-MiniLM-L6-v2") == "embeddings"
    assert not [key for key in FLOORS if key[1].startswith("embeddings:")]
