"""The job executor on both stores: success with progress, failure, cancellation, leases lost
and reaped, two executors on one database, shutdown, CPU-heavy steps, purging.

Each test registers its own kinds on its own context's registry (nothing global)."""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import math
import threading
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from igny8d.context import AppContext
from igny8d.errors import Conflict, NotFound, PermissionDenied
from igny8d.jobs.executor import WORKER_LOST, Progress, run_cpu
from igny8d.jobs.queue import QUEUED_META
from igny8d.jobs.registry import Job, JobFailed, LeaseLost, Revoked
from igny8d.permissions import Actor
from igny8d.scheduler import purge_finished_jobs, reap_expired_jobs
from igny8d.services import jobs as job_service
from igny8d.store.schema import jobs
from tests.helpers.jobs import EXECUTOR_KIND as KIND
from tests.helpers.jobs import job_row, make_actor, state_is, submit, until


async def test_job_runs_to_success_with_progress(make_ctx):
    ctx = make_ctx()
    gate = asyncio.Event()

    async def steps(job: Job, progress: Progress) -> dict[str, Any]:
        await progress.update(phase="AI_CALL", percentage=50, message="Halfway",
                              request_step={"step": "prompt"}, tokens=1500, cost=0.05)
        await gate.wait()
        await progress.update(response_step={"step": "parsed"}, percentage=90)
        return {"doubled": job.payload["n"] * 2}

    ctx.jobs.register(KIND, steps)
    actor = await make_actor(ctx)
    task_id = await submit(ctx, actor, {"n": 21})
    await ctx.executor.start()

    async def halfway() -> bool:
        return (await job_row(ctx, task_id))["meta"].get("percentage") == 50
    await until(halfway)
    row = await job_row(ctx, task_id)
    assert row["state"] == "PROGRESS" and row["attempts"] == 1
    assert row["meta"]["phase"] == "AI_CALL" and row["meta"]["message"] == "Halfway"
    assert row["meta"]["request_steps"] == [{"step": "prompt"}]
    assert row["meta"]["tokens"] == 1500 and row["meta"]["cost"] == 0.05
    assert row["lease_owner"] == ctx.executor.owner and row["lease_expires_at"] is not None
    gate.set()
    await until(state_is(ctx, task_id, "SUCCESS"))
    row = await job_row(ctx, task_id)
    assert row["result"] == {"doubled": 42}
    assert row["meta"]["percentage"] == 100 and row["meta"]["phase"] == "DONE"
    assert row["meta"]["response_steps"] == [{"step": "parsed"}]
    assert row["error"] is None and row["lease_expires_at"] is None
    assert row["started_at"] <= row["finished_at"]
    async with ctx.store.read() as conn:
        shown = await job_service.get_progress(conn, actor, task_id=task_id)
    assert shown == {"task_id": task_id, "state": "SUCCESS", "meta": row["meta"],
                     "result": {"doubled": 42}}
    assert ctx.executor.stats["succeeded"] == 1


async def test_a_failing_job_fails_once_with_a_readable_error_and_the_hook(make_ctx):
    ctx = make_ctx()
    runs: collections.Counter[str] = collections.Counter()
    hooked: list[tuple[str, str, bool]] = []

    async def broken(job: Job, progress: Progress) -> dict[str, Any]:
        runs[job.task_id] += 1
        await progress.update(phase="AI_CALL", percentage=10)
        if job.payload.get("public"):
            raise JobFailed("The provider rejected the API key.")
        raise ValueError("password=hunter2 in some internal state")

    async def on_failed(conn: Any, job: Job, reason: str) -> None:
        state = (await conn.execute(select(jobs.c.state).where(jobs.c.id == job.id))).scalar()
        hooked.append((job.task_id, reason, state == "FAILURE" and conn.in_transaction()))

    ctx.jobs.register(KIND, broken, on_failed=on_failed)
    actor = await make_actor(ctx)
    internal = await submit(ctx, actor, {})
    public = await submit(ctx, actor, {"public": True})
    await ctx.executor.start()
    await until(state_is(ctx, internal, "FAILURE"))
    await until(state_is(ctx, public, "FAILURE"))
    await asyncio.sleep(0.3)  # no retry of an ordinary failure

    row = await job_row(ctx, internal)
    assert row["error"] == "The task failed because of an internal error (ValueError)."
    assert "hunter2" not in str(row["meta"]) and "Traceback" not in row["error"]
    assert row["attempts"] == 1 and row["meta"]["phase"] == "FAILED"
    assert (await job_row(ctx, public))["error"] == "The provider rejected the API key."
    assert runs == {internal: 1, public: 1}
    assert sorted(hooked) == sorted([
        (internal, "The task failed because of an internal error (ValueError).", True),
        (public, "The provider rejected the API key.", True)])
    async with ctx.store.read() as conn:
        shown = await job_service.get_progress(conn, actor, task_id=public)
    assert shown["state"] == "FAILURE" and shown["error"] == "The provider rejected the API key."
    assert "result" not in shown


async def test_cancelling_a_pending_job_revokes_it_at_once(make_ctx):
    ctx = make_ctx()
    revoked: list[str] = []

    async def never(job: Job, progress: Progress) -> None:
        raise AssertionError("a revoked job must not run")

    async def on_revoked(conn: Any, job: Job, reason: str) -> None:
        revoked.append(job.task_id)

    ctx.jobs.register(KIND, never, on_revoked=on_revoked)
    actor = await make_actor(ctx)
    task_id = await submit(ctx, actor)
    async with ctx.store.begin() as conn:
        out = await job_service.cancel(conn, actor, task_id=task_id, registry=ctx.jobs)
    assert out["state"] == "REVOKED" and out["error"] == "The task was cancelled."
    assert revoked == [task_id]
    await ctx.executor.start()
    await asyncio.sleep(0.3)
    assert (await job_row(ctx, task_id))["state"] == "REVOKED"
    with pytest.raises(Conflict):
        async with ctx.store.begin() as conn:
            await job_service.cancel(conn, actor, task_id=task_id, registry=ctx.jobs)
    other = await make_actor(ctx, "other")
    with pytest.raises(NotFound):
        async with ctx.store.begin() as conn:
            await job_service.cancel(conn, other, task_id=task_id, registry=ctx.jobs)


async def test_cancelling_a_running_job_stops_it_at_its_next_update(make_ctx):
    ctx = make_ctx()
    seen: list[type[BaseException]] = []

    async def loop(job: Job, progress: Progress) -> None:
        try:
            for n in range(10_000):
                await progress.update(percentage=n % 100, message=f"step {n}")
                await asyncio.sleep(0.02)
        except BaseException as exc:
            seen.append(type(exc))
            raise

    ctx.jobs.register(KIND, loop)
    actor = await make_actor(ctx)
    task_id = await submit(ctx, actor)
    await ctx.executor.start()
    await until(state_is(ctx, task_id, "PROGRESS"))
    async with ctx.store.begin() as conn:
        await job_service.cancel(conn, actor, task_id=task_id)
    await until(lambda: asyncio.sleep(0, bool(seen)))
    assert seen == [Revoked]
    await until(lambda: asyncio.sleep(0, ctx.executor.running_jobs == 0))
    row = await job_row(ctx, task_id)
    assert row["state"] == "REVOKED" and row["meta"]["phase"] == "REVOKED"
    assert ctx.executor.stats["revoked"] == 1


async def test_a_running_job_in_a_long_await_is_stopped_by_the_lease_renewal(make_ctx):
    ctx = make_ctx(job_lease_s=1.0)  # renewed every third of a second
    seen: list[type[BaseException]] = []

    async def sleeper(job: Job, progress: Progress) -> None:
        try:
            await asyncio.sleep(60)
        except BaseException as exc:
            seen.append(type(exc))
            raise

    ctx.jobs.register(KIND, sleeper)
    actor = await make_actor(ctx)
    task_id = await submit(ctx, actor)
    await ctx.executor.start()
    await until(state_is(ctx, task_id, "PROGRESS"))
    async with ctx.store.begin() as conn:
        await job_service.cancel(conn, actor, task_id=task_id)
    await until(lambda: asyncio.sleep(0, bool(seen)), timeout=5)
    assert seen == [asyncio.CancelledError]
    await until(lambda: asyncio.sleep(0, ctx.executor.stats["revoked"] == 1))
    assert (await job_row(ctx, task_id))["state"] == "REVOKED"


async def test_cancel_needs_the_submitter_or_an_admin(make_ctx):
    ctx = make_ctx()

    async def noop(job: Job, progress: Progress) -> None:
        return None

    ctx.jobs.register(KIND, noop)
    owner = await make_actor(ctx)
    editor = Actor(user_id=owner.user_id + 10_000, account_id=owner.account_id, role="editor")
    task_id = await submit(ctx, owner)
    with pytest.raises(PermissionDenied):
        async with ctx.store.begin() as conn:
            await job_service.cancel(conn, editor, task_id=task_id)
    admin = Actor(user_id=owner.user_id + 10_001, account_id=owner.account_id, role="admin")
    async with ctx.store.begin() as conn:
        assert (await job_service.cancel(conn, admin, task_id=task_id))["state"] == "REVOKED"


async def test_final_writes_results_and_success_together(make_ctx):
    ctx = make_ctx()

    async def final(job: Job, progress: Progress) -> None:
        await progress.update(phase="SAVING", percentage=95)
        async with progress.final() as conn:
            count = (await conn.execute(select(func.count()).select_from(jobs))).scalar()
            progress.result = {"jobs_seen": count}

    ctx.jobs.register(KIND, final)
    actor = await make_actor(ctx)
    task_id = await submit(ctx, actor)
    await ctx.executor.start()
    await until(state_is(ctx, task_id, "SUCCESS", "FAILURE"))
    row = await job_row(ctx, task_id)
    assert row["state"] == "SUCCESS" and row["result"] == {"jobs_seen": 1}
    assert row["meta"]["phase"] == "DONE"


async def test_final_refuses_a_revoked_job(make_ctx):
    ctx = make_ctx()
    gate = asyncio.Event()
    seen: list[type[BaseException]] = []
    wrote: list[bool] = []

    async def late(job: Job, progress: Progress) -> None:
        await gate.wait()
        try:
            async with progress.final():
                wrote.append(True)
        except BaseException as exc:
            seen.append(type(exc))
            raise

    ctx.jobs.register(KIND, late)
    actor = await make_actor(ctx)
    task_id = await submit(ctx, actor)
    await ctx.executor.start()
    await until(state_is(ctx, task_id, "PROGRESS"))
    async with ctx.store.begin() as conn:
        await job_service.cancel(conn, actor, task_id=task_id)
    gate.set()
    await until(lambda: asyncio.sleep(0, bool(seen)))
    assert seen in ([Revoked], [asyncio.CancelledError]) and not wrote
    assert (await job_row(ctx, task_id))["state"] == "REVOKED"


async def _dead_worker_row(ctx: AppContext, actor: Actor, *, attempts: int,
                           max_attempts: int) -> str:
    """A job claimed by a worker that died: PROGRESS under a lease that ran out."""
    now = dt.datetime.now(dt.UTC)
    task_id = str(uuid.uuid4())
    async with ctx.store.begin() as conn:
        await conn.execute(insert(jobs).values(
            task_id=task_id, account_id=actor.account_id, user_id=actor.user_id, kind=KIND,
            payload={"n": 1}, state="PROGRESS", meta=dict(QUEUED_META),
            attempts=attempts, max_attempts=max_attempts, lease_owner="dead-host:1:beef",
            lease_expires_at=now - dt.timedelta(minutes=1), created_at=now - dt.timedelta(
                minutes=5), started_at=now - dt.timedelta(minutes=5), updated_at=now))
    return task_id


async def test_a_job_whose_lease_expired_is_run_again(make_ctx):
    ctx = make_ctx()
    runs: collections.Counter[str] = collections.Counter()

    async def count(job: Job, progress: Progress) -> dict[str, Any]:
        runs[job.task_id] += 1
        return {"attempt": job.attempts}

    ctx.jobs.register(KIND, count)
    actor = await make_actor(ctx)
    task_id = await _dead_worker_row(ctx, actor, attempts=1, max_attempts=3)
    await ctx.executor.start()  # reaps at start
    await until(state_is(ctx, task_id, "SUCCESS"))
    row = await job_row(ctx, task_id)
    assert row["attempts"] == 2 and row["result"] == {"attempt": 2}
    assert row["lease_owner"] == ctx.executor.owner
    assert runs == {task_id: 1}


async def test_a_lost_job_past_its_attempts_fails_with_the_hook(make_ctx):
    ctx = make_ctx()
    hooked: list[tuple[str, str, str]] = []

    async def never(job: Job, progress: Progress) -> None:
        raise AssertionError("must not run again")

    async def on_failed(conn: Any, job: Job, reason: str) -> None:
        state = (await conn.execute(select(jobs.c.state).where(jobs.c.id == job.id))).scalar()
        hooked.append((job.task_id, reason, state))

    ctx.jobs.register(KIND, never, on_failed=on_failed)
    actor = await make_actor(ctx)
    task_id = await _dead_worker_row(ctx, actor, attempts=3, max_attempts=3)
    assert await reap_expired_jobs(ctx) == 1
    assert await reap_expired_jobs(ctx) == 0  # idempotent: failed (and refunded) once
    row = await job_row(ctx, task_id)
    assert row["state"] == "FAILURE" and row["error"] == WORKER_LOST
    assert hooked == [(task_id, WORKER_LOST, "FAILURE")]  # in the failing transaction
    async with ctx.store.read() as conn:
        shown = await job_service.get_progress(conn, actor, task_id=task_id)
    assert shown["error"] == WORKER_LOST


async def test_a_worker_whose_lease_was_reaped_stops_writing(make_ctx):
    # one worker, busy with the job: no idle one can claim it back (a claim that read the
    # kinds before the clear below raced it under load)
    ctx = make_ctx(job_lease_s=30.0, job_workers=1)
    seen: list[type[BaseException]] = []
    gate = asyncio.Event()

    async def slow(job: Job, progress: Progress) -> None:
        await gate.wait()
        try:
            await progress.update(percentage=99)
        except BaseException as exc:
            seen.append(type(exc))
            raise

    ctx.jobs.register(KIND, slow)
    actor = await make_actor(ctx)
    task_id = await submit(ctx, actor)
    await ctx.executor.start()
    await until(state_is(ctx, task_id, "PROGRESS"))
    # nobody in this process claims it again (cleared before it is claimable: a worker
    # polling between the commit below and a later clear would take it back)
    ctx.jobs._kinds.clear()
    # another process's reaper took the job (this worker's lease looked dead to it)
    async with ctx.store.begin() as conn:
        await conn.execute(jobs.update().where(jobs.c.task_id == task_id).values(
            state="PENDING", lease_owner=None, lease_expires_at=None))
    gate.set()
    await until(lambda: asyncio.sleep(0, bool(seen)))
    assert seen == [LeaseLost]
    assert (await job_row(ctx, task_id))["state"] == "PENDING"


async def test_two_executors_on_one_database_run_each_job_once(make_ctx):
    first, second = make_ctx(job_workers=4), make_ctx(job_workers=4)
    assert first.store is not second.store
    runs: collections.Counter[str] = collections.Counter()
    by_owner: collections.Counter[str] = collections.Counter()

    def counter(owner: str) -> Callable[[Job, Progress], Awaitable[dict[str, Any]]]:
        async def count(job: Job, progress: Progress) -> dict[str, Any]:
            runs[job.task_id] += 1
            by_owner[owner] += 1
            await progress.update(percentage=50)
            await asyncio.sleep(0.02)
            return {"by": owner}
        return count

    for ctx in (first, second):
        ctx.jobs.register(KIND, counter(ctx.executor.owner))
    actor = await make_actor(first)
    await first.executor.start()
    await second.executor.start()
    async with first.store.begin() as conn:
        task_ids = [(await first.executor.submit(conn, actor, kind=KIND, payload={"i": i})
                     )["task_id"] for i in range(50)]
    second.executor.wake()

    async def all_done() -> bool:
        async with first.store.read() as conn:
            return (await conn.execute(select(func.count()).select_from(jobs).where(
                jobs.c.state == "SUCCESS"))).scalar_one() == 50
    await until(all_done, timeout=60)
    assert set(runs) == set(task_ids) and set(runs.values()) == {1}
    assert set(by_owner) == {first.executor.owner, second.executor.owner}, by_owner
    async with first.store.read() as conn:
        rows = (await conn.execute(select(jobs.c.attempts, jobs.c.result))).all()
    assert {r.attempts for r in rows} == {1}
    assert collections.Counter(r.result["by"] for r in rows) == by_owner


async def test_shutdown_gives_a_running_job_back_to_the_queue(make_ctx):
    ctx = make_ctx()
    started = asyncio.Event()

    async def forever(job: Job, progress: Progress) -> None:
        started.set()
        await asyncio.sleep(60)

    ctx.jobs.register(KIND, forever)
    actor = await make_actor(ctx)
    task_id = await submit(ctx, actor)
    await ctx.executor.start()
    await asyncio.wait_for(started.wait(), 10)
    await ctx.executor.stop(grace=0.1)
    row = await job_row(ctx, task_id)
    assert row["state"] == "PENDING" and row["attempts"] == 0 and row["lease_owner"] is None
    assert ctx.executor.stats["released"] == 1


def _thread_id(_: int) -> int:
    return threading.get_ident()


async def test_run_cpu_runs_off_the_event_loop(make_ctx):
    ctx = make_ctx()

    async def heavy(job: Job, progress: Progress) -> dict[str, Any]:
        thread = await run_cpu(_thread_id, 1)
        digits = await progress.run_cpu(math.factorial, 300, process=True)
        return {"other_thread": thread != threading.get_ident(), "digits": len(str(digits))}

    ctx.jobs.register(KIND, heavy)
    actor = await make_actor(ctx)
    task_id = await submit(ctx, actor)
    await ctx.executor.start()
    await until(state_is(ctx, task_id, "SUCCESS", "FAILURE"), timeout=60)
    row = await job_row(ctx, task_id)
    assert row["result"] == {"other_thread": True, "digits": len(str(math.factorial(300)))}
    assert await run_cpu(_thread_id, 1) != threading.get_ident()  # outside a job too


async def test_purge_deletes_only_old_finished_jobs(make_ctx):
    ctx = make_ctx(job_retention_days=30)
    actor = await make_actor(ctx)
    now = dt.datetime.now(dt.UTC)
    rows = []
    for name, state, age in [("old-done", "SUCCESS", 31), ("old-failed", "FAILURE", 40),
                             ("recent", "SUCCESS", 2), ("old-pending", "PENDING", None)]:
        rows.append(dict(
            task_id=str(uuid.uuid5(uuid.NAMESPACE_DNS, name)), account_id=actor.account_id,
            user_id=actor.user_id, kind=KIND, payload={}, state=state, meta={}, attempts=1,
            max_attempts=3, created_at=now - dt.timedelta(days=50), updated_at=now,
            finished_at=None if age is None else now - dt.timedelta(days=age)))
    async with ctx.store.begin() as conn:
        await conn.execute(insert(jobs), rows)
    assert await purge_finished_jobs(ctx) == 2
    async with ctx.store.read() as conn:
        left = set((await conn.execute(select(jobs.c.state))).scalars())
    assert left == {"SUCCESS", "PENDING"}


async def test_submit_refuses_an_unknown_kind_and_progress_hides_bad_ids(make_ctx):
    ctx = make_ctx()
    actor = await make_actor(ctx)
    with pytest.raises(ValueError, match="unknown job kind"):
        async with ctx.store.begin() as conn:
            await ctx.executor.submit(conn, actor, kind="nope", payload={})
    for bad in ("abc", str(uuid.uuid4()), "0" * 36, "../x"):
        with pytest.raises(NotFound):
            async with ctx.store.read() as conn:
                await job_service.get_progress(conn, actor, task_id=bad)
