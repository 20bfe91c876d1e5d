"""The console's failures as sentences: the exceptions its screens and workers handle.

Every failure of a call is one of three: `Unreachable` (no answer: the banner and the
reconnect loop), `SessionEnded` (the refresh token was refused: log in again) and `ApiError`
(the server answered an error: its sentence is shown; `Throttled` is its 429). `LoginFailed`
is the login screen's own.
"""

from __future__ import annotations


class ConsoleError(Exception):
    """Anything the console shows as a sentence instead of a traceback."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Unreachable(ConsoleError):
    """No HTTP answer: refused, reset, timed out, or a proxy saying the server is gone."""


class SessionEnded(ConsoleError):
    """The server no longer takes our tokens (refresh refused, user or account deactivated)."""


class LoginFailed(ConsoleError):
    """Wrong email or password, a disabled user, or a non-operator."""


class ApiError(ConsoleError):
    """The server answered with an error envelope."""

    def __init__(self, status: int, error: str, errors: dict[str, list[str]] | None = None,
                 request_id: str | None = None) -> None:
        self.status = status
        self.error = error
        self.errors = errors or {}
        self.request_id = request_id
        super().__init__(self.describe())

    def describe(self) -> str:
        """The error and its field sentences on one line, e.g. for a 400's `errors.amount`."""
        details = "; ".join(f"{name}: {' '.join(msgs)}" if name not in ("", "non_field_errors")
                            else " ".join(msgs) for name, msgs in self.errors.items())
        return f"{self.error} ({details})" if details else self.error


class Throttled(ApiError):
    """429: the operator's `system_admin` budget is spent; `retry_after` seconds to wait."""

    def __init__(self, retry_after: float, error: str, request_id: str | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(429, error, None, request_id)

