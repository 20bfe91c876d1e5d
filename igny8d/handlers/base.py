"""APIHandler: request id, auth, throttling, body parsing and the one envelope writer."""

from __future__ import annotations

import base64
import binascii
import json
import traceback
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import tornado.web
from pydantic import BaseModel, ValidationError
from tornado import httputil

from igny8d import envelope
from igny8d.errors import (
    ApiError,
    AuthRequired,
    InvalidCredentials,
    NotFound,
    PayloadTooLarge,
    Throttled,
    UnsupportedMediaType,
    ValidationFailed,
)
from igny8d.log import request_id_var
from igny8d.permissions import Principal, validate_level
from igny8d.ratelimit import validate_scope
from igny8d.security import TokenError
from igny8d.store import accounts as account_store
from igny8d.store.errors import RowNotFound, UniqueViolation

if TYPE_CHECKING:
    from igny8d.context import AppContext

SESSION_COOKIE = "igny8_session"
F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


@dataclass(frozen=True)
class EndpointSpec:
    """What one handler method declares: feeds auth, throttling and the OpenAPI document."""

    level: str = "authenticated"
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


def endpoint(**kwargs: Any) -> Callable[[F], F]:
    """Declare a handler method; level and throttle names are checked at import time."""
    spec = EndpointSpec(**kwargs)
    validate_level(spec.level)
    validate_scope(spec.throttle)

    def mark(fn: F) -> F:
        fn._endpoint = spec  # type: ignore[attr-defined]
        return fn

    return mark


_DEFAULT_SPEC = EndpointSpec()
_ID_MAX = 2**63 - 1


def parse_id(raw: str) -> int:
    """A path id: digits within BIGINT range, else 404 (it cannot name a row)."""
    if not raw.isascii() or not raw.isdigit() or len(raw) > 19 or int(raw) > _ID_MAX:
        raise NotFound()
    return int(raw)


@tornado.web.stream_request_body
class APIHandler(tornado.web.RequestHandler):
    """Base of every JSON endpoint. Secure by default: a method is public only when declared so."""

    ctx: AppContext
    principal: Principal | None
    request_id: str
    error_message: str | None
    _throttle_headers: dict[str, str]

    SUPPORTED_METHODS: ClassVar[tuple[str, ...]] = (  # type: ignore[misc]
        "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS",
    )

    def initialize(self, ctx: AppContext, **_: Any) -> None:
        self.ctx = ctx
        self._apply_cors()  # set_default_headers ran before ctx was known
        self.principal = None
        self.session_family: str | None = None
        self.error_message = None
        self._throttle_headers = {}
        self._chunks: list[bytes] = []
        self._received = 0
        self._too_large = False
        self._refusal: ApiError | None = None
        self._body: bytes | None = None
        self._counted = True
        ctx.metrics.enter()

    # -- response headers -------------------------------------------------------------------

    def set_default_headers(self) -> None:
        self.set_header("Server", "igny8d")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "same-origin")
        self.set_header("Content-Type", "application/json; charset=utf-8")
        rid = getattr(self, "request_id", None)
        if rid:
            self.set_header("X-Request-ID", rid)
        self._apply_cors()

    def _apply_cors(self) -> None:
        origin = self.request.headers.get("Origin")
        allowed = self.ctx.settings.cors_origins if hasattr(self, "ctx") else ()
        if origin and (origin in allowed or "*" in allowed):
            self.set_header("Access-Control-Allow-Origin", origin)
            self.set_header("Vary", "Origin")
            self.set_header("Access-Control-Expose-Headers",
                            "X-Request-ID, X-Throttle-Limit, X-Throttle-Remaining, "
                            "X-Throttle-Reset, Retry-After")

    def compute_etag(self) -> str | None:
        return None  # every body carries a fresh request_id; an ETag could never match

    # -- request lifecycle ------------------------------------------------------------------

    async def prepare(self) -> None:
        self.request_id = self._incoming_request_id() or str(uuid.uuid4())
        request_id_var.set(self.request_id)
        self.set_header("X-Request-ID", self.request_id)
        try:
            await self._admit()
        except ApiError as exc:
            self._refuse(exc)

    async def _admit(self) -> None:
        """What the headers decide: body size, method, authentication, throttle, role."""
        length = self.request.headers.get("Content-Length")
        if length is not None:
            if not length.isdigit():
                raise ApiError("Invalid Content-Length header")
            if int(length) > self.ctx.settings.max_body_bytes:
                self._too_large = True
                raise self._too_large_error()
        if self.request.method == "OPTIONS":
            return
        spec = self.endpoint_spec()
        if spec is _DEFAULT_SPEC:
            raise ApiError(
                f'Method "{self.request.method}" not allowed.', status=405,
                headers={"Allow": ", ".join(self._allowed_methods())},
            )
        auth_error: ApiError | None = None
        try:
            self.principal = await self._authenticate()
        except ApiError as exc:
            auth_error = exc
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

    def _refuse(self, exc: ApiError) -> None:
        """Answer `exc` now or, when a body is on its way, once it has been read (and dropped).

        An answer sent before the body is read makes Tornado close the connection on unread
        data; the client's kernel then sees a reset, and a client that writes its whole body
        before reading (http.client, requests, curl without Expect) never gets the answer.
        Requests waiting for `100-continue`, and bodies over the transport limit (Tornado
        drops those anyway), are answered at once.
        """
        headers = self.request.headers
        length = headers.get("Content-Length", "0")
        chunked = "chunked" in headers.get("Transfer-Encoding", "").lower()
        params = getattr(self.request.connection, "params", None)
        limit = getattr(params, "max_body_size", None) or self.ctx.settings.max_body_bytes
        pending = chunked or (length.isdigit() and 0 < int(length) <= limit)
        if not pending or headers.get("Expect", "").lower() == "100-continue":
            raise exc
        self._defer(exc)

    def _defer(self, exc: ApiError) -> None:
        """Drop the body as it arrives; then answer `exc` instead of running the method."""
        self._refusal = exc
        self._chunks.clear()

        async def refuse(*_: Any, **__: Any) -> None:
            raise exc

        # Tornado looks the method up by name once the whole body has been received.
        setattr(self, (self.request.method or "GET").lower(), refuse)

    def _too_large_error(self) -> PayloadTooLarge:
        return PayloadTooLarge(
            f"Request body too large (limit {self.ctx.settings.max_body_mb:g} MB)"
        )

    def endpoint_spec(self) -> EndpointSpec:
        name = (self.request.method or "GET").lower()
        method = getattr(self, "get" if name == "head" else name, None)
        return getattr(method, "_endpoint", _DEFAULT_SPEC)

    async def head(self, *args: Any, **kwargs: Any) -> None:
        """HEAD is GET without the body (Tornado drops it), wherever GET is declared."""
        await self.get(*args, **kwargs)

    def data_received(self, chunk: bytes) -> None:
        if self._too_large or self._refusal is not None:
            return
        self._received += len(chunk)
        if self._received > self.ctx.settings.max_body_bytes:
            self._too_large = True
            self._defer(self._too_large_error())
            return
        self._chunks.append(chunk)

    async def options(self, *args: Any, **kwargs: Any) -> None:
        """CORS preflight: answered for allowed origins, no auth needed."""
        origin = self.request.headers.get("Origin")
        if origin and self._has_header("Access-Control-Allow-Origin"):
            self.set_header("Access-Control-Allow-Methods", ", ".join(self._allowed_methods()))
            self.set_header("Access-Control-Allow-Headers",
                            "Authorization, Content-Type, X-Request-ID")
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

    # -- authentication -----------------------------------------------------------------------

    async def _authenticate(self) -> Principal | None:
        settings = self.ctx.settings
        header = self.request.headers.get("Authorization", "")
        scheme, _, credentials = header.partition(" ")
        scheme = scheme.lower()
        if header and scheme == "bearer" and settings.auth_jwt:
            return await self._from_jwt(credentials.strip())
        if settings.auth_session and not header:
            cookie = self.get_signed_cookie(SESSION_COOKIE, max_age_days=settings.refresh_days)
            if cookie:
                return await self._from_session(cookie.decode("utf-8", "replace"))
        if header and scheme == "basic" and settings.auth_basic:
            return await self._from_basic(credentials.strip())
        if header:
            raise AuthRequired("Unsupported authorization scheme")
        return None

    async def _from_jwt(self, token: str) -> Principal:
        try:
            claims = self.ctx.tokens.verify(token, "access")
        except TokenError as exc:
            raise AuthRequired(str(exc)) from None
        return await self._load(claims.user_id, claims.version, "jwt")

    async def _from_session(self, value: str) -> Principal | None:
        """`user:version:family`; the family (login session) must still be live."""
        parts = value.split(":")
        if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
            return None
        user_id, family = int(parts[0]), parts[2]
        async with self.ctx.store.read() as conn:
            alive = await account_store.session_alive(conn, user_id, family)
        if not alive:
            raise AuthRequired("Session has ended")
        principal = await self._load(user_id, int(parts[1]), "session")
        self.session_family = family
        return principal

    async def _from_basic(self, credentials: str) -> Principal:
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise InvalidCredentials() from None
        email, sep, password = decoded.partition(":")
        if not sep:
            raise InvalidCredentials()
        async with self.ctx.store.read() as conn:
            user = await account_store.find_user_by_email(conn, email)
        ok = await self.ctx.hasher.verify(password, user.password_hash if user else None)
        if not ok or user is None:
            raise InvalidCredentials()
        return await self._load(user.id, user.token_version, "basic")

    async def _load(self, user_id: int, version: int, method: str) -> Principal:
        async with self.ctx.store.read() as conn:
            principal = await account_store.load_principal(conn, user_id, auth_method=method)
        if principal is None:
            raise AuthRequired("User not found or inactive")
        if principal.token_version != version:
            raise AuthRequired("Token has been revoked")
        return principal

    # -- throttling -----------------------------------------------------------------------------

    async def _throttle(self, scope: str) -> None:
        if self.principal is not None:
            key = f"user:{self.principal.user_id}"
        else:
            key = f"ip:{self.request.remote_ip}"
        result = await self.ctx.limiter.hit(scope, key)
        if result is None:
            return
        self._throttle_headers = result.headers()
        for name, value in self._throttle_headers.items():
            self.set_header(name, value)
        if not result.allowed:
            raise Throttled(headers=self._throttle_headers)

    # -- request bodies -------------------------------------------------------------------------

    @property
    def body(self) -> bytes:
        if self._too_large:
            raise self._too_large_error()
        if self._body is None:
            self._body = b"".join(self._chunks)
            self._chunks = []
        return self._body

    def json_body(self) -> dict[str, Any]:
        """The body as a JSON object: 415 for another content type, 400 for anything else bad."""
        raw = self.body
        ctype = self.request.headers.get("Content-Type", "")
        if not raw.strip():
            if ctype and not ctype.lower().startswith("application/json"):
                raise UnsupportedMediaType(f'Unsupported media type "{ctype}" in request.')
            return {}
        if not ctype.lower().split(";")[0].strip().endswith(("/json", "+json")):
            raise UnsupportedMediaType(
                f'Unsupported media type "{ctype or "(none)"}" in request; '
                "send application/json."
            )
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            if isinstance(exc, json.JSONDecodeError):
                msg = exc.msg
            elif isinstance(exc, RecursionError):
                msg = "JSON nested too deeply"
            else:
                msg = "Body is not valid UTF-8"
            raise ValidationFailed("JSON parse error", errors={"body": [msg]}) from None
        if not isinstance(data, dict):
            raise ValidationFailed(
                "Request body must be a JSON object",
                errors={"body": [f"Expected an object, got {type(data).__name__}."]},
            )
        return data

    def parse(self, model: type[BaseModel], data: dict[str, Any] | None = None) -> Any:
        """Validate a body into `model`; every problem becomes a field error (400)."""
        payload = self.json_body() if data is None else data
        too_big = _oversized_ints(payload)
        try:
            result = model.model_validate(payload)
        except ValidationError as exc:
            raise ValidationFailed(errors={**validation_errors(exc), **too_big}) from None
        if too_big:
            raise ValidationFailed(errors=too_big)
        return result

    def multipart(self) -> tuple[dict[str, list[str]], dict[str, list[httputil.HTTPFile]]]:
        ctype = self.request.headers.get("Content-Type", "")
        if not ctype.lower().startswith("multipart/form-data"):
            raise UnsupportedMediaType(
                f'Unsupported media type "{ctype or "(none)"}" in request; '
                "send multipart/form-data."
            )
        args: dict[str, list[bytes]] = {}
        files: dict[str, list[httputil.HTTPFile]] = {}
        httputil.parse_body_arguments(ctype, self.body, args, files, self.request.headers)
        fields = {k: [v.decode("utf-8", "replace") for v in vs] for k, vs in args.items()}
        return fields, files

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
        if status == 401 and "WWW-Authenticate" not in headers:
            headers["WWW-Authenticate"] = 'Bearer realm="api"'
        if status == 405 and "Allow" not in headers:  # a method Tornado itself refused
            headers["Allow"] = ", ".join(self._allowed_methods())
        for name, value in {**self._throttle_headers, **headers}.items():
            self.set_header(name, value)
        if getattr(self, "request_id", None) is None:
            self.request_id = str(uuid.uuid4())
        self.set_header("X-Request-ID", self.request_id)
        self.error_message = message
        extra = None
        if self.ctx.settings.debug and status >= 500 and exc is not None:
            extra = {"traceback": traceback.format_exception(exc)}
        if self._too_large:
            self.set_header("Connection", "close")
        self.finish(envelope.dumps(envelope.error(message, self.request_id, errors, extra)))

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        """Expected errors are logged once, by the access log; the rest with a traceback."""
        if isinstance(value, (tornado.web.HTTPError, RowNotFound, UniqueViolation)):
            return
        from igny8d.log import scrub_query

        query = f"?{scrub_query(self.request.query)}" if self.request.query else ""
        self.ctx.logger.error(
            "unhandled exception in %s %s%s", self.request.method, self.request.path, query,
            exc_info=(typ, value, tb), extra={"request_id": getattr(self, "request_id", None)},
        )

    def _leave(self) -> None:
        if self._counted:
            self._counted = False
            self.ctx.metrics.leave()

    def on_finish(self) -> None:
        self._leave()
        self.ctx.metrics.record(self)

    def on_connection_close(self) -> None:
        self._leave()
        super().on_connection_close()  # ends a body still streaming in (else _execute hangs)


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


def _describe(
    exc: BaseException | None, status: int, reason: str
) -> tuple[int, str, dict[str, list[str]] | None, dict[str, str]]:
    if isinstance(exc, ApiError):
        return exc.status_code, exc.error, exc.errors, dict(exc.headers)
    if isinstance(exc, RowNotFound):
        errors = {exc.field: [exc.what]} if exc.field else None
        return 404, "Not found." if exc.field else exc.what, errors, {}
    if isinstance(exc, UniqueViolation):
        return 409, exc.message, exc.errors, {}
    if isinstance(exc, tornado.web.HTTPError):
        code = exc.status_code
        return code, _STATUS_TEXT.get(code, reason or "Error"), None, {}
    if status < 500:
        return status, _STATUS_TEXT.get(status, reason or "Error"), None, {}
    return 500, "Internal server error", None, {}


def _oversized_ints(payload: dict[str, Any]) -> dict[str, list[str]]:
    """Integers no column can hold (beyond BIGINT), at the top level or in a top-level list.

    They would otherwise reach the database driver and overflow there (a 500).
    """
    errors: dict[str, list[str]] = {}
    for key, value in payload.items():
        items = value if isinstance(value, list) else [value]
        if any(isinstance(v, int) and not isinstance(v, bool) and abs(v) > _ID_MAX
               for v in items):
            errors[str(key)] = [f"Ensure this value is less than or equal to {_ID_MAX}."]
    return errors


def validation_errors(exc: ValidationError) -> dict[str, list[str]]:
    """pydantic errors as {field: [messages]} with DRF-like wording for the common cases."""
    out: dict[str, list[str]] = {}
    for err in exc.errors(include_url=False):
        loc = [str(p) for p in err["loc"]]
        name = loc[0] if loc else "non_field_errors"
        kind = err["type"]
        if kind == "missing":
            msg = "This field is required."
        elif kind == "extra_forbidden":
            msg = "Unknown field."
        elif kind.startswith("int") or kind == "int_type":
            msg = "A valid integer is required."
        elif kind == "value_error":
            msg = str(err.get("ctx", {}).get("error", err["msg"]))
        else:
            msg = err["msg"]
        if len(loc) > 1 and kind not in ("missing",):
            msg = f"{'.'.join(loc[1:])}: {msg}"
        if not loc and ": " in msg:
            # model-level checks name their field as "field: message"
            name, msg = msg.split(": ", 1)
        out.setdefault(name, []).append(msg)
    return out


class API404Handler(APIHandler):
    """Unknown routes get the JSON 404 too, with a request id."""

    async def prepare(self) -> None:
        self.request_id = self._incoming_request_id() or str(uuid.uuid4())
        request_id_var.set(self.request_id)
        self.set_header("X-Request-ID", self.request_id)
        self._refuse(NotFound("Not found"))
