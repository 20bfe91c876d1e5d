"""A running job whose database goes away (issue 15, item 4), on a throwaway Postgres that
the test really stops and starts: the job is interrupted and run again to SUCCESS (its
attempts counted), never failed and refunded for a blip."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from igny8d.context import AppContext
from igny8d.jobs.executor import Progress
from igny8d.jobs.registry import Job
from tests.helpers.app import make_settings
from tests.helpers.jobs import job_row, start_job, until
from tests.helpers.pg_server import PgServer, migrated_pg

pytestmark = [pytest.mark.slow, pytest.mark.subprocess]


@pytest.fixture
def pg() -> Iterator[PgServer]:
    with migrated_pg() as server:
        yield server


@pytest.fixture
async def ctx(tmp_path: Path, pg: PgServer) -> AsyncIterator[AppContext]:
    made = AppContext.build(make_settings(tmp_path, pg.url, job_workers=1, job_lease_s=4.0))
    made.executor.poll_max = 0.2
    yield made
    await made.executor.stop(grace=1)
    await made.close()


async def test_a_job_whose_database_blips_during_its_save_runs_again(
        ctx: AppContext, pg: PgServer) -> None:
    gate = asyncio.Event()
    written = asyncio.Event()  # the first run's progress write is committed
    refunds: list[str] = []
    runs: list[int] = []

    async def save(job: Job, progress: Progress) -> dict[str, Any]:
        runs.append(job.attempts)
        await progress.update(phase="WORKING", percentage=50)
        if job.attempts == 1:
            written.set()
            await gate.wait()  # the database is stopped meanwhile
        async with progress.final():
            progress.result = {"attempt": job.attempts}
        return None

    task_id = await start_job(ctx, save, refunds)
    await asyncio.wait_for(written.wait(), timeout=10)
    await asyncio.to_thread(pg.stop, "fast")
    gate.set()  # the save meets the stopped database
    await asyncio.sleep(0.5)
    await asyncio.to_thread(pg.start)

    async def done() -> bool:
        try:
            await ctx.executor.reap()  # the scheduler's reaper, were it running
            return (await job_row(ctx, task_id))["state"] in ("SUCCESS", "FAILURE")
        except Exception:
            return False
    await until(done, timeout=30)
    row = await job_row(ctx, task_id)
    assert row["state"] == "SUCCESS", row
    assert row["attempts"] == 2 and row["result"] == {"attempt": 2}
    assert runs == [1, 2] and refunds == []


async def test_a_connection_dropped_during_the_save_does_not_fail_the_job(
        ctx: AppContext) -> None:
    """The shortest blip: the save's own connection is terminated, the next one is fine.
    Recording a failure would succeed at once, so this is where a job was failed and
    refunded for good."""
    refunds: list[str] = []
    runs: list[int] = []

    async def save(job: Job, progress: Progress) -> dict[str, Any]:
        runs.append(job.attempts)
        async with progress.final() as conn:
            if job.attempts == 1:
                pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar()
                async with ctx.store.begin() as other:
                    await other.execute(text("SELECT pg_terminate_backend(:pid)"),
                                        {"pid": pid})
                await conn.execute(text("SELECT 1"))
            progress.result = {"attempt": job.attempts}
        return None

    task_id = await start_job(ctx, save, refunds)
    await until(lambda: _finished(ctx, task_id), timeout=30)
    row = await job_row(ctx, task_id)
    assert row["state"] == "SUCCESS", row
    assert row["attempts"] == 2 and runs == [1, 2] and refunds == []


async def _finished(ctx: AppContext, task_id: str) -> bool:
    return (await job_row(ctx, task_id))["state"] in ("SUCCESS", "FAILURE")
