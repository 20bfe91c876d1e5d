"""The ApiError hierarchy: every failure a client can see is raised as one of these."""

from __future__ import annotations

from tornado.web import HTTPError


class ApiError(HTTPError):
    """An error with a public message, optional field errors and extra headers.

    `write_error` renders it in the envelope; nothing else writes error bodies.
    """

    status = 400
    message = "Bad request"

    def __init__(
        self,
        error: str | None = None,
        *,
        errors: dict[str, list[str]] | None = None,
        headers: dict[str, str] | None = None,
        status: int | None = None,
    ) -> None:
        code = status or self.status
        super().__init__(code, log_message=error or self.message)
        self.error = error or self.message
        self.errors = errors
        self.headers = headers or {}


class ValidationFailed(ApiError):
    status = 400
    message = "Validation failed"


class AuthRequired(ApiError):
    status = 401
    message = "Authentication required"

    def __init__(self, error: str | None = None, **kw: object) -> None:
        super().__init__(error, **kw)  # type: ignore[arg-type]
        self.headers.setdefault("WWW-Authenticate", 'Bearer realm="api"')


class InvalidCredentials(AuthRequired):
    message = "Invalid credentials"


class PermissionDenied(ApiError):
    status = 403
    message = "Permission denied"


class PlanLimit(PermissionDenied):
    """A plan limit answers 403 naming the limit, so a client can tell the user why."""

    def __init__(self, what: str, limit: int, plan: str) -> None:
        super().__init__("Plan limit reached",
                         errors={"plan": [f"The {plan} plan allows at most {limit} {what}."]})


class NotFound(ApiError):
    status = 404
    message = "Not found."


class PayloadTooLarge(ApiError):
    status = 413
    message = "Request body too large"


class UnsupportedMediaType(ApiError):
    status = 415
    message = "Unsupported media type"


class Throttled(ApiError):
    status = 429
    message = "Rate limit exceeded"

