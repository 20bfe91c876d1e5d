"""Periodic housekeeping on APScheduler (stable job ids, one instance at a time, coalesced): a
composition-level module beside app.py, since it calls services and the executor alike."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from igny8d.services import credits_monthly, idempotency, media
from igny8d.store import jobs as job_store
from igny8d.store import tokens as token_store
from igny8d.store import versions
from igny8d.store.writes import now

if TYPE_CHECKING:
    from igny8d.context import AppContext

log = logging.getLogger("igny8d.jobs")

#: How often expired refresh tokens are deleted (they are refused anyway; this keeps the
#: table small). Every process may run it: the delete is idempotent.
PURGE_TOKENS_HOURS = 6
#: How often finished jobs older than `job_retention_days` are deleted.
PURGE_JOBS_HOURS = 6
#: How often Idempotency-Keys past their 24 h are deleted (an expired one is also replaced
#: when its key is sent again: this only keeps the table small).
PURGE_IDEMPOTENCY_HOURS = 1
#: How often the list change log past `versions.CHANGES_KEPT` is deleted (a row a write).
PURGE_LIST_CHANGES_MINUTES = 10
#: How often media files no image names (older than `images.SWEEP_GRACE_S`) are removed.
SWEEP_MEDIA_HOURS = 6


#: What the housekeeping runs in flight get at a stop before they are cancelled (a monthly
#: grant is one short transaction per account).
STOP_GRACE_S = 3.0

Job = Callable[["AppContext"], Awaitable[int]]


class _Running:
    """The housekeeping runs in flight in this process: a stop lets them end before the
    store closes under them, and one cut short by the stop is a log line, not APScheduler's
    traceback of a cancelled coroutine."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[Any]] = set()

    def track(self, fn: Job) -> Job:
        @functools.wraps(fn)
        async def run(ctx: AppContext) -> int:
            task = asyncio.current_task()
            if task is not None:
                self.tasks.add(task)
            try:
                return await fn(ctx)
            except asyncio.CancelledError:
                # only a stop cancels a housekeeping run: what it committed stays, the rest
                # is done by the next run (every job is idempotent)
                log.warning("housekeeping cut short by the shutdown",
                            extra={"job": fn.__name__})
                return 0
            finally:
                if task is not None:
                    self.tasks.discard(task)
        return run

    def in_flight(self) -> list[asyncio.Task[Any]]:
        loop = asyncio.get_running_loop()
        return [t for t in self.tasks if t.get_loop() is loop and not t.done()]


RUNNING = _Running()


async def stop_scheduler(scheduler: AsyncIOScheduler, grace: float = STOP_GRACE_S) -> None:
    """No new runs; the runs in flight get `grace` to end, then what is left is cancelled and
    allowed to unwind. Called before the store closes."""
    if scheduler.running:
        scheduler.pause()
    running = RUNNING.in_flight()
    if running:
        await asyncio.wait(running, timeout=grace)
    if scheduler.running:
        scheduler.shutdown(wait=False)  # cancels what is still running
        await asyncio.sleep(0)  # AsyncIOScheduler shuts down in the loop's next turn
    running = RUNNING.in_flight()
    if running:
        await asyncio.wait(running, timeout=1.0)


def reap_interval_s(lease_s: float) -> float:
    """Expired leases are looked for every quarter lease (at most every second, at least
    every 5 min): a dead worker's job waits at most about 1.25 leases (10 s with the default
    8 s lease) before it runs again; a dead process of this host's jobs, one interval."""
    return max(1.0, min(300.0, lease_s / 4))


async def purge_expired_tokens(ctx: AppContext) -> int:
    async with ctx.store.begin() as conn:
        removed = await token_store.purge_expired_refresh(conn)
    if removed:
        log.info("purged expired refresh tokens", extra={"removed": removed})
    return removed


async def reap_expired_jobs(ctx: AppContext) -> int:
    """Jobs whose worker was lost: re-queued, or failed with the kind's hook. Every process
    runs it: each change is a conditional UPDATE, so two reapers never act twice."""
    report = await ctx.executor.reap()
    return report.requeued + report.failed


async def purge_finished_jobs(ctx: AppContext) -> int:
    before = now() - dt.timedelta(days=ctx.settings.job_retention_days)
    async with ctx.store.begin() as conn:
        removed = await job_store.purge_finished(conn, before=before)
    if removed:
        log.info("purged finished jobs", extra={"removed": removed})
    return removed


async def grant_monthly_credits(ctx: AppContext) -> int:
    """Every active account's plan credits for this UTC month, where not granted yet. Every
    process runs it: each account's grant is one transaction that locks the account and
    looks for the month's grant first, so two processes never grant one month twice."""
    report = await credits_monthly.grant_monthly_credits(ctx)
    return report.granted


async def purge_idempotency_keys(ctx: AppContext) -> int:
    """Every process may run it: the delete is idempotent."""
    removed = await idempotency.purge_expired(ctx.store)
    if removed:
        log.info("purged expired idempotency keys", extra={"removed": removed})
    return removed


async def purge_list_changes(ctx: AppContext) -> int:
    """The list change log past its keeping (store/versions.py): a search total kept longer
    is counted again. Every process may run it: the delete is idempotent."""
    async with ctx.store.begin() as conn:
        return await versions.purge_changes(conn, before=now() - versions.CHANGES_KEPT)


async def sweep_media(ctx: AppContext) -> int:
    """Files no image row names (a worker killed between writing and committing, a delete
    whose process died after the commit). Every process may run it: removing a file twice
    is nothing, and a file is never younger than the grace period."""
    return await media.sweep_media(ctx.store, ctx.settings.data_dir)


def make_scheduler(ctx: AppContext) -> AsyncIOScheduler:
    """The scheduler with every periodic job registered (not started)."""
    scheduler = AsyncIOScheduler(timezone="UTC")
    scheduler.add_job(
        RUNNING.track(purge_expired_tokens),
        "interval", hours=PURGE_TOKENS_HOURS, args=[ctx],
        id="purge_expired_tokens", name="Delete expired refresh tokens",
        replace_existing=True, max_instances=1, coalesce=True, misfire_grace_time=3600,
    )
    scheduler.add_job(
        RUNNING.track(reap_expired_jobs),
        "interval", seconds=reap_interval_s(ctx.settings.job_lease_s),
        args=[ctx], id="reap_expired_jobs", name="Re-queue or fail jobs whose worker was lost",
        replace_existing=True, max_instances=1, coalesce=True, misfire_grace_time=60,
    )
    scheduler.add_job(
        RUNNING.track(purge_finished_jobs),
        "interval", hours=PURGE_JOBS_HOURS, args=[ctx],
        id="purge_finished_jobs", name="Delete finished jobs past their retention",
        replace_existing=True, max_instances=1, coalesce=True, misfire_grace_time=3600,
    )
    scheduler.add_job(
        RUNNING.track(purge_idempotency_keys),
        "interval", hours=PURGE_IDEMPOTENCY_HOURS, args=[ctx],
        id="purge_idempotency_keys", name="Delete expired idempotency keys",
        replace_existing=True, max_instances=1, coalesce=True, misfire_grace_time=3600,
    )
    scheduler.add_job(
        RUNNING.track(purge_list_changes),
        "interval", minutes=PURGE_LIST_CHANGES_MINUTES, args=[ctx],
        id="purge_list_changes", name="Delete the list change log past its keeping",
        replace_existing=True, max_instances=1, coalesce=True, misfire_grace_time=3600,
    )
    scheduler.add_job(
        RUNNING.track(sweep_media),
        "interval", hours=SWEEP_MEDIA_HOURS, args=[ctx], id="sweep_media",
        name="Delete media files no image names", replace_existing=True, max_instances=1,
        coalesce=True, misfire_grace_time=3600, next_run_time=dt.datetime.now(dt.UTC),
    )
    if ctx.settings.monthly_grant:
        # Daily shortly after midnight UTC, and once at start (a box that was down on the
        # 1st catches up); a run grants only what is still due this month.
        scheduler.add_job(
            RUNNING.track(grant_monthly_credits),
        CronTrigger(hour=0, minute=5, timezone=dt.UTC),
            args=[ctx], id="monthly_credit_grant",
            name="Grant each active account its plan's monthly credits",
            replace_existing=True, max_instances=1, coalesce=True,
            misfire_grace_time=6 * 3600, next_run_time=dt.datetime.now(dt.UTC),
        )
    return scheduler
