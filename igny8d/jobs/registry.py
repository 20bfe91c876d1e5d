"""Job kinds: the name a row carries → the async function that runs it, and its hooks.

A registry belongs to one AppContext (and its executor), never to the module: the composition
root registers the AI operations (`igny8d/context.py`), tests register their own kinds on their
own app, and nothing leaks between them. Nothing here knows what a kind does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncConnection

if TYPE_CHECKING:
    from igny8d.jobs.executor import Progress


class JobStopped(Exception):
    """Raised inside a job function (by its Progress) when it must stop at once."""


class Revoked(JobStopped):
    """The task was cancelled; nothing more of it may be written."""


class LeaseLost(JobStopped):
    """This worker no longer holds the job (its lease ran out and it was reaped)."""


class JobFailed(Exception):
    """A job function's refusal with a message the client may read (`error` of the task).

    Any other exception fails the job too, with a generic message; its traceback is logged.
    """


@dataclass(frozen=True, slots=True)
class Job:
    """One claimed job as its function sees it."""

    id: int
    task_id: str
    account_id: int
    user_id: int | None
    kind: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int
    created_at: dt.datetime

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Job:
        return cls(id=row["id"], task_id=row["task_id"], account_id=row["account_id"],
                   user_id=row["user_id"], kind=row["kind"], payload=dict(row["payload"] or {}),
                   attempts=row["attempts"], max_attempts=row["max_attempts"],
                   created_at=row["created_at"])


#: async fn(job, progress) -> result dict (or None): what a kind runs. What else it needs
#: (the store, settings, a provider) the composition root binds in when it registers the kind.
JobFn = Callable[[Job, "Progress"], Coroutine[Any, Any, dict[str, Any] | None]]
#: async hook(conn, job, reason): called in the transaction that fails or revokes the job
#: (the credit refund plugs in here). It must not do network calls: a write lock is held.
JobHook = Callable[[AsyncConnection, Job, str], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class JobKind:
    name: str
    fn: JobFn
    #: the job ended in FAILURE (its function raised, or its worker was lost too often)
    on_failed: JobHook | None = None
    #: the job was cancelled (PENDING or PROGRESS → REVOKED)
    on_revoked: JobHook | None = None
    #: overrides the `job_max_attempts` setting for this kind
    max_attempts: int | None = None


class JobRegistry:
    """kind → JobKind for one application."""

    def __init__(self) -> None:
        self._kinds: dict[str, JobKind] = {}

    def register(
        self, name: str, fn: JobFn, *, on_failed: JobHook | None = None,
        on_revoked: JobHook | None = None, max_attempts: int | None = None,
    ) -> JobKind:
        if not name or len(name) > 64:
            raise ValueError(f"job kind {name!r}: 1 to 64 characters")
        if name in self._kinds:
            raise ValueError(f"job kind {name!r} is registered already")
        if max_attempts is not None and max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        kind = JobKind(name, fn, on_failed=on_failed, on_revoked=on_revoked,
                       max_attempts=max_attempts)
        self._kinds[name] = kind
        return kind

    def get(self, name: str) -> JobKind | None:
        return self._kinds.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._kinds

    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self._kinds))

