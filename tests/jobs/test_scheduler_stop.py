"""A stop lets housekeeping in flight end before the store closes (the monthly grant runs at
start, so a quick SIGTERM meets it), and cancels one that outlasts the grace with a log line,
not APScheduler's traceback of a cancelled coroutine."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from igny8d.scheduler import RUNNING, stop_scheduler


def _scheduler_with(job, started: asyncio.Event) -> AsyncIOScheduler:
    async def run(ctx: object) -> int:
        started.set()
        return await job()

    scheduler = AsyncIOScheduler(timezone="UTC")
    scheduler.add_job(RUNNING.track(run), "interval", hours=1, args=[None], id="probe",
                      next_run_time=dt.datetime.now(dt.UTC))
    return scheduler


async def test_a_run_in_flight_ends_before_the_stop_returns() -> None:
    done: list[int] = []
    started = asyncio.Event()

    async def job() -> int:
        await asyncio.sleep(0.3)
        done.append(1)
        return 1

    scheduler = _scheduler_with(job, started)
    scheduler.start()
    await asyncio.wait_for(started.wait(), 5)
    await stop_scheduler(scheduler, grace=5)
    assert done == [1] and not scheduler.running and not RUNNING.in_flight()


async def test_a_run_past_the_grace_is_cancelled_with_a_line_not_a_traceback(
        caplog: pytest.LogCaptureFixture) -> None:
    started = asyncio.Event()

    async def job() -> int:
        await asyncio.sleep(30)
        return 1

    scheduler = _scheduler_with(job, started)
    caplog.set_level(logging.INFO)
    scheduler.start()
    await asyncio.wait_for(started.wait(), 5)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    await stop_scheduler(scheduler, grace=0.2)
    assert loop.time() - t0 < 2 and not RUNNING.in_flight()
    assert "housekeeping cut short by the shutdown" in caplog.text
    assert not [r for r in caplog.records if r.exc_info], caplog.text
