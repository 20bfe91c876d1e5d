"""New keywords joining existing clusters on embeddings, on the tuning sets (dev to dev10).

    python -m eval.clustering_assign [--sets dev,dev2]

`auto_cluster` on a sector that already has clusters first puts each new keyword in the
existing cluster its vector fits (`assign_to_existing(..., embeddings=...)`; on
all-MiniLM-L6-v2's vectors by the learned pair model's mean probability, `pair_model=`), then
clusters the rest among themselves. Per niche of each set: a deterministic ~70 % of the
keywords (by a CRC of the text, so neither volume nor row order decides) is clustered whole
through the operation's own step (`cluster_on_vectors`) and becomes the existing clusters; the
other ~30 % then go through the same step with those clusters given. Figures, pooled over
the niches:

- ARI over every keyword of the niche (the existing clusters plus where the new ones went),
  beside the ARI of clustering each niche whole in one go (what a single run reaches);
- of the new keywords whose gold cluster is among the existing keywords ("placeable"): the
  share that joined the existing cluster holding most of their gold cluster's keywords
  ("right"), joined another ("wrong"), or were left to cluster on their own ("missed");
- of the new keywords whose gold cluster is not there yet: the share that joined an existing
  cluster anyway ("intruded").

Each set is reported on its own (the two writers differ: dev groups coarser, dev2 finer) and
pooled.

The holdout is never read.
"""

from __future__ import annotations

import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from eval.clustering import by_niche, rows_of
from eval.clustering_cv import TUNING_SETS
from eval.metrics import adjusted_rand_index
from igny8d.ai import ClusterResult, ExistingCluster, KeywordItem
from igny8d.ai.cluster import Linkage
from igny8d.ai.cluster.learned import PairModel

#: Share of each niche that becomes the existing clusters (by the text's CRC, in tenths).
EXISTING_TENTHS = 7

#: (existing clusters, new keywords, vectors by id) → (new id → existing cluster id, result of
#: clustering the rest)
Step = Callable[[list[ExistingCluster], list[KeywordItem], dict[int, tuple[float, ...]]],
                tuple[dict[int, int], ClusterResult]]


@dataclass
class AssignFigures:
    set: str
    keywords: int
    new: int
    ari: float  # existing split + assignments + the rest clustered
    whole_ari: float  # every keyword clustered in one run
    placeable: int
    right: int
    wrong: int
    missed: int
    unplaceable: int
    intruded: int
    niche_ari: dict[str, float]


def is_existing(text: str) -> bool:
    return zlib.crc32(text.encode("utf-8")) % 10 < EXISTING_TENTHS


def _labels(result: ClusterResult, prefix: str) -> dict[int, str]:
    out = {u.keyword_id: f"{prefix}u{u.keyword_id}" for u in result.unclustered}
    for k, c in enumerate(result.clusters):
        out.update({i: f"{prefix}c{k}" for i in c.keyword_ids})
    return out


def measure(vectors: Callable[[Sequence[str]], list[tuple[float, ...]]], step: Step,
            whole: Callable[[list[KeywordItem], dict[int, tuple[float, ...]]], ClusterResult],
            set_name: str = "dev") -> AssignFigures:
    """The figures on one set."""
    return measure_sets(vectors, step, whole, (set_name,))[set_name]


def measure_sets(vectors: Callable[[Sequence[str]], list[tuple[float, ...]]], step: Step,
                 whole: Callable[[list[KeywordItem], dict[int, tuple[float, ...]]],
                                 ClusterResult],
                 sets: Sequence[str] = TUNING_SETS) -> dict[str, AssignFigures]:
    """The figures on each set, and "pooled" over them when more than one."""
    out: dict[str, AssignFigures] = {}
    labels: dict[str, tuple[list[str], list[str], list[str]]] = {}
    for set_name in sets:
        out[set_name], labels[set_name] = _measure_set(vectors, step, whole, set_name)
    if len(sets) > 1:
        parts = [out[s] for s in sets]
        pred = [x for s in sets for x in labels[s][0]]
        once = [x for s in sets for x in labels[s][1]]
        gold = [x for s in sets for x in labels[s][2]]
        out["pooled"] = AssignFigures(
            "+".join(sets), sum(f.keywords for f in parts), sum(f.new for f in parts),
            adjusted_rand_index(pred, gold), adjusted_rand_index(once, gold),
            sum(f.placeable for f in parts), sum(f.right for f in parts),
            sum(f.wrong for f in parts), sum(f.missed for f in parts),
            sum(f.unplaceable for f in parts), sum(f.intruded for f in parts),
            {f"{f.set}/{n}": a for f in parts for n, a in f.niche_ari.items()})
    return out


def _measure_set(vectors: Callable[[Sequence[str]], list[tuple[float, ...]]], step: Step,
                 whole: Callable[[list[KeywordItem], dict[int, tuple[float, ...]]],
                                 ClusterResult], set_name: str
                 ) -> tuple[AssignFigures, tuple[list[str], list[str], list[str]]]:
    pred: list[str] = []
    pred_whole: list[str] = []
    gold: list[str] = []
    niche_ari: dict[str, float] = {}
    new_total = placeable = right = wrong = missed = unplaceable = intruded = 0
    for niche, rows in by_niche(rows_of(set_name)).items():
        items = [KeywordItem(i, r["keyword"], int(r["volume"])) for i, r in enumerate(rows)]
        gold_of = {k.id: r["cluster"] for k, r in zip(items, rows, strict=True)}
        by_id = dict(zip((k.id for k in items), vectors([k.text for k in items]), strict=True))
        old = [k for k in items if is_existing(k.text)]
        new = [k for k in items if not is_existing(k.text)]
        first = whole(old, by_id)
        existing = [ExistingCluster(c.name, tuple(items[i] for i in c.keyword_ids), id=n)
                    for n, c in enumerate(first.clusters)]
        label = _labels(first, "old")
        # the existing cluster holding most of each gold cluster's existing keywords
        home_votes: dict[str, Counter[int]] = defaultdict(Counter)
        for n, c in enumerate(first.clusters):
            for i in c.keyword_ids:
                home_votes[gold_of[i]][n] += 1
        joined, rest = step(existing, new, by_id)
        label.update({i: f"oldc{n}" for i, n in joined.items()})
        label.update(_labels(rest, "new"))
        for k in new:
            g = gold_of[k.id]
            new_total += 1
            if g in home_votes:
                placeable += 1
                home = min(home_votes[g], key=lambda n: (-home_votes[g][n], n))
                if k.id not in joined:
                    missed += 1
                elif joined[k.id] == home:
                    right += 1
                else:
                    wrong += 1
            else:
                unplaceable += 1
                intruded += k.id in joined
        ids = [k.id for k in items]
        niche_pred = [label[i] for i in ids]
        niche_gold = [gold_of[i] for i in ids]
        niche_ari[niche] = adjusted_rand_index(niche_pred, niche_gold)
        once = _labels(whole(items, by_id), "")
        pred += [f"{set_name}/{niche}/{label[i]}" for i in ids]
        pred_whole += [f"{set_name}/{niche}/{once[i]}" for i in ids]
        gold += [f"{set_name}/{niche}/{gold_of[i]}" for i in ids]
    return AssignFigures(set_name, len(gold), new_total, adjusted_rand_index(pred, gold),
                         adjusted_rand_index(pred_whole, gold), placeable, right, wrong, missed,
                         unplaceable, intruded, niche_ari), (pred, pred_whole, gold)


def render(f: AssignFigures) -> str:
    def share(x: int, of: int) -> str:
        return f"{100 * x / of:.1f} %" if of else "-"
    return (f"[clustering: new keywords into existing clusters, {f.set}]\n"
            f"  {f.keywords} keywords, {f.new} new: ARI {f.ari:.3f} (one run over all: "
            f"{f.whole_ari:.3f})\n"
            f"  placeable {f.placeable}: right {share(f.right, f.placeable)}, wrong "
            f"{share(f.wrong, f.placeable)}, missed {share(f.missed, f.placeable)}; "
            f"not placeable {f.unplaceable}: intruded {share(f.intruded, f.unplaceable)}")


def operation_step(threshold: float, linkage: Linkage, pair_model: PairModel | None = None
                   ) -> tuple[Step, Callable[[list[KeywordItem], dict[int, tuple[float, ...]]],
                                             ClusterResult]]:
    """The operation's own step (`cluster_on_vectors`) at this threshold and linkage (and
    with this pair model clustering what joins no cluster)."""
    from igny8d.operations.cluster import cluster_on_vectors

    def step(existing: list[ExistingCluster], new: list[KeywordItem],
             by_id: dict[int, tuple[float, ...]]) -> tuple[dict[int, int], ClusterResult]:
        joined, result, _ = cluster_on_vectors(existing, new, by_id, threshold, linkage,
                                               pair_model)
        return joined, result

    def whole(items: list[KeywordItem], by_id: dict[int, tuple[float, ...]]) -> ClusterResult:
        return cluster_on_vectors([], items, by_id, threshold, linkage, pair_model)[1]
    return step, whole


def main(argv: list[str] | None = None) -> int:
    import argparse

    from igny8d.ai.providers.embedded import SentenceEmbedder
    from igny8d.settings import Settings

    parser = argparse.ArgumentParser(prog="python -m eval.clustering_assign")
    parser.add_argument("--sets", default=",".join(TUNING_SETS),
                        help="comma-separated tuning sets (the holdouts are refused)")
    args = parser.parse_args(argv)
    sets = tuple(s for s in args.sets.split(",") if s)
    if not sets or any(s not in TUNING_SETS for s in sets):
        parser.error(f"--sets takes {', '.join(TUNING_SETS)} only")
    embedder = SentenceEmbedder()
    defaults = Settings()

    def vectors(texts: Sequence[str]) -> list[tuple[float, ...]]:
        return [tuple(v) for v in embedder.embed(list(texts))]
    from eval.clustering import MODEL
    from igny8d.operations.cluster import pair_model_for

    step, whole = operation_step(defaults.embedding_threshold_for(MODEL),
                                 defaults.embedding_linkage, pair_model_for(defaults, MODEL))
    figures = measure_sets(vectors, step, whole, sets)
    print("\n".join(render(f) for f in figures.values()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
