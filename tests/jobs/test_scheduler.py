"""Housekeeping jobs: registered with stable ids and options; the purge does what it says."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import insert, select

from igny8d.scheduler import make_scheduler, purge_expired_tokens
from igny8d.store.schema import refresh_tokens


def test_jobs_are_registered_once_with_safe_options(tmp_path):
    from igny8d.context import AppContext
    from igny8d.settings import Settings

    ctx = AppContext.build(Settings(secret_key="k" * 40, data_dir=tmp_path))
    scheduler = make_scheduler(ctx)
    jobs = {j.id: j for j in scheduler.get_jobs()}
    assert set(jobs) == {"purge_expired_tokens", "reap_expired_jobs", "purge_finished_jobs",
                         "monthly_credit_grant", "sweep_media", "purge_idempotency_keys",
                         "purge_list_changes"}
    for job in jobs.values():
        assert job.max_instances == 1 and job.coalesce is True


async def test_purge_removes_only_expired_tokens(app, client):
    await client.register("ann@example.com")
    await client.login("ann@example.com")
    now = dt.datetime.now(dt.UTC)
    async with app.ctx.store.begin() as conn:
        user_id = (await conn.execute(select(refresh_tokens.c.user_id))).scalar_one()
        await conn.execute(insert(refresh_tokens), [
            {"jti": f"old{i}", "family": "f", "user_id": user_id,
             "expires_at": now - dt.timedelta(days=1), "created_at": now - dt.timedelta(days=8)}
            for i in range(3)
        ])
    assert await purge_expired_tokens(app.ctx) == 3
    async with app.ctx.store.read() as conn:
        left = (await conn.execute(select(refresh_tokens.c.jti))).scalars().all()
    assert len(left) == 1 and not left[0].startswith("old")
    assert await purge_expired_tokens(app.ctx) == 0
