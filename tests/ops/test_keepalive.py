"""Keep-alive survives refusals: an early answer (401, 403, 404, 405, 413, 429) leaves the
connection usable, and where the server must close it, the answer says `Connection: close`.

APIHandler streams request bodies, so its prepare() runs before Tornado has read the body
(even an empty one); an answer finished there made Tornado drop the connection silently.
"""

from __future__ import annotations

import asyncio
import http.client
import socket
from dataclasses import dataclass

import pytest

from tests.helpers.app import RunningApp
from tests.helpers.client import Client

PING = b"GET /api/v1/system/ping/ HTTP/1.1\r\nHost: x\r\n\r\n"
MB = 1024 * 1024


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes


class RawConnection:
    """A socket that writes requests as given and reads answers one by one."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buffer = b""

    def close(self) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed by the server; unread: {self.buffer[:200]!r}")
        self.buffer += chunk

    def response(self, *, head: bool = False) -> RawResponse:
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        raw_head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        lines = raw_head.decode("latin1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = 0 if head or status in (204, 304) else int(headers.get("content-length", 0))
        while len(self.buffer) < length:
            self._fill()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return RawResponse(status, headers, body)

    def is_open(self, wait: float = 0.3) -> bool:
        """True when the server keeps the socket open (nothing more arrives, no EOF)."""
        self.sock.settimeout(wait)
        try:
            chunk = self.sock.recv(1)
        except TimeoutError:
            return True
        except ConnectionError:
            return False
        finally:
            self.sock.settimeout(10)
        if chunk:
            self.buffer += chunk
            return True
        return False


def _two_on_one_socket(port: int, first: bytes, *, head: bool = False,
                       ) -> tuple[RawResponse, RawResponse, bool]:
    conn = RawConnection(port)
    try:
        conn.send(first + PING)  # back to back, before reading anything
        refused = conn.response(head=head)
        ping = conn.response()
        return refused, ping, conn.is_open()
    finally:
        conn.close()


def _request(method: str, path: str, *headers: str, body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: x", *headers]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _refusals(app: RunningApp, client: Client) -> dict[str, tuple[bytes, int]]:
    owner = await client.owner("ann@example.com")
    site = await client.site(owner)
    viewer = await client.member(owner, "vic@example.com", "viewer")
    return {
        "401 no token": (_request("GET", "/api/v1/auth/me/"), 401),
        "401 bad token": (_request("GET", "/api/v1/auth/me/", "Authorization: Bearer x"), 401),
        "401 head": (_request("HEAD", "/api/v1/auth/me/"), 401),
        "401 with body": (_request("POST", "/api/v1/auth/sites/", "Content-Type: "
                                   "application/json", body=b'{"name": "x"}'), 401),
        "403": (_request("DELETE", f"/api/v1/auth/sites/{site['id']}/",
                         f"Authorization: Bearer {viewer}"), 403),
        "404 unknown route": (_request("GET", "/api/v1/nope/"), 404),
        "404 unknown route with body": (_request("POST", "/api/v1/nope/", body=b"{}"), 404),
        "405": (_request("DELETE", "/api/v1/system/ping/"), 405),
        "413 drained": (_request("POST", "/api/v1/auth/register/", "Content-Type: "
                                 "application/json", body=b"x" * (11 * MB)), 413),
    }


async def test_refusal_then_ping_on_one_socket_gets_both_answers(
    app: RunningApp, client: Client,
) -> None:
    for name, (first, status) in (await _refusals(app, client)).items():
        refused, ping, still_open = await asyncio.to_thread(
            _two_on_one_socket, app.port, first, head=first.startswith(b"HEAD"))
        assert refused.status == status, (name, refused)
        assert refused.headers.get("connection", "").lower() != "close", name
        assert ping.status == 200, (name, ping)
        assert b'"ok"' in ping.body, name
        assert still_open, name


async def test_throttled_then_ping_on_one_socket(throttled_app: RunningApp) -> None:
    for _ in range(100):  # the default scope's budget of this address, spent
        await throttled_app.ctx.limiter.hit("default", "ip:127.0.0.1")
    refused, ping, still_open = await asyncio.to_thread(
        _two_on_one_socket, throttled_app.port, _request("GET", "/api/v1/auth/me/"))
    assert refused.status == 429
    assert refused.headers["retry-after"]
    assert ping.status == 200  # health checks are not throttled
    assert still_open


def _answer_then_closed(port: int, data: bytes) -> tuple[RawResponse, bool]:
    conn = RawConnection(port)
    try:
        conn.send(data)
        resp = conn.response()
        return resp, conn.is_open(wait=2)
    finally:
        conn.close()


@pytest.mark.parametrize("case", ["expect-continue", "over-transport-limit", "bad-length",
                                  "unknown-method"])
async def test_a_close_is_announced(app: RunningApp, case: str) -> None:
    """Where the body will not be read, the server closes, and says so first."""
    if case == "expect-continue":  # the client waits: it must not upload after a refusal
        data = _request("POST", "/api/v1/auth/sites/", "Content-Length: 100",
                        "Expect: 100-continue")
        status = 401
    elif case == "over-transport-limit":
        data = _request("POST", "/api/v1/auth/register/", f"Content-Length: {1024 * MB}")
        status = 413
    elif case == "bad-length":
        data = _request("POST", "/api/v1/auth/register/", "Content-Length: 12x")
        status = 400
    else:  # refused by Tornado itself, before prepare()
        data = _request("TRACE", "/api/v1/system/ping/")
        status = 405
    resp, still_open = await asyncio.to_thread(_answer_then_closed, app.port, data)
    assert resp.status == status, resp
    assert resp.headers["connection"].lower() == "close"
    assert not still_open


def _pooled(port: int, paths: list[str]) -> tuple[list[int], set[int], int]:
    """One http.client connection reused for every request, as a pooled client does."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    statuses: list[int] = []
    local_ports: set[int] = set()
    announced = 0
    try:
        for path in paths:
            conn.request("GET", path)
            resp = conn.getresponse()
            resp.read()
            statuses.append(resp.status)
            announced += resp.will_close
            assert conn.sock is not None, f"connection dropped after {resp.status} {path}"
            local_ports.add(conn.sock.getsockname()[1])
    finally:
        conn.close()
    return statuses, local_ports, announced


async def test_pooled_client_reuses_one_connection_through_refusals(
    throttled_app: RunningApp,
) -> None:
    """150 requests on one keep-alive connection: 100 x 401, then 429s, 404s and pings."""
    paths = ["/api/v1/nope/" if i % 15 == 0 else
             "/api/v1/system/ping/" if i % 15 == 7 else
             "/api/v1/auth/me/" for i in range(150)]
    statuses, local_ports, announced = await asyncio.to_thread(
        _pooled, throttled_app.port, paths)
    assert len(statuses) == 150  # no reset, no RemoteDisconnected on the way
    assert statuses.count(401) == 100  # the default scope's budget
    assert statuses.count(429) == 30
    assert statuses.count(404) == 10
    assert statuses.count(200) == 10
    assert announced == 0
    assert len(local_ports) == 1  # one TCP connection for all 150
