"""Background jobs as the API sees them: submit, follow (task_progress), cancel.

A job belongs to the account of the actor who submitted it; every other account (operators
included) is told it does not exist. Queueing is the executor's (`jobs/queue.py`).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.errors import Conflict, NotFound, PermissionDenied
from igny8d.jobs import watch
from igny8d.jobs.queue import QUEUED_META
from igny8d.jobs.registry import Job, JobRegistry
from igny8d.permissions import Actor
from igny8d.scope import Scope
from igny8d.services import billing
from igny8d.store import admin as admin_store
from igny8d.store import jobs as job_store
from igny8d.store.engine import Store


def present(row: dict[str, Any]) -> dict[str, Any]:
    """DESIGN.md: `{task_id, state, meta, result?, error?}`."""
    out: dict[str, Any] = {"task_id": row["task_id"], "state": row["state"],
                           "meta": row["meta"] or {}}
    if row["state"] == job_store.SUCCESS:
        out["result"] = row["result"]
    if row["state"] in (job_store.FAILURE, job_store.REVOKED) and row["error"]:
        out["error"] = row["error"]
    return out


def parse_task_id(raw: str) -> str:
    """A task id is a canonical uuid; anything else names no task (404, never 400)."""
    try:
        parsed = uuid.UUID(raw)
    except (ValueError, AttributeError, TypeError):
        raise NotFound("Task not found.") from None
    if str(parsed) != raw.lower():
        raise NotFound("Task not found.")
    return str(parsed)


def _scope(actor: Actor) -> Scope:
    # Jobs are the account's, not a site's: site grants do not apply, and an operator's
    # cross-tenant scope does not either (task ids of other accounts stay unknown).
    return Scope(account_id=actor.account_id)


async def get_progress(conn: AsyncConnection, actor: Actor, *, task_id: str) -> dict[str, Any]:
    """The task's state for task_progress; 404 for unknown, malformed or foreign ids."""
    row = await job_store.get_job(conn, parse_task_id(task_id), scope=_scope(actor))
    return present(row)


def progress_reader(
    store: Store, actor: Actor, task_id: str,
) -> Callable[[], Awaitable[dict[str, Any]]]:
    """A function reading the task's progress, each call in its own short read transaction
    (a waiter holds no connection between reads); NotFound as `get_progress`."""
    tid = parse_task_id(task_id)

    async def read() -> dict[str, Any]:
        async with store.read() as conn:
            return present(await job_store.get_job(conn, tid, scope=_scope(actor)))

    return read


async def follow(
    store: Store, actor: Actor, *, task_id: str, wait: float | None = None,
    since: watch.Mark | None = None,
) -> dict[str, Any]:
    """task_progress, optionally held up to `wait` seconds until the progress differs from
    `since` (default: what it is when the request starts) or the task is finished."""
    read = progress_reader(store, actor, task_id)
    if not wait:
        return await read()
    return await watch.wait_change(parse_task_id(task_id), read, seconds=wait, since=since)


async def cancel(
    conn: AsyncConnection, actor: Actor, *, task_id: str,
    registry: JobRegistry | None = None,
) -> dict[str, Any]:
    """PENDING → REVOKED at once; PROGRESS → REVOKED, and the running worker stops at its
    next progress write or lease renewal. A finished task is a 409.

    Who may cancel: the user who submitted it, or an admin or owner of the account.
    The kind's `on_revoked` hook runs in this transaction.
    """
    row = await job_store.get_job(conn, parse_task_id(task_id), scope=_scope(actor),
                                  for_update=True)
    if row["user_id"] != actor.user_id and not actor.at_least("admin"):
        raise PermissionDenied()
    return present(await cancel_row(conn, row, registry=registry))


async def cancel_row(
    conn: AsyncConnection, row: dict[str, Any], *, registry: JobRegistry | None = None,
    reason: str = "cancelled",
) -> dict[str, Any]:
    """The cancellation itself, on a job row already found (and locked on Postgres) by the
    caller, who decided it may: REVOKED and the kind's `on_revoked` hook, or 409 when the
    job is finished. Returns the revoked row. The operators' cancel (services/admin.py)
    calls this for a job of any account."""
    if row["state"] in job_store.FINISHED:
        raise Conflict("Task already finished.",
                       errors={"state": [f"The task is {row['state']}."]})
    meta = dict(row["meta"] or {})
    meta.update(phase="REVOKED", message="Cancelled.")
    revoked = await job_store.revoke(conn, row["id"], meta=meta)
    if revoked is None:  # it finished between the read and the update (SQLite never gets here)
        raise Conflict("Task already finished.")
    kind = registry.get(row["kind"]) if registry is not None else None
    if kind is not None and kind.on_revoked is not None:
        await kind.on_revoked(conn, Job.from_row(revoked), reason)
    return revoked


async def retry_row(conn: AsyncConnection, row: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """A FAILURE job back to PENDING (attempts reset, error and result cleared), paying
    again for it: returns the retried row and the credits charged.

    The failure refunded what the job's charges took (`billing.refund_job`), so each
    operation it was charged for is charged again at the price of its latest charge, less
    whatever of that is still unrefunded (a failure whose refund did not happen is not paid
    twice). The charge is in the caller's transaction with the state change: a balance that
    does not cover it is a 402 (InsufficientCredits) and the caller's rollback leaves the job
    FAILURE. Not FAILURE → 409. The caller found (and on Postgres locked) the row and
    decided who may retry it.
    """
    if row["state"] != job_store.FAILURE:
        raise Conflict("Only a failed task can be retried.",
                       errors={"state": [f"The task is {row['state']}."]})
    retried = await job_store.retry_failed(conn, row["id"], meta=dict(QUEUED_META))
    if retried is None:  # retried (or purged) meanwhile; Postgres waits on the row lock first
        raise Conflict("Only a failed task can be retried.")
    latest: dict[str, dict[str, Any]] = {}
    unrefunded: dict[str, int] = {}
    for usage in await admin_store.job_charges(conn, int(row["account_id"]), row["task_id"]):
        op = usage["operation_type"]
        latest[op] = usage
        unrefunded[op] = unrefunded.get(op, 0) + usage["credits_used"] - usage["credits_refunded"]
    who: billing.Who = (Actor.system(int(row["account_id"]), user_id=int(row["user_id"]))
                        if row["user_id"] else int(row["account_id"]))
    charged = 0
    for op, usage in latest.items():
        amount = int(usage["credits_used"]) - unrefunded[op]
        if amount <= 0:
            continue
        await billing.charge(conn, who, amount=amount, operation_type=op, units=usage["units"],
                             description=("Retry: " + str(usage["description"])
                                          .removeprefix("Retry: "))[:500],
                             reference=row["task_id"])
        charged += amount
    return retried, charged
