"""A learned intent model for the embeddings path: fitted, measured, and written for the product.

    python -m eval.fit_intent_model [--embedding-model DIR] [--vectors /tmp/vectors.pkl]
                                    [--c 0.3] [--write]

Each tuning keyword is described as the product reads it (`intent_model.IntentModel`): the
rules' intent (`intent.classify_analysis` with the names its niche shows, as `auto_cluster`
reads a request) one-hot, and its unit vector from the embedding model; labelled by the gold
sets' intent. A multinomial logistic regression (scikit-learn; the product needs only numpy)
maps them to the intent.

Figures, on the tuning sets only (`TUNING_SETS`; the holdouts are never read):
macro-F1 of the rules and of the model leaving each writer out (fitted on the other nine).
`--write` fits on every tuning keyword and writes the model for the embedding model
(`INTENT_MODEL_FILES`: all-MiniLM-L6-v2, all-mpnet-base-v2).
Results: docs/decisions.md, "Intents from the embedding as well as the rules".
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from eval.clustering import by_niche, rows_of
from eval.clustering_cv import TUNING_SETS
from eval.fit_pair_model import _load_vectors, embedding_name
from eval.metrics import macro_f1
from igny8d.ai.cluster.intent_model import INTENT_MODEL_FILES, IntentModel, from_json, unit_rows
from igny8d.ai.intent import IntentResult, classify_analysis, request_names
from igny8d.ai.text import analyse
from igny8d.vocab import Intent

#: The intents in the order the model's rows are written.
CLASSES: tuple[Intent, ...] = ("informational", "commercial", "transactional", "navigational")
#: The rules' one-hot is scaled so the regularisation weighs it as a few dimensions of the
#: vector (1, 3 and 10 measured within 0.001 of each other, leaving writers out).
RULE_SCALE = 3.0
#: The inverse regularisation strength: 0.3 measured best of 0.1 / 0.3 / 1 / 3 leaving writers
#: out on all-MiniLM-L6-v2 (0.788 / 0.796 / 0.793 / 0.788).
C = 0.3


@dataclass(frozen=True)
class Keyword:
    text: str
    gold: str
    rules: IntentResult


def keywords(set_name: str) -> list[Keyword]:
    """A set's keywords with their rules' intent, each niche read as one request."""
    out: list[Keyword] = []
    for rows in by_niche(rows_of(set_name)).values():
        analyses = [analyse(r["keyword"]) for r in rows]
        names = request_names(analyses)
        out += [Keyword(r["keyword"], r["intent"], classify_analysis(a, names))
                for r, a in zip(rows, analyses, strict=True)]
    return out


def features(kws: Sequence[Keyword], vector_of: dict[str, Any]) -> np.ndarray:
    """The rows the product computes (`IntentModel.read`): scaled one-hot, then the vector."""
    onehot = np.asarray([[RULE_SCALE * (k.rules.intent == c) for c in CLASSES] for k in kws])
    return np.hstack([onehot, unit_rows(np.asarray([vector_of[k.text] for k in kws],
                                                   dtype=np.float64))])


def fit(kws: Sequence[Keyword], vector_of: dict[str, Any], c: float, name: str
        ) -> IntentModel:
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression(C=c, max_iter=5000)
    lr.fit(features(kws, vector_of), [k.gold for k in kws])
    order = [list(lr.classes_).index(x) for x in CLASSES]
    return IntentModel(embedding_model=name, classes=CLASSES, rule_scale=RULE_SCALE,
                       coef=tuple(tuple(round(float(v), 6) for v in lr.coef_[i])
                                  for i in order),
                       intercept=tuple(round(float(lr.intercept_[i]), 6) for i in order))


def predicted(model: IntentModel, kws: Sequence[Keyword], vector_of: dict[str, Any]
              ) -> list[str]:
    """The product's own reading of the keywords (`IntentModel.read`)."""
    return [r.intent for r in model.read([k.rules for k in kws],
                                         [vector_of[k.text] for k in kws])]


def lowo(sets: dict[str, list[Keyword]], vector_of: dict[str, Any], c: float, name: str
         ) -> tuple[list[float], list[float]]:
    """Macro-F1 per writer left out: the rules', and the model's fitted on the others."""
    rules: list[float] = []
    learned: list[float] = []
    for held in TUNING_SETS:
        test = sets[held]
        gold = [k.gold for k in test]
        rules.append(macro_f1([k.rules.intent for k in test], gold))
        model = fit([k for s in TUNING_SETS if s != held for k in sets[s]], vector_of, c, name)
        learned.append(macro_f1(predicted(model, test, vector_of), gold))
    return rules, learned


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m eval.fit_intent_model")
    ap.add_argument("--embedding-model", default=None,
                    help="the in-process model whose vectors are read, a directory or a name "
                         "(default all-MiniLM-L6-v2; --write takes one of "
                         f"{', '.join(INTENT_MODEL_FILES)})")
    ap.add_argument("--vectors", type=Path, default=None,
                    help="a pickle caching the embedding model's vectors of the tuning keywords")
    ap.add_argument("--c", type=float, default=C, help="inverse regularisation strength")
    ap.add_argument("--write", action="store_true",
                    help="fit on every tuning keyword and write the model for the embedding "
                         "model, no cross-validation")
    args = ap.parse_args(argv)
    name = embedding_name(args.embedding_model)
    if args.write and name not in INTENT_MODEL_FILES:
        ap.error(f"--write ships intent models for {', '.join(INTENT_MODEL_FILES)} only, "
                 f"not {name}")
    if not args.c > 0:
        ap.error("--c must be positive")
    vector_of = _load_vectors(args.vectors, args.embedding_model)
    sets = {s: keywords(s) for s in TUNING_SETS}
    shipped_name = "all-MiniLM-L6-v2" if name == "all-minilm-l6-v2" else name
    if args.write:
        path = INTENT_MODEL_FILES[name]
        model = fit([k for s in TUNING_SETS for k in sets[s]], vector_of, args.c, shipped_name)
        path.write_text(json.dumps(model.to_json(), separators=(",", ":")) + "\n",
                        encoding="utf-8")
        # what the product reads back is what was fitted
        assert from_json(json.loads(path.read_text(encoding="utf-8"))) == model
        print(f"wrote {path} ({sum(len(v) for v in sets.values())} keywords)")
        return 0
    rules, learned = lowo(sets, vector_of, args.c, shipped_name)
    print("macro-F1 leaving each writer out: " + " ".join(TUNING_SETS))
    for label, figures in (("rules", rules), (f"rules + {name}", learned)):
        print(f"  {label:28} " + " ".join(f"{x:.3f}" for x in figures)
              + f"  mean {np.mean(figures):.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
