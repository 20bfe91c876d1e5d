"""The admin API's actions through HTTP on both stores: each writes its audit row with
before/after in its own transaction; credits move only through the ledger (concurrent grants
all land, revokes never overdraw, also racing a charge); suspending, deactivating and ending
sessions refuse the tokens at once; cancel and retry of jobs with their refunds and charges."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from igny8d.errors import InsufficientCredits
from igny8d.jobs.registry import Job, JobFailed
from igny8d.services import billing
from igny8d.store.schema import accounts, admin_audit, credit_transactions, jobs, users
from tests.helpers.app import RunningApp, start_jobs_app, stop_app
from tests.helpers.client import PASSWORD, Client
from tests.helpers.factories import operator, tenant
from tests.helpers.jobs import job_kind, paid_job
from tests.helpers.paths import ADMIN as A
from tests.helpers.paths import LOGIN, ME, REFRESH
from tests.helpers.paths import TRANSACTIONS as TX
from tests.helpers.reads import audit_count, credits_of

LIMITS = "/api/v1/billing/credits/usage/limits/"


async def audit_rows(app: RunningApp, action: str | None = None) -> list[dict[str, Any]]:
    stmt = select(admin_audit).order_by(admin_audit.c.id)
    if action:
        stmt = stmt.where(admin_audit.c.action == action)
    async with app.ctx.store.read() as conn:
        return [dict(r) for r in (await conn.execute(stmt)).mappings()]


async def ledger(app: RunningApp, account_id: int) -> list[dict[str, Any]]:
    async with app.ctx.store.read() as conn:
        return [dict(r) for r in (await conn.execute(
            select(credit_transactions).where(credit_transactions.c.account_id == account_id)
            .order_by(credit_transactions.c.id))).mappings()]


async def column(app: RunningApp, table: Any, name: str, row_id: int) -> Any:
    async with app.ctx.store.read() as conn:
        return (await conn.execute(select(table.c[name]).where(table.c.id == row_id))
                ).scalar_one()


async def adds_up(app: RunningApp, account_id: int, initial: int = 1000) -> None:
    """The ledger's invariant: transactions sum to the balance's change, never below zero."""
    rows = await ledger(app, account_id)
    credits = await credits_of(app, account_id)
    assert sum(r["amount"] for r in rows) == credits - initial
    assert all(r["balance_after"] >= 0 for r in rows) and credits >= 0


def grant_url(account_id: int) -> str:
    return f"{A}accounts/{account_id}/grant_credits/"


# -- credits ---------------------------------------------------------------------------------------


async def test_grant_and_revoke_go_through_the_ledger_and_the_audit(app, client):
    ops = await operator(app, client)
    owner = await tenant(client, "ann@example.com")
    acc = owner["account_id"]
    resp = await client.post(grant_url(acc), {"amount": 250, "reason": "  goodwill  "},
                             token=ops["token"])
    assert resp.status == 200, resp.json
    assert resp.data["account_id"] == acc and resp.data["credits"] == 1250
    tx = resp.data["transaction"]
    assert set(tx) == {"id", "transaction_type", "amount", "balance_after", "description",
                       "created_at"}
    assert tx["transaction_type"] == "grant" and tx["amount"] == 250
    assert tx["balance_after"] == 1250 and tx["description"] == "goodwill"
    # the account sees it in its own billing transactions
    shown = (await client.get(TX, token=owner["token"])).json["results"]
    assert [(t["id"], t["transaction_type"], t["amount"]) for t in shown] == [
        (tx["id"], "grant", 250)]
    [row] = await audit_rows(app)
    assert row["action"] == "account.grant_credits" and row["target_type"] == "account"
    assert row["target_id"] == str(acc) and row["account_id"] == acc
    assert row["before"] == {"credits": 1000}
    assert row["after"] == {"credits": 1250, "amount": 250, "transaction_id": tx["id"]}
    assert row["reason"] == "goodwill" and row["actor_email"] == "ops@example.com"
    assert row["actor_user_id"] == ops["user_id"]
    assert row["request_id"] == resp.json["request_id"]

    revoke = await client.post(grant_url(acc), {"amount": -200, "reason": "refund reversed"},
                               token=ops["token"])
    assert revoke.status == 200, revoke.json
    assert revoke.data["credits"] == 1050
    assert revoke.data["transaction"]["transaction_type"] == "adjustment"
    assert revoke.data["transaction"]["amount"] == -200
    last = (await audit_rows(app))[-1]
    assert last["action"] == "account.revoke_credits"
    assert last["before"] == {"credits": 1250} and last["after"]["credits"] == 1050

    # a revoke larger than the balance: 400 naming amount, nothing written
    too_much = await client.post(grant_url(acc), {"amount": -1051, "reason": "x"},
                                 token=ops["token"])
    assert too_much.status == 400 and "amount" in too_much.errors
    assert len(await ledger(app, acc)) == 2 and await audit_count(app) == 2
    assert await credits_of(app, acc) == 1050
    await adds_up(app, acc)

    bad_bodies = [({"amount": 0, "reason": "x"}, "amount"), ({"amount": 5}, "reason"),
                  ({"amount": 5, "reason": "   "}, "reason"),
                  ({"amount": 5, "reason": "x" * 501}, "reason"),
                  ({"amount": "lots", "reason": "x"}, "amount"),
                  ({"amount": 10**9, "reason": "x"}, "amount"),
                  ({"amount": 5, "reason": "x", "extra": 1}, "extra")]
    for body, field in bad_bodies:
        resp = await client.post(grant_url(acc), body, token=ops["token"])
        assert resp.status == 400 and field in resp.errors, (body, resp.json)
    malformed = await client.post(grant_url(acc), body=b"{nope", token=ops["token"],
                                  headers={"Content-Type": "application/json"})
    assert malformed.status == 400
    missing = await client.post(grant_url(424242), {"amount": 5, "reason": "x"},
                                token=ops["token"])
    assert missing.status == 404
    assert await audit_count(app) == 2 and await credits_of(app, acc) == 1050


async def test_concurrent_grants_land_and_revokes_never_overdraw(app, client):
    ops = await operator(app, client)
    owner = await tenant(client, "race@example.com")
    acc, t = owner["account_id"], ops["token"]

    both = await asyncio.gather(
        client.post(grant_url(acc), {"amount": 100, "reason": "a"}, token=t),
        client.post(grant_url(acc), {"amount": 50, "reason": "b"}, token=t))
    assert [r.status for r in both] == [200, 200]
    assert sorted(r.data["credits"] for r in both) in ([1100, 1150], [1050, 1150])
    assert await credits_of(app, acc) == 1150

    revokes = await asyncio.gather(*(
        client.post(grant_url(acc), {"amount": -300, "reason": "r"}, token=t)
        for _ in range(5)))
    statuses = sorted(r.status for r in revokes)
    assert statuses == [200, 200, 200, 400, 400], [r.json for r in revokes]
    assert sorted(r.data["credits"] for r in revokes if r.status == 200) == [250, 550, 850]
    assert await credits_of(app, acc) == 250

    # a revoke racing a charge for the same credits: exactly one of them gets them
    async def charge() -> Any:
        try:
            async with app.ctx.store.begin() as conn:
                return await billing.charge(conn, acc, amount=200, operation_type="clustering",
                                            description="racing")
        except InsufficientCredits as exc:
            return exc

    revoke, charged = await asyncio.gather(
        client.post(grant_url(acc), {"amount": -200, "reason": "race"}, token=t), charge())
    assert (revoke.status == 200) != isinstance(charged, dict), (revoke.json, charged)
    assert await credits_of(app, acc) == 50
    await adds_up(app, acc)
    assert len(await audit_rows(app, "account.revoke_credits")) == 3 + (revoke.status == 200)
    assert len(await audit_rows(app, "account.grant_credits")) == 2


# -- plans and account status ----------------------------------------------------------------------


async def test_change_plan_applies_at_once(app, client):
    ops = await operator(app, client)
    owner = await tenant(client, "plan@example.com")
    acc, t = owner["account_id"], ops["token"]
    version = await column(app, accounts, "data_version", acc)

    resp = await client.post(f"{A}accounts/{acc}/change_plan/",
                             {"plan": "starter", "reason": "upgraded by phone"}, token=t)
    assert resp.status == 200, resp.json
    assert resp.data["plan"]["slug"] == "starter" and resp.data["id"] == acc
    assert resp.data["credits"] == 1000  # the balance is not touched
    assert await column(app, accounts, "data_version", acc) > version
    limits = (await client.get(LIMITS, token=owner["token"])).data
    assert limits["plan"] == "starter"
    assert limits["sites"]["limit"] == resp.data["plan"]["max_sites"]
    [row] = await audit_rows(app, "account.change_plan")
    assert row["before"]["plan"] == "free" and row["after"]["plan"] == "starter"
    assert row["reason"] == "upgraded by phone"

    same = await client.post(f"{A}accounts/{acc}/change_plan/", {"plan": "starter"}, token=t)
    assert same.status == 409
    unknown = await client.post(f"{A}accounts/{acc}/change_plan/", {"plan": "platinum"},
                                token=t)
    assert unknown.status == 400 and "plan" in unknown.errors
    assert (await client.post(f"{A}accounts/{acc}/change_plan/", {}, token=t)).status == 400
    assert (await client.post(f"{A}accounts/424242/change_plan/", {"plan": "free"},
                              token=t)).status == 404
    assert len(await audit_rows(app)) == 1


async def test_suspend_refuses_the_accounts_tokens_and_reactivate_restores_them(app, client):
    ops = await operator(app, client)
    owner = await tenant(client, "sus@example.com")
    editor = await client.member(owner["token"], "ed@example.com", "editor")
    other = await tenant(client, "bystander@example.com")
    acc, t = owner["account_id"], ops["token"]
    version = await column(app, accounts, "data_version", acc)
    assert (await client.get(ME, token=owner["token"])).status == 200

    resp = await client.post(f"{A}accounts/{acc}/suspend/", {"reason": "chargeback"}, token=t)
    assert resp.status == 200, resp.json
    assert resp.data["status"] == "suspended" and "usage_this_month" in resp.data
    assert await column(app, accounts, "data_version", acc) > version
    for token in (owner["token"], editor):
        assert (await client.get(ME, token=token)).status == 401
    assert (await client.post(LOGIN, {"email": owner["email"], "password": PASSWORD})
            ).status == 401
    assert (await client.post(REFRESH, {"refresh": owner["refresh"]})).status == 401
    assert (await client.get(ME, token=other["token"])).status == 200  # others untouched
    listed = await client.get(f"{A}accounts/?status=suspended", token=t)
    assert [r["id"] for r in listed.json["results"]] == [acc]

    again = await client.post(f"{A}accounts/{acc}/suspend/", {}, token=t)
    assert again.status == 409
    own = await client.post(f"{A}accounts/{ops['account_id']}/suspend/", {}, token=t)
    assert own.status == 409
    assert (await client.post(f"{A}accounts/{other['account_id']}/reactivate/", {},
                              token=t)).status == 409

    back = await client.post(f"{A}accounts/{acc}/reactivate/", {"reason": "paid"}, token=t)
    assert back.status == 200 and back.data["status"] == "active"
    assert (await client.get(ME, token=owner["token"])).status == 200  # the same token again
    assert (await client.get(ME, token=editor)).status == 200
    await client.login(owner["email"])
    assert (await client.post(f"{A}accounts/{acc}/reactivate/", {}, token=t)).status == 409

    rows = await audit_rows(app)
    assert [(r["action"], r["before"], r["after"], r["reason"]) for r in rows] == [
        ("account.suspend", {"status": "active"}, {"status": "suspended"}, "chargeback"),
        ("account.reactivate", {"status": "suspended"}, {"status": "active"}, "paid")]


# -- users -----------------------------------------------------------------------------------------


async def test_deactivate_ends_every_session_and_refuses_every_token(app, client):
    ops = await operator(app, client)
    owner = await tenant(client, "boss@example.com")
    await client.member(owner["token"], "leaver@example.com", "editor")
    first = await client.login("leaver@example.com")
    second = await client.login("leaver@example.com")
    me = (await client.get(ME, token=first["access"])).data["user"]
    uid, t = int(me["id"]), ops["token"]
    version = await column(app, users, "token_version", uid)
    data_version = await column(app, accounts, "data_version", owner["account_id"])
    assert (await client.get(f"{A}users/{uid}/", token=t)).data["sessions"] == 3

    resp = await client.post(f"{A}users/{uid}/deactivate/", {"reason": "left"}, token=t)
    assert resp.status == 200, resp.json
    assert resp.data["is_active"] is False and resp.data["sessions"] == 0
    assert await column(app, users, "token_version", uid) == version + 1
    assert await column(app, accounts, "data_version", owner["account_id"]) > data_version
    for pair in (first, second):
        assert (await client.get(ME, token=pair["access"])).status == 401
        assert (await client.post(REFRESH, {"refresh": pair["refresh"]})).status == 401
    assert (await client.post(LOGIN, {"email": "leaver@example.com", "password": PASSWORD})
            ).status == 401
    assert (await client.get(ME, token=owner["token"])).status == 200  # the owner is fine
    [row] = await audit_rows(app)
    assert row["action"] == "user.deactivate" and row["target_id"] == str(uid)
    assert row["account_id"] == owner["account_id"] and row["reason"] == "left"
    assert row["before"] == {"is_active": True, "sessions": 3, "token_version": version}
    assert row["after"] == {"is_active": False, "sessions": 0, "token_version": version + 1}

    assert (await client.post(f"{A}users/{uid}/deactivate/", {}, token=t)).status == 409
    assert (await client.post(f"{A}users/{ops['user_id']}/deactivate/", {}, token=t)
            ).status == 409
    assert (await client.post(f"{A}users/424242/deactivate/", {}, token=t)).status == 404
    assert len(await audit_rows(app)) == 1


async def test_reactivate_lets_a_deactivated_user_log_in_again(app, client):
    ops = await operator(app, client)
    owner = await tenant(client, "rehire@example.com")
    await client.member(owner["token"], "back@example.com", "editor")
    old = await client.login("back@example.com")
    me = (await client.get(ME, token=old["access"])).data["user"]
    uid, t = int(me["id"]), ops["token"]
    assert (await client.post(f"{A}users/{uid}/reactivate/", {}, token=t)).status == 409
    assert (await client.post(f"{A}users/{uid}/deactivate/", {}, token=t)).status == 200
    data_version = await column(app, accounts, "data_version", owner["account_id"])

    resp = await client.post(f"{A}users/{uid}/reactivate/", {"reason": "rehired"}, token=t)
    assert resp.status == 200, resp.json
    assert resp.data["is_active"] is True and resp.data["id"] == uid
    assert await column(app, accounts, "data_version", owner["account_id"]) > data_version
    assert (await client.post(REFRESH, {"refresh": old["refresh"]})).status == 401  # stays ended
    fresh = await client.login("back@example.com")
    assert (await client.get(ME, token=fresh["access"])).status == 200
    [row] = await audit_rows(app, "user.reactivate")
    assert row["target_id"] == str(uid) and row["account_id"] == owner["account_id"]
    assert row["before"] == {"is_active": False} and row["after"] == {"is_active": True}
    assert row["reason"] == "rehired"

    assert (await client.post(f"{A}users/{uid}/reactivate/", {}, token=t)).status == 409
    assert (await client.post(f"{A}users/424242/reactivate/", {}, token=t)).status == 404
    assert (await client.post(f"{A}users/{uid}/reactivate/", {},
                              token=owner["token"])).status == 404  # not a superuser
    assert len(await audit_rows(app, "user.reactivate")) == 1


async def test_end_sessions_signs_a_user_out_everywhere(app, client):
    ops = await operator(app, client)
    owner = await tenant(client, "roam@example.com")
    second = await client.login(owner["email"])
    t = ops["token"]
    resp = await client.post(f"{A}users/{owner['user_id']}/end_sessions/", {}, token=t)
    assert resp.status == 200, resp.json
    assert resp.data == {"user_id": owner["user_id"], "sessions_ended": 2}
    for access, refresh in ((owner["token"], owner["refresh"]),
                            (second["access"], second["refresh"])):
        assert (await client.get(ME, token=access)).status == 401
        assert (await client.post(REFRESH, {"refresh": refresh})).status == 401
    fresh = await client.login(owner["email"])  # still active: may sign in again
    assert (await client.get(ME, token=fresh["access"])).status == 200
    assert (await client.get(f"{A}users/{owner['user_id']}/", token=t)).data["sessions"] == 1
    [row] = await audit_rows(app, "user.end_sessions")
    assert row["before"]["sessions"] == 2 and row["after"]["sessions"] == 0
    assert row["after"]["token_version"] == row["before"]["token_version"] + 1
    assert (await client.post(f"{A}users/424242/end_sessions/", {}, token=t)).status == 404


# -- jobs ------------------------------------------------------------------------------------------


async def test_cancel_a_pending_job_refunds_it_and_a_finished_one_is_409(app, client):
    ops = await operator(app, client)
    owner = await tenant(client, "jobs@example.com")
    task_id = await paid_job(app, owner, price=7)
    assert await credits_of(app, owner["account_id"]) == 993
    pending = await client.post(f"{A}jobs/{task_id}/retry/", {}, token=ops["token"])
    assert pending.status == 409 and await credits_of(app, owner["account_id"]) == 993
    resp = await client.post(f"{A}jobs/{task_id}/cancel/", {"reason": "stuck"},
                             token=ops["token"])
    assert resp.status == 200, resp.json
    assert resp.data["state"] == "REVOKED" and resp.data["task_id"] == task_id
    assert await credits_of(app, owner["account_id"]) == 1000
    assert [t["transaction_type"] for t in await ledger(app, owner["account_id"])] == [
        "charge", "refund"]
    [row] = await audit_rows(app)
    assert row["action"] == "job.cancel" and row["target_type"] == "job"
    assert row["target_id"] == task_id and row["account_id"] == owner["account_id"]
    assert row["before"] == {"state": "PENDING"}
    assert row["after"] == {"state": "REVOKED", "credits_refunded": 7}
    again = await client.post(f"{A}jobs/{task_id}/cancel/", {}, token=ops["token"])
    assert again.status == 409
    revoked = await client.post(f"{A}jobs/{task_id}/retry/", {}, token=ops["token"])
    assert revoked.status == 409  # only FAILURE is retried
    assert await credits_of(app, owner["account_id"]) == 1000 and await audit_count(app) == 1
    assert (await client.post(f"{A}jobs/not-a-task/cancel/", {}, token=ops["token"])
            ).status == 404


@pytest.fixture
async def jobs_app(tmp_path: Path, db_url: str) -> AsyncIterator[RunningApp]:
    running = await start_jobs_app(tmp_path, db_url, poll_max=0.1)
    yield running
    await stop_app(running)


@pytest.fixture
async def jobs_client(jobs_app: RunningApp) -> AsyncIterator[Client]:
    c = jobs_app.client()
    yield c
    c.close()


async def state_of(app: RunningApp, task_id: str, *states: str) -> dict[str, Any]:
    for _ in range(750):
        async with app.ctx.store.read() as conn:
            row = dict((await conn.execute(select(jobs).where(jobs.c.task_id == task_id))
                        ).mappings().one())
        if row["state"] in states:
            return row
        await asyncio.sleep(0.02)
    raise AssertionError(f"{task_id} never reached {states}")


async def test_cancel_a_running_job_stops_it_and_refunds(jobs_app, jobs_client):
    app, client = jobs_app, jobs_client
    started = asyncio.Event()

    async def forever(job: Job, progress: Any) -> dict[str, Any]:
        await progress.update(phase="WORKING", percentage=10, message="busy")
        started.set()
        while True:
            await asyncio.sleep(0.05)
            await progress.update(percentage=20)

    job_kind(app, forever, kind="admin.forever")
    ops = await operator(app, client)
    owner = await tenant(client, "run@example.com")
    task_id = await paid_job(app, owner, price=4, kind="admin.forever")
    await asyncio.wait_for(started.wait(), 15)
    shown = (await client.get(f"{A}jobs/{task_id}/", token=ops["token"])).data
    assert shown["state"] == "PROGRESS" and shown["meta"]["phase"] == "WORKING"
    resp = await client.post(f"{A}jobs/{task_id}/cancel/", {}, token=ops["token"])
    assert resp.status == 200 and resp.data["state"] == "REVOKED"
    assert await credits_of(app, owner["account_id"]) == 1000
    for _ in range(500):
        if app.ctx.executor.stats["revoked"] == 1:
            break
        await asyncio.sleep(0.02)
    assert app.ctx.executor.stats["revoked"] == 1 and app.ctx.executor.running_jobs == 0
    assert (await audit_rows(app))[0]["before"] == {"state": "PROGRESS"}


async def test_retry_a_failed_job_charges_it_again(jobs_app, jobs_client):
    app, client = jobs_app, jobs_client
    runs: dict[str, int] = {}

    async def flaky(job: Job, progress: Any) -> dict[str, Any]:
        runs[job.task_id] = runs.get(job.task_id, 0) + 1
        if runs[job.task_id] == 1 or job.payload.get("always_fail"):
            raise JobFailed("The provider timed out.")
        return {"ok": True}

    job_kind(app, flaky, kind="admin.flaky")
    ops = await operator(app, client)
    owner = await tenant(client, "retry@example.com")
    acc, t = owner["account_id"], ops["token"]
    task_id = await paid_job(app, owner, price=5, kind="admin.flaky")
    failed = await state_of(app, task_id, "FAILURE")
    assert failed["error"] == "The provider timed out." and failed["attempts"] == 1
    assert await credits_of(app, acc) == 1000  # refunded by the failure

    both = await asyncio.gather(*(client.post(f"{A}jobs/{task_id}/retry/", {"reason": "again"},
                                              token=t) for _ in range(2)))
    assert sorted(r.status for r in both) == [200, 409], [r.json for r in both]
    ok = next(r for r in both if r.status == 200)
    assert ok.data["state"] == "PENDING" and ok.data["attempts"] == 0
    assert ok.data["error"] is None and ok.data["finished_at"] is None
    done = await state_of(app, task_id, "SUCCESS")
    assert done["result"] == {"ok": True} and runs[task_id] == 2
    assert await credits_of(app, acc) == 995  # charged again
    kinds = [(t["transaction_type"], t["amount"], t["reference"])
             for t in await ledger(app, acc) if t["reference"] == task_id]
    assert kinds == [("charge", -5, task_id), ("refund", 5, task_id), ("charge", -5, task_id)]
    [row] = await audit_rows(app, "job.retry")
    assert row["before"] == {"state": "FAILURE", "attempts": 1,
                             "error": "The provider timed out."}
    assert row["after"] == {"state": "PENDING", "attempts": 0, "credits_charged": 5}
    assert row["reason"] == "again"
    assert (await client.post(f"{A}jobs/{task_id}/retry/", {}, token=t)).status == 409

    # short of credits now: 402, the job stays FAILURE, nothing charged or audited
    doomed = await paid_job(app, owner, price=5, kind="admin.flaky")
    await state_of(app, doomed, "FAILURE")
    balance = await credits_of(app, acc)
    drained = await client.post(grant_url(acc), {"amount": -(balance - 2), "reason": "drain"},
                                token=t)
    assert drained.status == 200 and drained.data["credits"] == 2
    before = len(await ledger(app, acc))
    short = await client.post(f"{A}jobs/{doomed}/retry/", {}, token=t)
    assert short.status == 402, short.json
    assert (await state_of(app, doomed, "FAILURE"))["attempts"] == 1
    assert len(await ledger(app, acc)) == before and await credits_of(app, acc) == 2
    assert len(await audit_rows(app, "job.retry")) == 1
    await adds_up(app, acc)


async def test_audit_rows_commit_with_their_change_only(app, client):
    """A refused action leaves no audit row; a done one always has exactly one."""
    ops = await operator(app, client)
    owner = await tenant(client, "atomic@example.com")
    t = ops["token"]
    refused = [
        (f"{A}accounts/{owner['account_id']}/grant_credits/", {"amount": -5000, "reason": "x"}),
        (f"{A}accounts/{owner['account_id']}/reactivate/", {}),
        (f"{A}accounts/{owner['account_id']}/change_plan/", {"plan": "free"}),
        (f"{A}users/{ops['user_id']}/deactivate/", {}),
    ]
    for path, body in refused:
        assert (await client.post(path, body, token=t)).status in (400, 409), path
    assert await audit_count(app) == 0
    async with app.ctx.store.read() as conn:
        n = (await conn.execute(select(func.count()).select_from(credit_transactions))
             ).scalar_one()
    assert n == 0
