"""Leave-one-niche-out cross-validation of the clustering's constants on the tuning sets only
(`TUNING_SETS`: dev to dev12, 179 niches by twelve writers; the shipped models were fitted on
dev to dev10).

    python -m eval.clustering_cv [--mode local|embeddings|both]

For each candidate configuration (threshold, and linkage on embeddings) every tuning niche is
clustered whole through the operation's own compute functions (`eval.clustering`'s
clusterers). Then, for each niche in turn, the configuration with the best pooled ARI on the
others is chosen and scored on it; the held-out labels are pooled over the folds. That pooled
ARI (with pair precision and recall) estimates what the chosen constants do on a niche they
were not chosen on; a configuration picked in every fold is a stable choice. The holdouts are
never read here.
"""

from __future__ import annotations

import argparse
import itertools
from collections import Counter
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import TypeVar

from eval.clustering import by_niche, labels, rows_of
from eval.metrics import adjusted_rand_index, pair_f1
from igny8d.ai import ClusterResult, KeywordItem
from igny8d.ai.cluster import Linkage

LOCAL_THRESHOLDS = (0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4)
EMBEDDING_THRESHOLDS = (0.5, 0.55, 0.6, 0.625, 0.65, 0.675, 0.7, 0.75)
LINKAGES: tuple[Linkage, ...] = ("complete", "average")

#: The gold sets tuned on, one writer each (niche names are distinct across them).
TUNING_SETS: tuple[str, ...] = ("dev", "dev2", "dev3", "dev4", "dev5", "dev6", "dev7", "dev8",
                                 "dev9", "dev10", "dev11", "dev12")

Config = tuple[str, float]  # linkage, threshold
Predictions = dict[Config, dict[str, list[str]]]  # config → niche → a label per row
C = TypeVar("C", bound=Hashable)  # any configuration key


def tuning_rows() -> list[dict[str, str]]:
    """The rows of every tuning set, one list (each niche whole)."""
    return [r for name in TUNING_SETS for r in rows_of(name)]


def predict(configs: Sequence[Config],
            clusterer: Callable[[Config, list[KeywordItem]], ClusterResult]) -> Predictions:
    out: Predictions = {}
    for config in configs:
        out[config] = {}
        for niche, rows in by_niche(tuning_rows()).items():
            items = [KeywordItem(i, r["keyword"], int(r["volume"])) for i, r in enumerate(rows)]
            out[config][niche] = labels(clusterer(config, items), [k.id for k in items])[0]
    return out


def _pooled(gold: dict[str, list[str]], pred: dict[str, list[str]], niches: Sequence[str]
            ) -> tuple[list[str], list[str]]:
    p = [f"{n}/{x}" for n in niches for x in pred[n]]
    g = [f"{n}/{x}" for n in niches for x in gold[n]]
    return p, g


def leave_one_niche_out(preds: Predictions) -> tuple[float, float, float, Counter[Config]]:
    """(pooled held-out ARI, precision, recall, how often each configuration was chosen)."""
    gold = {n: [r["cluster"] for r in rows] for n, rows in by_niche(tuning_rows()).items()}
    names = sorted(gold)
    held_p: list[str] = []
    held_g: list[str] = []
    chosen: Counter[Config] = Counter()
    for held in names:
        train = [n for n in names if n != held]
        best = max(preds, key=lambda c: adjusted_rand_index(*_pooled(gold, preds[c], train)))
        chosen[best] += 1
        p, g = _pooled(gold, preds[best], [held])
        held_p += p
        held_g += g
    _, precision, recall = pair_f1(held_p, held_g)
    return adjusted_rand_index(held_p, held_g), precision, recall, chosen


def writers() -> dict[str, list[str]]:
    """Each tuning set's niches (one writer each)."""
    return {name: sorted(by_niche(rows_of(name))) for name in TUNING_SETS}


def leave_one_writer_out(preds: Mapping[C, dict[str, list[str]]]
                         ) -> dict[str, tuple[C, float]]:
    """For each tuning set: the configuration with the best pooled ARI on the other writers'
    niches, and the pooled ARI it gets on this set's own (the closest estimate here of a
    writer nobody tuned on; `eval.fit_pair_model.lowo` does the same for fitted scorers)."""
    gold = {n: [r["cluster"] for r in rows] for n, rows in by_niche(tuning_rows()).items()}
    groups = writers()
    out: dict[str, tuple[C, float]] = {}
    for held, own in groups.items():
        train = [n for name, niches in groups.items() if name != held for n in niches]
        best = max(preds, key=lambda c: adjusted_rand_index(*_pooled(gold, preds[c], train)))
        out[held] = best, adjusted_rand_index(*_pooled(gold, preds[best], own))
    return out


def local_predictions() -> Predictions:
    from igny8d.ai.cluster import cluster_keywords
    from igny8d.ai.cluster.groups import place_leftovers

    def run(config: Config, items: list[KeywordItem]) -> ClusterResult:
        return place_leftovers(cluster_keywords(items, threshold=config[1]), items)
    return predict([("average", t) for t in LOCAL_THRESHOLDS], run)


def embedding_predictions(configs: Sequence[Config] | None = None,
                          model: str | None = None) -> Predictions:
    """Dev predictions on in-process embeddings (`model`: all-MiniLM-L6-v2 when None), for
    each (linkage, threshold) of `configs` (default: each of `LINKAGES` at each of
    `EMBEDDING_THRESHOLDS`)."""
    from igny8d.ai.providers.embedded import SentenceEmbedder
    from igny8d.operations.cluster import cluster_on_vectors

    texts = sorted({r["keyword"] for r in tuning_rows()})
    vector_of = dict(zip(texts, SentenceEmbedder(model).embed(texts), strict=True))

    def run(config: Config, items: list[KeywordItem]) -> ClusterResult:
        by_id = {k.id: tuple(vector_of[k.text]) for k in items}
        linkage: Linkage = "average" if config[0] == "average" else "complete"
        return cluster_on_vectors([], items, by_id, config[1], linkage)[1]
    if configs is None:
        configs = list(itertools.product(LINKAGES, EMBEDDING_THRESHOLDS))
    return predict(configs, run)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m eval.clustering_cv")
    ap.add_argument("--mode", choices=("local", "embeddings", "both"), default="both")
    args = ap.parse_args(argv)
    modes = ("local", "embeddings") if args.mode == "both" else (args.mode,)
    for mode in modes:
        preds = local_predictions() if mode == "local" else embedding_predictions()
        gold = {n: [r["cluster"] for r in rows] for n, rows in by_niche(tuning_rows()).items()}
        for config, pred in preds.items():
            ari = adjusted_rand_index(*_pooled(gold, pred, sorted(gold)))
            print(f"{mode:10} {config[0]:8} {config[1]:.3f}  tuning ARI {ari:.3f}")
        ari, p, r, chosen = leave_one_niche_out(preds)
        print(f"{mode:10} leave-one-niche-out ARI {ari:.3f} (P {p:.3f} R {r:.3f}); chosen: "
              + ", ".join(f"{c[0]} {c[1]:.3f} ×{k}" for c, k in chosen.most_common()))
        lowo = leave_one_writer_out(preds)
        for held, (config, ari) in lowo.items():
            print(f"{mode:10} others → {held}: ARI {ari:.3f} at {config[0]} {config[1]:.3f}")
        print(f"{mode:10} leave-one-writer-out mean ARI "
              f"{sum(a for _, a in lowo.values()) / len(lowo):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
