"""An OpenAI-compatible embeddings server for tests: `/v1/embeddings` and `/v1/models` on a
random localhost port, answering from any `embed(texts) -> vectors` function — the real
`SentenceEmbedder` (a real model behind the wire, as a user's server would be) or a test's own.
`fault` makes the next answers bad the ways a broken server's are.

    async with EmbeddingServer(SentenceEmbedder().embed, model="all-MiniLM-L6-v2") as server:
        server.fault = "nan"
        ... integration base_url=server.url, embedding_model=server.model ...
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from typing import Any, Literal

from tornado.web import Application, RequestHandler

from tests.helpers.local_server import LocalServer

Embed = Callable[[Sequence[str]], Sequence[Sequence[float]]]
Fault = Literal["missing", "extra", "mixed_dimensions", "nan", "garbage", "hang", "empty_vector",
                "too_long", "drop"]


class EmbeddingServer(LocalServer):
    def __init__(self, embed: Embed, *, model: str = "all-MiniLM-L6-v2") -> None:
        self.embed = embed
        self.model = model
        #: how the answers are spoilt (None: correct answers)
        self.fault: Fault | None = None
        #: the `input` of every /embeddings request
        self.inputs: list[list[str]] = []
        super().__init__()
        self._released = asyncio.Event()

    def _app(self) -> Application:
        return Application([(r"/v1/(embeddings|models)", _Handler, {"server": self})])

    async def stop(self) -> None:
        self._released.set()  # a hanging answer returns now
        await super().stop()

    async def answer(self, texts: list[str]) -> bytes:
        self.inputs.append(texts)
        if self.fault == "garbage":
            return b'{"object": "list", "data": [{"index": 0, "embedding": [0.1,'
        if self.fault == "hang":
            await self._released.wait()
        vectors = [list(map(float, v)) for v in await asyncio.to_thread(self.embed, texts)]
        if self.fault == "missing":
            vectors = vectors[:-1]
        elif self.fault == "extra":
            vectors = [*vectors, vectors[0]]
        elif self.fault == "mixed_dimensions":
            vectors[-1] = vectors[-1][:-1]
        elif self.fault == "nan":
            vectors[-1][0] = float("nan")  # json.dumps writes NaN, as some servers do
        elif self.fault == "empty_vector":
            vectors[-1] = []
        data = [{"object": "embedding", "index": i, "embedding": v}
                for i, v in enumerate(vectors)]
        tokens = sum(len(t.split()) for t in texts)
        return json.dumps({"object": "list", "data": data, "model": self.model,
                           "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}).encode()


class _Handler(RequestHandler):
    def initialize(self, server: EmbeddingServer) -> None:
        self.server = server

    def check_xsrf_cookie(self) -> None:
        pass

    def get(self, what: str) -> None:
        self.finish({"object": "list", "data": [{"id": self.server.model, "object": "model",
                                                 "owned_by": "test"}]})

    async def post(self, what: str) -> None:
        body: Any = json.loads(self.request.body or b"{}")
        raw = body.get("input")
        texts = [raw] if isinstance(raw, str) else [str(t) for t in raw or []]
        self.set_header("Content-Type", "application/json")
        fault = self.server.fault
        if fault == "too_long":  # what a server says of an input past its context
            self.server.inputs.append(texts)
            self.set_status(400)
            self.finish({"error": {"message": "This model's maximum context length is 256 "
                                              "tokens.", "type": "invalid_request_error",
                                   "param": "input", "code": "context_length_exceeded"}})
            return
        answer = await self.server.answer(texts)
        if fault == "drop":  # the headers and half the body, then the connection closes
            self.set_header("Content-Length", str(len(answer)))
            self.write(answer[:len(answer) // 2])
            await self.flush()
            self.request.connection.close()
            return
        self.finish(answer)
