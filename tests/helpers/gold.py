"""The clustering gold set (igny8d/ai/data/gold_keywords.csv) and the measures a clustering
is scored with against it: adjusted Rand index, pair-F1, macro-F1."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import igny8d.ai
from igny8d.ai import ClusterResult

GOLD = Path(igny8d.ai.__file__).parent / "data" / "gold_keywords.csv"
"""keyword, volume, niche, cluster, intent, split ("dev" or "holdout") per row."""


def gold_rows(split: str | None = None) -> list[dict[str, str]]:
    """The gold set's rows (of one split, or all)."""
    with GOLD.open(newline="") as f:
        rows = list(csv.DictReader(f))
    return [r for r in rows if split is None or r["split"] == split]


def _c2(n: int) -> int:
    return n * (n - 1) // 2


def adjusted_rand_index(pred: list[str], gold: list[str]) -> float:
    n = len(gold)
    joint = sum(_c2(c) for c in Counter(zip(pred, gold, strict=True)).values())
    a = sum(_c2(c) for c in Counter(pred).values())
    b = sum(_c2(c) for c in Counter(gold).values())
    expected = a * b / _c2(n)
    top = (a + b) / 2
    return 1.0 if top == expected else (joint - expected) / (top - expected)


def pair_f1(pred: list[str], gold: list[str]) -> tuple[float, float, float]:
    """(F1, precision, recall) over the pairs of keywords put in one cluster."""
    tp = sum(_c2(c) for c in Counter(zip(pred, gold, strict=True)).values())
    pp = sum(_c2(c) for c in Counter(pred).values())
    gp = sum(_c2(c) for c in Counter(gold).values())
    p = tp / pp if pp else 0.0
    r = tp / gp if gp else 0.0
    return (2 * p * r / (p + r) if p + r else 0.0), p, r


def macro_f1(pred: list[str], gold: list[str]) -> float:
    scores = []
    for label in sorted(set(gold)):
        tp = sum(1 for a, b in zip(pred, gold, strict=True) if a == label == b)
        fp = sum(1 for a, b in zip(pred, gold, strict=True) if a == label != b)
        fn = sum(1 for a, b in zip(pred, gold, strict=True) if b == label != a)
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        scores.append(2 * p * r / (p + r) if p + r else 0.0)
    return sum(scores) / len(scores)


def labels_of(result: ClusterResult, n: int) -> list[str]:
    """A label per keyword id 0..n-1: its cluster's, or its own when it is unclustered."""
    label: dict[int, str] = {}
    for k, c in enumerate(result.clusters):
        for i in c.keyword_ids:
            label[i] = f"c{k}"
    for u in result.unclustered:
        label[u.keyword_id] = f"u{u.keyword_id}"
    return [label[i] for i in range(n)]
