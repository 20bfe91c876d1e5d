"""Recording a real model's chat answers, and replaying them.

`Recorder` is a small OpenAI-compatible proxy: igny8d talks to it, it forwards
`/v1/chat/completions` and `/v1/models` to the real server (llama-cpp-python's), and records
each call — the step (`task` of the brief; a repair call is its step's), the answer format
asked for, the budget, the status, the answer, the seconds it took and whether the answer
had the step's shape at once (`shape_valid`, checked with igny8d's own wire models). The
records go to a JSON file under tests/fixtures/llm/.

`Replay` serves such a file back: each chat request gets the next recorded answer of its
step (a request of a step with no answer left is a 500 naming it), so CI runs the pipeline
on a real model's answers without compiling llama.cpp.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict, deque
from typing import Any

from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.web import Application, RequestHandler

from igny8d.ai.providers.openai.article import check_article, check_section
from igny8d.ai.providers.openai.wire import (
    Article,
    ClusterAnswer,
    Ideas,
    ImagePrompts,
    SectionBody,
    parse_content,
    validate,
)
from igny8d.ai.types import ProviderError
from tests.helpers.local_server import LocalServer

SHAPES: dict[str, Any] = {
    "clustering": (ClusterAnswer, None), "ideas": (Ideas, None),
    "content_generation": (Article, check_article), "content_intro": (Article, None),
    "content_section": (SectionBody, check_section),
    "image_prompt_extraction": (ImagePrompts, None),
}


def step_of(body: dict[str, Any]) -> tuple[str, str]:
    """(the step's task, "ask" or "repair") of a chat request igny8d sent."""
    users = [m for m in body.get("messages", []) if m.get("role") == "user"]
    try:
        first = json.loads(users[0]["content"])
        last = json.loads(users[-1]["content"])
    except (IndexError, KeyError, ValueError):
        return "?", "ask"
    return str(first.get("task", "?")), "repair" if last.get("task") == "repair" else "ask"


def shape_valid(task: str, answer: dict[str, Any]) -> bool:
    """Whether a chat answer has the step's shape (and text, where the step needs it)."""
    shape, check = SHAPES.get(task, (None, None))
    try:
        content = answer["choices"][0]["message"]["content"]
        value = validate(shape, parse_content(content or "")) if shape else None
        if check is not None:
            check(value)
    except (ProviderError, KeyError, IndexError, TypeError):
        return False
    return shape is not None


class Recorder(LocalServer):
    """The recording proxy (see the module doc) in front of `upstream` (".../v1")."""

    def __init__(self, upstream: str, *, timeout_s: float = 600.0) -> None:
        super().__init__()
        self.upstream = upstream.rstrip("/")
        self.timeout_s = timeout_s
        self.calls: list[dict[str, Any]] = []
        self.http = AsyncHTTPClient(force_instance=True)

    def _app(self) -> Application:
        return Application([(r"/v1(/.*)", _Forward, {"recorder": self})])

    async def stop(self) -> None:
        await super().stop()
        self.http.close()


class _Forward(RequestHandler):
    def initialize(self, recorder: Recorder) -> None:
        self.recorder = recorder

    def check_xsrf_cookie(self) -> None:
        pass

    async def _forward(self, path: str) -> None:
        rec = self.recorder
        body = self.request.body or None
        start = time.monotonic()
        response = await rec.http.fetch(HTTPRequest(
            rec.upstream + path, method=self.request.method, body=body,
            headers={"Content-Type": "application/json"},
            request_timeout=rec.timeout_s), raise_error=False)
        seconds = round(time.monotonic() - start, 2)
        if path == "/chat/completions" and body:
            sent = json.loads(body)
            task, kind = step_of(sent)
            try:
                answer = json.loads(response.body or b"null")
            except ValueError:
                answer = {"raw": (response.body or b"").decode(errors="replace")[:2000]}
            rec.calls.append({
                "task": task, "kind": kind,
                "format": (sent.get("response_format") or {}).get("type"),
                "max_tokens": sent.get("max_tokens"), "temperature": sent.get("temperature"),
                "status": response.code, "seconds": seconds,
                "shape_valid": response.code == 200 and isinstance(answer, dict)
                and shape_valid(task, answer),
                "request": {"messages": sent.get("messages")},
                "response": answer})
        self.set_status(response.code if response.code != 599 else 502)
        self.set_header("Content-Type", "application/json")
        self.finish(response.body or b"")

    async def get(self, path: str) -> None:
        await self._forward(path)

    async def post(self, path: str) -> None:
        await self._forward(path)


class Replay(LocalServer):
    """Serves a recording's answers back (see the module doc)."""

    def __init__(self, calls: list[dict[str, Any]], model: str) -> None:
        super().__init__()
        self.model = model
        self.queues: dict[tuple[str, str], deque[dict[str, Any]]] = defaultdict(deque)
        for call in calls:
            self.queues[(call["task"], call["kind"])].append(call)
        self.served: list[tuple[str, str]] = []

    def _app(self) -> Application:
        return Application([(r"/v1(/.*)", _Replayed, {"replay": self})])

    def left(self) -> int:
        return sum(len(q) for q in self.queues.values())


class _Replayed(RequestHandler):
    def initialize(self, replay: Replay) -> None:
        self.replay = replay

    def check_xsrf_cookie(self) -> None:
        pass

    async def get(self, path: str) -> None:
        self.finish({"object": "list", "data": [{"id": self.replay.model, "object": "model"}]})

    async def post(self, path: str) -> None:
        key = step_of(json.loads(self.request.body or b"{}"))
        queue = self.replay.queues.get(key)
        if not queue:
            self.set_status(500)
            self.finish({"error": {"message": f"replay: no recorded answer left for {key}"}})
            return
        call = queue.popleft()
        self.replay.served.append(key)
        self.set_status(call["status"])
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(call["response"]))
