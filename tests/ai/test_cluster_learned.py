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
                                  "/models/all-minilm-l6-v2/", " ALL-MINILM-L6-V2 "])
def test_it_fits_its_model_by_any_spelling(name: str) -> None:
    model = learned.shipped()
    assert model is not None and model.fits(name)
    assert pair_model_for(Settings(), name) is model


@pytest.mark.parametrize("name", [None, "", "nomic-embed-text", "all-MiniLM-L12-v2",
                                  "text-embedding-3-small"])
def test_other_models_keep_the_threshold(name: str | None) -> None:
    assert pair_model_for(Settings(), name) is None


def test_the_setting_off_or_an_operators_threshold_keeps_the_threshold() -> None:
    assert pair_model_for(Settings(embedding_pair_model=False), "all-MiniLM-L6-v2") is None
    own = Settings(embedding_thresholds={"all-MiniLM-L6-v2": 0.6})
    assert pair_model_for(own, "sentence-transformers/all-MiniLM-L6-v2") is None
    assert own.embedding_threshold_for("all-MiniLM-L6-v2") == 0.6
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
