"""`OpenAIProvider`: the provider contract over an OpenAI-compatible chat, embeddings, images API.

Chat answers are asked for schema-constrained, with a token budget and a temperature per step,
repaired once when they do not fit (`chat`); articles are written outline-first (`article`).
The account's prompt of the type is the system message, the brief (as JSON) the user message.
The answer is parsed (```json fences tolerated) and validated into the dataclasses of
`igny8d.ai.types` (`wire`); values the store would refuse are mapped (an unknown content
structure is "guide") or cut (meta title at 60 characters, at a word) (`answers`).
"""

from __future__ import annotations

import base64
import binascii
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pydantic import BaseModel

from igny8d.ai.cluster import ClusterResult, KeywordItem, clusters_from_groups
from igny8d.ai.providers.openai import schemas
from igny8d.ai.providers.openai.answers import (
    STRUCTURE_ALIASES,
    TYPE_ALIASES,
    choice,
    inspect_image,
    read_html,
    sections,
    unique,
    word_estimate,
)
from igny8d.ai.providers.openai.article import write as write_article
from igny8d.ai.providers.openai.chat import Asked, Chat, Spent
from igny8d.ai.providers.openai.prices import (
    IMAGE_PRICES,
    image_size,
    price_per_million,
    token_cost,
)
from igny8d.ai.providers.openai.transport import DETAIL_CHARS, Transport
from igny8d.ai.providers.openai.wire import (
    ChatResponse,
    ClusterAnswer,
    EmbeddingResponse,
    Ideas,
    ImagePrompts,
    ImageResponse,
    Models,
    Usage,
    validate,
)
from igny8d.ai.text import normalise
from igny8d.ai.types import (
    ArticleBrief,
    ArticleDraft,
    ChatBudget,
    ClusterBrief,
    Generation,
    IdeaDraft,
    ImageBrief,
    ImagePromptDraft,
    ImageRequest,
    LlmOptions,
    Prompts,
    Provider,
    ProviderConfig,
    ProviderError,
    RenderedImage,
    SectionHook,
    Step,
)
from igny8d.vocab import CONTENT_STRUCTURES, CONTENT_TYPES, MAX_TARGET_KEYWORDS

M = TypeVar("M", bound=BaseModel)

CLUSTER_ANSWER = ("Only a JSON object: {\"clusters\": [{\"name\": str, \"keywords\": [str]}], "
                  "\"unclustered\": [{\"keyword\": str, \"reason\": str}]}, every keyword "
                  "given exactly once, spelled as given.")
IDEAS_ANSWER = ("Only a JSON object: {\"ideas\": [{\"title\": str, \"description\": str, "
                "\"content_type\": str, \"content_structure\": str, \"target_keywords\": "
                "[str], \"outline\": [{\"heading\": str, \"subheadings\": [str], \"keywords\": "
                "[str]}], \"estimated_word_count\": int}]}, `count` ideas.")
IMAGE_PROMPTS_ANSWER = ("Only a JSON object: {\"featured\": str, \"in_article\": "
                        "[{\"heading\": str, \"prompt\": str}]}.")

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
                 rand: Callable[[], float] | None = None,
                 options: LlmOptions | None = None) -> None:
        self.config = config
        self.http = Transport(config, sleep=sleep, rand=rand)
        self.options = options or LlmOptions()
        self.chat = Chat(self.http, config.model, json_schema=self.options.json_schema)
        self._images = images

    def close(self) -> None:
        """Releases the HTTP client (a later call makes a new one)."""
        self.http.close()

    # -- chat ----------------------------------------------------------------------------------

    async def _ask(self, task: str, prompt_type: str, prompts: Prompts, brief: dict[str, Any],
                   shape: type[M], schema: dict[str, Any], budget: ChatBudget, answer: str,
                   check: Callable[[M], None] | None = None,
                   spent: Spent | None = None) -> Asked[M]:
        """One chat step (`chat.Chat.ask`): the account's prompt of the type is the system
        message, the brief (as JSON) the user message."""
        return await self.chat.ask(task, prompts.get(prompt_type), brief, shape, schema=schema,
                                   budget=budget, answer=answer, check=check, spent=spent)

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
        asked = await self._ask("clustering", "clustering", prompts, brief, ClusterAnswer,
                                schemas.clustering([k.text.strip() for k in ordered]),
                                self.options.clustering, CLUSTER_ANSWER)
        answer, spent = asked.value, asked.spent
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
        if not result.clusters:
            raise spent.charge(ProviderError(
                "The model's clustering placed no keyword in a cluster "
                f"({len(answer.clusters)} groups answered; {note})."))
        return Generation(result, spent.tokens, spent.cost, tuple(spent.request),
                          (*spent.response, Step("parse", note)))

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
        asked = await self._ask("ideas", "ideas", prompts, brief, Ideas, schemas.IDEAS,
                                self.options.ideas, IDEAS_ANSWER)
        answer, spent = asked.value, asked.spent
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
        return Generation(ideas, spent.tokens, spent.cost, tuple(spent.request),
                          (*spent.response, Step("parse", f"{len(ideas)} ideas")))

    async def generate_article(self, brief: ArticleBrief, prompts: Prompts, *,
                               on_section: SectionHook | None = None
                               ) -> Generation[ArticleDraft]:
        """Outline-first (`article.write`): an intro call, then one call per H2 of the
        brief's outline; without an outline, the whole article in one call."""
        return await write_article(self, brief, prompts, on_section)

    async def image_prompts(self, brief: ImageBrief,
                            prompts: Prompts) -> Generation[tuple[ImagePromptDraft, ...]]:
        read = read_html(brief.html_content)
        headings = [h for level, h in read.headings if level == 2]
        ask = {"title": brief.title, "primary_keyword": brief.primary_keyword,
               "headings": headings, "max_in_article": brief.max_in_article,
               "article_text": " ".join("".join(read.text).split())[:IMAGE_BRIEF_TEXT]}
        asked = await self._ask("image_prompt_extraction", "image_prompt_extraction", prompts,
                                ask, ImagePrompts, schemas.IMAGE_PROMPTS,
                                self.options.image_prompts, IMAGE_PROMPTS_ANSWER)
        answer, spent = asked.value, asked.spent
        out = [ImagePromptDraft("featured", answer.featured.strip()[:10000])]
        for n, item in enumerate(answer.in_article[:max(0, brief.max_in_article)]):
            heading = item.heading.strip() or (headings[n] if n < len(headings) else "")
            out.append(ImagePromptDraft("in_article", item.prompt.strip()[:10000],
                                        heading[:255]))
        return Generation(tuple(out), spent.tokens, spent.cost, tuple(spent.request),
                          (*spent.response, Step("parse", f"{len(out)} image prompts")))

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
