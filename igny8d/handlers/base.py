"""APIHandler: request id, admission (method, auth, throttle, role) and the one envelope writer."""

from __future__ import annotations

import errno
import ipaddress
import traceback
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, TypeAlias, TypeVar

import tornado.web
from pydantic import BaseModel
from tornado.httputil import HTTPServerRequest

from igny8d import envelope
from igny8d.errors import (
    AuthRequired,
    BadRequest,
    Conflict,
    DomainError,
    InsufficientCredits,
    InsufficientStorage,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    Throttled,
    Unavailable,
    UnsupportedMediaType,
)
from igny8d.handlers.authn import BASIC_SCOPE, AuthMixin
from igny8d.handlers.bodies import ID_MAX, BodyMixin
from igny8d.handlers.metrics import socket_peer
from igny8d.log import request_id_var, scrub_query
from igny8d.permissions import Principal, validate_level
from igny8d.ratelimit import UNTHROTTLED, validate_scope
from igny8d.sentry import capture_request_error, tag_request
from igny8d.store.errors import StoreBusy, StoreUnreachable

if TYPE_CHECKING:
    from igny8d.context import AppContext

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


@dataclass(frozen=True)
class EndpointSpec:
    """What one handler method declares: feeds auth, throttling and the OpenAPI document."""

    level: str = "authenticated"
    #: a scope of ratelimit.SCOPES, or UNTHROTTLED ("none") for health checks
    throttle: str = "default"
    public: bool = False
    summary: str = ""
    body: type[BaseModel] | None = None
    response: Any = None
    status: int = 200
    query: dict[str, str] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    paginated: bool = False
    content_type: str | None = None
    #: error statuses this operation answers beyond those derived from the declaration
    errors: tuple[int, ...] = ()
    #: the body's media type when it is not JSON (`multipart/form-data`)
    request_content_type: str | None = None
    #: this route's own cap on the request body (MB), instead of the `max_body_mb` setting
    max_body_mb: float | None = None
    #: other success statuses answered with the same body (an upsert: 201 created, 200 not)
    other_statuses: tuple[int, ...] = ()
    #: a path parameter's only values (documented as an enum; others answer 404)
    path_choices: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: public and the same for everyone (health checks): credentials sent are not read, so
    #: a token costs no store read and a database outage cannot turn the answer into 503
    anonymous: bool = False
    #: the model the handler validates its query with (`query_model`): types the document
    query_model: type[BaseModel] | None = None
    #: takes an `Idempotency-Key` header (services/idempotency.py; the handler applies it)
    idempotent: bool = False


def endpoint(**kwargs: Any) -> Callable[[F], F]:
    """Declare a handler method; level and throttle names are checked at import time."""
    spec = EndpointSpec(**kwargs)
    validate_level(spec.level)
    validate_scope(spec.throttle)
    if spec.anonymous and not spec.public:
        # unread credentials on a non-public route would let anyone in
        raise ValueError("an anonymous endpoint must also be public")

    def mark(fn: F) -> F:
        fn._endpoint = spec  # type: ignore[attr-defined]
        return fn

    return mark


_DEFAULT_SPEC = EndpointSpec()


def parse_id(raw: str) -> int:
    """A path id: digits within BIGINT range, else 404 (it cannot name a row)."""
    if not raw.isascii() or not raw.isdigit() or len(raw) > 19 or int(raw) > ID_MAX:
        raise NotFound()
    return int(raw)


Network: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def client_address(request: HTTPServerRequest, trusted: Sequence[Network]) -> str:
    """The client's address: the TCP peer, unless that is a trusted proxy.

    Behind trusted proxies, `X-Forwarded-For` is read right to left (each proxy appends the
    address it saw) and the first entry that is not itself a trusted proxy is the client.
    Entries further left were written by the client and are never believed. The peer is
    taken from before Tornado's `xheaders` rewrite, which believes any sender and X-Real-Ip.
    """
    peer = socket_peer(request)
    if not trusted:
        return peer
    current = _parse_ip(peer)
    if current is None or not _within(current, trusted):
        return peer
    hops = ",".join(request.headers.get_list("X-Forwarded-For")).split(",")
    for hop in reversed(hops):
        if not hop.strip():
            continue
        ip = _parse_ip(hop)
        if ip is None:  # garbage where a proxy should have written an address: stop there
            break
        current = ip
        if not _within(ip, trusted):
            break
    return str(current)


def request_scheme(request: HTTPServerRequest, trusted: Sequence[Network]) -> str:
    """The request's scheme: a forwarded one (`X-Forwarded-Proto`, `X-Scheme`) only from a
    trusted proxy. Tornado's `xheaders` rewrite believes it from any sender, so a client that
    reaches the server past the proxy could pick its own links' scheme and the cookie's
    `secure` flag."""
    context = getattr(request.connection, "context", None)
    original = getattr(context, "_orig_protocol", None)
    if original is None or not trusted:
        return request.protocol
    peer = _parse_ip(socket_peer(request))
    return request.protocol if peer is not None and _within(peer, trusted) else str(original)


def _parse_ip(raw: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address as proxies write it: `1.2.3.4`, `1.2.3.4:5678`, `::1`, `[::1]:5678`."""
    text = raw.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped  # a dual-stack socket's ::ffff:10.0.0.1 is 10.0.0.1
    return ip


def _within(ip: ipaddress.IPv4Address | ipaddress.IPv6Address,
            networks: Sequence[Network]) -> bool:
    return any(ip.version == net.version and ip in net for net in networks)


@tornado.web.stream_request_body
class APIHandler(AuthMixin, BodyMixin, tornado.web.RequestHandler):
    """Base of every JSON endpoint. Secure by default: a method is public only when declared so."""

    ctx: AppContext
    principal: Principal | None
    request_id: str
    client_ip: str
    error_message: str | None
    _throttle_headers: dict[str, str]
    #: the scope whose throttle refused this request (the request metrics count it)
    throttled_scope: str | None = None

    SUPPORTED_METHODS: ClassVar[tuple[str, ...]] = (  # type: ignore[misc]
        "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS",
    )

    def initialize(self, ctx: AppContext, **_: Any) -> None:
        self.ctx = ctx
        # Once per request, before anything can answer: the throttle keys (Basic's too)
        # and the access log (which reads request.remote_ip) see the same address.
        trusted = ctx.settings.trusted_networks if ctx.settings.trusted_proxies else ()
        self.client_ip = client_address(self.request, trusted)
        self.request.remote_ip = self.client_ip
        self.request.protocol = request_scheme(self.request, trusted)
        self._apply_cors()  # set_default_headers ran before ctx was known
        self.principal = None
        self.session_family: str | None = None
        self.error_message = None
        self._throttle_headers = {}
        self._chunks: list[bytes] = []
        self._received = 0
        self._too_large = False
        self._refusal: DomainError | None = None
        self._body: bytes | None = None
        self._body_limit_mb: float | None = None
        self._counted = True
        ctx.metrics.enter()

    # -- response headers -------------------------------------------------------------------

    def set_default_headers(self) -> None:
        self.set_header("Server", "igny8d")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "same-origin")
        self.set_header("Content-Type", "application/json; charset=utf-8")
        rid = getattr(self, "request_id", None)
        if rid:  # after clear() in send_error; on the first call there is no id yet
            self.set_header("X-Request-ID", rid)
            self._apply_cors()

    def _apply_cors(self) -> None:
        origin = self.request.headers.get("Origin")
        if not origin:
            return
        allowed = self.ctx.settings.cors_origins
        if origin in allowed or "*" in allowed:
            self.set_header("Access-Control-Allow-Origin", origin)
            self.set_header("Vary", "Origin")
            self.set_header("Access-Control-Expose-Headers",
                            "X-Request-ID, X-Throttle-Limit, X-Throttle-Remaining, "
                            "X-Throttle-Reset, Retry-After, Idempotent-Replayed")

    def compute_etag(self) -> str | None:
        return None  # every body carries a fresh request_id; an ETag could never match

    # -- request lifecycle ------------------------------------------------------------------

    async def prepare(self) -> None:
        self.request_id = self._incoming_request_id() or str(uuid.uuid4())
        request_id_var.set(self.request_id)
        self.set_header("X-Request-ID", self.request_id)
        try:
            await self._admit()
        except DomainError as exc:
            self._refuse(exc)

    async def _admit(self) -> None:
        """What the headers decide: body size, method, authentication, throttle, role."""
        spec = self.endpoint_spec()
        if spec.max_body_mb is not None:
            self._body_limit_mb = spec.max_body_mb
        length = self.request.headers.get("Content-Length")
        if length is not None:
            if not length.isdigit():
                raise BadRequest("Invalid Content-Length header")
            if int(length) > self.body_limit():
                self._too_large = True
                raise self._too_large_error()
        if self.request.method == "OPTIONS":
            return
        if spec is _DEFAULT_SPEC:
            raise MethodNotAllowed(
                f'Method "{self.request.method}" not allowed.',
                headers={"Allow": ", ".join(self._allowed_methods())},
            )
        if spec.anonymous:
            return
        auth_error: DomainError | None = None
        try:
            self.principal = await self._authenticate()
        except (Throttled, Unavailable):
            # Too many Basic guesses (refused before any password check), or the database
            # is busy: public or not, the request cannot go on as if anonymous.
            raise
        except DomainError as exc:
            auth_error = exc
        if spec.throttle != UNTHROTTLED:
            await self._throttle(spec.throttle)
        if spec.public:
            return
        if auth_error is not None:
            raise auth_error
        if self.principal is None:
            raise AuthRequired()
        self.principal.require(spec.level)

    def _incoming_request_id(self) -> str | None:
        raw = self.request.headers.get("X-Request-ID")
        if not raw or len(raw) > 64:
            return None
        try:
            return str(uuid.UUID(raw))
        except ValueError:
            return None

    @property
    def actor(self) -> Principal:
        """The authenticated caller, for methods that are not public."""
        if self.principal is None:
            raise AuthRequired()
        return self.principal

    def endpoint_spec(self) -> EndpointSpec:
        name = (self.request.method or "GET").lower()
        method = getattr(self, "get" if name == "head" else name, None)
        return getattr(method, "_endpoint", _DEFAULT_SPEC)

    async def head(self, *args: Any, **kwargs: Any) -> None:
        """HEAD is GET without the body (Tornado drops it), wherever GET is declared."""
        result = self.get(*args, **kwargs)
        if result is not None:
            await result

    async def options(self, *args: Any, **kwargs: Any) -> None:
        """CORS preflight: answered for allowed origins, no auth needed."""
        origin = self.request.headers.get("Origin")
        if origin and self._has_header("Access-Control-Allow-Origin"):
            self.set_header("Access-Control-Allow-Methods", ", ".join(self._allowed_methods()))
            self.set_header("Access-Control-Allow-Headers",
                            "Authorization, Content-Type, X-Request-ID, Idempotency-Key")
            self.set_header("Access-Control-Max-Age", "600")
        self.set_header("Allow", ", ".join(self._allowed_methods()))
        self.set_status(204)
        self.clear_header("Content-Type")
        self.finish()

    def _has_header(self, name: str) -> bool:
        return name in self._headers

    def _allowed_methods(self) -> list[str]:
        declared = [m for m in ("GET", "POST", "PUT", "PATCH", "DELETE")
                    if hasattr(getattr(self, m.lower(), None), "_endpoint")]
        if "GET" in declared:
            declared.insert(1, "HEAD")
        return [*declared, "OPTIONS"]

    # -- throttling -----------------------------------------------------------------------------

    async def _throttle(self, scope: str) -> None:
        if self.principal is not None:
            key = f"user:{self.principal.user_id}"
        else:
            key = f"ip:{self.client_ip}"
        result = await self.ctx.limiter.hit(scope, key)
        if result is None:
            return
        self._throttle_headers = result.headers()
        for name, value in self._throttle_headers.items():
            self.set_header(name, value)
        if not result.allowed:
            self.throttled_scope = scope  # for the request metrics
            raise Throttled(headers=self._throttle_headers)

    # -- success writers ------------------------------------------------------------------------

    def ok(self, data: Any, message: str | None = None, status: int = 200) -> None:
        self.set_status(status)
        self.finish(envelope.dumps(envelope.success(data, self.request_id, message)))

    def created(self, data: Any, message: str | None = None) -> None:
        self.ok(data, message, status=201)

    def accepted(self, data: Any, message: str | None = None) -> None:
        self.ok(data, message, status=202)

    def no_content(self) -> None:
        self.set_status(204)
        self.clear_header("Content-Type")
        self.finish()

    async def stream(self, chunks: AsyncIterator[str | bytes], *, content_type: str,
                     filename: str | None = None) -> None:
        """A non-JSON body written chunk by chunk (each flushed: the client's pace holds
        the producer back, so only one chunk is in memory).

        The first chunk is produced before any header is sent: a failure up to then is
        the usual JSON error. A failure later cannot change the status any more; the
        connection is closed without the final chunk, so the client sees a truncated
        transfer, never a complete-looking file.
        """
        iterator = aiter(chunks)
        first = await anext(iterator, None)
        self.set_status(200)
        self.set_header("Content-Type", content_type)
        if filename:
            self.set_header("Content-Disposition", f'attachment; filename="{filename}"')
        self.set_header("Cache-Control", "no-store")
        try:
            if first is not None:
                self.write(first)
                await self.flush()
            async for chunk in iterator:
                self.write(chunk)
                await self.flush()
        except Exception:
            if self._headers_written:
                self.ctx.logger.exception("stream to %s failed midway", self.request.path)
                self.request.connection.close()  # type: ignore[union-attr]
                self._finished = True
                self._leave()
                return
            raise
        finally:
            closer = getattr(iterator, "aclose", None)
            if closer is not None:
                await closer()
        self.finish()

    def page_request(self) -> tuple[int, int]:
        """The list page asked for, (page, page_size), by DRF's rules: a page_size that is
        not a positive number is the default, a larger one the maximum; a page that is not
        a positive number is 404 "Invalid page." (as a page past the end)."""
        raw_size = self.query("page_size")
        size = envelope.DEFAULT_PAGE_SIZE
        if raw_size is not None and raw_size.isdigit() and int(raw_size) >= 1:
            size = min(int(raw_size), envelope.MAX_PAGE_SIZE)
        raw = self.query("page") or "1"
        if not raw.isdigit() or int(raw) < 1 or len(raw) > 18:
            raise NotFound("Invalid page.")
        return int(raw), size

    def page(
        self, results: list[Any], *, count: int, page: int, page_size: int,
        message: str | None = None,
    ) -> None:
        next_url, previous_url = envelope.page_links(
            self.base_url(), list(self._query_pairs()), page=page, page_size=page_size,
            count=count,
        )
        self.finish(envelope.dumps(envelope.paginated(
            results, count=count, next_url=next_url, previous_url=previous_url,
            request_id=self.request_id, message=message,
        )))

    def base_url(self) -> str:
        public = self.ctx.settings.public_url
        root = public.rstrip("/") if public else f"{self.request.protocol}://{self.request.host}"
        return root + self.request.path

    def _query_pairs(self) -> list[tuple[str, str]]:
        return [(k, v.decode("utf-8", "replace"))
                for k, vs in self.request.query_arguments.items() for v in vs]

    def query(self, name: str) -> str | None:
        """A query parameter, or None; blank counts as absent (as django-filter does)."""
        value = self.get_query_argument(name, None)
        return value if value not in (None, "") else None

    # -- errors ----------------------------------------------------------------------------------

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """The one renderer for every failure. send_error() cleared headers: set them again."""
        exc = kwargs.get("exc_info", (None, None, None))[1]
        status, message, errors, headers = _describe(exc, status_code, self._reason)
        self.set_status(status)
        if isinstance(exc, Throttled) and self.throttled_scope is None:
            self.throttled_scope = BASIC_SCOPE  # the one throttle outside _throttle()
        if status == 401 and "WWW-Authenticate" not in headers:
            headers["WWW-Authenticate"] = 'Bearer realm="api"'
        if status == 405 and "Allow" not in headers:  # a method Tornado itself refused
            headers["Allow"] = ", ".join(self._allowed_methods())
        if status == 503 and "Retry-After" not in headers:
            # busy: a lock frees in moments; unreachable: back within a second of the
            # database (the pool pre-pings), so a short wait, not a retry storm
            headers["Retry-After"] = ("1" if isinstance(exc, StoreBusy) else
                                      "2" if isinstance(exc, StoreUnreachable) else "5")
        for name, value in {**self._throttle_headers, **headers}.items():
            self.set_header(name, value)
        if getattr(self, "request_id", None) is None:
            self.request_id = str(uuid.uuid4())
        self.set_header("X-Request-ID", self.request_id)
        self.error_message = message
        extra = None
        if self.ctx.settings.debug and status >= 500 and exc is not None:
            # The reference: in debug mode, traceback + request context (never credentials).
            query = self.request.query
            extra = {
                "traceback": traceback.format_exception(exc),
                "request": {
                    "method": self.request.method,
                    "path": self.request.path + (f"?{scrub_query(query)}" if query else ""),
                    "user_id": self.principal.user_id if self.principal else None,
                    "account_id": self.principal.account_id if self.principal else None,
                },
            }
        if self.body_pending():
            # Answered before the body was read (100-continue, a body over the transport
            # limit, a broken Content-Length, a method Tornado refused before prepare()):
            # Tornado ends the connection after this answer, so say so.
            self.set_header("Connection", "close")
        self.finish(envelope.dumps(envelope.error(message, self.request_id, errors, extra)))

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        """Expected errors are logged once, by the access log; the rest with a traceback."""
        if isinstance(value, (tornado.web.HTTPError, DomainError)):
            return
        if isinstance(value, OSError) and value.errno == errno.ENOSPC:
            # a 507: one line, not a traceback per request written to the same full disk
            self.ctx.logger.error("disk full in %s %s: %s", self.request.method,
                                  self.request.path, value)
            return
        query = f"?{scrub_query(self.request.query)}" if self.request.query else ""
        self.ctx.logger.error(
            "unhandled exception in %s %s%s", self.request.method, self.request.path, query,
            exc_info=(typ, value, tb), extra={"request_id": getattr(self, "request_id", None)},
        )
        capture_request_error(self, (typ, value, tb))  # Sentry, when it is on

    def _leave(self) -> None:
        if self._counted:
            self._counted = False
            self.ctx.metrics.leave()

    #: its POST/PUT/PATCH/DELETE go before reads (`AppContext.writes_first`): the
    #: resource layer's writes, not logins or uploads' long bodies of other handlers
    writes_first: ClassVar[bool] = False

    async def _execute(self, transforms: Any, *args: bytes, **kwargs: bytes) -> None:
        """Counted in flight until the handler's coroutine ends, not until its client goes:
        a graceful stop waits for handlers whose client hung up (issue 15, item 3). A read
        first waits for this process's resource writes in flight, briefly; a resource write
        is one of them until it ends."""
        gate = self.ctx.writes_first
        writing = self.writes_first and self.request.method in _WRITES
        if writing:
            gate.started()
        try:
            if self.request.method in ("GET", "HEAD"):
                await gate.turn()
            await super()._execute(transforms, *args, **kwargs)
        finally:
            if writing:
                gate.ended()
            self._leave()

    def on_finish(self) -> None:
        self.ctx.metrics.record(self)
        tag_request(self)


#: The one mapping from domain error to HTTP status; the first matching class wins.
STATUS_OF: tuple[tuple[type[DomainError], int], ...] = (
    (BadRequest, 400),
    (AuthRequired, 401),
    (InsufficientCredits, 402),
    (PermissionDenied, 403),
    (NotFound, 404),
    (MethodNotAllowed, 405),
    (Conflict, 409),
    (PayloadTooLarge, 413),
    (UnsupportedMediaType, 415),
    (Throttled, 429),
    (Unavailable, 503),
    (InsufficientStorage, 507),
)

_STATUS_TEXT = {
    400: "Bad request",
    401: "Authentication required",
    403: "Permission denied",
    404: "Not found.",
    405: "Method not allowed",
    409: "Resource conflict",
    413: "Request body too large",
    415: "Unsupported media type",
    429: "Rate limit exceeded",
}


def status_of(exc: DomainError) -> int:
    for cls, code in STATUS_OF:
        if isinstance(exc, cls):
            return code
    return 400


def _describe(
    exc: BaseException | None, status: int, reason: str
) -> tuple[int, str, dict[str, list[str]] | None, dict[str, str]]:
    if isinstance(exc, DomainError):
        return status_of(exc), exc.error, exc.errors, dict(exc.headers)
    if isinstance(exc, tornado.web.HTTPError):
        code = exc.status_code
        if code == 400 and (exc.log_message or "").startswith("Invalid unicode"):
            return 400, "The URL is not valid UTF-8", None, {}
        return code, _STATUS_TEXT.get(code, reason or "Error"), None, {}
    if status < 500:
        return status, _STATUS_TEXT.get(status, reason or "Error"), None, {}
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        # a file the request wrote (an upload, an export) met a full disk: not a bug
        return 507, InsufficientStorage.message, None, {}
    return 500, "Internal server error", None, {}


class API404Handler(APIHandler):
    """Unknown routes get the JSON 404 too, with a request id."""

    async def prepare(self) -> None:
        self.request_id = self._incoming_request_id() or str(uuid.uuid4())
        request_id_var.set(self.request_id)
        self.set_header("X-Request-ID", self.request_id)
        self._refuse(NotFound("Not found"))
