"""How far two specialists agree (`python -m eval agreement`): the ceiling the clustering
figures are read against.

`eval/data/clustering_agreement.csv` is a second, independent grouping of 8 tuning niches (920
keywords: cycling, houseplants, mortgages, web-hosting of dev; fishing, mattresses,
personal-loans, vpn-services of dev2). Its writer had `GUIDE.md` and each niche's keywords
(shuffled, with volumes) only — not the gold rows, not the code — and grouped by hand
(docs/decisions.md, "How far two writers agree"). Scored against the gold set's writer with the
same metrics as the clustering (pooled ARI, pair precision / recall with the gold as the
reference, intent macro-F1), and beside it the local clusterer on the same niches against
each writer (`evaluate(modes=("local", "embeddings"))` adds all-MiniLM-L6-v2 in process): if
the writers agree far more than the clusterer agrees with either, the gap is the clusterer's,
not the labels' noise.

The check fails only when the file no longer holds exactly the gold set's keywords of those
niches (the figures would then compare different things); there is no floor to tune toward.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass, field

from eval.clustering import (
    DATA,
    Clusterer,
    by_niche,
    embedder,
    embeddings_clusterer,
    labels,
    local_clusterer,
    rows_of,
)
from eval.metrics import adjusted_rand_index, macro_f1, pair_f1
from igny8d.ai import KeywordItem

FILE = DATA / "clustering_agreement.csv"


@dataclass(frozen=True)
class Agreement:
    """One labelling against a reference, pooled over the niches (labels per niche)."""

    name: str
    ari: float
    precision: float
    recall: float
    intent_f1: float | None
    niche_ari: dict[str, float]


@dataclass
class Report:
    keywords: int = 0
    rows: list[Agreement] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def second_writer() -> dict[str, dict[str, dict[str, str]]]:
    """niche → keyword → the second writer's row."""
    out: dict[str, dict[str, dict[str, str]]] = defaultdict(dict)
    with FILE.open(newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            out[r["niche"]][r["keyword"]] = r
    return dict(out)


def _score(name: str, niches: dict[str, list[str]], pred: dict[str, list[str]],
           gold: dict[str, list[str]], pred_intent: list[str] | None = None,
           gold_intent: list[str] | None = None) -> Agreement:
    p = [f"{n}/{x}" for n in niches for x in pred[n]]
    g = [f"{n}/{x}" for n in niches for x in gold[n]]
    _, precision, recall = pair_f1(p, g)
    intent = macro_f1(pred_intent, gold_intent) if pred_intent and gold_intent else None
    return Agreement(name, adjusted_rand_index(p, g), precision, recall, intent,
                     {n: adjusted_rand_index(pred[n], gold[n]) for n in niches})


def evaluate(modes: tuple[str, ...] = ("local",)) -> Report:
    """The writers' agreement, and each clusterer of `modes` (local, embeddings: MiniLM in
    process, when installed) against each writer."""
    second = second_writer()
    report = Report()
    keys: dict[str, list[str]] = {}
    first: dict[str, list[str]] = {}
    other: dict[str, list[str]] = {}
    first_intent: list[str] = []
    other_intent: list[str] = []
    gold_rows: dict[str, list[dict[str, str]]] = {}
    for set_name in ("dev", "dev2"):
        for niche, rows in by_niche(rows_of(set_name)).items():
            if niche in second:
                gold_rows[niche] = rows
    for niche, rows in sorted(gold_rows.items()):
        mine = second[niche]
        if {r["keyword"] for r in rows} != set(mine) or len(rows) != len(mine):
            report.failures.append(f"agreement: {niche} does not hold the gold set's keywords")
            continue
        keys[niche] = [r["keyword"] for r in rows]
        first[niche] = [r["cluster"] for r in rows]
        other[niche] = [mine[r["keyword"]]["cluster"] for r in rows]
        first_intent += [r["intent"] for r in rows]
        other_intent += [mine[r["keyword"]]["intent"] for r in rows]
    missing = set(second) - set(gold_rows)
    if missing:
        report.failures.append(f"agreement: niches not in dev/dev2: {sorted(missing)}")
    report.keywords = sum(map(len, keys.values()))
    report.rows.append(_score("second writer vs gold", keys, other, first, other_intent,
                              first_intent))
    for mode in modes:
        run = _clusterer(mode)
        if run is None:
            continue
        machine: dict[str, list[str]] = {}
        for niche, texts in keys.items():
            volumes = [int(r["volume"]) for r in gold_rows[niche]]
            items = [KeywordItem(i, t, v) for i, (t, v) in enumerate(zip(texts, volumes,
                                                                        strict=True))]
            machine[niche] = labels(run(items), [k.id for k in items])[0]
        report.rows.append(_score(f"{mode} clusterer vs gold", keys, machine, first))
        report.rows.append(_score(f"{mode} clusterer vs second writer", keys, machine, other))
    return report


def _clusterer(mode: str) -> Clusterer | None:
    if mode == "local":
        return local_clusterer()
    vectors, _ = embedder()
    return embeddings_clusterer(vectors) if vectors is not None else None


def render(report: Report) -> str:
    lines = [f"[agreement] {report.keywords} keywords, "
             f"{len(report.rows[0].niche_ari) if report.rows else 0} niches"]
    for a in report.rows:
        intent = f", intent macro-F1 {a.intent_f1:.3f}" if a.intent_f1 is not None else ""
        lines.append(f"  {a.name:34} ARI {a.ari:.3f} (P {a.precision:.3f} "
                     f"R {a.recall:.3f}){intent}")
        lines.append("      " + ", ".join(f"{n} {v:.2f}" for n, v in a.niche_ari.items()))
    lines += [f"  FAILED {f}" for f in report.failures]
    return "\n".join(lines)
