"""The local provider: the offline default. Real algorithms, no network, no key, deterministic.

Clustering and intent are `ai.cluster`/`ai.intent`; ideas `ai.ideas`; article drafts
`ai.article`; image prompts and PNG images `ai.imaging`. Prompts are not read except the
`image_prompt_template`, which a user may have edited and which shapes the stored prompts.
Every CPU-bound call runs in a worker thread (`asyncio.to_thread`) so the event loop keeps
serving requests; tokens and cost are 0; each answer carries a few request and response steps
for the job's progress.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from igny8d.ai.article import generate_article
from igny8d.ai.cluster import ClusterResult, KeywordItem, cluster_keywords
from igny8d.ai.ideas import MAX_IDEAS, generate_ideas
from igny8d.ai.imaging import image_prompts, render_image
from igny8d.ai.types import (
    ArticleBrief,
    ArticleDraft,
    ClusterBrief,
    Generation,
    IdeaDraft,
    ImageBrief,
    ImagePromptDraft,
    ImageRequest,
    Prompts,
    Provider,
    ProviderError,
    RenderedImage,
    Step,
)

DEFAULT_MAX_CLUSTER_IDS = 5000


def _n(value: int, unit: str) -> str:
    return f"{value:,} {unit}{'' if value == 1 else 's'}"


class LocalProvider:
    """`Provider` for the offline algorithms (see the module doc)."""

    name = "local"

    def __init__(self, *, max_cluster_ids: int = DEFAULT_MAX_CLUSTER_IDS) -> None:
        if max_cluster_ids < 1:
            raise ValueError("max_cluster_ids must be at least 1")
        self.max_cluster_ids = max_cluster_ids

    async def cluster(self, items: tuple[KeywordItem, ...],
                      prompts: Prompts) -> Generation[ClusterResult]:
        if len(items) > self.max_cluster_ids:
            raise ProviderError(f"The local provider clusters at most {self.max_cluster_ids:,} "
                                f"keywords per call (got {len(items):,}).", status=400)
        try:
            result = await asyncio.to_thread(cluster_keywords, items)
        except ValueError as error:  # a duplicate id: the caller's bug, said plainly
            raise ProviderError(f"Cannot cluster these keywords: {error}.",
                                status=400) from None
        return Generation(
            result,
            request_steps=(Step("keywords", _n(len(items), "keyword")),
                           Step("similarity",
                                "word and character TF-IDF with page facets, average linkage")),
            response_steps=(Step("clusters", _n(len(result.clusters), "cluster")),
                            Step("unclustered", _n(len(result.unclustered), "keyword"))))

    async def embed(self, texts: tuple[str, ...]) -> Generation[tuple[tuple[float, ...], ...]]:
        raise ProviderError("The local provider has no embeddings.")

    async def generate_ideas(self, cluster: ClusterBrief, prompts: Prompts, *,
                             count: int = 3) -> Generation[tuple[IdeaDraft, ...]]:
        if not 1 <= count <= MAX_IDEAS:
            raise ProviderError(f"The local provider makes 1 to {MAX_IDEAS} ideas per "
                                f"cluster (asked for {count}).", status=400)
        if not cluster.keywords and not cluster.name.strip():
            raise ProviderError("The cluster has no keywords and no name to plan ideas from.",
                                status=400)
        try:
            ideas = await asyncio.to_thread(generate_ideas, cluster, count)
        except ValueError:
            raise ProviderError("The local provider plans ideas from keywords with Latin "
                                "letters or digits; this cluster has none.", status=400) from None
        return Generation(
            ideas,
            request_steps=(Step("cluster", f"{cluster.name.strip()!r}: "
                                           f"{_n(len(cluster.keywords), 'keyword')}"),),
            response_steps=(
                Step("structures", ", ".join(i.content_structure for i in ideas)),
                Step("outlines", ", ".join(_n(len(i.outline), "section") for i in ideas))))

    async def generate_article(self, brief: ArticleBrief, prompts: Prompts, *,
                               on_section: object = None) -> Generation[ArticleDraft]:
        if not brief.title.strip() and not any(k.strip() for k in brief.keywords):
            raise ProviderError("The task has no title and no keywords to write from.",
                                status=400)
        draft = await asyncio.to_thread(generate_article, brief)
        origin = "given" if any(s.heading.strip() for s in brief.outline) else "made"
        return Generation(
            draft,
            request_steps=(Step("outline", f"{origin}: {_n(len(draft.outline), 'section')}"),
                           Step("target", _n(brief.target_word_count, "word"))),
            response_steps=(Step("draft", _n(draft.word_count, "word")),
                            Step("keywords", f"primary {draft.primary_keyword!r}, "
                                             f"{len(draft.secondary_keywords)} secondary")))

    async def image_prompts(self, brief: ImageBrief,
                            prompts: Prompts) -> Generation[tuple[ImagePromptDraft, ...]]:
        template = prompts.get("image_prompt_template")
        drafts = await asyncio.to_thread(image_prompts, brief, template)
        in_article = sum(d.image_type == "in_article" for d in drafts)
        return Generation(
            drafts,
            request_steps=(Step("headings", "h2 headings of the content"),),
            response_steps=(Step("prompts", f"1 featured, {in_article} in-article"),))

    async def render_image(self, request: ImageRequest) -> Generation[RenderedImage]:
        image = await asyncio.to_thread(render_image, request)
        return Generation(
            image,
            request_steps=(Step("render", f"{request.width}x{request.height} PNG"),),
            response_steps=(Step("image", f"{len(image.data):,} bytes"),))

    async def test(self) -> dict[str, object]:
        return {"ok": True, "provider": self.name, "model": "local",
                "detail": "The offline provider is built in: clustering, ideas, draft "
                          "articles and PNG images need no network and no key."}


if TYPE_CHECKING:
    _conforms: Provider = LocalProvider()
