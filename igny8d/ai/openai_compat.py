"""A provider for any OpenAI-compatible HTTP API: OpenAI itself, or a local Ollama, vLLM or
llama.cpp server by base URL (`ProviderConfig.base_url`, key optional).

Wire: JSON over Tornado's `AsyncHTTPClient` (one client per provider, `fetch(...,
raise_error=False)`), `Authorization: Bearer <key>` only when a key is set, paths
`/chat/completions`, `/embeddings`, `/images/generations`, `/models` under the base URL.
Tornado is imported when the first request is made, so the services that import this module
stay Tornado-free (tests/test_import_hygiene.py).

Retries: 429 (unless the quota is exhausted), 5xx, timeouts and connection errors are retried
up to `max_retries` times with exponential backoff and jitter (`Retry-After` honoured, capped
at `RETRY_AFTER_CAP_S`); 4xx answers are not. Every failure is a `ProviderError` with a short
readable message: never a traceback, never the key, never a whole response body.

Chat answers are asked for in JSON mode (`response_format={"type": "json_object"}`): the
account's prompt of the type is the system message, the brief (as JSON) the user message. The
answer is parsed (```json fences tolerated) and validated with pydantic into the dataclasses of
`igny8d.ai.types`; values the store would refuse are mapped (an unknown content structure is
"guide") or cut (meta title at 60 characters, at a word).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import email.utils
import io
import json
import math
import random
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from igny8d.ai.cluster import ClusterResult, KeywordItem, clusters_from_groups
from igny8d.ai.text import normalise
from igny8d.ai.types import (
    ArticleBrief,
    ArticleDraft,
    ClusterBrief,
    Generation,
    IdeaDraft,
    ImageBrief,
    ImagePromptDraft,
    ImageRequest,
    OutlineSection,
    Prompts,
    Provider,
    ProviderConfig,
    ProviderError,
    RenderedImage,
    Step,
)
from igny8d.vocab import (
    CONTENT_STRUCTURES,
    CONTENT_TYPES,
    MAX_OUTLINE_ITEMS,
    MAX_TARGET_KEYWORDS,
)

if TYPE_CHECKING:
    from tornado.httpclient import AsyncHTTPClient, HTTPResponse

M = TypeVar("M", bound=BaseModel)

#: USD per 1M tokens (input, output), OpenAI's list prices when this was written. A dated
#: variant ("gpt-4o-mini-2024-07-18") takes its family's price (longest "<name>-" prefix).
#: A model not listed (a local Ollama / vLLM model, a newer OpenAI one) costs 0.0: igny8d
#: does not guess a price, so the cost recorded is then only the tokens.
TOKEN_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4-turbo": (10.00, 30.00),
    "gpt-3.5-turbo": (0.50, 1.50),
    "o3-mini": (1.10, 4.40),
    "o4-mini": (1.10, 4.40),
    "text-embedding-3-small": (0.02, 0.0),
    "text-embedding-3-large": (0.13, 0.0),
    "text-embedding-ada-002": (0.10, 0.0),
}
#: USD per image (square, wide or tall) at standard quality; unknown models 0.0 as above.
IMAGE_PRICES: dict[str, tuple[float, float]] = {
    "dall-e-3": (0.04, 0.08),
    "dall-e-2": (0.02, 0.02),
    "gpt-image-1": (0.042, 0.063),
}

#: Inputs per `/embeddings` call (OpenAI takes up to 2,048; local servers often fewer).
MAX_EMBEDDING_BATCH = 256
#: The longest `Retry-After` honoured: a server asking for more gets this much.
RETRY_AFTER_CAP_S = 30.0
#: Backoff before retry k (1-based): half of min(cap, base·2^(k-1)) plus up to as much jitter.
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 8.0
#: The biggest API answer read (a base64 image of 10 MB is about 13.4 MB).
MAX_RESPONSE_BYTES = 24 * 1024 * 1024
#: The biggest image downloaded when the server answers a `url`.
MAX_IMAGE_BYTES = 10 * 1024 * 1024
#: Characters of the article's text sent to ask for image prompts.
IMAGE_BRIEF_TEXT = 6000
#: Characters of a provider's own error message quoted in ours.
DETAIL_CHARS = 200

#: what OpenAI-style keys look like ("sk-…", "sk-proj-…"), scrubbed from quoted messages
_KEY_LIKE = re.compile(r"\bsk-[A-Za-z0-9_\-]{6,}")
_FENCE = re.compile(r"^```[a-zA-Z]*\s*(.*?)\s*```$", re.DOTALL)
_IMAGE_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp",
                "GIF": "image/gif"}


def price_per_million(model: str, table: dict[str, tuple[float, float]] = TOKEN_PRICES
                      ) -> tuple[float, float] | None:
    """The (input, output) price of a model by exact name or family prefix; None if unknown."""
    model = model.strip().lower()
    best: str | None = None
    for name in table:
        if (model == name or model.startswith(name + "-")) and \
                (best is None or len(name) > len(best)):
            best = name
    return None if best is None else table[best]


def token_cost(model: str, prompt_tokens: int, completion_tokens: int) -> float:
    """USD for a call's tokens; 0.0 for a model not in TOKEN_PRICES."""
    price = price_per_million(model)
    if price is None:
        return 0.0
    return round((prompt_tokens * price[0] + completion_tokens * price[1]) / 1_000_000, 8)


def image_size(model: str, width: int, height: int) -> str:
    """The `size` to ask for: the model's nearest supported shape (OpenAI's models take only a
    few), the exact size for any other server."""
    wide, tall = width >= height * 1.25, height >= width * 1.25
    name = model.lower()
    if name.startswith("dall-e-3"):
        return "1792x1024" if wide else "1024x1792" if tall else "1024x1024"
    if name.startswith("gpt-image"):
        return "1536x1024" if wide else "1024x1536" if tall else "1024x1024"
    if name.startswith("dall-e-2"):
        return "1024x1024"
    return f"{width}x{height}"


# -- wire shapes ------------------------------------------------------------------------------

class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _Usage(_Wire):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0

    @property
    def total(self) -> int:
        return self.total_tokens or self.prompt_tokens + self.completion_tokens


class _Message(_Wire):
    content: str | None = None
    refusal: str | None = None


class _Choice(_Wire):
    message: _Message
    finish_reason: str | None = None


class _ChatResponse(_Wire):
    choices: list[_Choice] = Field(min_length=1)
    usage: _Usage | None = None


class _EmbeddingItem(_Wire):
    index: int = Field(ge=0)
    embedding: list[float] = Field(min_length=1)


class _EmbeddingResponse(_Wire):
    data: list[_EmbeddingItem]
    usage: _Usage | None = None


class _ImageItem(_Wire):
    b64_json: str | None = None
    url: str | None = None


class _ImageResponse(_Wire):
    data: list[_ImageItem] = Field(min_length=1)
    usage: _Usage | None = None


class _ModelItem(_Wire):
    id: str


class _Models(_Wire):
    data: list[_ModelItem] = Field(default_factory=list)


# -- answer shapes (what the prompts ask for) -----------------------------------------------------

def _as_text(value: Any, *keys: str) -> Any:
    """"x" or {"keyword": "x"} (models vary) → "x"."""
    if isinstance(value, dict):
        for key in keys:
            if isinstance(value.get(key), str):
                return value[key]
    return value


class _Group(_Wire):
    name: str = ""
    keywords: list[str]

    @field_validator("keywords", mode="before")
    @classmethod
    def _texts(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [_as_text(v, "keyword", "text", "name") for v in value]
        return value


class _Unplaced(_Wire):
    keyword: str
    reason: str = ""


class _ClusterAnswer(_Wire):
    clusters: list[_Group] = Field(default_factory=list)
    unclustered: list[_Unplaced] = Field(default_factory=list)

    @field_validator("unclustered", mode="before")
    @classmethod
    def _plain(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"keyword": v} if isinstance(v, str) else v for v in value]
        return value


class _Section(_Wire):
    heading: str = Field(min_length=1)
    subheadings: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)

    @field_validator("subheadings", "keywords", mode="before")
    @classmethod
    def _texts(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [_as_text(v, "heading", "keyword", "text") for v in value]
        return value


class _Idea(_Wire):
    title: str = Field(min_length=1)
    description: str = ""
    content_type: str = "blog_post"
    content_structure: str = "guide"
    target_keywords: list[str] = Field(default_factory=list)
    outline: list[_Section] = Field(default_factory=list)
    #: a float: models write 1500.0 or "1500" as readily as 1500
    estimated_word_count: float = 1500


class _Ideas(_Wire):
    ideas: list[_Idea] = Field(min_length=1)


class _Article(_Wire):
    title: str = ""
    html_content: str = Field(min_length=1)
    meta_title: str = ""
    meta_description: str = ""
    slug: str = ""
    primary_keyword: str = ""
    secondary_keywords: list[str] = Field(default_factory=list)


class _InArticle(_Wire):
    heading: str = ""
    prompt: str = Field(min_length=1)


class _ImagePrompts(_Wire):
    featured: str = Field(min_length=1)
    in_article: list[_InArticle] = Field(default_factory=list)

    @field_validator("in_article", mode="before")
    @classmethod
    def _plain(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"prompt": v} if isinstance(v, str) else v for v in value]
        return value


# -- small text helpers ------------------------------------------------------------------------

def cut_at_word(text: str, limit: int) -> str:
    """`text` (whitespace collapsed) in at most `limit` characters, cut at a word boundary when
    one is in the second half, without a dangling punctuation mark."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    head = text[:limit + 1]
    space = head.rfind(" ")
    out = head[:space] if space > limit // 2 else text[:limit]
    return out.rstrip(" ,;:-–—").rstrip()


def slug_of(text: str, limit: int = 100) -> str:
    """Lowercase ASCII words joined by hyphens (accents dropped, "&" → "and")."""
    slug = "-".join(normalise(text).split())
    if len(slug) > limit:
        slug = slug[:limit + 1]
        slug = slug[:slug.rfind("-")] if "-" in slug[limit // 2:] else slug[:limit]
    return slug.strip("-")


def _choice(value: str, choices: tuple[str, ...], default: str,
            aliases: dict[str, str]) -> str:
    key = re.sub(r"[^a-z0-9]+", "_", value.lower()).strip("_")
    key = aliases.get(key, key)
    return key if key in choices else default


_STRUCTURE_ALIASES = {"howto": "how_to", "how_to_guide": "how_to", "tutorial": "how_to",
                      "list": "listicle", "list_post": "listicle", "versus": "comparison",
                      "vs": "comparison", "question": "faq", "questions": "faq",
                      "q_and_a": "faq", "qa": "faq", "pillar_page": "pillar",
                      "product_review": "review", "ultimate_guide": "guide"}
_TYPE_ALIASES = {"blog": "blog_post", "post": "blog_post", "blog_article": "blog_post",
                 "landing": "landing_page", "product": "product_page",
                 "versus": "comparison", "vs": "comparison"}


def _unique(texts: Iterable[str], *, limit: int, chars: int = 255,
            exclude: Iterable[str] = ()) -> tuple[str, ...]:
    seen = {t.strip().casefold() for t in exclude}
    out: list[str] = []
    for text in texts:
        if len(out) >= limit:
            break
        clean = " ".join(text.split())[:chars]
        if clean and clean.casefold() not in seen:
            seen.add(clean.casefold())
            out.append(clean)
    return tuple(out)


class _HtmlOutline(HTMLParser):
    """The h2/h3 headings and the text (for the word count) of an article's HTML."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.headings: list[tuple[int, str]] = []
        self.paragraphs: list[str] = []
        self._level: int | None = None
        self._buffer: list[str] = []
        self._in_p = False
        self._p: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("h2", "h3"):
            self._level, self._buffer = int(tag[1]), []
        elif tag == "p":
            self._in_p, self._p = True, []
        self.text.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("h2", "h3") and self._level is not None:
            heading = " ".join("".join(self._buffer).split())
            if heading:
                self.headings.append((self._level, heading))
            self._level = None
        elif tag == "p" and self._in_p:
            self._in_p = False
            self.paragraphs.append(" ".join("".join(self._p).split()))
        self.text.append(" ")

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._level is not None:
            self._buffer.append(data)
        if self._in_p:
            self._p.append(data)

    def outline(self) -> tuple[OutlineSection, ...]:
        sections: list[tuple[str, list[str]]] = []
        for level, heading in self.headings:
            if level == 2 or not sections:
                sections.append((heading[:255], []))
            else:
                sections[-1][1].append(heading[:255])
        return tuple(OutlineSection(h, tuple(subs)) for h, subs in sections)

    def words(self) -> int:
        return len("".join(self.text).split())


def _read_html(html: str) -> _HtmlOutline:
    parser = _HtmlOutline()
    parser.feed(html)
    parser.close()
    return parser


def _sections(raw: Sequence[_Section], *, budget: int = MAX_OUTLINE_ITEMS
              ) -> tuple[OutlineSection, ...]:
    """Outline sections within the store's limit of h2 + h3 items."""
    out: list[OutlineSection] = []
    for s in raw:
        if budget <= 0:
            break
        subs = _unique(s.subheadings, limit=max(0, min(50, budget - 1)))
        budget -= 1 + len(subs)
        out.append(OutlineSection(" ".join(s.heading.split())[:255], subs,
                                  _unique(s.keywords, limit=MAX_TARGET_KEYWORDS)))
    return tuple(o for o in out if o.heading)


def _outline_json(outline: Sequence[OutlineSection]) -> list[dict[str, Any]]:
    return [{"heading": s.heading, "subheadings": list(s.subheadings),
             "keywords": list(s.keywords)} for s in outline]


# -- the provider -----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Answer:
    data: dict[str, Any]
    #: the retries it took, for the job's progress
    retries: tuple[Step, ...]


class _Unreachable(Exception):
    pass


class _ClosedEarly(Exception):
    pass


class _TimedOut(Exception):
    pass


class OpenAIProvider:
    """An OpenAI-compatible provider (see the module doc). `images` renders images when the
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
        self.base_url = config.base_url.strip().rstrip("/")
        parts = urlsplit(self.base_url)
        try:
            port = parts.port
        except ValueError:
            port = None
        self.host = (parts.hostname or self.base_url) + (f":{port}" if port else "")
        self._images = images
        self._sleep = sleep or asyncio.sleep
        self._rand = rand or random.random
        self._client: AsyncHTTPClient | None = None

    # -- HTTP ---------------------------------------------------------------------------------

    def _http(self) -> AsyncHTTPClient:
        if self._client is None:
            from tornado.httpclient import AsyncHTTPClient

            self._client = AsyncHTTPClient(force_instance=True,
                                           max_body_size=MAX_RESPONSE_BYTES)
        return self._client

    def close(self) -> None:
        """Releases the HTTP client (a later call makes a new one)."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def _scrub(self, text: str) -> str:
        key = self.config.api_key.strip()
        if len(key) >= 4:
            text = text.replace(key, "***")
        return _KEY_LIKE.sub("sk-***", text)

    def _headers(self) -> dict[str, str]:
        from igny8d import __version__

        headers = {"Content-Type": "application/json", "Accept": "application/json",
                   "User-Agent": f"igny8d/{__version__}"}
        if self.config.api_key.strip():
            headers["Authorization"] = f"Bearer {self.config.api_key.strip()}"
        return headers

    async def _fetch(self, method: str, url: str, body: bytes | None, *,
                     headers: dict[str, str], follow: bool = False,
                     streaming: Callable[[bytes], None] | None = None,
                     header_callback: Callable[[str], None] | None = None) -> HTTPResponse:
        from tornado.httpclient import HTTPClientError, HTTPRequest
        from tornado.iostream import StreamClosedError
        from tornado.simple_httpclient import HTTPTimeoutError

        timeout = self.config.timeout_s
        request = HTTPRequest(url, method=method, headers=headers, body=body,
                              request_timeout=timeout, connect_timeout=timeout,
                              follow_redirects=follow, max_redirects=3,
                              streaming_callback=streaming, header_callback=header_callback)
        try:
            return await self._http().fetch(request, raise_error=False)
        except HTTPTimeoutError:
            raise _TimedOut() from None
        except HTTPClientError as exc:
            if exc.code == 599 and "timeout" in str(exc).lower():
                raise _TimedOut() from None
            raise _ClosedEarly() from None
        except StreamClosedError:
            raise _ClosedEarly() from None
        except OSError:  # refused, unknown host, TLS failure
            raise _Unreachable() from None
        except ValueError:  # a URL Tornado cannot use
            raise ProviderError("The provider's base URL is not a usable http(s) URL.") \
                from None

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None
                    ) -> _Answer:
        """One API call with retries; the JSON object it answered (2xx)."""
        url = self.base_url + path
        payload = None if body is None else json.dumps(body, ensure_ascii=False).encode()
        attempts = max(0, self.config.max_retries) + 1
        steps: list[Step] = []
        for attempt in range(1, attempts + 1):
            retry_after: float | None = None
            plural = "s" if attempt > 1 else ""
            try:
                response = await self._fetch(method, url, payload, headers=self._headers())
            except _TimedOut:
                failure = ProviderError(
                    f"The provider did not answer within {self.config.timeout_s:g} s "
                    f"({attempt} attempt{plural}).", retryable=True)
            except _Unreachable:
                failure = ProviderError(f"Could not reach the provider at {self.host}.",
                                        retryable=True)
            except _ClosedEarly:
                failure = ProviderError(f"The provider at {self.host} closed the connection "
                                        f"before answering ({attempt} attempt{plural}).",
                                        retryable=True)
            else:
                if 200 <= response.code < 300:
                    return _Answer(self._json(response.body), tuple(steps))
                failure, retry_after = self._failure(response, path, attempt)
            if not failure.retryable or attempt == attempts:
                raise failure
            delay = self._delay(attempt, retry_after)
            steps.append(Step("retry", f"{self._short(failure)}; retrying in {delay:.1f} s "
                                       f"(attempt {attempt + 1} of {attempts})"))
            await self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _short(error: ProviderError) -> str:
        return f"status {error.status}" if error.status else str(error).split(" (")[0]

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(RETRY_AFTER_CAP_S, max(0.0, retry_after))
        step = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2.0 ** (attempt - 1))
        return step / 2 + self._rand() * step / 2

    def _json(self, raw: bytes | None) -> dict[str, Any]:
        try:
            data = json.loads(raw or b"")
        except (ValueError, UnicodeDecodeError):
            raise ProviderError("The provider's answer was not valid JSON.") from None
        if not isinstance(data, dict):
            raise ProviderError("The provider's answer did not match the expected shape: "
                                "expected a JSON object")
        return data

    def _error_info(self, raw: bytes | None) -> tuple[str, str]:
        """(message, code) of an error answer `{"error": {...}}` or `{"error": "..."}`,
        scrubbed and cut; ("", "") when it has none."""
        try:
            data = json.loads(raw or b"")
        except (ValueError, UnicodeDecodeError):
            return "", ""
        error = data.get("error", data) if isinstance(data, dict) else None
        if isinstance(error, str):
            return self._scrub(error)[:DETAIL_CHARS], ""
        if not isinstance(error, dict):
            return "", ""
        message = error.get("message") or error.get("detail")
        code = error.get("code") or error.get("type") or ""
        text = " ".join(message.split()) if isinstance(message, str) else ""
        return self._scrub(text)[:DETAIL_CHARS], str(code)[:60]

    def _failure(self, response: HTTPResponse, path: str, attempt: int
                 ) -> tuple[ProviderError, float | None]:
        code = response.code
        message, error_code = self._error_info(response.body)
        detail = f": {message}" if message else ""
        tries = f"{attempt} attempt{'s' if attempt > 1 else ''}"
        if code in (401, 403):
            return ProviderError(f"The provider refused the API key ({code}).",
                                 status=code), None
        if code == 429:
            if error_code == "insufficient_quota" or "insufficient_quota" in message:
                return ProviderError("The provider's quota is exhausted.", status=429), None
            return ProviderError(f"The provider kept rate limiting the requests (429) after "
                                 f"{tries}.", status=429, retryable=True), \
                _retry_after(response.headers.get("Retry-After"))
        if code >= 500:
            return ProviderError(f"The provider failed ({code}) after {tries}{detail}.",
                                 status=code, retryable=True), \
                _retry_after(response.headers.get("Retry-After"))
        if code == 404:
            return ProviderError(f"The provider has no {path} or no such model "
                                 f"(404){detail}.", status=404), None
        if 300 <= code < 400:
            return ProviderError(f"The provider answered a redirect ({code}); check the "
                                 f"base URL.", status=code), None
        return ProviderError(f"The provider refused the request ({code}){detail}.",
                             status=code), None

    @staticmethod
    def _validate(model: type[M], data: Any) -> M:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()))
            reason = f"{where}: {first.get('msg', 'invalid')}" if where else \
                str(first.get("msg", "invalid"))
            raise ProviderError("The provider's answer did not match the expected shape: "
                                + reason[:160]) from None

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
        answer = await self._call("POST", "/chat/completions", body)
        chat = self._validate(_ChatResponse, answer.data)
        choice = chat.choices[0]
        usage = chat.usage or _Usage()
        tokens = usage.total
        cost = token_cost(model, usage.prompt_tokens, usage.completion_tokens)
        steps = (*answer.retries, Step("response", f"200, {tokens:,} tokens"))
        content = choice.message.content
        if content is None or not content.strip():
            if choice.message.refusal:
                raise ProviderError("The model refused: " +
                                    self._scrub(" ".join(choice.message.refusal.split()))[:160])
            raise ProviderError("The provider's answer did not match the expected shape: "
                                "choices.0.message.content: no content")
        data = _parse_content(content, cut_off=choice.finish_reason == "length")
        return self._validate(shape, data), tokens, cost, request_steps, steps

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
                                                           _ClusterAnswer)
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
                why = self._scrub(" ".join(u.reason.split()))[:120]
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
        answer, tokens, cost, req, resp = await self._chat("ideas", prompts, brief, _Ideas)
        fallback = [k.text for k in cluster.keywords] or [cluster.name]
        ideas = tuple(
            IdeaDraft(
                title=" ".join(i.title.split())[:255],
                description=i.description.strip()[:20000],
                content_type=_choice(i.content_type, CONTENT_TYPES, "blog_post",
                                     _TYPE_ALIASES),
                content_structure=_choice(i.content_structure, CONTENT_STRUCTURES, "guide",
                                          _STRUCTURE_ALIASES),
                target_keywords=_unique(i.target_keywords or fallback,
                                        limit=MAX_TARGET_KEYWORDS),
                outline=_sections(i.outline),
                estimated_word_count=_word_estimate(i.estimated_word_count),
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
            "outline": _outline_json(brief.outline),
            "outline_note": "Follow this outline exactly." if brief.outline else
            "No outline given: make an h2/h3 outline from the title and keywords first.",
            "target_word_count": brief.target_word_count,
        }
        answer, tokens, cost, req, resp = await self._chat("content_generation", prompts, ask,
                                                           _Article)
        html = answer.html_content.strip()
        read = _read_html(html)
        title = " ".join((answer.title or brief.title).split())[:255] or brief.title
        primary_kw = " ".join((answer.primary_keyword or primary).split())[:255]
        secondary = _unique(answer.secondary_keywords or
                            [*brief.keywords[1:], *brief.related_keywords],
                            limit=50, exclude=[primary_kw])
        first_paragraph = next((p for p in read.paragraphs if p), "")
        draft = ArticleDraft(
            title=title, html_content=html,
            meta_title=cut_at_word(answer.meta_title or title, 60),
            meta_description=cut_at_word(
                answer.meta_description or brief.description or first_paragraph, 160),
            slug=slug_of(answer.slug or title) or slug_of(brief.title) or f"task-{brief.task_id}",
            primary_keyword=primary_kw, secondary_keywords=secondary,
            outline=brief.outline or read.outline(), word_count=read.words())
        return Generation(draft, tokens, cost, req,
                          (*resp, Step("parse", f"{draft.word_count:,} words")))

    async def image_prompts(self, brief: ImageBrief,
                            prompts: Prompts) -> Generation[tuple[ImagePromptDraft, ...]]:
        read = _read_html(brief.html_content)
        headings = [h for level, h in read.headings if level == 2]
        ask = {"title": brief.title, "primary_keyword": brief.primary_keyword,
               "headings": headings, "max_in_article": brief.max_in_article,
               "article_text": " ".join("".join(read.text).split())[:IMAGE_BRIEF_TEXT]}
        answer, tokens, cost, req, resp = await self._chat("image_prompt_extraction", prompts,
                                                           ask, _ImagePrompts)
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
            answer = await self._call("POST", "/embeddings", {
                "model": model, "input": batch, "encoding_format": "float"})
            parsed = self._validate(_EmbeddingResponse, answer.data)
            items = sorted(parsed.data, key=lambda d: d.index)
            if [d.index for d in items] != list(range(len(batch))):
                raise ProviderError("The provider's answer did not match the expected shape: "
                                    f"data: expected {len(batch)} embeddings indexed 0 to "
                                    f"{len(batch) - 1}")
            for d in items:
                if dim is None:
                    dim = len(d.embedding)
                if len(d.embedding) != dim or not all(math.isfinite(x) for x in d.embedding):
                    raise ProviderError("The provider's answer did not match the expected "
                                        "shape: data: embeddings of different dimensions")
                vectors.append(tuple(d.embedding))
            usage = parsed.usage or _Usage()
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
            from igny8d.ai.local import LocalProvider

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
        answer = await self._call("POST", "/images/generations", body)
        parsed = self._validate(_ImageResponse, answer.data)
        item = parsed.data[0]
        steps = list(answer.retries)
        if item.b64_json:
            try:
                data = base64.b64decode(item.b64_json, validate=True)
            except (binascii.Error, ValueError):
                raise ProviderError("The provider's image was not valid base64.") from None
            steps.append(Step("response", f"200, {len(data):,} bytes"))
        elif item.url:
            data = await self._download(item.url)
            steps.append(Step("response", f"200, image downloaded ({len(data):,} bytes)"))
        else:
            raise ProviderError("The provider's answer did not match the expected shape: "
                                "data.0: neither b64_json nor url")
        content_type, width, height = _inspect_image(data)
        wide = size != "1024x1024" and not model.lower().startswith("dall-e-2")
        price = price_per_million(model, IMAGE_PRICES)
        cost = 0.0 if price is None else price[1 if wide else 0]
        usage = parsed.usage or _Usage()
        return Generation(RenderedImage(data, content_type, width, height), usage.total, cost,
                          req, tuple(steps))

    async def _download(self, url: str) -> bytes:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ProviderError("The provider's image URL is not an http(s) URL.")
        chunks: list[bytes] = []
        size = [0, 0]  # bytes kept, over the cap (0/1)

        def collect(chunk: bytes) -> None:
            if size[1] or size[0] + len(chunk) > MAX_IMAGE_BYTES:
                size[1] = 1
                chunks.clear()
                return
            size[0] += len(chunk)
            chunks.append(chunk)

        def on_header(line: str) -> None:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length" and value.strip().isdigit() and \
                    int(value) > MAX_IMAGE_BYTES:
                size[1] = 1

        too_big = ProviderError("The provider's image is larger than "
                                f"{MAX_IMAGE_BYTES // (1024 * 1024)} MB.")
        try:
            # another host (a storage bucket): the API key is not sent there
            response = await self._fetch("GET", url, None, headers={"Accept": "image/*"},
                                         follow=True, streaming=collect,
                                         header_callback=on_header)
        except (_TimedOut, _ClosedEarly, _Unreachable) as exc:
            if size[1]:
                raise too_big from None
            what = "did not arrive in time" if isinstance(exc, _TimedOut) else \
                "could not be downloaded"
            raise ProviderError(f"The provider's image {what}.") from None
        if size[1]:
            raise too_big
        if response.code != 200:
            raise ProviderError(f"The provider's image could not be downloaded "
                                f"({response.code}).")
        return b"".join(chunks)

    # -- test ---------------------------------------------------------------------------------

    async def test(self) -> dict[str, object]:
        """GET /models (the chat model must be listed when the list is not empty); a server
        without /models (404) gets a 1-token chat instead."""
        model = self.config.model
        start = time.monotonic()
        try:
            answer = await self._call("GET", "/models")
        except ProviderError as exc:
            if exc.status != 404:
                raise
            chat = await self._call("POST", "/chat/completions", {
                "model": model, "messages": [{"role": "user", "content": "Reply with OK."}],
                "max_tokens": 1})
            usage = self._validate(_ChatResponse, chat.data).usage or _Usage()
            return {"ok": True, "provider": self.name, "model": model,
                    "detail": f"The chat model answered ({usage.total} tokens, "
                              f"{time.monotonic() - start:.1f} s)."}
        ids = [m.id for m in self._validate(_Models, answer.data).data]

        def listed(name: str) -> bool:
            return name in ids or f"{name}:latest" in ids

        if ids and not listed(model):
            shown = ", ".join(ids[:5]) + (", …" if len(ids) > 5 else "")
            raise ProviderError(f"The provider does not list the model {model!r} "
                                f"(it lists {len(ids)}: {self._scrub(shown)[:DETAIL_CHARS]}).")
        detail = f"{len(ids)} models listed" + (f", {model!r} among them" if ids else "")
        missing = [m for m in (self.config.embedding_model, self.config.image_model)
                   if m and ids and not listed(m)]
        if missing:
            detail += "; not listed: " + ", ".join(repr(m) for m in missing)
        return {"ok": True, "provider": self.name, "model": model,
                "detail": detail + f" ({time.monotonic() - start:.1f} s)."}


def _word_estimate(value: float) -> int:
    """A model's word-count estimate within 300..10,000 (1,500 when it gave nonsense)."""
    if not math.isfinite(value) or value <= 0:
        return 1500
    return int(min(10_000, max(300, round(value))))


def _retry_after(value: str | None) -> float | None:
    """Seconds of a `Retry-After` header (delta-seconds or an HTTP date), None if absent."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _parse_content(content: str, *, cut_off: bool = False) -> Any:
    """A chat answer's JSON: as is, inside a ``` fence, or the outermost {...} of the text."""
    text = content.strip()
    fenced = _FENCE.match(text)
    candidates = [text] + ([fenced.group(1)] if fenced else [])
    first, last = text.find("{"), text.rfind("}")
    if 0 <= first < last:
        candidates.append(text[first:last + 1])
    for candidate in candidates:
        try:
            return json.loads(candidate)
        except ValueError:
            continue
    suffix = " (it was cut off at the model's token limit)" if cut_off else ""
    raise ProviderError(f"The provider's answer was not valid JSON{suffix}.")


def _inspect_image(data: bytes) -> tuple[str, int, int]:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            kind = _IMAGE_TYPES.get(image.format or "")
            width, height = image.size
    except (UnidentifiedImageError, OSError, ValueError):
        kind = None
    if kind is None:
        raise ProviderError("The provider's image could not be read as PNG, JPEG or WebP.")
    return kind, width, height
