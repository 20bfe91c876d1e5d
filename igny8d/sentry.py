"""Sentry error reporting: off unless `sentry_dsn` is set; then 5xx errors only, scrubbed.

`init_sentry(settings)` (run_server calls it in every serving process; tests call it too)
turns on `sentry-sdk` with its Tornado integration. What reaches Sentry:

- **Unexpected exceptions of a request** (the ones answered 500): `APIHandler.log_exception`
  calls `capture_request_error`, which tags the event with the request id and route and sets
  the user id and account id (never an email: `send_default_pii` stays off). Expected
  failures — every `DomainError` (4xx, 402, 503 refusals) and Tornado's `HTTPError` — never
  do: `before_send` drops them whatever path they came by.
- **Unexpected exceptions of a job** (`capture_job_error`, the executor's `on_error` hook,
  plugged in by the composition root; a no-op while Sentry is off, so the executor never
  imports the SDK, nor this module): tagged `task_id`, `kind` and `account_id`, no
  payload, no breadcrumbs (a worker's log lines belong to every job it ran). Readable
  failures — `JobFailed`, a `DomainError`, a `ProviderError` (a bad key, a quota, a
  timeout) — are the client's business and never go.
- **Traces** when `sentry_traces_sample_rate` > 0, scrubbed the same way.
- Log records become breadcrumbs only (the logging integration's `event_level` is off), so
  an error logged once is one event, not two.

Scrubbing (`scrub`, on every event, transaction and breadcrumb): values under a credential-
named key (the log module's rule: password, token, secret, authorization, cookie, api key,
refresh, access...) are replaced in headers, bodies, cookies, extras, breadcrumb data, tags;
query strings are masked as in the access log; bearer/basic credentials and JWTs inside any
string are replaced. Frame locals are not sent (`include_local_variables=False`): a repr of a
request body or a settings object could hold a password no key rule can see.
"""

from __future__ import annotations

import json
import logging
import re
from typing import TYPE_CHECKING, Any

import tornado.web

from igny8d import __version__
from igny8d.ai.types import ProviderError
from igny8d.errors import DomainError
from igny8d.jobs.registry import Job, JobFailed
from igny8d.log import is_secret_key, scrub_query
from igny8d.metrics import ROUTE_ATTR, UNMATCHED

if TYPE_CHECKING:
    from igny8d.settings import Settings

__all__ = ["capture_job_error", "capture_request_error", "close_sentry", "init_sentry", "scrub",
           "tag_request"]

FILTERED = "[Filtered]"
_MAX_DEPTH = 24
_EXTRA_SECRET_NAMES = frozenset({"apikey", "passwd", "pwd", "session", "sessionid",
                                 "csrftoken", "x_csrftoken", "set_cookie"})
_CREDENTIAL = re.compile(r"(?i)\b(bearer|basic|token)\s+[A-Za-z0-9._~+/=-]{6,}")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")

_active = False
#: what a job may fail with that its client reads as the reason: not a bug, never reported
_EXPECTED_JOB_ERRORS = (JobFailed, DomainError, ProviderError)


def _secret_name(key: object) -> bool:
    lowered = str(key).lower().replace("-", "_")
    return (is_secret_key(lowered) or lowered in _EXTRA_SECRET_NAMES
            or "apikey" in lowered or "passwd" in lowered)


def _scrub_text(text: str) -> str:
    text = _JWT.sub(FILTERED, text)
    text = _CREDENTIAL.sub(lambda m: f"{m.group(1)} {FILTERED}", text)
    head, sep, query = text.partition("?")
    if sep and "=" in query:
        text = head + sep + scrub_query(query)
    return text


def _scrub_body(data: str) -> Any:
    """A raw body: JSON is masked key by key, a form body like a query string."""
    try:
        parsed = json.loads(data)
    except ValueError:
        return _scrub_text(scrub_query(data) if "=" in data else data)
    return json.dumps(scrub(parsed))


def scrub(value: Any, depth: int = 0) -> Any:
    """A copy of `value` (an event, a breadcrumb, any JSON-like data) with credentials
    replaced by "[Filtered]"."""
    if depth > _MAX_DEPTH:
        return FILTERED if isinstance(value, dict | list | tuple | str) else value
    if isinstance(value, dict):
        out: dict[Any, Any] = {}
        for key, item in value.items():
            if _secret_name(key):
                out[key] = FILTERED
            elif key == "query_string" and isinstance(item, str):
                out[key] = scrub_query(item)
            elif key == "data" and isinstance(item, str):
                out[key] = _scrub_body(item)
            else:
                out[key] = scrub(item, depth + 1)
        return out
    if isinstance(value, list | tuple):
        if len(value) == 2 and isinstance(value[0], str) and _secret_name(value[0]):
            return [value[0], FILTERED]  # a (name, value) pair: headers, query items
        return [scrub(item, depth + 1) for item in value]
    if isinstance(value, str):
        return _scrub_text(value)
    return value


def _expected(hint: dict[str, Any] | None) -> bool:
    exc_info = (hint or {}).get("exc_info")
    exc = exc_info[1] if exc_info else None
    return isinstance(exc, DomainError | tornado.web.HTTPError)


def _before_send(event: Any, hint: dict[str, Any]) -> Any:
    if _expected(hint):
        return None
    out = scrub(event)
    user = out.get("user")
    if isinstance(user, dict):  # ids only, whatever an integration added
        out["user"] = {k: v for k, v in user.items() if k == "id"}
    return out


def _before_send_transaction(event: Any, hint: dict[str, Any]) -> Any:
    out = scrub(event)
    out.pop("user", None)
    return out


def _before_breadcrumb(crumb: Any, hint: dict[str, Any] | None) -> Any:
    return scrub(crumb)


def init_sentry(settings: Settings) -> bool:
    """Turn Sentry on when `sentry_dsn` is set (else do nothing); True when it is on."""
    global _active
    if not settings.sentry_dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.logging import LoggingIntegration
    from sentry_sdk.integrations.tornado import TornadoIntegration

    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        environment=settings.sentry_environment,
        release=f"igny8d@{__version__}",
        traces_sample_rate=settings.sentry_traces_sample_rate,
        # send_default_pii stays unset (off; setting it at all is deprecated): no emails,
        # addresses or cookies from the integrations, and the SDK's own scrubber runs too
        include_local_variables=False,
        max_request_body_size="never",
        auto_enabling_integrations=False,
        integrations=[TornadoIntegration(),
                      LoggingIntegration(level=logging.INFO, event_level=None)],
        before_send=_before_send,
        before_send_transaction=_before_send_transaction,
        before_breadcrumb=_before_breadcrumb,
    )
    _active = True
    return True


def close_sentry(timeout: float = 2.0) -> None:
    """Send what is queued (at most `timeout` seconds) and turn Sentry off again."""
    global _active
    if not _active:
        return
    import sentry_sdk

    _active = False
    sentry_sdk.get_client().close(timeout=timeout)
    sentry_sdk.get_global_scope().set_client(None)


def _request_tags(scope: Any, handler: Any) -> None:
    rid = getattr(handler, "request_id", None)
    if rid:
        scope.set_tag("request_id", rid)
    scope.set_tag("route", getattr(handler.request, ROUTE_ATTR, None) or UNMATCHED)
    principal = getattr(handler, "principal", None)
    if principal is not None:
        scope.set_user({"id": str(principal.user_id)})
        scope.set_tag("account_id", str(principal.account_id))


def capture_request_error(handler: Any, exc_info: tuple[Any, Any, Any]) -> None:
    """Report the unexpected exception of a request (called from log_exception, inside the
    Tornado integration's per-request scope, which adds the request's method, URL and
    scrubbed headers)."""
    if not _active or _expected({"exc_info": exc_info}):
        return
    import sentry_sdk
    from sentry_sdk.utils import event_from_exception

    client = sentry_sdk.get_client()
    event, hint = event_from_exception(
        exc_info, client_options=client.options,
        mechanism={"type": "tornado", "handled": False})
    with sentry_sdk.new_scope() as scope:
        _request_tags(scope, handler)
        sentry_sdk.capture_event(event, hint=hint)


def tag_request(handler: Any) -> None:
    """Put the request's tags on its Sentry scope (its trace, when traces are sampled)."""
    if not _active:
        return
    import sentry_sdk

    _request_tags(sentry_sdk.get_isolation_scope(), handler)


def capture_job_error(exc: BaseException, job: Job) -> None:
    """The executor's `on_error` hook: report the unexpected exception a job failed with
    (no-op while Sentry is off, and for JobFailed, domain and provider errors). Tags only
    (task_id, kind, account_id): the payload, the result and the worker's breadcrumbs stay
    out; the scrubber runs on what is sent."""
    if not _active or isinstance(exc, _EXPECTED_JOB_ERRORS):
        return
    import sentry_sdk
    from sentry_sdk.utils import event_from_exception

    client = sentry_sdk.get_client()
    event, hint = event_from_exception(
        (type(exc), exc, exc.__traceback__), client_options=client.options,
        mechanism={"type": "igny8d.jobs", "handled": True})
    with sentry_sdk.isolation_scope() as scope:
        scope.clear_breadcrumbs()
        scope.set_tag("task_id", job.task_id)
        scope.set_tag("kind", job.kind)
        scope.set_tag("account_id", str(job.account_id))
        sentry_sdk.capture_event(event, hint=hint)
