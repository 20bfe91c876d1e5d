"""`GET /metrics`: this process's Prometheus metrics (igny8d/metrics.py).

Not an API endpoint: no envelope, no throttle, not in the OpenAPI document, not counted in
the request metrics it serves. Who may scrape:

- `metrics_token` set: every client must send `Authorization: Bearer <token>` (compared in
  constant time); anything else is a plain-text 401.
- unset: only clients whose TCP peer is a loopback address. The socket's own peer decides;
  X-Forwarded-For / X-Real-Ip are never believed (trusted proxies included: a proxy in front
  would make every client look local). Anyone else gets the JSON 404 of an unknown path, so
  the endpoint does not show it exists.
"""

from __future__ import annotations

import hmac
import ipaddress
import uuid
from typing import TYPE_CHECKING, Any, Literal

import tornado.web

from igny8d import envelope

if TYPE_CHECKING:
    from igny8d.context import AppContext

Access = Literal["ok", "unauthorized", "hidden"]


def is_loopback(peer: str) -> bool:
    """127.0.0.0/8, ::1 and their IPv4-mapped form; anything unparsable is not."""
    try:
        ip = ipaddress.ip_address(peer.strip().strip("[]"))
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback


def decide(token: str | None, peer: str, authorization: str | None) -> Access:
    """Whether a scrape is answered: the whole rule, free of Tornado for its tests."""
    if not token:
        return "ok" if is_loopback(peer) else "hidden"
    scheme, _, given = (authorization or "").strip().partition(" ")
    # compare_digest on equal-type bytes: the time taken says nothing about the token
    good = hmac.compare_digest(given.strip().encode(), token.encode())
    return "ok" if scheme.lower() == "bearer" and good else "unauthorized"


def socket_peer(request: Any) -> str:
    """The TCP peer, from before Tornado's `xheaders` rewrite of `remote_ip`."""
    context = getattr(request.connection, "context", None)
    return str(getattr(context, "_orig_remote_ip", None) or request.remote_ip or "")


class MetricsHandler(tornado.web.RequestHandler):
    SUPPORTED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

    def initialize(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def set_default_headers(self) -> None:
        self.set_header("Server", "igny8d")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Cache-Control", "no-store")
        self.set_header("Content-Type", "text/plain; charset=utf-8")

    def compute_etag(self) -> str | None:
        return None

    def prepare(self) -> None:
        access = decide(self.ctx.settings.metrics_token, socket_peer(self.request),
                        self.request.headers.get("Authorization"))
        if access == "hidden":
            # exactly the answer of a path no route matches
            rid = str(uuid.uuid4())
            self.set_status(404)
            self.set_header("Content-Type", "application/json; charset=utf-8")
            self.set_header("X-Request-ID", rid)
            self.finish(envelope.dumps(envelope.error("Not found", rid)))
        elif access == "unauthorized":
            self.set_status(401)
            self.set_header("WWW-Authenticate", 'Bearer realm="metrics"')
            self.finish("401 Unauthorized: send Authorization: Bearer <metrics_token>\n")
        elif self.request.method not in ("GET", "HEAD"):
            self.set_status(405)
            self.set_header("Allow", "GET, HEAD")
            self.finish("405 Method Not Allowed\n")

    async def get(self) -> None:
        body, content_type = await self.ctx.metrics.prom.render(
            self.ctx.store, self.ctx.jobs.names(), self.request.headers.get("Accept"))
        self.set_header("Content-Type", content_type)
        self.finish(body)

    async def head(self) -> None:
        await self.get()

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(f"{status_code} {self._reason}\n")


default_handlers = [(r"/metrics", MetricsHandler)]
