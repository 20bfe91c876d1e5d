"""Clustering on in-process embeddings (all-MiniLM-L6-v2 by default) across thresholds,
linkages and lexical+semantic blends: the figures behind the `embedding_threshold`,
`embedding_linkage` defaults (docs/decisions.md). Needs the embeddings extra.

    python -m eval.embeddings_sweep [--model PATH] [--split dev|holdout|both]

Each niche is clustered whole, as auto_cluster gets it; an unclustered keyword counts as a
cluster of its own. Pooled over the niches: ARI, pair-F1 and the share of keywords left
unclustered. Choices are made on dev only (leave-one-niche-out folds for the blend); the
holdout is only reported. `cluster_keywords(embeddings=...)` itself takes the larger of the
cosine and the lexical similarity (docs/decisions.md, round 2), so a blend here comes on top of
that; `python -m eval.clustering_cv` is the leave-one-niche-out choice of the defaults.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import math
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from eval.metrics import adjusted_rand_index, pair_f1
from igny8d.ai.cluster import WORD_WEIGHT, KeywordItem, cluster_keywords
from igny8d.ai.cluster.vectors import Space, head_key, prepare
from igny8d.ai.providers.embedded import SentenceEmbedder

DATA = Path(__file__).parent / "data"
THRESHOLDS = (0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7)
LINKAGES = ("average", "complete")
WEIGHTS = (1.0, 0.7, 0.5, 0.3)


def niches(split: str) -> dict[str, list[dict[str, str]]]:
    with (DATA / f"clustering_{split}.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    out: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in rows:
        out[r["niche"]].append(r)
    return dict(out)


# The blend as one vector per keyword: the TF-IDF similarity (`Space.sim`) is WORD_WEIGHT *
# cos(word vectors) + (1 - WORD_WEIGHT) * cos(character vectors), the dot product of the
# concatenation [sqrt(WORD_WEIGHT) * word, sqrt(1 - WORD_WEIGHT) * char]; concatenated (times
# sqrt(1 - w)) with the unit embedding (times sqrt(w)), the cosine is w * cos(embeddings) +
# (1 - w) * TF-IDF similarity, and the blend goes through the same linkage as any embeddings.
# It measured worse than the embeddings alone on dev (docs/decisions.md), so it stays here.


def blended(items: Iterable[KeywordItem], embeddings: Mapping[int, Sequence[float]], *,
            semantic_weight: float) -> dict[int, tuple[float, ...]]:
    """Per keyword id, its embedding blended with its TF-IDF vector over these keywords
    (`semantic_weight` of the cosine from the embedding, the rest from the terms); a keyword
    with no head (nothing left after normalisation) keeps only its weighted embedding."""
    if not 0.0 <= semantic_weight <= 1.0:
        raise ValueError("semantic_weight must be in [0, 1]")
    prepared = prepare(items)
    space = Space([p.analysis for p in prepared if p.analysis.head])
    columns: dict[str, int] = {}
    for u in range(len(space.keys)):
        for t in space.word[u]:
            columns.setdefault("w:" + t, len(columns))
        for t in space.char[u]:
            columns.setdefault("c:" + t, len(columns))
    sem, lex = math.sqrt(semantic_weight), math.sqrt(1.0 - semantic_weight)
    word_scale, char_scale = lex * math.sqrt(WORD_WEIGHT), lex * math.sqrt(1.0 - WORD_WEIGHT)
    out: dict[int, tuple[float, ...]] = {}
    for p in prepared:
        raw = [float(x) for x in embeddings[p.item.id]]
        norm = math.sqrt(math.fsum(x * x for x in raw))
        lexical = [0.0] * len(columns)
        if p.analysis.head:
            u = space.index[head_key(p.analysis)]
            for t, v in space.word[u].items():
                lexical[columns["w:" + t]] = word_scale * v
            for t, v in space.char[u].items():
                lexical[columns["c:" + t]] = char_scale * v
        out[p.item.id] = tuple((sem * x / norm if norm else 0.0) for x in raw) + tuple(lexical)
    return out


Config = tuple[str, float, float]  # linkage, semantic weight, threshold


def labels(rows: list[dict[str, str]], vectors: dict[str, tuple[float, ...]], config: Config
           ) -> list[str]:
    """A label per row of one niche: its cluster's, or its own when left unclustered."""
    linkage, weight, threshold = config
    items = [KeywordItem(i, r["keyword"], int(r["volume"] or 0)) for i, r in enumerate(rows)]
    emb: dict[int, tuple[float, ...]] = {i.id: vectors[i.text] for i in items}
    if weight < 1.0:
        emb = blended(items, emb, semantic_weight=weight)
    result = cluster_keywords(items, embeddings=emb, threshold=threshold,
                              linkage=linkage)  # type: ignore[arg-type]
    label = {u.keyword_id: f"u{u.keyword_id}" for u in result.unclustered}
    for n, c in enumerate(result.clusters):
        label.update({k: f"c{n}" for k in c.keyword_ids})
    return [label[i] for i in range(len(rows))]


def pooled(groups: dict[str, list[dict[str, str]]], pred: dict[str, list[str]]
           ) -> tuple[float, float, float]:
    """Pooled (ARI, pair-F1, unclustered share) over the niches given."""
    p: list[str] = []
    g: list[str] = []
    for niche, rows in sorted(groups.items()):
        p += [f"{niche}/{x}" for x in pred[niche]]
        g += [f"{niche}/{r['cluster']}" for r in rows]
    left = sum(1 for x in p if "/u" in x)
    return adjusted_rand_index(p, g), pair_f1(p, g)[0], left / len(g)


def embed_all(model: str | None, texts: Sequence[str]) -> dict[str, tuple[float, ...]]:
    started = time.perf_counter()
    distinct = sorted(set(texts))
    vectors = SentenceEmbedder(model).embed(distinct)
    print(f"embedded {len(distinct)} keywords in {time.perf_counter() - started:.1f} s")
    return dict(zip(distinct, vectors, strict=True))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m eval.embeddings_sweep")
    ap.add_argument("--model", default=None)
    ap.add_argument("--weights", default=",".join(map(str, WEIGHTS)))
    ap.add_argument("--thresholds", default=",".join(map(str, THRESHOLDS)))
    args = ap.parse_args(argv)
    weights = [float(w) for w in args.weights.split(",")]
    thresholds = [float(t) for t in args.thresholds.split(",")]
    dev, holdout = niches("dev"), niches("holdout")
    vectors = embed_all(args.model, [r["keyword"] for g in (dev, holdout)
                                     for rows in g.values() for r in rows])
    configs = list(itertools.product(LINKAGES, weights, thresholds))
    cache: dict[tuple[str, Config], dict[str, list[str]]] = {}
    print("split    linkage  weight thr    ARI   pairF1 unclustered")
    for config in configs:
        for split, groups in (("dev", dev), ("holdout", holdout)):
            cache[(split, config)] = {n: labels(rows, vectors, config)
                                      for n, rows in groups.items()}
            ari, f1, left = pooled(groups, cache[(split, config)])
            print(f"{split:8} {config[0]:8} {config[1]:.2f}  {config[2]:.2f}  {ari:.3f}  "
                  f"{f1:.3f}  {left:6.1%}", flush=True)
    # leave-one-niche-out on dev: the config best on 17 niches, scored on the 18th
    names = sorted(dev)
    held_pred: list[str] = []
    held_gold: list[str] = []
    for held in names:
        train = {n: dev[n] for n in names if n != held}
        best = max(configs, key=lambda c: pooled(train, cache[("dev", c)])[0])
        held_pred += [f"{held}/{x}" for x in cache[("dev", best)][held]]
        held_gold += [f"{held}/{r['cluster']}" for r in dev[held]]
        print(f"fold {held:28} chose {best}", flush=True)
    print(f"leave-one-niche-out pooled ARI on dev {adjusted_rand_index(held_pred, held_gold):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
