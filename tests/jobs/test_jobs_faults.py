"""Jobs meeting faults (issue 15 items 4-5, issue 16 item 10), on both stores: a transient
store error puts a job back to be retried (its attempt counted) instead of failing and
refunding it; a permanent one still fails it; a dead process of this host loses its jobs at
once, not after its lease."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import insert

from igny8d.context import AppContext
from igny8d.jobs import watch
from igny8d.jobs.executor import STORE_INTERRUPTED, Progress
from igny8d.jobs.lease import dead_local_owner, host_key, owner_id
from igny8d.jobs.queue import QUEUED_META
from igny8d.jobs.registry import Job
from igny8d.permissions import Actor
from igny8d.scheduler import reap_interval_s
from igny8d.store import jobs as job_store
from igny8d.store.errors import StoreUnreachable
from igny8d.store.schema import jobs
from tests.helpers.factories import actor_for
from tests.helpers.jobs import EXECUTOR_KIND as KIND
from tests.helpers.jobs import job_kind, job_row, make_actor, start_job, state_is, until
from tests.helpers.paths import PROGRESS


def flaky_store(ctx: AppContext, failures: int) -> dict[str, int]:
    """Arm `ctx.store.begin` to raise the store's unreachable error on its next `failures`
    calls once `armed["on"]` is set (a database blip in the middle of a job's save)."""
    real = ctx.store.begin
    armed = {"on": 0, "left": failures, "raised": 0}

    @contextlib.asynccontextmanager
    async def begin() -> AsyncIterator[Any]:
        if armed["on"] and armed["left"] > 0:
            armed["left"] -= 1
            armed["raised"] += 1
            raise StoreUnreachable("The database is unreachable.")
        async with real() as conn:
            yield conn

    ctx.store.begin = begin  # type: ignore[method-assign]
    return armed


async def test_a_transient_store_error_puts_the_job_back_to_be_retried(make_ctx):
    ctx = make_ctx(job_workers=1)
    armed = flaky_store(ctx, failures=1)
    refunds: list[str] = []
    seen: list[dict[str, Any]] = []

    async def save(job: Job, progress: Progress) -> dict[str, Any]:
        seen.append({"attempt": job.attempts, "message": progress.meta.get("message")})
        if job.attempts == 1:
            armed["on"] = 1  # the save's transaction meets the outage
        async with progress.final() as conn:
            await conn.execute(jobs.select().limit(1))
            progress.result = {"attempt": job.attempts}
        return None

    task_id = await start_job(ctx, save, refunds)
    await until(state_is(ctx, task_id, "SUCCESS", "FAILURE"))
    row = await job_row(ctx, task_id)
    assert armed["raised"] == 1
    assert row["state"] == "SUCCESS", row
    assert row["attempts"] == 2 and row["result"] == {"attempt": 2}
    assert refunds == []  # not failed, not refunded
    assert [s["attempt"] for s in seen] == [1, 2]
    assert seen[1]["message"] == "Retrying after an interruption (attempt 2 of 3)."
    assert ctx.executor.stats["interrupted"] == 1 and ctx.executor.stats["failed"] == 0


async def test_an_interrupted_job_waits_in_the_queue_saying_why(make_ctx):
    ctx = make_ctx(job_workers=1)
    armed = flaky_store(ctx, failures=1)

    async def save(job: Job, progress: Progress) -> None:
        ctx.jobs._kinds.clear()  # nobody takes it again: the test looks at the queued row
        armed["on"] = 1
        async with progress.final():
            pass

    task_id = await start_job(ctx, save)
    await until(lambda: _stat(ctx, "interrupted"))
    row = await job_row(ctx, task_id)
    assert row["state"] == "PENDING" and row["attempts"] == 1  # the attempt is counted
    assert row["lease_owner"] is None and row["error"] is None
    assert row["meta"]["phase"] == "QUEUED" and row["meta"]["message"] == STORE_INTERRUPTED


async def test_a_transient_error_on_the_last_attempt_fails_and_refunds(make_ctx):
    ctx = make_ctx(job_workers=1, job_max_attempts=1)
    armed = flaky_store(ctx, failures=1)
    refunds: list[str] = []

    async def save(job: Job, progress: Progress) -> None:
        armed["on"] = 1
        async with progress.final():
            pass

    task_id = await start_job(ctx, save, refunds)
    await until(state_is(ctx, task_id, "FAILURE"))
    row = await job_row(ctx, task_id)
    assert row["attempts"] == 1
    assert row["error"] == "The task was interrupted by database errors too many times."
    assert refunds == [row["error"]]


async def test_a_permanent_error_still_fails_the_job_at_once(make_ctx):
    ctx = make_ctx(job_workers=1)
    refunds: list[str] = []

    async def broken(job: Job, progress: Progress) -> None:
        raise KeyError("a bug")

    task_id = await start_job(ctx, broken, refunds)
    await until(state_is(ctx, task_id, "FAILURE"))
    assert (await job_row(ctx, task_id))["attempts"] == 1
    assert refunds == ["The task failed because of an internal error (KeyError)."]


async def _stat(ctx: AppContext, name: str) -> bool:
    return ctx.executor.stats[name] >= 1


def _dead_pid() -> int:
    """The pid of a process that has exited (and been waited for)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


async def _running_row(ctx: AppContext, actor: Actor, owner: str) -> str:
    """A job in PROGRESS under `owner`, its lease still good for a minute."""
    now = dt.datetime.now(dt.UTC)
    task_id = str(uuid.uuid4())
    async with ctx.store.begin() as conn:
        await conn.execute(insert(jobs).values(
            task_id=task_id, account_id=actor.account_id, user_id=actor.user_id, kind=KIND,
            payload={}, state="PROGRESS",
            meta={**QUEUED_META, "phase": "RENDERING", "message": "Rendering 32/50"},
            attempts=1, max_attempts=3, lease_owner=owner,
            lease_expires_at=now + dt.timedelta(minutes=1), created_at=now, started_at=now,
            updated_at=now))
    return task_id


async def test_a_dead_local_process_loses_its_jobs_at_once(make_ctx):
    ctx = make_ctx()
    actor = await make_actor(ctx)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        key = host_key()
        dead = await _running_row(ctx, actor, f"{key}:{_dead_pid()}:beef")
        alive = await _running_row(ctx, actor, f"{key}:{sleeper.pid}:beef")
        mine = await _running_row(ctx, actor, owner_id())  # this process: alive
        elsewhere = await _running_row(ctx, actor, f"other-host~1:{_dead_pid()}:beef")
        report = await ctx.executor.reap()
        assert (report.dead, report.requeued) == (1, 1)
        row = await job_row(ctx, dead)
        assert row["state"] == "PENDING" and row["lease_owner"] is None
        assert row["attempts"] == 1  # the lost run counts
        assert row["meta"]["phase"] == "QUEUED"
        assert row["meta"]["message"] == job_store.INTERRUPTED_MESSAGE
        assert row["meta"]["interrupted"] is True
        for task_id in (alive, mine, elsewhere):
            other = await job_row(ctx, task_id)
            assert other["state"] == "PROGRESS" and other["meta"]["message"] == "Rendering 32/50"
    finally:
        sleeper.kill()
        sleeper.wait()


def test_owner_ids_name_this_host_and_pid():
    owner = owner_id()
    key, pid, _ = owner.rsplit(":", 2)
    assert key == host_key() and int(pid) == os.getpid() and len(owner) <= 100
    assert not dead_local_owner(owner)
    assert not dead_local_owner("garbage")
    assert not dead_local_owner(f"{host_key()}:notapid:x")


def test_leases_are_short_and_reaped_often():
    """A dead worker's job runs again within about 10 s by default (lease + one reap)."""
    from igny8d.settings import Settings
    lease = Settings.model_fields["job_lease_s"].default
    assert lease + reap_interval_s(lease) <= 10.0


async def test_a_stopping_server_ends_long_polls_at_once(app, client, monkeypatch):
    """Long-polls wait, they do not work: a shutdown answers them now instead of being held
    for their 30 s (a client that hung up is counted until its handler ends)."""
    monkeypatch.setattr(watch, "_draining", False)
    token = await client.owner("ann@example.com")
    job_kind(app, kind=KIND)
    actor = await actor_for(app, "ann@example.com")
    async with app.ctx.store.begin() as conn:
        tid = (await app.ctx.executor.submit(conn, actor, kind=KIND, payload={}))["task_id"]
    started = time.monotonic()
    polls = [asyncio.ensure_future(client.get(PROGRESS.format(tid) + "?wait=30", token=token))
             for _ in range(3)]
    await until(lambda: asyncio.sleep(0, watch.waiting() == 3))
    watch.drain()
    answers = await asyncio.wait_for(asyncio.gather(*polls), 5)
    assert [a.status for a in answers] == [200] * 3
    assert {a.data["state"] for a in answers} == {"PENDING"}
    assert time.monotonic() - started < 5
