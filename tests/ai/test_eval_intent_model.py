"""eval/fit_intent_model.py: it reads the rules' intents as `auto_cluster` does, scores the
product's own reading of a fitted model, writes what the product reads back, and refuses to
write a model for an embedding model igny8d ships none for."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from eval import fit_intent_model as im
from eval.clustering import by_niche, rows_of
from eval.metrics import macro_f1
from igny8d.ai import KeywordItem
from igny8d.ai.cluster import intent_model
from igny8d.operations.cluster import intents_to_store

SETS = ("dev", "dev2")


def _stand_in_vectors(sets: dict[str, list[im.Keyword]]) -> dict[str, Any]:
    """Eight dimensions: a little of the gold intent, mostly noise (a vector that knows
    something the rules do not)."""
    rng = np.random.default_rng(5)
    axis = {c: rng.normal(size=8) for c in im.CLASSES}
    return {k.text: tuple((0.8 * axis[k.gold] + rng.normal(size=8)).tolist())
            for kws in sets.values() for k in kws}


def test_the_rules_are_read_as_auto_cluster_reads_a_request() -> None:
    kws = im.keywords("dev")
    rows = by_niche(rows_of("dev"))
    niche = next(iter(rows))
    items = [KeywordItem(i, r["keyword"]) for i, r in enumerate(rows[niche])]
    stored = intents_to_store(items)
    assert [k.rules.intent for k in kws[:len(items)]] == [stored[i.id] for i in items]
    assert [k.gold for k in kws[:len(items)]] == [r["intent"] for r in rows[niche]]


def test_leaving_writers_out_scores_the_products_reading(monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    monkeypatch.setattr(im, "TUNING_SETS", SETS)
    sets = {s: im.keywords(s) for s in SETS}
    vector_of = _stand_in_vectors(sets)
    rules, learned = im.lowo(sets, vector_of, im.C, "m")
    assert rules == [macro_f1([k.rules.intent for k in sets[s]], [k.gold for k in sets[s]])
                     for s in SETS]
    model = im.fit(sets["dev"], vector_of, im.C, "m")
    assert learned[1] == macro_f1(im.predicted(model, sets["dev2"], vector_of),
                                  [k.gold for k in sets["dev2"]])
    # vectors that know the gold intent help on the writer left out
    assert learned[1] > rules[1]


def test_write_ships_what_the_product_reads(monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path) -> None:
    monkeypatch.setattr(im, "TUNING_SETS", SETS)
    sets = {s: im.keywords(s) for s in SETS}
    vector_of = _stand_in_vectors(sets)
    path = tmp_path / "intent_model_mpnet.json"
    monkeypatch.setattr(im, "INTENT_MODEL_FILES", {"all-mpnet-base-v2": path})
    monkeypatch.setattr(im, "_load_vectors", lambda cache, model: vector_of)
    assert im.main(["--embedding-model", "/opt/models/all-mpnet-base-v2", "--write"]) == 0
    written = intent_model.shipped_intents(path)
    assert written is not None and written.embedding_model == "all-mpnet-base-v2"
    assert written.dimensions == 8 and written.classes == im.CLASSES
    assert written.fits("sentence-transformers/all-mpnet-base-v2")
    assert written == im.fit([k for s in SETS for k in sets[s]], vector_of, im.C,
                             "all-mpnet-base-v2")


@pytest.mark.parametrize("args, message", [
    (["--embedding-model", "/m/bge-small-en-v1.5", "--write"], "not bge-small-en-v1.5"),
    (["--c", "0"], "--c must be positive"),
])
def test_what_cannot_be_written_is_refused_at_once(args: list[str], message: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """Refused before minutes of embedding, not after."""
    with pytest.raises(SystemExit) as exc:
        im.main(args)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
