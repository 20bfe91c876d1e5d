"""The job table's SQL: insert, claim (atomic per dialect), lease, progress, finish, reap, purge.

Every write that a worker makes on a job it runs is conditional on the row still being in
PROGRESS under that worker's lease (`_owned`): a job that was revoked, or reaped after its
lease ran out, is never overwritten by a worker that did not notice yet.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, case, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.scope import Scope
from igny8d.store.errors import RowNotFound
from igny8d.store.schema import jobs
from igny8d.store.specs import TableSpec
from igny8d.store.writes import now

JOBS = TableSpec(jobs, "account", "Task")

PENDING = "PENDING"
PROGRESS = "PROGRESS"
SUCCESS = "SUCCESS"
FAILURE = "FAILURE"
REVOKED = "REVOKED"
STATES = (PENDING, PROGRESS, SUCCESS, FAILURE, REVOKED)
FINISHED = (SUCCESS, FAILURE, REVOKED)

c = jobs.c


def _row(row: Any) -> dict[str, Any]:
    return dict(row._mapping)


async def insert_job(
    conn: AsyncConnection, *, task_id: str, account_id: int, user_id: int | None, kind: str,
    payload: dict[str, Any], meta: dict[str, Any], max_attempts: int,
) -> dict[str, Any]:
    stamp = now()
    stmt = insert(jobs).values(
        task_id=task_id, account_id=account_id, user_id=user_id, kind=kind, payload=payload,
        state=PENDING, meta=meta, attempts=0, max_attempts=max_attempts,
        created_at=stamp, updated_at=stamp,
    ).returning(*jobs.c)
    return _row((await conn.execute(stmt)).one())


async def get_job(
    conn: AsyncConnection, task_id: str, *, scope: Scope, for_update: bool = False
) -> dict[str, Any]:
    """The job if the scope's account owns it; otherwise RowNotFound."""
    stmt = JOBS.scoped(select(jobs).where(c.task_id == task_id), scope)
    if for_update and conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    row = (await conn.execute(stmt)).first()
    if row is None:
        raise RowNotFound("Task not found.")
    return _row(row)


async def job_state(conn: AsyncConnection, job_id: int) -> tuple[str, str | None] | None:
    """(state, lease owner) of a job by its internal id, or None once purged."""
    row = (await conn.execute(select(c.state, c.lease_owner).where(c.id == job_id))).first()
    return None if row is None else (row.state, row.lease_owner)


async def active_payloads(conn: AsyncConnection, account_id: int,
                          kind: str) -> list[dict[str, Any]]:
    """The payloads of the account's PENDING or PROGRESS jobs of `kind` (what is queued)."""
    stmt = select(c.payload).where(c.account_id == account_id, c.kind == kind,
                                   c.state.in_([PENDING, PROGRESS]))
    return [dict(p or {}) for p in (await conn.execute(stmt)).scalars()]


async def has_pending(conn: AsyncConnection, kinds: Sequence[str]) -> bool:
    """A cheap read before taking the write lock to claim (idle workers poll with this)."""
    stmt = select(c.id).where(c.state == PENDING, c.kind.in_(list(kinds))).limit(1)
    return (await conn.execute(stmt)).first() is not None


async def claim_next(
    conn: AsyncConnection, *, owner: str, lease_s: float, kinds: Sequence[str],
    meta: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """Take the oldest PENDING job of one of `kinds` for `owner`, or None.

    Postgres: `SELECT … FOR UPDATE SKIP LOCKED LIMIT 1` then the UPDATE, in the caller's
    transaction; concurrent claimers skip the locked row and take the next one.
    SQLite: one conditional `UPDATE … WHERE id = (oldest pending) AND state = 'PENDING'
    RETURNING`; the write transaction's BEGIN IMMEDIATE serialises claimers, and the state
    condition makes a claim of a row taken meanwhile a no-op.
    """
    if not kinds:
        return None
    stamp = now()
    oldest = (select(c.id)
              .where(c.state == PENDING, c.kind.in_(list(kinds)))
              .order_by(c.created_at, c.id).limit(1))
    values: dict[str, Any] = dict(
        state=PROGRESS, lease_owner=owner, lease_expires_at=stamp + dt.timedelta(seconds=lease_s),
        attempts=c.attempts + 1, started_at=func.coalesce(c.started_at, stamp),
        updated_at=stamp,
    )
    if meta is not None:  # a re-run starts its progress afresh
        values["meta"] = meta
    if conn.dialect.name == "postgresql":
        job_id = (await conn.execute(oldest.with_for_update(skip_locked=True))).scalar()
        if job_id is None:
            return None
        where: ColumnElement[bool] = c.id == job_id
    else:
        where = c.id == oldest.scalar_subquery()
    stmt = (update(jobs).where(where, c.state == PENDING).values(**values)
            .returning(*jobs.c))
    row = (await conn.execute(stmt)).first()
    return None if row is None else _row(row)


def _owned(job_id: int, owner: str) -> ColumnElement[bool]:
    return and_(c.id == job_id, c.lease_owner == owner, c.state == PROGRESS)


async def renew_lease(
    conn: AsyncConnection, job_id: int, *, owner: str, lease_s: float,
    meta: dict[str, Any] | None = None,
) -> bool:
    """Extend the lease (and write the progress meta, if given); False when the job is no
    longer this owner's running job (revoked, reaped, finished)."""
    stamp = now()
    values: dict[str, Any] = {"lease_expires_at": stamp + dt.timedelta(seconds=lease_s),
                              "updated_at": stamp}
    if meta is not None:
        values["meta"] = meta
    result = await conn.execute(update(jobs).where(_owned(job_id, owner)).values(**values))
    return bool(result.rowcount)


async def lock_owned(conn: AsyncConnection, job_id: int, *, owner: str) -> bool:
    """Whether the job is still this owner's running job, locking the row on Postgres (a
    concurrent cancel or reap waits for the caller's transaction, then sees its outcome)."""
    stmt = select(c.id).where(_owned(job_id, owner))
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return (await conn.execute(stmt)).first() is not None


async def finish_owned(
    conn: AsyncConnection, job_id: int, *, owner: str, state: str,
    meta: dict[str, Any], result: dict[str, Any] | None = None, error: str | None = None,
) -> dict[str, Any] | None:
    """Mark this owner's running job finished; None when it was not theirs any more."""
    stamp = now()
    stmt = (update(jobs).where(_owned(job_id, owner))
            .values(state=state, meta=meta, result=result, error=error, finished_at=stamp,
                    updated_at=stamp, lease_expires_at=None)
            .returning(*jobs.c))
    row = (await conn.execute(stmt)).first()
    return None if row is None else _row(row)


async def set_result(conn: AsyncConnection, job_id: int, *, owner: str,
                     result: dict[str, Any]) -> None:
    """Store the job function's return value on a job it already finished itself."""
    await conn.execute(update(jobs).where(c.id == job_id, c.lease_owner == owner,
                                          c.state == SUCCESS).values(result=result))


async def release(conn: AsyncConnection, job_id: int, *, owner: str) -> bool:
    """Give a running job back to the queue (this process is shutting down): not a lost
    attempt, so the count goes back down."""
    stmt = (update(jobs).where(_owned(job_id, owner))
            .values(state=PENDING, lease_owner=None, lease_expires_at=None,
                    attempts=case((c.attempts > 0, c.attempts - 1), else_=0),
                    updated_at=now()))
    return bool((await conn.execute(stmt)).rowcount)


async def revoke(
    conn: AsyncConnection, job_id: int, *, meta: dict[str, Any]
) -> dict[str, Any] | None:
    """PENDING or PROGRESS → REVOKED (the lease owner stays, so its worker's next
    conditional write fails and it stops); None when the job had finished meanwhile."""
    stamp = now()
    stmt = (update(jobs).where(c.id == job_id, c.state.in_([PENDING, PROGRESS]))
            .values(state=REVOKED, meta=meta, error="The task was cancelled.",
                    finished_at=stamp, updated_at=stamp, lease_expires_at=None)
            .returning(*jobs.c))
    row = (await conn.execute(stmt)).first()
    return None if row is None else _row(row)


#: What a job re-queued after its worker was lost says until a worker takes it again.
INTERRUPTED_MESSAGE = "Interrupted (its worker stopped); it is being retried."


def interrupted_meta(meta: dict[str, Any] | None, message: str) -> dict[str, Any]:
    """The progress of a job put back to be retried: its phase QUEUED, saying why."""
    out = dict(meta or {})
    out.update(phase="QUEUED", message=message, interrupted=True)
    return out


def _requeueable(at: dt.datetime) -> tuple[Any, ...]:
    return (c.state == PROGRESS, c.lease_expires_at < at, c.attempts < c.max_attempts)


async def expired_requeueable(conn: AsyncConnection, *, at: dt.datetime, limit: int = 500
                              ) -> list[tuple[int, Any]]:
    """(id, meta) of the expired leases with attempts left: read first, so a reaper that
    finds nothing takes no write lock (SQLite's BEGIN IMMEDIATE every pass)."""
    rows = await conn.execute(select(c.id, c.meta).where(*_requeueable(at)).order_by(c.id)
                              .limit(limit))
    return [(int(r.id), r.meta) for r in rows]


async def requeue_expired(conn: AsyncConnection, found: list[tuple[int, Any]], *,
                          at: dt.datetime, message: str = INTERRUPTED_MESSAGE) -> int:
    """The `found` expired leases go back to PENDING, their progress saying they were
    interrupted and will be retried. Each row's UPDATE re-checks the conditions, so two
    reapers (or a late worker) never act twice."""
    done = 0
    for job_id, meta in found:
        stmt = (update(jobs).where(c.id == job_id, *_requeueable(at))
                .values(state=PENDING, lease_owner=None, lease_expires_at=None,
                        meta=interrupted_meta(meta, message), updated_at=now()))
        done += int((await conn.execute(stmt)).rowcount)
    return done


async def running_owners(conn: AsyncConnection, *, prefix: str) -> list[str]:
    """The distinct lease owners of running jobs whose owner id starts with `prefix` (this
    host's processes, to find the dead ones among them)."""
    stmt = (select(c.lease_owner).distinct()
            .where(c.state == PROGRESS, c.lease_owner.startswith(prefix, autoescape=True)))
    return [str(o) for o in (await conn.execute(stmt)).scalars() if o is not None]


async def expire_owner(conn: AsyncConnection, owner: str, *, at: dt.datetime) -> int:
    """End the leases of a dead owner's running jobs now (the reaper then re-queues or fails
    them as for any lost worker)."""
    stmt = (update(jobs).where(c.state == PROGRESS, c.lease_owner == owner)
            .values(lease_expires_at=at - dt.timedelta(seconds=1)))
    return int((await conn.execute(stmt)).rowcount)


async def interrupt_owned(conn: AsyncConnection, job_id: int, *, owner: str,
                          meta: dict[str, Any]) -> bool:
    """Put this owner's running job back to PENDING after a transient failure; unlike
    `release`, the attempt stays counted (the caller fails the job when none are left)."""
    stmt = (update(jobs).where(_owned(job_id, owner), c.attempts < c.max_attempts)
            .values(state=PENDING, lease_owner=None, lease_expires_at=None, meta=meta,
                    updated_at=now()))
    return bool((await conn.execute(stmt)).rowcount)


async def expired_exhausted(conn: AsyncConnection, *, at: dt.datetime,
                            limit: int = 100) -> list[int]:
    """Ids of jobs whose lease ran out with no attempts left (to fail one by one)."""
    stmt = (select(c.id)
            .where(c.state == PROGRESS, c.lease_expires_at < at, c.attempts >= c.max_attempts)
            .order_by(c.id).limit(limit))
    return [int(i) for i in (await conn.execute(stmt)).scalars()]


async def fail_expired(conn: AsyncConnection, job_id: int, *, at: dt.datetime,
                       error: str) -> dict[str, Any] | None:
    """FAILURE for one exhausted, expired job; None when another reaper (or a late worker)
    got there first: the conditions are re-checked in the UPDATE itself."""
    stamp = now()
    row = (await conn.execute(select(c.meta).where(c.id == job_id))).first()
    meta = dict(row.meta or {}) if row is not None else {}
    meta.update(phase="FAILED", message=error)
    stmt = (update(jobs)
            .where(c.id == job_id, c.state == PROGRESS, c.lease_expires_at < at,
                   c.attempts >= c.max_attempts)
            .values(state=FAILURE, error=error, meta=meta, finished_at=stamp,
                    updated_at=stamp, lease_expires_at=None)
            .returning(*jobs.c))
    found = (await conn.execute(stmt)).first()
    return None if found is None else _row(found)


async def purge_finished(conn: AsyncConnection, *, before: dt.datetime) -> int:
    """Delete finished jobs older than `before`."""
    stmt = delete(jobs).where(c.state.in_(list(FINISHED)), c.finished_at < before)
    return int((await conn.execute(stmt)).rowcount)


async def retry_failed(conn: AsyncConnection, job_id: int, *,
                       meta: dict[str, Any]) -> dict[str, Any] | None:
    """FAILURE → PENDING for another run: attempts back to 0, error, result, lease and times
    cleared, `meta` as given. None when the job is not FAILURE (any more): the condition is
    in the UPDATE, so of two concurrent retries one wins."""
    stmt = (update(jobs).where(c.id == job_id, c.state == FAILURE)
            .values(state=PENDING, attempts=0, error=None, result=None, meta=meta,
                    lease_owner=None, lease_expires_at=None, started_at=None,
                    finished_at=None, updated_at=now())
            .returning(*jobs.c))
    row = (await conn.execute(stmt)).first()
    return None if row is None else _row(row)
