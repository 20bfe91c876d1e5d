"""The clustering on thinner or thicker versions of the DEV set: does it carry over to a set
written with more or fewer keywords per page?

    python -m eval.clustering_density [--mode local|embeddings]

Another writer's set differs from dev in how many keywords each page gets and how many pages
each niche has; a constant (or a rule deriving the threshold from a niche's own similarities)
chosen on dev should hold up on both. Each variant keeps part of every dev niche, chosen by a
CRC of the text (deterministic, blind to volume and row order):

- `half-keywords` (seeds a, b): every other keyword — pages keep about half their keywords;
- `half-clusters` (a, b): every other gold cluster whole — fewer pages, as dense as dev;
- `big-clusters`: only the clusters of 3 or more keywords — no singletons;
- `two-per-cluster` (a, b): at most two keywords per cluster — a sparse writer.

Printed per variant: pooled ARI, pair precision and recall (through `eval.clustering.measure`,
the operation's own step). Pair precision falls as pages get fewer keywords even when nothing
else changes (fewer true pairs weigh the same wrong merges more), so compare variants with
each other, not with dev. The holdout is never read.
"""

from __future__ import annotations

import argparse
import zlib
from collections import Counter
from collections.abc import Sequence

from eval.clustering import (
    Clusterer,
    embedder,
    embeddings_clusterer,
    local_clusterer,
    measure,
    rows_of,
)

Rows = list[dict[str, str]]


def _crc(seed: str, text: str) -> int:
    return zlib.crc32(f"{seed}:{text}".encode())


def variant(rows: Sequence[dict[str, str]], how: str, seed: str = "a") -> Rows:
    """Part of the dev rows (see the module doc); `full` keeps them all."""
    if how == "full":
        return list(rows)
    if how == "half-keywords":
        return [r for r in rows if _crc(seed, r["niche"] + "/" + r["keyword"]) % 2 == 0]
    if how == "half-clusters":
        return [r for r in rows if _crc(seed, r["niche"] + "/" + r["cluster"]) % 2 == 0]
    sizes = Counter((r["niche"], r["cluster"]) for r in rows)
    if how == "big-clusters":
        return [r for r in rows if sizes[(r["niche"], r["cluster"])] >= 3]
    if how == "two-per-cluster":
        kept: Counter[tuple[str, str]] = Counter()
        out: Rows = []
        for r in sorted(rows, key=lambda r: (_crc(seed, r["niche"] + "/" + r["keyword"]),
                                             r["niche"], r["keyword"])):
            key = (r["niche"], r["cluster"])
            if kept[key] < 2:
                kept[key] += 1
                out.append(r)
        return out
    raise ValueError(f"unknown variant {how!r}")


VARIANTS = (("full", "a"), ("half-keywords", "a"), ("half-keywords", "b"),
            ("half-clusters", "a"), ("half-clusters", "b"), ("big-clusters", "a"),
            ("two-per-cluster", "a"), ("two-per-cluster", "b"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m eval.clustering_density")
    ap.add_argument("--mode", choices=("local", "embeddings"), default="embeddings")
    args = ap.parse_args(argv)
    run: Clusterer
    if args.mode == "local":
        run = local_clusterer()
    else:
        vectors, why = embedder()
        if vectors is None:
            print(f"embeddings: skipped, {why}")
            return 0
        run = embeddings_clusterer(vectors)
    dev = rows_of("dev")
    for how, seed in VARIANTS:
        rows = variant(dev, how, seed)
        f = measure("dev", args.mode, rows, run)
        print(f"{how:16} {seed} {len(rows):5} keywords: ARI {f.ari:.3f} "
              f"(P {f.precision:.3f} R {f.recall:.3f})", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
