"""The learned intent models (`igny8d/ai/cluster/intent_model.py`): each shipped one loads for
its own model's vectors only (all-mpnet-base-v2, all-MiniLM-L6-v2); it reads a keyword's
intent from its vector as well as the rules, keeps a given intent, leaves vectors of another
dimension to the rules; it changes the intents reported and stored, never the clusters; a
missing or malformed file leaves the rules."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from igny8d.ai import KeywordItem
from igny8d.ai.cluster import cluster_keywords, intent_model
from igny8d.ai.cluster.intent_model import LEARNED_CUE, IntentModel, from_json
from igny8d.ai.intent import IntentResult, classify_intent
from igny8d.operations.cluster import (
    cluster_on_vectors,
    intent_model_for,
    intents_to_store,
    pair_model_for,
)
from igny8d.settings import Settings

MPNET = "sentence-transformers/all-mpnet-base-v2"


def _shipped() -> IntentModel:
    model = intent_model.shipped_for(MPNET)
    assert model is not None
    return model


def _toward(model: IntentModel, intent: str, away: str) -> np.ndarray:
    """A unit vector along the direction that raises `intent`'s score over `away`'s."""
    n = len(model.classes)
    coef = np.asarray(model.coef)
    d = coef[model.classes.index(intent), n:] - coef[model.classes.index(away), n:]
    return d / np.linalg.norm(d)


def test_each_shipped_model_reads_its_own_models_vectors_only() -> None:
    model = _shipped()
    assert model.embedding_model == "all-mpnet-base-v2" and model.dimensions == 768
    assert set(model.classes) == {"informational", "commercial", "transactional",
                                  "navigational"}
    for spelling in ("all-mpnet-base-v2", "/opt/models/all-mpnet-base-v2/",
                     "all-mpnet-base-v2:latest", "ALL-MPNET-BASE-V2-f16"):
        assert intent_model.shipped_for(spelling) is model, spelling
    minilm = intent_model.shipped_for("all-MiniLM-L6-v2")
    assert minilm is not None and minilm.embedding_model == "all-MiniLM-L6-v2"
    assert minilm.dimensions == 384 and set(minilm.classes) == set(model.classes)
    for spelling in ("sentence-transformers/all-MiniLM-L6-v2", "all-minilm", "all-minilm:22m",
                     "chroma/all-minilm-l6-v2-f32"):
        assert intent_model.shipped_for(spelling) is minilm, spelling
    # other models, other sizes of a family and quantised builds have none
    for other in ("all-mpnet-base-v1", "all-mpnet-base-v2-q4", "all-minilm:33m",
                  "all-MiniLM-L12-v2", "nomic-embed-text", None, ""):
        assert intent_model.shipped_for(other) is None, other


def test_the_setting_turns_it_off() -> None:
    assert intent_model_for(Settings(), MPNET) is _shipped()
    assert intent_model_for(Settings(embedding_intent_model=False), MPNET) is None
    assert intent_model_for(Settings(embedding_intent_model=False), "all-minilm") is None
    assert intent_model_for(Settings(), "nomic-embed-text") is None


def test_a_vector_moves_the_rules_intent_and_says_so() -> None:
    model = _shipped()
    rules = classify_intent("sourdough starter")
    assert rules.intent == "informational"
    read = model.read([rules, rules], [_toward(model, "commercial", "informational"),
                                       np.zeros(768)])
    assert read[0].intent == "commercial" and read[0].cues[-1] == LEARNED_CUE
    assert 0.25 < read[0].confidence <= 1.0
    # where the model agrees, the rules' own result stands (its cues and confidence)
    assert read[1] is rules


def test_vectors_of_another_dimension_keep_the_rules() -> None:
    model = _shipped()
    rules = classify_intent("sourdough starter")
    assert model.read([rules], [np.ones(384) / np.sqrt(384)]) == [rules]
    # nor is a vector that is not finite; the length of one that is does not matter
    assert model.read([rules], [np.full(768, np.nan)]) == [rules]
    toward = _toward(model, "commercial", "informational")
    assert model.read([rules], [7.5 * toward]) == model.read([rules], [toward])
    with pytest.raises(ValueError, match="one vector per keyword"):
        model.read([rules], [])


def _items_and_vectors(model: IntentModel) -> tuple[list[KeywordItem], dict[int, Any]]:
    rng = np.random.default_rng(7)
    texts = ["sourdough starter", "sourdough starters", "sourdough bread recipe",
             "espresso machine", "espresso machines", "best espresso machine"]
    items = [KeywordItem(i, t, 100 * (i + 1)) for i, t in enumerate(texts)]
    items.append(KeywordItem(len(items), "sourdough hydration", 50, intent="navigational"))
    toward = _toward(model, "commercial", "informational")
    vectors: dict[int, Any] = {}
    for item in items:
        noise = rng.normal(size=768)
        base = toward if item.text.startswith("sourdough") else noise
        v = base + 0.05 * rng.normal(size=768)
        vectors[item.id] = tuple((v / np.linalg.norm(v)).tolist())
    return items, vectors


def test_the_intents_change_and_the_clusters_do_not() -> None:
    model = _shipped()
    items, vectors = _items_and_vectors(model)
    pair_model = pair_model_for(Settings(), MPNET)
    assert pair_model is not None
    args: tuple[Any, ...] = ([], items, vectors, 0.675, "complete", pair_model)
    _, plain, plain_stored = cluster_on_vectors(*args)
    _, read, stored = cluster_on_vectors(*args, model)
    assert [c.keyword_ids for c in read.clusters] == [c.keyword_ids for c in plain.clusters]
    by_id = dict(read.intents)
    rules = dict(plain.intents)
    assert rules[0] == "informational" and by_id[0] == "commercial"
    # a given intent is kept, and not stored again
    assert by_id[6] == rules[6] == "navigational" and 6 not in stored
    # what is stored is what is reported
    assert stored == {i: by_id[i] for i in range(6)}
    assert plain_stored == {i: rules[i] for i in range(6)}
    assert intents_to_store(items, vectors, model) == stored
    assert intents_to_store(items) == plain_stored


def test_an_intent_model_needs_embeddings() -> None:
    with pytest.raises(ValueError, match="an intent model reads embeddings"):
        cluster_keywords([KeywordItem(1, "sourdough starter", 1)], intent_model=_shipped())


def _raw() -> dict[str, Any]:
    return {"embedding_model": "m", "classes": ["informational", "commercial"],
            "rule_scale": 3.0, "coef": [[1.0, 0.0, 0.5], [0.0, 1.0, -0.5]],
            "intercept": [0.0, 0.1]}


@pytest.mark.parametrize("spoil, message", [
    (lambda r: r.update(classes=["informational", "shopping"]), "not distinct intents"),
    (lambda r: r.update(classes=["informational", "informational"]), "not distinct intents"),
    (lambda r: r.update(coef=[[1.0, 0.0, 0.5], [0.0, 1.0]]), "do not match"),
    (lambda r: r.update(coef=[[1.0, 0.0], [0.0, 1.0]]), "do not match"),
    (lambda r: r.update(intercept=[0.0]), "do not match"),
    (lambda r: r.update(rule_scale=float("nan")), "not finite"),
    (lambda r: r["coef"][0].__setitem__(2, float("inf")), "not finite"),
])
def test_a_malformed_model_is_refused(spoil: Any, message: str) -> None:
    raw = _raw()
    assert from_json(raw).dimensions == 1
    spoil(raw)
    with pytest.raises(ValueError, match=message):
        from_json(raw)


@pytest.mark.parametrize("content", ["", "[]", '{"classes": []}', "{not json",
                                     json.dumps({**_raw(), "coef": "x"})])
def test_an_unreadable_file_leaves_the_rules(tmp_path: Path, content: str,
                                             caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "intent_model_mpnet.json"
    path.write_text(content, encoding="utf-8")
    caplog.set_level(logging.WARNING)
    assert intent_model.shipped_intents(path) is None
    assert "intents by the rules" in caplog.text
    assert intent_model.shipped_intents(tmp_path / "missing.json") is None


def test_the_shipped_file_round_trips() -> None:
    model = _shipped()
    assert from_json(json.loads(json.dumps(model.to_json()))) == model
    assert isinstance(model.read([IntentResult("commercial", ("best",), 1.0)],
                                 [np.zeros(768)])[0], IntentResult)
