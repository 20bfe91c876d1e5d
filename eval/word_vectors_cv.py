"""Static word vectors (`eval.build_word_vectors`) in the clustering, measured on the tuning sets.

    HF_HUB_OFFLINE=1 PYTHONPATH=. python -m eval.word_vectors_cv [--table PATH] [--dims 64]
                                                         [--only-b]

(a) The table as the embeddings of the embeddings path (a keyword's vector: its words'), each
linkage at each threshold. (b) Blended into the local path: two terms that share no stem and
whose static cosine is ≥ `floor` get the similarity max(lexical, `weight` * cosine), times
the facets' penalties (`Space.factor`: page types still veto) and under the same intent
conflicts; for each (floor, weight) the local thresholds. Each set of configurations is
scored by leave-one-niche-out over the tuning sets' niches (`eval.clustering_cv.TUNING_SETS`),
baseline included, and leave-one-writer-out (configuration chosen on the other tuning sets).
The local path is patched for the run only (`blended`). Holdouts are never read.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from unittest import mock

import numpy as np

from eval.build_word_vectors import Table, build, load
from eval.clustering import by_niche, labels
from eval.clustering_cv import (
    LOCAL_THRESHOLDS,
    _pooled,
    leave_one_niche_out,
    leave_one_writer_out,
    tuning_rows,
)
from eval.metrics import adjusted_rand_index, pair_f1
from igny8d.ai import ClusterResult, KeywordItem
from igny8d.ai.cluster import cluster_keywords, linkage, vectors
from igny8d.ai.cluster.facets import terms_of
from igny8d.ai.cluster.groups import place_leftovers
from igny8d.ai.text import Analysis, analyse

FLOORS = (0.75, 0.8, 0.85, 0.9)
WEIGHTS = (0.3, 0.5, 0.7)
#: The local thresholds (below `linkage.MIN_EDGE`, 0.15, every threshold gives the same
#: clusters: 0.05 and 0.1 were measured equal to 0.15, blend and baseline).
THRESHOLDS = (0.15, 0.2, 0.25)
BASELINE_THRESHOLDS = LOCAL_THRESHOLDS
EMBEDDING_THRESHOLDS = (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85)

Config = tuple[float, float, float]  # floor, weight, threshold (weight 0: the baseline)
Preds = dict[Config, dict[str, list[str]]]


class _WordsSpace(vectors.Space):
    """The lexical space with each term's words kept (the static vectors read words)."""

    def __init__(self, analyses: Sequence[Analysis], *, acronyms: bool = False,
                 lexical: bool = False) -> None:
        super().__init__(analyses, acronyms=acronyms, lexical=lexical)
        words = {(t.stems, t.compact): t.words for t in map(terms_of, analyses)}
        self.term_words = [words[term] for term in self.terms]


def blend(table: Table, floor: float, weight: float
          ) -> Callable[[vectors.Space, float], list[dict[int, float]]]:
    """`similarity_edges` plus the static vectors' edges between stem-disjoint terms."""
    lexical = vectors.similarity_edges

    def edges(space: vectors.Space, cutoff: float) -> list[dict[int, float]]:
        out = lexical(space, cutoff)
        if not isinstance(space, _WordsSpace) or len(space.terms) < 2:
            return out
        matrix = np.stack([table.vector(w) for w in space.term_words]).astype(np.float64)
        sims = np.round(matrix @ matrix.T, vectors.DECIMALS)
        stems = [set(s) for s, _ in space.terms]
        for t, w in zip(*np.nonzero(np.triu(sims >= floor, 1)), strict=True):
            if stems[t] & stems[w]:
                continue
            base = max(space.term_sim(t, w), weight * float(sims[t, w]))
            for u in space.keys_of_term[t]:
                for v in space.keys_of_term[w]:
                    s = base * space.factor(u, v)
                    if s >= cutoff and s > out[u].get(v, 0.0):
                        out[u][v] = out[v][u] = s
        return out
    return edges


@contextlib.contextmanager
def blended(table: Table, floor: float, weight: float) -> Iterator[None]:
    """The local path with the blend, for the duration of the block."""
    with mock.patch.multiple(linkage, Space=_WordsSpace,
                             similarity_edges=blend(table, floor, weight)):
        yield


def predict(configs: Sequence[Config], run: Callable[[Config, list[KeywordItem]], ClusterResult]
            ) -> Preds:
    out: Preds = {}
    for config in configs:
        out[config] = {}
        for niche, rows in by_niche(tuning_rows()).items():
            items = [KeywordItem(i, r["keyword"], int(r["volume"])) for i, r in enumerate(rows)]
            out[config][niche] = labels(run(config, items), [k.id for k in items])[0]
    return out


def local_predictions(table: Table, floors: Sequence[float] = FLOORS) -> Preds:
    def run(config: Config, items: list[KeywordItem]) -> ClusterResult:
        floor, weight, threshold = config
        if not weight:
            return place_leftovers(cluster_keywords(items, threshold=threshold), items)
        with blended(table, floor, weight):
            return place_leftovers(cluster_keywords(items, threshold=threshold), items)
    configs = [(0.0, 0.0, t) for t in BASELINE_THRESHOLDS]
    configs += list(itertools.product(floors, WEIGHTS, THRESHOLDS))
    return predict(configs, run)


def static_embedding_predictions(table: Table) -> Preds:
    """(a): config (0 complete / 1 average, 0, threshold)."""
    from igny8d.operations.cluster import cluster_on_vectors

    def run(config: Config, items: list[KeywordItem]) -> ClusterResult:
        by_id = {k.id: tuple(table.vector(analyse(k.text).tokens).tolist()) for k in items}
        how: linkage.Linkage = "average" if config[0] else "complete"
        return cluster_on_vectors([], items, by_id, config[2], how)[1]
    return predict(list(itertools.product((0.0, 1.0), (0.0,), EMBEDDING_THRESHOLDS)), run)


def summary(preds: Preds, tag: str) -> str:
    gold = {n: [r["cluster"] for r in rows] for n, rows in by_niche(tuning_rows()).items()}
    names = sorted(gold)
    best = max(preds, key=lambda c: adjusted_rand_index(*_pooled(gold, preds[c], names)))
    p, g = _pooled(gold, preds[best], names)
    _, precision, recall = pair_f1(p, g)
    ari, lp, lr, chosen = leave_one_niche_out(preds)  # type: ignore[arg-type]
    lowo = leave_one_writer_out(preds)
    mean = sum(a for _, a in lowo.values()) / len(lowo)
    return (f"{tag}: best on all tuning niches {best} ARI {adjusted_rand_index(p, g):.4f} "
            f"(P {precision:.3f} R {recall:.3f}); leave-one-niche-out ARI {ari:.4f} "
            f"(P {lp:.3f} R {lr:.3f}), chosen " +
            ", ".join(f"{c} ×{k}" for c, k in chosen.most_common(3)) +
            "".join(f"\n  others → {held}: ARI {a:.4f} at {c}" for held, (c, a) in lowo.items())
            + f"\n  leave-one-writer-out mean ARI {mean:.4f}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m eval.word_vectors_cv")
    ap.add_argument("--table", type=Path, help="a table built by eval.build_word_vectors")
    ap.add_argument("--dims", type=int, default=64, help="without --table: build at these")
    ap.add_argument("--only-b", action="store_true", help="skip (a), the static embeddings")
    ap.add_argument("--floors", type=lambda v: tuple(map(float, v.split(","))), default=FLOORS,
                    help="(b)'s cosine floors, comma-separated")
    args = ap.parse_args(argv)
    if args.table:
        table = load(args.table)
    else:
        tokens, matrix = build(args.dims)
        table = Table(tokens, matrix.astype(np.float16).astype(np.float32))
    if not args.only_b:
        print(summary(static_embedding_predictions(table), "(a) static vectors as embeddings"))
    local = local_predictions(table, args.floors)
    print(summary({c: p for c, p in local.items() if not c[1]}, "local baseline"), flush=True)
    print(summary({c: p for c, p in local.items() if c[1]}, "(b) blend configurations only"))
    print(summary(local, "(b) local + static vectors (baseline configurations included)"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
