"""Intents read from a keyword's embedding as well as the rules, on the vectors of the model
the coefficients were fitted for (`IntentModel`).

The rules (`intent.classify_analysis`) know cue words: "best", "buy", "near me", "login". They
miss what only a product or a brand name says ("bosch 800 series dishwasher" is the brand's
own page, navigational, in dev12), and on writers they were not tuned on they score 0.62 to
0.83 macro-F1. A multinomial logistic over the rules' intent (one-hot) and
the keyword's unit vector, fitted on ten or twelve writers' gold sets
(`eval/fit_intent_model.py --write`), gains on every writer left out of its fit and, on the
vectors of all-mpnet-base-v2 and all-MiniLM-L6-v2, on the blind sets (docs/decisions.md,
"Intents from the embedding as well as the rules", "Intents from all-mpnet-base-v2's
vectors", "Two more blind writers").

It changes the intent a keyword is *reported and stored* with, not the clustering: which
keywords may share a cluster still goes by the rules' firm intents (`vectors.prepare`), on
which the pair models were fitted. A keyword given an intent keeps it.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

from igny8d.ai.cluster.learned import _UNREADABLE, MODEL_FILE, _json_object, names_model
from igny8d.ai.intent import IntentResult
from igny8d.vocab import Intent

log = logging.getLogger(__name__)

#: The fitted models shipped with igny8d, by the embedding model they read (written by
#: `eval/fit_intent_model.py --write`): all-mpnet-base-v2's on ten writers (dev to dev10),
#: all-MiniLM-L6-v2's on twelve (dev to dev12; on ten it scored -0.008 to +0.014 on the three
#: holdouts and +0.113 / +0.082 on dev11 and dev12 while they were blind; refitted on twelve,
#: +0.003 to +0.011 on the holdouts; docs/decisions.md).
INTENT_MODEL_FILES: dict[str, Path] = {
    "all-minilm-l6-v2": MODEL_FILE.with_name("intent_model.json"),
    "all-mpnet-base-v2": MODEL_FILE.with_name("intent_model_mpnet.json"),
}
#: The cue a learned intent carries (`IntentResult.cues`), after the rules' own.
LEARNED_CUE = "embedding"


@dataclass(frozen=True)
class IntentModel:
    """A multinomial logistic: a keyword's intent is the class whose row of `coef` gives the
    highest score over [`rule_scale` times the rules' intent one-hot over `classes`, the unit
    vector] plus its `intercept`."""

    embedding_model: str
    classes: tuple[Intent, ...]
    rule_scale: float
    #: one row per class: len(classes) weights of the rules' one-hot, then one per dimension
    coef: tuple[tuple[float, ...], ...]
    intercept: tuple[float, ...]

    @property
    def dimensions(self) -> int:
        return len(self.coef[0]) - len(self.classes)

    def fits(self, model: str | None) -> bool:
        """Whether `model` (a name, a hub id, a path or an Ollama tag) is the one the
        coefficients hold for."""
        return names_model(self.embedding_model, model)

    def read(self, rules: Sequence[IntentResult], vectors: Sequence[Sequence[float]]
             ) -> list[IntentResult]:
        """Each keyword's intent from its rules' result and its vector (as given: the model
        reads it scaled to unit length, `unit_rows`); the rules' result unchanged where the
        vector has another dimension than the model's (a vector from another model cannot be
        read), is not finite, or the model agrees with it."""
        import numpy as np

        if len(rules) != len(vectors):
            raise ValueError("one vector per keyword")
        out = list(rules)
        rows = [k for k, v in enumerate(vectors) if len(v) == self.dimensions]
        if not rows:
            return out
        units = unit_rows(np.asarray([vectors[k] for k in rows], dtype=np.float64))
        finite = np.isfinite(units).all(axis=1)
        rows, units = [k for k, ok in zip(rows, finite.tolist(), strict=True) if ok], \
            units[finite]
        if not rows:
            return out
        onehot = np.asarray([[self.rule_scale * (rules[k].intent == c) for c in self.classes]
                             for k in rows], dtype=np.float64)
        x = np.hstack([onehot, units])
        z = x @ np.asarray(self.coef, dtype=np.float64).T + np.asarray(self.intercept)
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        for k, best, prob in zip(rows, p.argmax(axis=1).tolist(), p.max(axis=1).tolist(),
                                 strict=True):
            intent = self.classes[best]
            if intent != rules[k].intent:
                out[k] = IntentResult(intent, (*rules[k].cues, LEARNED_CUE), round(prob, 4))
        return out

    def to_json(self) -> dict[str, object]:
        return {"embedding_model": self.embedding_model, "classes": list(self.classes),
                "rule_scale": self.rule_scale, "coef": [list(r) for r in self.coef],
                "intercept": list(self.intercept)}


def from_json(raw: dict[str, Any]) -> IntentModel:
    """The model a JSON object describes; ValueError when it is malformed (an unknown intent,
    rows of unequal width, a weight that is not finite)."""
    classes = tuple(str(c) for c in raw["classes"])
    if len(set(classes)) != len(classes) or not set(classes) <= set(get_args(Intent)):
        raise ValueError(f"classes {classes!r} are not distinct intents")
    coef = tuple(tuple(float(v) for v in row) for row in raw["coef"])
    intercept = tuple(float(v) for v in raw["intercept"])
    width = {len(r) for r in coef}
    if len(coef) != len(classes) or len(intercept) != len(classes) or len(width) != 1 \
            or width.pop() <= len(classes):
        raise ValueError("coefficients do not match the classes")
    scale = float(raw["rule_scale"])
    if not all(math.isfinite(v) for v in (scale, *intercept, *(v for r in coef for v in r))):
        raise ValueError("a weight is not finite")
    return IntentModel(str(raw["embedding_model"]), classes, scale,  # type: ignore[arg-type]
                       coef, intercept)


def unit_rows(x: Any) -> Any:
    """A numpy matrix's rows scaled to unit length (a zero row stays zero), as the model was
    fitted (`eval/fit_intent_model.py`) and reads them."""
    import numpy as np

    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


@functools.cache
def shipped_intents(path: Path) -> IntentModel | None:
    """The intent model shipped in `path`, or None when it is missing or malformed (then the
    rules' intents stand; logged)."""
    try:
        return from_json(_json_object(path))
    except _UNREADABLE as exc:
        log.warning("intent model %s not usable (%s): intents by the rules", path, exc)
        return None


def shipped_for(model: str | None) -> IntentModel | None:
    """The shipped intent model fitted on `model`'s vectors (any spelling of its name), or
    None: no model of ours reads them."""
    for path in INTENT_MODEL_FILES.values():
        found = shipped_intents(path)
        if found is not None and found.fits(model):
            return found
    return None
