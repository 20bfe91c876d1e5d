"""A local Sentry ingest server for the tests: `/api/<project>/envelope/` and `/store/`.

It runs on its own thread and event loop, so the SDK's transport thread can deliver while
the test's loop waits in `sentry_sdk.flush()`. Bodies are decoded as the SDK sends them
(gzip, deflate or plain; brotli when the module is there), envelopes split into items.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import re
import threading
import zlib
from dataclasses import dataclass
from typing import Any

from tornado import httputil
from tornado.httpserver import HTTPServer
from tornado.testing import bind_unused_port

_INGEST = re.compile(r"/api/\d+/(envelope|store)/")


@dataclass
class Item:
    type: str
    headers: dict[str, Any]
    payload: Any
    raw: bytes


def decode_body(body: bytes, encoding: str | None) -> bytes:
    encoding = (encoding or "").lower()
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    if encoding == "br":
        import brotli  # type: ignore[import-not-found]

        return bytes(brotli.decompress(body))
    return body


def parse_envelope(data: bytes) -> tuple[dict[str, Any], list[Item]]:
    """Sentry's envelope: a JSON header line, then items (a JSON header line and a payload
    of `length` bytes, or up to the next newline when no length is given)."""
    header_line, _, rest = data.partition(b"\n")
    header = json.loads(header_line)
    items: list[Item] = []
    while rest.strip():
        item_line, _, rest = rest.partition(b"\n")
        item_header = json.loads(item_line)
        length = item_header.get("length")
        if length is None:
            payload, _, rest = rest.partition(b"\n")
        else:
            payload, rest = rest[:length], rest[length:]
            rest = rest.removeprefix(b"\n")
        try:
            parsed: Any = json.loads(payload)
        except ValueError:
            parsed = None
        items.append(Item(str(item_header.get("type")), item_header, parsed, payload))
    return header, items


class FakeSentry:
    """Collects what the SDK sends: `items` (every envelope item) and `bodies` (every
    decoded request body, to look for leaked secrets in everything that was sent)."""

    def __init__(self) -> None:
        self.items: list[Item] = []
        self.bodies: list[bytes] = []
        self.paths: list[str] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def dsn(self) -> str:
        return f"http://fakekey@127.0.0.1:{self.port}/42"

    def events(self) -> list[dict[str, Any]]:
        with self._lock:
            return [i.payload for i in self.items if i.type == "event"]

    def transactions(self) -> list[dict[str, Any]]:
        with self._lock:
            return [i.payload for i in self.items if i.type == "transaction"]

    def everything(self) -> bytes:
        with self._lock:
            return b"\n".join(self.bodies)

    def _record(self, path: str, body: bytes) -> None:
        with self._lock:
            self.paths.append(path)
            self.bodies.append(body)
            if path.endswith("/store/"):
                self.items.append(Item("event", {}, json.loads(body), body))
            else:
                self.items.extend(parse_envelope(body)[1])

    def start(self) -> None:
        sock, self.port = bind_unused_port()
        ready = threading.Event()

        def handle(request: httputil.HTTPServerRequest) -> None:
            # A bare callable, not a RequestHandler: the SDK's Tornado integration traces
            # RequestHandlers, and a traced ingest would send a trace of every delivery.
            status, reason, body = 200, "OK", json.dumps({"id": "0" * 32}).encode()
            if request.method == "POST" and _INGEST.fullmatch(request.path):
                self._record(request.path, decode_body(
                    request.body, request.headers.get("Content-Encoding")))
            else:
                status, reason, body = 404, "Not Found", b"{}"
            assert request.connection is not None
            request.connection.write_headers(
                httputil.ResponseStartLine("HTTP/1.1", status, reason),
                httputil.HTTPHeaders({"Content-Type": "application/json",
                                      "Content-Length": str(len(body))}), body)
            request.connection.finish()

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._loop = loop
            self._server = HTTPServer(handle)
            self._server.add_sockets([sock])
            loop.call_soon(ready.set)
            loop.run_forever()
            loop.run_until_complete(self._server.close_all_connections())
            loop.close()

        self._thread = threading.Thread(target=run, name="fake-sentry", daemon=True)
        self._thread.start()
        ready.wait(10)

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        loop = self._loop

        def halt() -> None:
            assert self._server is not None
            self._server.stop()
            loop.stop()

        loop.call_soon_threadsafe(halt)
        self._thread.join(10)
