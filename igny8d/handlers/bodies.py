"""Request bodies for APIHandler: streamed in, size-capped, parsed and validated strictly."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import tornado.web
from pydantic import BaseModel, ValidationError
from tornado import httputil

from igny8d.errors import DomainError, PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from igny8d.handlers.field_errors import drf_message

if TYPE_CHECKING:
    from igny8d.context import AppContext

    _Base = tornado.web.RequestHandler
else:
    _Base = object

ID_MAX = 2**63 - 1


class BodyMixin(_Base):
    """The handler is `@stream_request_body`: headers are judged before the body arrives."""

    ctx: AppContext
    _chunks: list[bytes]
    _received: int
    _too_large: bool
    _refusal: DomainError | None
    _body: bytes | None

    def _refuse(self, exc: DomainError) -> None:
        """Answer `exc` once the request body has been read (and dropped), never before.

        The handler is `@stream_request_body`, so `prepare()` runs when the headers are in,
        before Tornado has read the body, even an empty one. An answer finished then makes
        Tornado's HTTP1Connection close the connection once it is written (it cannot tell
        the next request from unread body bytes), after the headers went out without
        `Connection: close`: a keep-alive client sends its next request into a dead socket.
        So the refusal is deferred: the method is swapped for one that raises `exc`, which
        Tornado calls once the body is complete (at once when there is none), and the
        connection stays usable.

        Answered at once, with `Connection: close` (see `body_pending`), are only requests
        whose body will not be read: those waiting for `100-continue` (the client must not
        upload), bodies over the transport limit, and a Content-Length that is not a number.
        """
        headers = self.request.headers
        length = headers.get("Content-Length")
        chunked = "chunked" in headers.get("Transfer-Encoding", "").lower()
        params = getattr(self.request.connection, "params", None)
        limit = getattr(params, "max_body_size", None) or self.ctx.settings.max_body_bytes
        has_body = chunked or (length is not None and length.strip() not in ("", "0"))
        unreadable = length is not None and not chunked and (
            not length.isdigit() or int(length) > limit)
        if unreadable or (has_body and headers.get("Expect", "").lower() == "100-continue"):
            raise exc
        self._defer(exc)

    def body_pending(self) -> bool:
        """Whether Tornado is still to read (part of) the body: an answer now ends the
        connection, so it must say `Connection: close`."""
        future = getattr(self.request, "_body_future", None)
        return future is not None and not future.done()

    def _defer(self, exc: DomainError) -> None:
        """Drop the body as it arrives; then answer `exc` instead of running the method."""
        self._refusal = exc
        self._chunks.clear()

        async def refuse(*_: Any, **__: Any) -> None:
            raise exc

        # Tornado looks the method up by name once the whole body has been received.
        setattr(self, (self.request.method or "GET").lower(), refuse)

    _body_limit_mb: float | None

    def body_limit(self) -> int:
        """Bytes this request's body may have: the route's own cap, else the setting."""
        if self._body_limit_mb is not None:
            return int(self._body_limit_mb * 1024 * 1024)
        return self.ctx.settings.max_body_bytes

    def _too_large_error(self) -> PayloadTooLarge:
        limit = self._body_limit_mb if self._body_limit_mb is not None \
            else self.ctx.settings.max_body_mb
        return PayloadTooLarge(f"Request body too large (limit {limit:g} MB)")

    def data_received(self, chunk: bytes) -> None:
        if self._too_large or self._refusal is not None:
            return
        self._received += len(chunk)
        if self._received > self.body_limit():
            self._too_large = True
            self._defer(self._too_large_error())
            return
        self._chunks.append(chunk)

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

    def form(self) -> tuple[dict[str, list[str]], dict[str, list[httputil.HTTPFile]]]:
        """A form body, multipart or urlencoded (DRF's MultiPartParser and FormParser): its
        fields and its files (none from a urlencoded one). Another media type is a 415."""
        ctype = self.request.headers.get("Content-Type", "")
        kind = ctype.lower().split(";")[0].strip()
        if kind not in ("multipart/form-data", "application/x-www-form-urlencoded"):
            raise UnsupportedMediaType(
                f'Unsupported media type "{ctype or "(none)"}" in request; '
                "send multipart/form-data or application/x-www-form-urlencoded."
            )
        args: dict[str, list[bytes]] = {}
        files: dict[str, list[httputil.HTTPFile]] = {}
        try:
            httputil.parse_body_arguments(ctype, self.body, args, files, self.request.headers)
        except httputil.HTTPInputError as exc:
            raise ValidationFailed("Malformed multipart/form-data body",
                                   errors={"body": [str(exc) or "Malformed body."]}) from None
        fields = {k: [v.decode("utf-8", "replace") for v in vs] for k, vs in args.items()}
        return fields, files


def _oversized_ints(payload: dict[str, Any]) -> dict[str, list[str]]:
    """Integers no column can hold (beyond BIGINT), at the top level or in a top-level list.

    They would otherwise reach the database driver and overflow there (a 500).
    """
    errors: dict[str, list[str]] = {}
    for key, value in payload.items():
        items = value if isinstance(value, list) else [value]
        if any(isinstance(v, int) and not isinstance(v, bool) and abs(v) > ID_MAX
               for v in items):
            errors[str(key)] = [f"Ensure this value is less than or equal to {ID_MAX}."]
    return errors


def validation_errors(exc: ValidationError) -> dict[str, list[str]]:
    """pydantic errors as {field: [messages]}, in DRF's wording (`field_errors`)."""
    out: dict[str, list[str]] = {}
    for err in exc.errors(include_url=False):
        loc = [str(p) for p in err["loc"]]
        name = loc[0] if loc else "non_field_errors"
        kind = err["type"]
        msg = drf_message(err)
        if len(loc) > 1 and kind not in ("missing",):
            msg = f"{'.'.join(loc[1:])}: {msg}"
        if not loc and ": " in msg:
            # model-level checks name their field as "field: message"
            name, msg = msg.split(": ", 1)
        out.setdefault(name, []).append(msg)
    return out
