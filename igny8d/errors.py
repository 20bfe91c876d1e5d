"""Domain errors: what a service, the store or a handler refuses, with a public message.

Tornado-free on purpose: services, the store, job workers and the CLI raise these. The one
mapping from error class to HTTP status and envelope lives in the handler base
(`igny8d/handlers/base.py`, `STATUS_OF`); the CLI prints `error` as a sentence.
"""

from __future__ import annotations


class DomainError(Exception):
    """A refusal a client may see: `error` is the sentence, `errors` the field messages.

    `headers` is for the few errors the HTTP layer itself raises (throttling, auth
    challenges); services leave it empty.
    """

    message = "Bad request"

    def __init__(
        self,
        error: str | None = None,
        *,
        errors: dict[str, list[str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(error or self.message)
        self.error = error or self.message
        self.errors = errors
        self.headers = dict(headers or {})


class BadRequest(DomainError):
    message = "Bad request"


class ValidationFailed(BadRequest):
    message = "Validation failed"


class AuthRequired(DomainError):
    message = "Authentication required"


class InvalidCredentials(AuthRequired):
    message = "Invalid credentials"


class InsufficientCredits(DomainError):
    message = "Insufficient credits"


class PermissionDenied(DomainError):
    message = "Permission denied"


class PlanLimit(PermissionDenied):
    """A plan limit names the limit, so a client can tell the user why."""

    def __init__(self, what: str, limit: int, plan: str) -> None:
        super().__init__("Plan limit reached",
                         errors={"plan": [f"The {plan} plan allows at most {limit} {what}."]})


class NotFound(DomainError):
    message = "Not found."


class MethodNotAllowed(DomainError):
    message = "Method not allowed"


class Conflict(DomainError):
    """A duplicate or a state that forbids the change (a second queueing, a finished job)."""

    message = "Resource conflict"


class PayloadTooLarge(DomainError):
    message = "Request body too large"


class UnsupportedMediaType(DomainError):
    message = "Unsupported media type"


class Throttled(DomainError):
    message = "Rate limit exceeded"


class Unavailable(DomainError):
    """Temporarily unable to answer (database busy or unreachable): retry later."""

    message = "Service temporarily unavailable"


class InsufficientStorage(DomainError):
    """The server's disk is full: nothing was saved (507). Retry once space is freed."""

    message = "The server's disk is full; nothing was saved."
