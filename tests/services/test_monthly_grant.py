"""The monthly credit grant on both stores: a top-up to the plan's credits once per account
and UTC month (`monthly:YYYY-MM`), idempotent on reruns and with two processes at once, not
for accounts created this month (registration gave them their credits) nor suspended ones,
off with the `monthly_grant` setting; and its scheduler job."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from igny8d.context import AppContext
from igny8d.scheduler import grant_monthly_credits as scheduled_grant
from igny8d.scheduler import make_scheduler
from igny8d.services import billing
from igny8d.services.credits_monthly import grant_monthly_credits, month_bounds, reference_for
from igny8d.store.schema import accounts, credit_transactions
from tests.helpers.app import RunningApp, make_settings
from tests.helpers.factories import operator, tenant
from tests.helpers.paths import ADMIN as A
from tests.helpers.paths import TRANSACTIONS as TX
from tests.helpers.reads import credits_of

MONTH = month_bounds()[0]
REF = reference_for(MONTH)


async def set_account(app: RunningApp, account_id: int, **values: Any) -> None:
    async with app.ctx.store.begin() as conn:
        await conn.execute(update(accounts).where(accounts.c.id == account_id).values(**values))


async def grants(app: RunningApp, account_id: int | None = None) -> list[dict[str, Any]]:
    stmt = (select(credit_transactions)
            .where(credit_transactions.c.transaction_type == "monthly_grant")
            .order_by(credit_transactions.c.id))
    if account_id is not None:
        stmt = stmt.where(credit_transactions.c.account_id == account_id)
    async with app.ctx.store.read() as conn:
        return [dict(r) for r in (await conn.execute(stmt)).mappings()]


LAST_MONTH = MONTH - dt.timedelta(days=3)


async def old_account(app: RunningApp, client: Any, email: str, credits: int) -> dict[str, Any]:
    """An account registered last month with `credits` left."""
    owner = await tenant(client, email)
    await set_account(app, owner["account_id"], created_at=LAST_MONTH, credits=credits)
    return owner


async def test_tops_up_once_a_month_and_shows_in_billing(app, client):
    low = await old_account(app, client, "low@example.com", 300)
    rich = await old_account(app, client, "rich@example.com", 1500)
    new = await tenant(client, "new@example.com")  # registered this month: 1,000 already

    report = await grant_monthly_credits(app.ctx)
    assert report.enabled and report.month == f"{MONTH:%Y-%m}"
    assert report.granted == 2 and report.credits == 700
    assert await credits_of(app, low["account_id"]) == 1000
    assert await credits_of(app, rich["account_id"]) == 1500  # a top-up never takes away
    assert await credits_of(app, new["account_id"]) == 1000
    assert await grants(app, new["account_id"]) == []
    [g] = await grants(app, low["account_id"])
    assert (g["amount"], g["balance_after"], g["reference"]) == (700, 1000, REF)
    assert g["user_id"] is None and "free" in g["description"].lower()
    [marker] = await grants(app, rich["account_id"])
    assert (marker["amount"], marker["balance_after"], marker["reference"]) == (0, 1500, REF)

    shown = (await client.get(TX, token=low["token"])).json["results"]
    assert [(t["transaction_type"], t["amount"], t["reference"]) for t in shown] == [
        ("monthly_grant", 700, REF)]

    # spent later in the month: the rerun (same day, a restart, tomorrow) grants nothing more
    async with app.ctx.store.begin() as conn:
        for owner in (low, rich):
            await billing.charge(conn, owner["account_id"], amount=900,
                                 operation_type="clustering", description="spent")
    again = await grant_monthly_credits(app.ctx)
    assert again.granted == 0 and again.credits == 0
    assert await credits_of(app, low["account_id"]) == 100
    assert await credits_of(app, rich["account_id"]) == 600
    assert len(await grants(app)) == 2

    # next month: everyone is topped up again, the new account included
    later = MONTH + dt.timedelta(days=40)
    report = await grant_monthly_credits(app.ctx, at=later)
    assert report.granted == 3 and report.month == f"{later:%Y-%m}"
    assert [await credits_of(app, o["account_id"]) for o in (low, rich, new)] == [1000] * 3
    refs = {g["reference"] for g in await grants(app, new["account_id"])}
    assert refs == {reference_for(later)}
    # the ledger still adds up: transactions sum to the change of balance
    async with app.ctx.store.read() as conn:
        amounts = (await conn.execute(select(credit_transactions.c.amount).where(
            credit_transactions.c.account_id == low["account_id"]))).scalars().all()
    assert sum(amounts) == 1000 - 300


async def test_skips_suspended_accounts_until_reactivated(app, client):
    ops = await operator(app, client)
    owner = await old_account(app, client, "sleepy@example.com", 10)
    await set_account(app, ops["account_id"], created_at=LAST_MONTH)
    resp = await client.post(f"{A}accounts/{owner['account_id']}/suspend/", {},
                             token=ops["token"])
    assert resp.status == 200
    report = await grant_monthly_credits(app.ctx)
    assert await grants(app, owner["account_id"]) == [] and report.granted == 1  # operators'
    resp = await client.post(f"{A}accounts/{owner['account_id']}/reactivate/", {},
                             token=ops["token"])
    assert resp.status == 200
    assert (await grant_monthly_credits(app.ctx)).granted == 1
    assert await credits_of(app, owner["account_id"]) == 1000


async def test_follows_the_plan_in_force(app, client):
    ops = await operator(app, client)
    owner = await old_account(app, client, "grow@example.com", 0)
    resp = await client.post(f"{A}accounts/{owner['account_id']}/change_plan/",
                             {"plan": "starter"}, token=ops["token"])
    assert resp.status == 200
    await grant_monthly_credits(app.ctx)
    assert await credits_of(app, owner["account_id"]) == resp.data["plan"]["monthly_credits"]


async def test_two_processes_at_once_grant_each_account_once(app, client, tmp_path: Path,
                                                          db_url: str):
    owners = [await old_account(app, client, f"p{i}@example.com", i * 10) for i in range(6)]
    contexts = [AppContext.build(make_settings(tmp_path, db_url)) for _ in range(2)]
    try:
        reports = await asyncio.gather(*(grant_monthly_credits(c, batch=2) for c in contexts),
                                       grant_monthly_credits(app.ctx, batch=3))
    finally:
        for ctx in contexts:
            await ctx.close()
    assert sum(r.granted for r in reports) == 6
    assert sum(r.credits for r in reports) == sum(1000 - i * 10 for i in range(6))
    for owner in owners:
        assert len(await grants(app, owner["account_id"])) == 1
        assert await credits_of(app, owner["account_id"]) == 1000


async def test_the_setting_turns_it_off(tmp_path: Path, db_url: str, app, client):
    owner = await old_account(app, client, "off@example.com", 5)
    ctx = AppContext.build(make_settings(tmp_path, db_url, monthly_grant=False))
    try:
        report = await grant_monthly_credits(ctx)
        assert not report.enabled and report.granted == 0
        assert "monthly_credit_grant" not in {j.id for j in make_scheduler(ctx).get_jobs()}
    finally:
        await ctx.close()
    assert await grants(app) == [] and await credits_of(app, owner["account_id"]) == 5


async def test_the_scheduler_runs_it_daily_and_at_start(app, client):
    owner = await old_account(app, client, "sched@example.com", 1)
    job = make_scheduler(app.ctx).get_job("monthly_credit_grant")
    assert job is not None and job.coalesce is True and job.max_instances == 1
    assert abs((job.next_run_time - dt.datetime.now(dt.UTC)).total_seconds()) < 60
    fire = job.trigger.get_next_fire_time(None, dt.datetime(2030, 5, 17, 12, tzinfo=dt.UTC))
    assert fire == dt.datetime(2030, 5, 18, 0, 5, tzinfo=dt.UTC)
    assert await scheduled_grant(app.ctx) == 1
    assert await credits_of(app, owner["account_id"]) == 1000
