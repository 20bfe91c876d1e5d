"""Store-level failures; the HTTP layer maps them to statuses in one place (write_error)."""

from __future__ import annotations


class StoreError(Exception):
    """Base of what the store raises on purpose."""


class RowNotFound(StoreError):
    """No such row within the caller's scope (another tenant's row looks the same)."""

    def __init__(self, what: str = "Not found.", *, field: str | None = None) -> None:
        super().__init__(what)
        self.what = what
        self.field = field


class UniqueViolation(StoreError):
    """A duplicate of something that must be unique; `errors` names the fields."""

    def __init__(self, errors: dict[str, list[str]], message: str = "Resource conflict") -> None:
        super().__init__(message)
        self.errors = errors
        self.message = message
