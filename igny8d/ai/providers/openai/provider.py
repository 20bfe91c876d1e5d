"""`OpenAIProvider`: the provider contract over an OpenAI-compatible chat, embeddings, images API.

Chat answers are asked for in JSON mode (`response_format={"type": "json_object"}`): the
account's prompt of the type is the system message, the brief (as JSON) the user message. The
answer is parsed (```json fences tolerated) and validated into the dataclasses of
`igny8d.ai.types` (`wire`); values the store would refuse are mapped (an unknown content
structure is "guide") or cut (meta title at 60 characters, at a word) (`answers`).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pydantic import BaseModel

from igny8d.ai.cluster import ClusterResult, KeywordItem, clusters_from_groups
from igny8d.ai.providers.openai.answers import (
    STRUCTURE_ALIASES,
    TYPE_ALIASES,
    choice,
    inspect_image,
    outline_json,
    read_html,
    sections,
    unique,
    word_estimate,
)
from igny8d.ai.providers.openai.prices import (
    IMAGE_PRICES,
    image_size,
    price_per_million,
    token_cost,
)
from igny8d.ai.providers.openai.transport import DETAIL_CHARS, Transport
from igny8d.ai.providers.openai.wire import (
    Article,
    ChatResponse,
    ClusterAnswer,
    EmbeddingResponse,
    Ideas,
    ImagePrompts,
    ImageResponse,
    Models,
    Usage,
    parse_content,
    validate,
)
from igny8d.ai.text import normalise, slug
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
    ProviderConfig,
    ProviderError,
    RenderedImage,
    Step,
)
from igny8d.text import cut_at_word
from igny8d.vocab import CONTENT_STRUCTURES, CONTENT_TYPES, MAX_TARGET_KEYWORDS

M = TypeVar("M", bound=BaseModel)

#: Inputs per `/embeddings` call (OpenAI takes up to 2,048; local servers often fewer).
MAX_EMBEDDING_BATCH = 256
#: Characters of the article's text sent to ask for image prompts.
IMAGE_BRIEF_TEXT = 6000


class OpenAIProvider:
    """An OpenAI-compatible provider (see the package doc). `images` renders images when the
    configuration names no `image_model` (provider_for passes the local provider; None makes
    one when first needed); `sleep` and `rand` are the backoff's clock and jitter (tests
    inject them)."""

    name = "openai"
    #: the reference's cap on keyword ids per auto_cluster call with an LLM
    max_cluster_ids = 20

    def __init__(self, config: ProviderConfig, *, images: Provider | None = None,
                 sleep: Callable[[float], Awaitable[None]] | None = None,
                 rand: Callable[[], float] | None = None) -> None:
        self.config = config
        self.http = Transport(config, sleep=sleep, rand=rand)
        self._images = images

    def close(self) -> None:
        """Releases the HTTP client (a later call makes a new one)."""
        self.http.close()

    # -- chat ---------------------------------------------------------------------------------

    async def _chat(self, prompt_type: str, prompts: Prompts, brief: dict[str, Any],
                    shape: type[M]) -> tuple[M, int, float, tuple[Step, ...], tuple[Step, ...]]:
        """Ask the chat model for a JSON answer of `shape`: (answer, tokens, cost, request
        steps, response steps)."""
        model = self.config.model
        body = {
            "model": model,
            "messages": [
                {"role": "system", "content": prompts.get(prompt_type)},
                {"role": "user", "content": json.dumps(
                    {"task": prompt_type, **brief,
                     "answer": "Only a JSON object, in the shape the system message gives."},
                    ensure_ascii=False)},
            ],
            "response_format": {"type": "json_object"},
        }
        request_steps = (Step("request", f"POST /chat/completions model={model}"),)
        answer = await self.http.call("POST", "/chat/completions", body)
        chat = validate(ChatResponse, answer.data)
        choice = chat.choices[0]
        usage = chat.usage or Usage()
        tokens = usage.total
        cost = token_cost(model, usage.prompt_tokens, usage.completion_tokens)
        steps = (*answer.retries, Step("response", f"200, {tokens:,} tokens"))
        content = choice.message.content
        if content is None or not content.strip():
            if choice.message.refusal:
                raise ProviderError("The model refused: " +
                                    self.http.scrub(" ".join(choice.message.refusal.split()))[:160])
            raise ProviderError("The provider's answer did not match the expected shape: "
                                "choices.0.message.content: no content")
        data = parse_content(content, cut_off=choice.finish_reason == "length")
        return validate(shape, data), tokens, cost, request_steps, steps

    async def cluster(self, items: tuple[KeywordItem, ...],
                      prompts: Prompts) -> Generation[ClusterResult]:
        """The chat model groups the keywords; its groups are mapped back to ids by normalised
        text and our rules applied (`clusters_from_groups`: named after the highest-volume
        keyword, conflicting firm intents split, a group of one unclustered). Keywords the
        model dropped are unclustered ("no_match: the model did not place it"); keywords it
        invented are ignored (counted in the response steps)."""
        if not items:
            return Generation(ClusterResult((), (), ()))
        ordered = sorted(items, key=lambda k: (normalise(k.text), k.text, k.id))
        brief = {"keywords": [
            {"keyword": k.text.strip(), "volume": k.volume,
             **({"intent": k.intent} if k.intent else {})} for k in ordered]}
        answer, tokens, cost, req, resp = await self._chat("clustering", prompts, brief,
                                                           ClusterAnswer)
        exact: dict[str, list[int]] = {}
        loose: dict[str, list[int]] = {}
        for k in ordered:
            exact.setdefault(k.text.strip().casefold(), []).append(k.id)
            loose.setdefault(normalise(k.text), []).append(k.id)
        placed: set[int] = set()
        invented = 0

        def ids_of(text: str) -> list[int]:
            nonlocal invented
            found = exact.get(text.strip().casefold()) or loose.get(normalise(text))
            if not found:
                invented += 1
                return []
            fresh = [i for i in found if i not in placed]
            placed.update(fresh)
            return fresh

        groups = [[i for text in g.keywords for i in ids_of(text)] for g in answer.clusters]
        reasons: dict[int, str] = {}
        for u in answer.unclustered:
            for i in ids_of(u.keyword):
                why = self.http.scrub(" ".join(u.reason.split()))[:120]
                reasons[i] = "no_match: the model did not place it" + \
                    (f" ({why})" if why else "")
        for k in ordered:
            if k.id not in placed:
                reasons[k.id] = "no_match: the model did not place it"
        result = clusters_from_groups(items, [g for g in groups if g], reasons=reasons)
        note = f"{len(result.clusters)} clusters, {len(result.unclustered)} unclustered"
        if invented:
            note += f", {invented} keyword{'s' if invented > 1 else ''} the model invented " \
                    "ignored"
        return Generation(result, tokens, cost, req, (*resp, Step("parse", note)))

    async def generate_ideas(self, cluster: ClusterBrief, prompts: Prompts, *,
                             count: int = 3) -> Generation[tuple[IdeaDraft, ...]]:
        brief = {
            "count": count,
            "cluster": {
                "name": cluster.name, "description": cluster.description,
                "intent": cluster.intent,
                "keywords": [{"keyword": k.text, "volume": k.volume}
                             for k in cluster.keywords]},
            "content_structures": list(CONTENT_STRUCTURES),
            "content_types": list(CONTENT_TYPES),
        }
        answer, tokens, cost, req, resp = await self._chat("ideas", prompts, brief, Ideas)
        fallback = [k.text for k in cluster.keywords] or [cluster.name]
        ideas = tuple(
            IdeaDraft(
                title=" ".join(i.title.split())[:255],
                description=i.description.strip()[:20000],
                content_type=choice(i.content_type, CONTENT_TYPES, "blog_post",
                                    TYPE_ALIASES),
                content_structure=choice(i.content_structure, CONTENT_STRUCTURES, "guide",
                                         STRUCTURE_ALIASES),
                target_keywords=unique(i.target_keywords or fallback,
                                       limit=MAX_TARGET_KEYWORDS),
                outline=sections(i.outline),
                estimated_word_count=word_estimate(i.estimated_word_count),
            ) for i in answer.ideas[:max(1, count)])
        return Generation(ideas, tokens, cost, req,
                          (*resp, Step("parse", f"{len(ideas)} ideas")))

    async def generate_article(self, brief: ArticleBrief,
                               prompts: Prompts) -> Generation[ArticleDraft]:
        """One call: with the brief's outline (followed as written) or, without one, the
        model makes its own and the outline is read back from the article's h2/h3."""
        primary = brief.keywords[0] if brief.keywords else brief.title
        ask = {
            "title": brief.title, "primary_keyword": primary,
            "keywords": list(brief.keywords),
            "secondary_keyword_candidates": list(brief.related_keywords),
            "description": brief.description, "content_type": brief.content_type,
            "content_structure": brief.content_structure,
            "outline": outline_json(brief.outline),
            "outline_note": "Follow this outline exactly." if brief.outline else
            "No outline given: make an h2/h3 outline from the title and keywords first.",
            "target_word_count": brief.target_word_count,
        }
        answer, tokens, cost, req, resp = await self._chat("content_generation", prompts, ask,
                                                           Article)
        html = answer.html_content.strip()
        read = read_html(html)
        title = " ".join((answer.title or brief.title).split())[:255] or brief.title
        primary_kw = " ".join((answer.primary_keyword or primary).split())[:255]
        secondary = unique(answer.secondary_keywords or
                           [*brief.keywords[1:], *brief.related_keywords],
                           limit=50, exclude=[primary_kw])
        first_paragraph = next((p for p in read.paragraphs if p), "")
        draft = ArticleDraft(
            title=title, html_content=html,
            meta_title=cut_at_word(answer.meta_title or title, 60),
            meta_description=cut_at_word(
                answer.meta_description or brief.description or first_paragraph, 160),
            slug=slug(answer.slug or title) or slug(brief.title) or f"task-{brief.task_id}",
            primary_keyword=primary_kw, secondary_keywords=secondary,
            outline=brief.outline or read.outline(), word_count=read.words())
        return Generation(draft, tokens, cost, req,
                          (*resp, Step("parse", f"{draft.word_count:,} words")))

    async def image_prompts(self, brief: ImageBrief,
                            prompts: Prompts) -> Generation[tuple[ImagePromptDraft, ...]]:
        read = read_html(brief.html_content)
        headings = [h for level, h in read.headings if level == 2]
        ask = {"title": brief.title, "primary_keyword": brief.primary_keyword,
               "headings": headings, "max_in_article": brief.max_in_article,
               "article_text": " ".join("".join(read.text).split())[:IMAGE_BRIEF_TEXT]}
        answer, tokens, cost, req, resp = await self._chat("image_prompt_extraction", prompts,
                                                           ask, ImagePrompts)
        out = [ImagePromptDraft("featured", answer.featured.strip()[:10000])]
        for n, item in enumerate(answer.in_article[:max(0, brief.max_in_article)]):
            heading = item.heading.strip() or (headings[n] if n < len(headings) else "")
            out.append(ImagePromptDraft("in_article", item.prompt.strip()[:10000],
                                        heading[:255]))
        return Generation(tuple(out), tokens, cost, req,
                          (*resp, Step("parse", f"{len(out)} image prompts")))

    # -- embeddings ---------------------------------------------------------------------------

    async def embed(self, texts: tuple[str, ...]) -> Generation[tuple[tuple[float, ...], ...]]:
        """`/embeddings` in batches of at most MAX_EMBEDDING_BATCH, in input order."""
        model = self.config.embedding_model
        if not model:
            raise ProviderError("This provider has no embedding model configured.")
        vectors: list[tuple[float, ...]] = []
        tokens = 0
        prompt_tokens = 0
        req: list[Step] = []
        resp: list[Step] = []
        dim: int | None = None
        for start in range(0, len(texts), MAX_EMBEDDING_BATCH):
            batch = list(texts[start:start + MAX_EMBEDDING_BATCH])
            req.append(Step("request", f"POST /embeddings model={model} inputs={len(batch)}"))
            answer = await self.http.call("POST", "/embeddings", {
                "model": model, "input": batch, "encoding_format": "float"})
            parsed = validate(EmbeddingResponse, answer.data)
            items = sorted(parsed.data, key=lambda d: d.index)
            if [d.index for d in items] != list(range(len(batch))):
                raise ProviderError("The provider's answer did not match the expected shape: "
                                    f"data: expected {len(batch)} embeddings indexed 0 to "
                                    f"{len(batch) - 1}")
            for d in items:
                if dim is None:
                    dim = len(d.embedding)
                if len(d.embedding) != dim:
                    raise ProviderError("The provider's answer did not match the expected "
                                        f"shape: data: embeddings of different dimensions "
                                        f"({dim} and {len(d.embedding)})")
                if not all(math.isfinite(x) for x in d.embedding):
                    raise ProviderError("The provider's answer did not match the expected "
                                        f"shape: data: embedding {start + d.index} is not "
                                        "finite (NaN or infinity)")
                vectors.append(tuple(d.embedding))
            usage = parsed.usage or Usage()
            tokens += usage.total
            prompt_tokens += usage.prompt_tokens or usage.total
            resp.extend(answer.retries)
            resp.append(Step("response", f"200, {len(items)} vectors of {dim} dimensions, "
                                         f"{usage.total:,} tokens"))
        return Generation(tuple(vectors), tokens, token_cost(model, prompt_tokens, 0),
                          tuple(req), tuple(resp))

    # -- images -------------------------------------------------------------------------------

    def _fallback(self) -> Provider:
        if self._images is None:
            from igny8d.ai.providers.local import LocalProvider

            self._images = LocalProvider(max_cluster_ids=self.max_cluster_ids)
        return self._images

    async def render_image(self, request: ImageRequest) -> Generation[RenderedImage]:
        """`/images/generations` with the configured image model (base64 asked for; a `url`
        answer is downloaded, at most MAX_IMAGE_BYTES, without our key); rendered by the
        local provider when no image model is configured. The API has no negative prompt:
        `request.negative_prompt` is not sent."""
        model = self.config.image_model
        if not model:
            return await self._fallback().render_image(request)
        size = image_size(model, request.width, request.height)
        body: dict[str, Any] = {"model": model, "prompt": request.prompt, "n": 1, "size": size}
        if not model.lower().startswith("gpt-image"):  # those always answer base64
            body["response_format"] = "b64_json"
        req = (Step("request", f"POST /images/generations model={model} size={size}"),)
        answer = await self.http.call("POST", "/images/generations", body)
        parsed = validate(ImageResponse, answer.data)
        item = parsed.data[0]
        steps = list(answer.retries)
        if item.b64_json:
            try:
                data = base64.b64decode(item.b64_json, validate=True)
            except (binascii.Error, ValueError):
                raise ProviderError("The provider's image was not valid base64.") from None
            steps.append(Step("response", f"200, {len(data):,} bytes"))
        elif item.url:
            data = await self.http.download(item.url)
            steps.append(Step("response", f"200, image downloaded ({len(data):,} bytes)"))
        else:
            raise ProviderError("The provider's answer did not match the expected shape: "
                                "data.0: neither b64_json nor url")
        content_type, width, height = inspect_image(data)
        wide = size != "1024x1024" and not model.lower().startswith("dall-e-2")
        price = price_per_million(model, IMAGE_PRICES)
        cost = 0.0 if price is None else price[1 if wide else 0]
        usage = parsed.usage or Usage()
        return Generation(RenderedImage(data, content_type, width, height), usage.total, cost,
                          req, tuple(steps))

    # -- test ---------------------------------------------------------------------------------

    async def test(self) -> dict[str, object]:
        """GET /models (the chat model must be listed when the list is not empty); a server
        without /models (404) gets a 1-token chat instead."""
        model = self.config.model
        start = time.monotonic()
        try:
            answer = await self.http.call("GET", "/models")
        except ProviderError as exc:
            if exc.status != 404:
                raise
            chat = await self.http.call("POST", "/chat/completions", {
                "model": model, "messages": [{"role": "user", "content": "Reply with OK."}],
                "max_tokens": 1})
            usage = validate(ChatResponse, chat.data).usage or Usage()
            return {"ok": True, "provider": self.name, "model": model,
                    "detail": f"The chat model answered ({usage.total} tokens, "
                              f"{time.monotonic() - start:.1f} s)."}
        ids = [m.id for m in validate(Models, answer.data).data]

        def listed(name: str) -> bool:
            return name in ids or f"{name}:latest" in ids

        if ids and not listed(model):
            shown = ", ".join(ids[:5]) + (", …" if len(ids) > 5 else "")
            raise ProviderError(f"The provider does not list the model {model!r} "
                                f"(it lists {len(ids)}: {self.http.scrub(shown)[:DETAIL_CHARS]}).")
        detail = f"{len(ids)} models listed" + (f", {model!r} among them" if ids else "")
        missing = [m for m in (self.config.embedding_model, self.config.image_model)
                   if m and ids and not listed(m)]
        if missing:
            detail += "; not listed: " + ", ".join(repr(m) for m in missing)
        return {"ok": True, "provider": self.name, "model": model,
                "detail": detail + f" ({time.monotonic() - start:.1f} s)."}
