"""Store-level failures, as domain errors: the handler base maps them like any other."""

from __future__ import annotations

from igny8d.errors import (
    Conflict,
    InsufficientStorage,
    NotFound,
    Unavailable,
    ValidationFailed,
)


class RowNotFound(NotFound):
    """No such row within the caller's scope (another tenant's row looks the same).

    With `field`, the id came from a request body: the answer names that field.
    """

    def __init__(self, what: str = "Not found.", *, field: str | None = None) -> None:
        super().__init__("Not found." if field else what,
                         errors={field: [what]} if field else None)
        self.what = what
        self.field = field


class UniqueViolation(Conflict):
    """A duplicate of something that must be unique; `errors` names the fields."""

    def __init__(self, errors: dict[str, list[str]], message: str = "Resource conflict") -> None:
        super().__init__(message, errors=errors)
        self.message = message


class ForeignKeyViolation(ValidationFailed):
    """A reference to a row that does not exist (or went away meanwhile)."""


class StoreBusy(Unavailable):
    """The database could not take the work now (SQLite lock wait, pool exhausted)."""


class StoreUnreachable(Unavailable):
    """The database cannot be reached (refused, closed, reset, shutting down): a 503 with
    Retry-After, like a busy one; the store logs the outage once, not once per request."""


class StoreFull(InsufficientStorage):
    """The database could not write: its disk is full (SQLite's SQLITE_FULL, an ENOSPC,
    Postgres's SQLSTATE 53100). The transaction was rolled back: a 507, not a 500."""
