"""Structured JSON logging, request-id propagation and the per-request access log."""

import collections
import contextlib
import contextvars
import datetime
import json
import logging
import logging.handlers
import pathlib
import sys
import typing
from urllib.parse import unquote_plus

import tornado.web

__all__ = [
    "RING",
    "JsonFormatter",
    "LogFile",
    "RequestLogRing",
    "configure_logging",
    "install_ring",
    "is_secret_key",
    "log_request",
    "mask_secrets",
    "request_id_var",
    "scrub_query",
]

# Set by the base handler in prepare(); code far from the handler (store, jobs, AI calls)
# logs with the right request_id without having the handler passed down to it.
request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "igny8d_request_id", default=None
)

access_log = logging.getLogger("igny8d.access")

MASK = "***"

# Attributes every LogRecord carries; anything else on a record came from `extra=`.
_RECORD_ATTRS = frozenset(logging.LogRecord("", logging.INFO, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}

# Substrings of `extra=` keys whose values must never reach a log line.
_SECRET_KEY_PARTS = (
    "authorization",
    "password",
    "token",
    "access",
    "refresh",
    "secret",
    "api_key",
    "cookie",
)

# Query parameters whose values are credentials (exact names, case-insensitive) ...
_SECRET_PARAMS = frozenset(
    {"token", "access", "refresh", "password", "key", "api_key", "secret", "code"}
)
# ... plus any parameter whose name contains one of these.
_SECRET_PARAM_PARTS = ("token", "password")

# Deep enough for realistic payloads; stops runaway recursion on self-referencing extras.
_MASK_DEPTH = 4

# Marks handlers installed by configure_logging() so a second call can find and remove them.
_INSTALLED_MARK = "_igny8d_installed"

_CONFIGURED_LOGGERS = ("igny8d", "tornado")
#: libraries whose warnings belong in the JSON log (a skipped reaper run, a misfire), not
#: their INFO chatter ("Running job ..." every few seconds)
_LIBRARY_LOGGERS = ("apscheduler",)


def is_secret_key(key: object) -> bool:
    """Whether an extra field's name says its value is a credential."""
    lowered = str(key).lower()
    squashed = lowered.replace("_", "").replace("-", "")
    return (lowered == "key" or "apikey" in squashed
            or any(part in lowered for part in _SECRET_KEY_PARTS))


def mask_secrets(value: object, depth: int = 0) -> object:
    """Mask secret-named keys inside nested dicts/lists, so a dumped payload cannot leak them."""
    if depth >= _MASK_DEPTH:
        return value
    if isinstance(value, dict):
        return {k: (MASK if is_secret_key(k) else mask_secrets(v, depth + 1))
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_secrets(v, depth + 1) for v in value]
    return value


def _jsonable(value: object) -> object:
    """Return value if it serialises cleanly (nested odd types become str), else its str()."""
    try:
        json.dumps(value, default=str, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        return str(value)
    return value


def _extras(record: logging.LogRecord, taken: typing.Container[str]) -> dict[str, object]:
    """What `extra=` put on the record, secrets masked, each value JSON-safe."""
    out: dict[str, object] = {}
    for key, value in record.__dict__.items():
        if key in _RECORD_ATTRS or key in taken:
            continue
        out[key] = MASK if is_secret_key(key) else _jsonable(mask_secrets(value))
    return out


class JsonFormatter(logging.Formatter):
    """One JSON object per line, so logs can be shipped and queried without parsing text."""

    def format(self, record: logging.LogRecord) -> str:
        """Render the record; extras ride along, secrets are masked, base fields win clashes."""
        request_id = getattr(record, "request_id", None)
        if request_id is None:
            request_id = request_id_var.get()
        payload: dict[str, object] = {
            "timestamp": self._timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": request_id,
        }
        payload.update(_extras(record, payload))
        if record.exc_info:
            payload["traceback"] = self.formatException(record.exc_info)
        elif record.exc_text:
            payload["traceback"] = record.exc_text
        if record.stack_info:
            payload["stack"] = self.formatStack(record.stack_info)
        return json.dumps(payload, default=str, ensure_ascii=False)

    @staticmethod
    def _timestamp(record: logging.LogRecord) -> str:
        return _iso(record.created)


def _iso(created: float) -> str:
    """ISO 8601 UTC with milliseconds and 'Z': sortable and unambiguous across hosts."""
    at = datetime.datetime.fromtimestamp(created, tz=datetime.UTC)
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class RequestLogRing(logging.Handler):
    """This process's recent log records, grouped by the request id they carried.

    Feeds the admin API's "one request by its id" (`Metrics.log_lines`). Bounded twice: at
    most `per_request` lines of one request (the last ones win) and at most `max_requests`
    requests (the least recently logging one goes first); the request ring drops a request's
    lines when the request leaves it (`drop`). The defaults fit the request ring (2,000) and
    the requests in flight; a request logs a line or two, so a few MB in practice. Records are
    turned into plain dicts when they are logged (secrets masked as in the JSON log), so
    nothing mutable is kept.
    """

    def __init__(self, per_request: int = 50, max_requests: int = 2500) -> None:
        super().__init__(level=logging.DEBUG)
        self.per_request = per_request
        self.max_requests = max_requests
        self._lines: collections.OrderedDict[str, collections.deque[dict[str, object]]] = (
            collections.OrderedDict())
        self._formatter = logging.Formatter()

    def emit(self, record: logging.LogRecord) -> None:
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        if not request_id:
            return
        try:
            line: dict[str, object] = {
                "at": _iso(record.created),
                "level": record.levelname,
                "logger": record.name,
                "message": record.getMessage(),
            }
            line.update(_extras(record, {*line, "request_id"}))
            if record.exc_info:
                line["traceback"] = self._formatter.formatException(record.exc_info)
        except Exception:
            self.handleError(record)
            return
        key = str(request_id)
        lines = self._lines.get(key)
        if lines is None:
            lines = self._lines[key] = collections.deque(maxlen=self.per_request)
            while len(self._lines) > self.max_requests:
                self._lines.popitem(last=False)
        else:
            self._lines.move_to_end(key)
        lines.append(line)

    def lines(self, request_id: str) -> list[dict[str, object]]:
        self.acquire()  # emit() runs under the same lock (records from CPU threads too)
        try:
            found = self._lines.get(request_id)
            return [dict(line) for line in found] if found else []
        finally:
            self.release()

    def drop(self, request_id: str) -> None:
        self.acquire()
        try:
            self._lines.pop(request_id, None)
        finally:
            self.release()

    def clear(self) -> None:
        self.acquire()
        try:
            self._lines.clear()
        finally:
            self.release()


class LogFile(logging.handlers.RotatingFileHandler):
    """The rotating log file, quiet when its disk fails: one notice on stderr when a write
    fails (a full disk) instead of logging's "--- Logging error ---" block per record, and
    one when writes succeed again. Records meanwhile still reach the stream handler."""

    failing = False
    _ok = True

    def emit(self, record: logging.LogRecord) -> None:
        super().emit(record)
        if self.failing and self._ok:
            self.failing = False
            self._notice(f"igny8d: log file {self.baseFilename} writable again\n")

    def format(self, record: logging.LogRecord) -> str:
        self._ok = True  # emit() reached the write; handleError() says when it failed
        return super().format(record)

    def handleError(self, record: logging.LogRecord) -> None:
        error = sys.exc_info()[1]
        if not isinstance(error, OSError):
            super().handleError(record)
            return
        self._ok = False
        if not self.failing:
            self.failing = True
            self._notice(f"igny8d: cannot write the log file {self.baseFilename} ({error}); "
                         "logging to the console only until it can\n")

    @staticmethod
    def _notice(text: str) -> None:
        with contextlib.suppress(Exception):
            sys.stderr.write(text)
            sys.stderr.flush()


#: The one ring of this process (every app of the process logs through the same loggers).
RING = RequestLogRing()


def install_ring() -> None:
    """Attach RING to the loggers igny8d owns (idempotent; configure_logging keeps it)."""
    for name in _CONFIGURED_LOGGERS:
        logger = logging.getLogger(name)
        if RING not in logger.handlers:
            logger.addHandler(RING)


def _remove_installed_handlers() -> None:
    """Detach and close what a previous configure_logging() call installed (no fd leaks)."""
    seen: set[int] = set()
    for name in (*_CONFIGURED_LOGGERS, *_LIBRARY_LOGGERS, "tornado.access"):
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            if getattr(handler, _INSTALLED_MARK, False):
                logger.removeHandler(handler)
                if id(handler) not in seen:
                    seen.add(id(handler))
                    handler.close()


def configure_logging(
    *,
    level: str = "INFO",
    log_dir: pathlib.Path | None = None,
    max_bytes: int = 10_485_760,
    backups: int = 5,
    stream: typing.TextIO | None = None,
) -> None:
    """Route igny8d and tornado logs as JSON to a stream and, optionally, a rotating file.

    Idempotent: handlers from an earlier call are removed and closed first, so reconfiguring
    (tests, CLI reloads) never duplicates lines.
    """
    numeric_level = logging.getLevelName(level.upper())
    if not isinstance(numeric_level, int):
        raise ValueError(f"unknown log level: {level!r}")

    _remove_installed_handlers()
    formatter = JsonFormatter()
    handlers: list[logging.Handler] = [logging.StreamHandler(stream or sys.stderr)]
    if log_dir is not None:
        log_dir = pathlib.Path(log_dir)
        log_dir.mkdir(parents=True, exist_ok=True)
        handlers.append(
            LogFile(
                log_dir / "igny8d.log",
                maxBytes=max_bytes,
                backupCount=backups,
                encoding="utf-8",
            )
        )
    for handler in handlers:
        handler.setFormatter(formatter)
        setattr(handler, _INSTALLED_MARK, True)

    for name in (*_CONFIGURED_LOGGERS, *_LIBRARY_LOGGERS):
        logger = logging.getLogger(name)
        logger.setLevel(numeric_level if name in _CONFIGURED_LOGGERS
                        else max(numeric_level, logging.WARNING))
        # We own these loggers' output; propagating to root would print every line twice
        # whenever something else (basicConfig, a library) has configured the root logger.
        logger.propagate = False
        for handler in handlers:
            logger.addHandler(handler)
    install_ring()

    # log_request() replaces Tornado's access log; silence tornado.access so nothing that
    # still logs there (the default log_function, third-party code) emits unscrubbed URIs.
    tornado_access = logging.getLogger("tornado.access")
    tornado_access.propagate = False
    tornado_access.setLevel(logging.CRITICAL + 1)
    null = logging.NullHandler()
    setattr(null, _INSTALLED_MARK, True)
    tornado_access.addHandler(null)


def _is_secret_param(name: str) -> bool:
    """Whether a query parameter name carries a credential (token links, OAuth codes, ...)."""
    lowered = unquote_plus(name).strip().lower()
    return lowered in _SECRET_PARAMS or any(part in lowered for part in _SECRET_PARAM_PARTS)


def scrub_query(query: str) -> str:
    """Mask the values of credential-bearing parameters; everything else is kept verbatim.

    Works on the raw string rather than parse/re-encode, so order, encoding and odd pieces
    (empty, '=b', flags without '=') survive untouched and nothing here can raise.
    """
    pieces = query.split("&")
    for i, piece in enumerate(pieces):
        name, sep, value = piece.partition("=")
        if sep and value and _is_secret_param(name):
            pieces[i] = f"{name}={MASK}"
    return "&".join(pieces)


def log_request(handler: tornado.web.RequestHandler) -> None:
    """Tornado log_function: one structured access line per request.

    Only allow-listed fields are logged, never headers, bodies, Authorization or cookies,
    and secret query values are masked.
    """
    status = handler.get_status()
    if status < 400:
        level = logging.INFO
    elif status < 500 or status == 503:
        # 503 is a refusal under load (database busy, unreachable), not a bug: a warning.
        level = logging.WARNING
    else:
        level = logging.ERROR
    if not access_log.isEnabledFor(level):
        return  # don't build a line nobody will see (hot path under load)
    request = handler.request
    method = request.method
    path = request.path
    if request.query:
        path = f"{path}?{scrub_query(request.query)}"
    duration_ms = round(request.request_time() * 1000, 2)
    principal = getattr(handler, "principal", None)

    access_log.log(
        level,
        "%s %s %s %sms",
        status,
        method,
        path,
        duration_ms,
        extra={
            "request_id": getattr(handler, "request_id", None),
            "method": method,
            "path": path,
            "status": status,
            "duration_ms": duration_ms,
            "user_id": getattr(principal, "user_id", None),
            "account_id": getattr(principal, "account_id", None),
            "error": getattr(handler, "error_message", None),
            "remote_ip": request.remote_ip,
        },
    )
