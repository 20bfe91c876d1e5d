"""`LocalProvider` through the `Provider` contract: what each call returns (value, zero
tokens and cost, progress steps), what it refuses with a readable ProviderError, and that
the CPU-bound work runs off the event loop."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from igny8d.ai import KeywordItem, LocalProvider, cluster_keywords
from igny8d.ai.types import (
    ArticleBrief,
    ClusterBrief,
    Generation,
    ImageBrief,
    ImageRequest,
    OutlineSection,
    Prompts,
    Provider,
    ProviderError,
)
from tests.helpers.loop import loop_ticks

PROMPTS = Prompts()
KEYWORDS = tuple(KeywordItem(i + 1, text, volume) for i, (text, volume) in enumerate([
    ("coffee grinder", 40500), ("best coffee grinder", 33100), ("coffee grinders", 9900),
    ("burr grinder", 8100), ("best burr grinder", 6000), ("how to make cold brew", 5000),
    ("cold brew recipe", 3000), ("cold brew ratio", 1000), ("hubspot login", 12000),
    ("pour over coffee ratio", 4400)]))


def _free(g: Generation[Any]) -> None:
    assert (g.tokens, g.cost) == (0, 0.0)
    assert g.request_steps and g.response_steps
    assert all(s.name and s.detail for s in (*g.request_steps, *g.response_steps))


def test_it_is_a_provider() -> None:
    provider: Provider = LocalProvider(max_cluster_ids=20)
    assert provider.name == "local"
    assert provider.max_cluster_ids == 20
    assert LocalProvider().max_cluster_ids == 5000
    with pytest.raises(ValueError):
        LocalProvider(max_cluster_ids=0)


async def test_cluster_wraps_the_clustering() -> None:
    g = await LocalProvider().cluster(KEYWORDS, PROMPTS)
    _free(g)
    assert g.value == cluster_keywords(KEYWORDS)
    names = {c.name for c in g.value.clusters}
    assert "coffee grinder" in names
    assert g.response_steps[0].detail == f"{len(g.value.clusters)} clusters"


async def test_cluster_refuses_more_ids_than_its_cap_and_duplicates() -> None:
    with pytest.raises(ProviderError, match="at most 5 keywords") as caught:
        await LocalProvider(max_cluster_ids=5).cluster(KEYWORDS, PROMPTS)
    assert caught.value.status == 400
    twice = (KeywordItem(1, "a b"), KeywordItem(1, "c d"))
    with pytest.raises(ProviderError, match="duplicate keyword id 1"):
        await LocalProvider().cluster(twice, PROMPTS)


async def test_embed_is_not_offered() -> None:
    with pytest.raises(ProviderError, match=r"^The local provider has no embeddings\.$"):
        await LocalProvider().embed(("coffee",))


async def test_test_passes_offline() -> None:
    result = await LocalProvider().test()
    assert result["ok"] is True
    assert (result["provider"], result["model"]) == ("local", "local")
    assert isinstance(result["detail"], str) and result["detail"]


async def test_generate_ideas() -> None:
    cluster = ClusterBrief(3, "coffee grinder", KEYWORDS[:5])
    g = await LocalProvider().generate_ideas(cluster, PROMPTS, count=2)
    _free(g)
    assert len(g.value) == 2
    assert g.response_steps[0].detail == ", ".join(i.content_structure for i in g.value)
    assert g == await LocalProvider().generate_ideas(cluster, PROMPTS, count=2)


@pytest.mark.parametrize("count", [0, 9, -1])
async def test_generate_ideas_refuses_a_bad_count(count: int) -> None:
    with pytest.raises(ProviderError, match="1 to 8 ideas") as caught:
        await LocalProvider().generate_ideas(ClusterBrief(1, "x", KEYWORDS[:1]), PROMPTS,
                                             count=count)
    assert caught.value.status == 400


async def test_generate_ideas_needs_something_to_read() -> None:
    with pytest.raises(ProviderError, match="no keywords and no name"):
        await LocalProvider().generate_ideas(ClusterBrief(1, "  ", ()), PROMPTS)
    with pytest.raises(ProviderError, match="Latin letters"):
        await LocalProvider().generate_ideas(
            ClusterBrief(1, "кофе", (KeywordItem(1, "кофемолка"),)), PROMPTS)
    # a name alone is enough
    g = await LocalProvider().generate_ideas(ClusterBrief(1, "lead scoring", ()), PROMPTS,
                                             count=1)
    assert g.value[0].target_keywords == ("lead scoring",)


async def test_generate_article() -> None:
    outline = (OutlineSection("Why Grind Size Matters", ("Coarse or fine",)),
               OutlineSection("Final Thoughts"))
    brief = ArticleBrief(5, "Grind Size Basics", ("grind size", "burr grinder"),
                         outline=outline, target_word_count=500)
    g = await LocalProvider().generate_article(brief, PROMPTS)
    _free(g)
    assert g.value.outline == outline
    assert g.request_steps[0].detail == "given: 2 sections"
    assert g.response_steps[0].detail == f"{g.value.word_count:,} words"
    made = await LocalProvider().generate_article(
        ArticleBrief(5, "Grind Size Basics", ("grind size",)), PROMPTS)
    assert made.request_steps[0].detail.startswith("made: ")
    with pytest.raises(ProviderError, match="no title and no keywords"):
        await LocalProvider().generate_article(ArticleBrief(5, " ", ()), PROMPTS)


async def test_image_prompts_use_the_accounts_template() -> None:
    html = "<h2>One</h2><p>x</p><h2>Two</h2><h2>Three</h2>"
    brief = ImageBrief(1, "Coffee", html, "coffee grinder", max_in_article=2)
    mine = Prompts({"image_prompt_template": "Linocut print of {prompt}"})
    g = await LocalProvider().image_prompts(brief, mine)
    _free(g)
    assert [p.heading for p in g.value] == ["", "One", "Two"]
    assert all(p.prompt.startswith("Linocut print of ") for p in g.value)
    assert g.response_steps[0].detail == "1 featured, 2 in-article"
    shipped = await LocalProvider().image_prompts(brief, PROMPTS)
    assert all(p.prompt.endswith("no text.") for p in shipped.value)


async def test_render_image() -> None:
    request = ImageRequest("a grinder", title="Coffee Grinders", width=200, height=120,
                           seed=4)
    g = await LocalProvider().render_image(request)
    _free(g)
    assert g.value.data.startswith(b"\x89PNG\r\n\x1a\n")
    assert (g.value.width, g.value.height) == (200, 120)
    assert g.value == (await LocalProvider().render_image(request)).value
    with pytest.raises(ProviderError, match="64 to 2048"):
        await LocalProvider().render_image(ImageRequest("a", width=4096, height=100))


async def test_heavy_work_leaves_the_event_loop_free() -> None:
    """A large render runs in a thread: a ticker on the loop keeps ticking meanwhile."""
    async with loop_ticks(0.002) as ticks:
        await asyncio.sleep(0)
        start_ticks = ticks.count
        started = time.perf_counter()
        await LocalProvider().render_image(ImageRequest("x", title="Big", width=2048,
                                                        height=2048))
        elapsed = time.perf_counter() - started
    assert elapsed > 0.01
    assert ticks.count - start_ticks >= 2
