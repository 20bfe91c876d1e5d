"""The measures a clustering is scored with against a gold grouping: adjusted Rand index,
pair-F1 (with precision and recall) and macro-F1 (for intents). Plain Python, no numpy."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence


def _c2(n: int) -> int:
    return n * (n - 1) // 2


def adjusted_rand_index(pred: Sequence[str], gold: Sequence[str]) -> float:
    """Agreement of two groupings of the same items, 0 by chance, 1 when identical."""
    n = len(gold)
    joint = sum(_c2(c) for c in Counter(zip(pred, gold, strict=True)).values())
    a = sum(_c2(c) for c in Counter(pred).values())
    b = sum(_c2(c) for c in Counter(gold).values())
    expected = a * b / _c2(n) if n > 1 else 0.0
    top = (a + b) / 2
    return 1.0 if top == expected else (joint - expected) / (top - expected)


def pair_f1(pred: Sequence[str], gold: Sequence[str]) -> tuple[float, float, float]:
    """(F1, precision, recall) over the pairs of items put in one group."""
    tp = sum(_c2(c) for c in Counter(zip(pred, gold, strict=True)).values())
    pp = sum(_c2(c) for c in Counter(pred).values())
    gp = sum(_c2(c) for c in Counter(gold).values())
    p = tp / pp if pp else 0.0
    r = tp / gp if gp else 0.0
    return (2 * p * r / (p + r) if p + r else 0.0), p, r


def macro_f1(pred: Sequence[str], gold: Sequence[str]) -> float:
    """The mean over the gold labels of each label's F1."""
    scores = []
    for label in sorted(set(gold)):
        tp = sum(1 for a, b in zip(pred, gold, strict=True) if a == label == b)
        fp = sum(1 for a, b in zip(pred, gold, strict=True) if a == label != b)
        fn = sum(1 for a, b in zip(pred, gold, strict=True) if b == label != a)
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        scores.append(2 * p * r / (p + r) if p + r else 0.0)
    return sum(scores) / len(scores) if scores else 0.0
