"""The clustering gold set the tests use (igny8d/ai/data/gold_keywords.csv), with the measures of
`eval/metrics.py` (adjusted Rand index, pair-F1, macro-F1)."""

from __future__ import annotations

import csv
from pathlib import Path

import igny8d.ai
from eval.metrics import adjusted_rand_index, macro_f1, pair_f1
from igny8d.ai import ClusterResult

__all__ = ["adjusted_rand_index", "gold_rows", "labels_of", "macro_f1", "pair_f1"]

GOLD = Path(igny8d.ai.__file__).parent / "data" / "gold_keywords.csv"
"""keyword, volume, niche, cluster, intent, split ("dev" or "holdout") per row."""


def gold_rows(split: str | None = None) -> list[dict[str, str]]:
    """The gold set's rows (of one split, or all)."""
    with GOLD.open(newline="") as f:
        rows = list(csv.DictReader(f))
    return [r for r in rows if split is None or r["split"] == split]


def labels_of(result: ClusterResult, n: int) -> list[str]:
    """A label per keyword id 0..n-1: its cluster's, or its own when it is unclustered."""
    label: dict[int, str] = {}
    for k, c in enumerate(result.clusters):
        for i in c.keyword_ids:
            label[i] = f"c{k}"
    for u in result.unclustered:
        label[u.keyword_id] = f"u{u.keyword_id}"
    return [label[i] for i in range(n)]
