"""A fake OpenAI-compatible server for tests: a Tornado app on a random localhost port that
speaks the same wire protocol as OpenAI / Ollama / vLLM (`/v1/chat/completions` with usage,
`/v1/embeddings`, `/v1/images/generations`, `/v1/models`), records every request, and can be
scripted per test to fail in the ways real providers do.

    async with FakeOpenAI() as fake:                 # or: fake = FakeOpenAI(); await fake.start()
        fake.script(FakeOpenAI.rate_limited(retry_after=2), FakeOpenAI.chat({"ideas": [...]}))
        config = ProviderConfig(kind="openai", base_url=fake.url, api_key="sk-test")
        ...
        assert fake.requests[0].headers["authorization"] == "Bearer sk-test"

Scripted replies are a queue: each request takes the first one whose `path` matches (None
matches any path); with none left it gets the default answer. Default answers are real work,
not fixed strings: chat answers the task named in the user message (clustering groups the
keywords by their first significant word, ideas/articles/image prompts are built from the
brief), embeddings are signed hashed bags of character trigrams (spaces removed, so "pour
over" and "pourover" are one vector; similar keywords are close), images are a small real PNG
(base64, or a URL the fake serves when `image_as_url`).

With `api_key` set, a request without that Bearer key gets OpenAI's 401 (its message quotes
the key presented, as OpenAI's does, so tests can check it never reaches our errors).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import io
import json
import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PIL import Image
from tornado.httpserver import HTTPServer
from tornado.httputil import HTTPServerRequest
from tornado.iostream import StreamClosedError
from tornado.netutil import bind_sockets
from tornado.web import Application, RequestHandler

_SIGNIFICANT_SKIP = frozenset({
    "best", "top", "cheap", "buy", "how", "to", "a", "an", "the", "for", "what", "is", "are",
    "vs", "near", "me", "review", "reviews", "of", "in", "and"})


def fake_embedding(text: str, dim: int = 256) -> list[float]:
    """A deterministic unit vector: signed feature hashing of the character trigrams of the
    lowercased, accent-free text with everything but letters and digits removed."""
    flat = unicodedata.normalize("NFKD", text.lower())
    flat = "".join(ch for ch in flat if not unicodedata.combining(ch))
    flat = "#" + re.sub(r"[^a-z0-9]+", "", flat) + "#"
    vec = [0.0] * dim
    for i in range(len(flat) - 2):
        digest = hashlib.blake2b(flat[i:i + 3].encode(), digest_size=8).digest()
        vec[int.from_bytes(digest[:4], "big") % dim] += 1.0 if digest[4] & 1 else -1.0
    norm = math.sqrt(sum(x * x for x in vec))
    return [x / norm for x in vec] if norm else vec


def small_png(width: int = 64, height: int = 36, colour: tuple[int, int, int] = (40, 90, 160)
              ) -> bytes:
    """A real PNG: a vertical gradient of `colour`."""
    image = Image.new("RGB", (width, height))
    for y in range(height):
        shade = tuple(min(255, c + y * 3) for c in colour)
        for x in range(width):
            image.putpixel((x, y), shade)  # type: ignore[arg-type]
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)


@dataclass
class Reply:
    """One scripted answer. `content` (chat only) is the assistant message, wrapped in a
    chat.completion with usage; otherwise `json` or raw `body` is the whole answer body."""

    status: int = 200
    json: Any = None
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    content: str | dict[str, Any] | None = None
    #: seconds to wait before answering (longer than the client's timeout: a hang)
    delay: float = 0.0
    #: answer only a request to this path ("/chat/completions", "/models", ...); None: any
    path: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str = "stop"
    #: send the headers and half the body, then close the connection (dropped mid-answer)
    drop: bool = False


@dataclass(frozen=True)
class Recorded:
    method: str
    #: the path under the base URL ("/chat/completions")
    path: str
    #: lower-case names
    headers: dict[str, str]
    json: Any

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list((self.json or {}).get("messages", []))

    @property
    def brief(self) -> Any:
        """The user message of a chat request, parsed (our providers send the brief as JSON)."""
        user = [m for m in self.messages if m.get("role") == "user"]
        return json.loads(user[-1]["content"]) if user else None


class FakeOpenAI:
    """The fake server (see the module doc)."""

    def __init__(self, *, api_key: str | None = None,
                 models: tuple[str, ...] = ("gpt-4o-mini", "text-embedding-3-small",
                                            "dall-e-3"),
                 dim: int = 256, image_as_url: bool = False,
                 prefix: str = "/v1") -> None:
        self.api_key = api_key
        self.models = models
        self.dim = dim
        self.image_as_url = image_as_url
        self.prefix = prefix
        self.requests: list[Recorded] = []
        self.replies: list[Reply] = []
        self.files: dict[str, bytes] = {}
        #: override the default chat answers: brief (parsed user message) → content
        self.on_chat: Callable[[Any], str | dict[str, Any]] | None = None
        #: answer `response_format: json_schema` with a 400, as servers without it do
        self.refuse_json_schema = False
        self.port = 0
        self._server: HTTPServer | None = None
        self._released = asyncio.Event()

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> FakeOpenAI:
        sockets = bind_sockets(0, "127.0.0.1")
        self.port = sockets[0].getsockname()[1]
        app = Application([(r"/files/(.+)", _FileHandler, {"fake": self}),
                           (r"/.*", _ApiHandler, {"fake": self})])
        self._server = HTTPServer(app)
        self._server.add_sockets(sockets)
        self._released = asyncio.Event()
        return self

    async def stop(self) -> None:
        self._released.set()  # hanging handlers answer now
        if self._server is not None:
            self._server.stop()
            await asyncio.sleep(0)
            await self._server.close_all_connections()
            self._server = None

    async def __aenter__(self) -> FakeOpenAI:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The base URL to configure (`ProviderConfig.base_url`)."""
        return self.origin + self.prefix

    # -- scripting ----------------------------------------------------------------------------

    def script(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]

    def _record(self, request: HTTPServerRequest, path: str, body: Any) -> None:
        self.requests.append(Recorded(request.method or "", path,
                                      {k.lower(): v for k, v in request.headers.items()}, body))

    def _next(self, path: str) -> Reply | None:
        for n, reply in enumerate(self.replies):
            if reply.path is None or reply.path == path:
                return self.replies.pop(n)
        return None

    @staticmethod
    def error(status: int, message: str, *, code: str | None = None,
              type_: str = "invalid_request_error", headers: dict[str, str] | None = None,
              path: str | None = None) -> Reply:
        """An error in OpenAI's shape: `{"error": {message, type, param, code}}`."""
        return Reply(status, {"error": {"message": message, "type": type_, "param": None,
                                        "code": code}}, headers=dict(headers or {}), path=path)

    @classmethod
    def unauthorized(cls, key: str = "sk-wrong") -> Reply:
        return cls.error(401, f"Incorrect API key provided: {key}. You can find your API key "
                              "at https://platform.openai.com/account/api-keys.",
                         code="invalid_api_key")

    @classmethod
    def quota_exhausted(cls) -> Reply:
        return cls.error(429, "You exceeded your current quota, please check your plan and "
                              "billing details.", code="insufficient_quota",
                         type_="insufficient_quota")

    @classmethod
    def rate_limited(cls, retry_after: float | str | None = None) -> Reply:
        headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
        return cls.error(429, "Rate limit reached for requests.", code="rate_limit_exceeded",
                         type_="requests", headers=headers)

    @classmethod
    def server_error(cls, status: int = 500) -> Reply:
        return cls.error(status, "The server had an error while processing your request.",
                         type_="server_error")

    @staticmethod
    def garbage(path: str | None = None) -> Reply:
        return Reply(200, body=b"<html><body>502 Bad Gateway</body></html>{{{", path=path,
                     headers={"Content-Type": "text/html"})

    @staticmethod
    def wrong_shape(path: str | None = None) -> Reply:
        return Reply(200, {"object": "list", "result": "nothing like an answer"}, path=path)

    @staticmethod
    def dropped(path: str | None = "/chat/completions") -> Reply:
        """The connection closed after half an answer."""
        return Reply(200, {"choices": [{"message": {"content": "{\"ideas\": []}"}}]},
                     drop=True, path=path)

    @classmethod
    def context_exceeded(cls) -> Reply:
        """OpenAI's 400 for a prompt over the model's context window."""
        return cls.error(400, "This model's maximum context length is 2048 tokens. However, "
                              "your messages resulted in 9120 tokens. Please reduce the length "
                              "of the messages.", code="context_length_exceeded",
                         path="/chat/completions")

    @staticmethod
    def hang(seconds: float = 30.0, path: str | None = None) -> Reply:
        return Reply(200, {"object": "late"}, delay=seconds, path=path)

    @staticmethod
    def chat(content: str | dict[str, Any], *, prompt_tokens: int | None = None,
             completion_tokens: int | None = None, finish_reason: str = "stop") -> Reply:
        return Reply(200, content=content, path="/chat/completions",
                     prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
                     finish_reason=finish_reason)

    # -- default answers ------------------------------------------------------------------------

    def answer_chat(self, body: dict[str, Any], reply: Reply | None) -> dict[str, Any]:
        messages = body.get("messages") or []
        if reply is not None and reply.content is not None:
            content = reply.content
        else:
            user = [m for m in messages if m.get("role") == "user"]
            try:
                brief = json.loads(user[-1]["content"]) if user else {}
                if isinstance(brief, dict) and brief.get("task") == "repair":
                    brief = json.loads(user[0]["content"])  # answer the task again
            except (ValueError, TypeError):
                brief = {"text": user[-1]["content"] if user else ""}
            content = (self.on_chat or default_chat)(brief)
        text = content if isinstance(content, str) else json.dumps(content)
        prompt = reply.prompt_tokens if reply and reply.prompt_tokens is not None else \
            _tokens(json.dumps(messages))
        completion = reply.completion_tokens if reply and reply.completion_tokens is not None \
            else _tokens(text)
        return {
            "id": f"chatcmpl-{len(self.requests)}", "object": "chat.completion",
            "created": 1_700_000_000, "model": body.get("model", ""),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "finish_reason": reply.finish_reason if reply else "stop"}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                      "total_tokens": prompt + completion},
        }

    def answer_embeddings(self, body: dict[str, Any]) -> dict[str, Any]:
        inputs = body.get("input")
        texts = [inputs] if isinstance(inputs, str) else list(inputs or [])
        data = [{"object": "embedding", "index": i, "embedding": fake_embedding(t, self.dim)}
                for i, t in enumerate(texts)]
        data.reverse()  # clients must order by `index`, not by position
        tokens = sum(_tokens(t) for t in texts)
        return {"object": "list", "data": data, "model": body.get("model", ""),
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}

    def answer_image(self, body: dict[str, Any]) -> dict[str, Any]:
        png = small_png()
        if self.image_as_url or body.get("response_format") == "url":
            name = f"image-{len(self.files)}.png"
            self.files[name] = png
            item: dict[str, Any] = {"url": f"{self.origin}/files/{name}"}
        else:
            item = {"b64_json": base64.b64encode(png).decode()}
        return {"created": 1_700_000_000, "data": [{**item, "revised_prompt":
                                                    body.get("prompt", "")}]}


def _significant(text: str) -> str:
    """The group key of the default clustering: the first 4 letters of the first significant
    word ("pour over" and "pourover" share one)."""
    words = [w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _SIGNIFICANT_SKIP]
    return words[0][:4] if words else text.lower()


def default_chat(brief: Any) -> dict[str, Any]:
    task = brief.get("task") if isinstance(brief, dict) else None
    if task == "clustering":
        groups: dict[str, list[str]] = {}
        for kw in brief.get("keywords", []):
            text = kw["keyword"] if isinstance(kw, dict) else str(kw)
            groups.setdefault(_significant(text), []).append(text)
        return {"clusters": [{"name": g[0], "keywords": g} for g in groups.values()
                             if len(g) > 1],
                "unclustered": [{"keyword": g[0], "reason": "nothing similar"}
                                for g in groups.values() if len(g) == 1]}
    if task == "ideas":
        cluster = brief.get("cluster", {})
        keywords = [k["keyword"] for k in cluster.get("keywords", [])] or [cluster.get("name")]
        structures = ["guide", "how_to", "listicle", "comparison", "review"]
        return {"ideas": [{
            "title": f"{cluster.get('name', 'Topic').title()}: idea {n + 1}",
            "description": f"An article about {cluster.get('name')}.",
            "content_type": "blog_post", "content_structure": structures[n % len(structures)],
            "target_keywords": keywords[:5],
            "outline": [{"heading": f"About {k}", "subheadings": [f"Why {k} matters"],
                         "keywords": [k]} for k in keywords[:3]],
            "estimated_word_count": 1200 + 100 * n,
        } for n in range(int(brief.get("count", 3)))]}
    if task == "content_generation":
        title = brief.get("title", "Article")
        primary = brief.get("primary_keyword", title)
        outline = brief.get("outline") or [{"heading": f"What is {primary}",
                                            "subheadings": []},
                                           {"heading": f"Choosing {primary}",
                                            "subheadings": ["Price", "Quality"]}]
        parts = [f"<p>This article covers {primary} in depth.</p>"]
        for section in outline:
            parts.append(f"<h2>{section['heading']}</h2><p>Some words on {section['heading']}."
                         "</p>")
            parts.extend(f"<h3>{sub}</h3><p>Detail on {sub}.</p>"
                         for sub in section.get("subheadings", []))
        return {"title": title, "html_content": "".join(parts), "meta_title": title,
                "meta_description": f"Everything about {primary}.", "slug": title,
                "primary_keyword": primary,
                "secondary_keywords": brief.get("secondary_keyword_candidates", [])[:5]}
    if task == "content_intro":
        title = brief.get("title", "Article")
        primary = brief.get("primary_keyword", title)
        return {"title": title, "html_content": f"<p>This article covers {primary}.</p>",
                "meta_title": title, "meta_description": f"Everything about {primary}.",
                "slug": title, "primary_keyword": primary,
                "secondary_keywords": brief.get("secondary_keyword_candidates", [])[:5]}
    if task == "content_section":
        section = brief.get("section", {})
        heading = section.get("heading", "")
        return {"html_content": f"<p>Some words on {heading}.</p>" + "".join(
            f"<h3>{sub}</h3><p>Detail on {sub}.</p>" for sub in section.get("subheadings", []))}
    if task == "image_prompt_extraction":
        headings = brief.get("headings", [])[:int(brief.get("max_in_article", 3))]
        return {"featured": f"An editorial illustration of {brief.get('title')}",
                "in_article": [{"heading": h, "prompt": f"A picture about {h}"}
                               for h in headings]}
    return {"answer": "OK"}


class _ApiHandler(RequestHandler):
    def initialize(self, fake: FakeOpenAI) -> None:
        self.fake = fake

    def check_xsrf_cookie(self) -> None:
        pass

    async def _serve(self) -> None:
        fake = self.fake
        full = self.request.path
        path = full[len(fake.prefix):] if full.startswith(fake.prefix) else full
        try:
            body = json.loads(self.request.body) if self.request.body else None
        except ValueError:
            body = None
        fake._record(self.request, path, body)
        fmt = ((body or {}).get("response_format") or {}) if isinstance(body, dict) else {}
        reply = fake._next(path)
        if reply is None and fake.refuse_json_schema and fmt.get("type") == "json_schema":
            reply = FakeOpenAI.error(400, "response_format of type json_schema is not "
                                          "supported by this model")
        if reply is not None and reply.delay:
            with contextlib.suppress(TimeoutError):  # a hang ends at its delay or at stop()
                await asyncio.wait_for(fake._released.wait(), reply.delay)
        if fake.api_key is not None and \
                self.request.headers.get("Authorization") != f"Bearer {fake.api_key}":
            presented = self.request.headers.get("Authorization", "").removeprefix("Bearer ")
            reply = FakeOpenAI.unauthorized(presented or "(none)")
        if reply is None or (reply.json is None and reply.body is None
                             and reply.status == 200):
            status, answer = self._default(path, body or {}, reply)
        else:
            status, answer = reply.status, reply.body if reply.body is not None else \
                json.dumps(reply.json).encode()
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        for name, value in (reply.headers.items() if reply else ()):
            self.set_header(name, value)
        if reply is not None and reply.drop:
            self.set_header("Content-Length", str(len(answer)))
            self.write(answer[:len(answer) // 2])
            with contextlib.suppress(StreamClosedError):
                await self.flush()
            assert self.request.connection is not None
            self.request.connection.close()  # type: ignore[attr-defined]
            return
        self.finish(answer)

    def _default(self, path: str, body: dict[str, Any], reply: Reply | None
                 ) -> tuple[int, bytes]:
        fake = self.fake
        method = self.request.method
        if method == "POST" and path == "/chat/completions":
            return 200, json.dumps(fake.answer_chat(body, reply)).encode()
        if method == "POST" and path == "/embeddings":
            return 200, json.dumps(fake.answer_embeddings(body)).encode()
        if method == "POST" and path == "/images/generations":
            return 200, json.dumps(fake.answer_image(body)).encode()
        if method == "GET" and path == "/models":
            return 200, json.dumps({"object": "list", "data": [
                {"id": m, "object": "model", "owned_by": "fake"} for m in fake.models]}).encode()
        return 404, json.dumps({"error": {"message": f"Unknown path {path}",
                                          "type": "invalid_request_error", "code": None}}
                               ).encode()

    async def get(self) -> None:
        await self._serve()

    async def post(self) -> None:
        await self._serve()


class _FileHandler(RequestHandler):
    """Files the fake serves (images answered by URL); `big-<n>` streams n MB of noise."""

    def initialize(self, fake: FakeOpenAI) -> None:
        self.fake = fake

    async def get(self, name: str) -> None:
        self.fake._record(self.request, self.request.path, None)
        if name.startswith("big-"):
            self.set_header("Content-Type", "image/png")
            try:
                for _ in range(int(name[4:])):
                    self.write(b"\x89PNG" + b"\0" * (1024 * 1024 - 4))
                    await self.flush()
            except StreamClosedError:  # the client stopped reading: what the test wants
                pass
            return
        data = self.fake.files.get(name)
        if data is None:
            self.set_status(404)
            return
        self.set_header("Content-Type", "image/png")
        self.finish(data)
