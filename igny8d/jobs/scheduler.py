"""Periodic housekeeping on APScheduler: stable job ids, one instance at a time, coalesced."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from igny8d.store import accounts as account_store

if TYPE_CHECKING:
    from igny8d.context import AppContext

log = logging.getLogger("igny8d.jobs")

#: How often expired refresh tokens are deleted (they are refused anyway; this keeps the
#: table small). Every process may run it: the delete is idempotent.
PURGE_TOKENS_HOURS = 6


async def purge_expired_tokens(ctx: AppContext) -> int:
    async with ctx.store.begin() as conn:
        removed = await account_store.purge_expired_refresh(conn)
    if removed:
        log.info("purged expired refresh tokens", extra={"removed": removed})
    return removed


def make_scheduler(ctx: AppContext) -> AsyncIOScheduler:
    """The scheduler with every periodic job registered (not started)."""
    scheduler = AsyncIOScheduler(timezone="UTC")
    scheduler.add_job(
        purge_expired_tokens, "interval", hours=PURGE_TOKENS_HOURS, args=[ctx],
        id="purge_expired_tokens", name="Delete expired refresh tokens",
        replace_existing=True, max_instances=1, coalesce=True, misfire_grace_time=3600,
    )
    return scheduler
