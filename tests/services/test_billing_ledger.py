"""The credit ledger on both stores, through the service (no HTTP): atomic charges under
concurrency, refunds, grants and adjustments, and the invariant that ties them together."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from igny8d.errors import InsufficientCredits
from igny8d.services import billing
from igny8d.store.schema import credit_transactions, credit_usage
from tests.helpers.paths import ME, ROOT
from tests.helpers.reads import credits_of

PLANS = ROOT / "igny8d" / "store" / "data" / "plans.json"


async def _account(client, email: str) -> int:
    token = await client.owner(email)
    return int((await client.get(ME, token=token)).data["user"]["account_id"])


async def _rows(app, table, account_id: int) -> list[dict]:
    async with app.ctx.store.read() as conn:
        return [dict(r) for r in (await conn.execute(
            select(table).where(table.c.account_id == account_id).order_by(table.c.id)
        )).mappings()]


async def _charge(app, account_id: int, amount: int, **kw):
    async with app.ctx.store.begin() as conn:
        return await billing.charge(conn, account_id, amount=amount,
                                    operation_type=kw.pop("operation_type", "clustering"),
                                    description=kw.pop("description", "test"), **kw)


async def _check_invariant(app, account_id: int, initial: int) -> None:
    """Transactions add up to the balance; usage (net of refunds) to charges and refunds."""
    txs = await _rows(app, credit_transactions, account_id)
    usage = await _rows(app, credit_usage, account_id)
    credits = await credits_of(app, account_id)
    assert sum(t["amount"] for t in txs) == credits - initial
    spent = -sum(t["amount"] for t in txs if t["transaction_type"] in ("charge", "refund"))
    assert sum(u["credits_used"] - u["credits_refunded"] for u in usage) == spent
    assert all(0 <= u["credits_refunded"] <= u["credits_used"] for u in usage)
    assert all(t["balance_after"] >= 0 for t in txs)
    if txs:
        assert txs[-1]["balance_after"] == credits


# -- prices ------------------------------------------------------------------------------------


def test_default_prices_run_the_whole_pipeline_for_100_keywords_on_the_free_plan():
    free = next(p for p in json.loads(PLANS.read_text()) if p["slug"] == "free")
    pipeline = {
        "clustering": billing.price("clustering", 100),  # 100 keywords
        "ideas": 10 * billing.price("ideas", 1),  # 10 ideas
        "content": 10 * billing.price("content", 1500),  # 10 articles of 1,500 words
        "image_prompts": billing.price("image_prompts", 40),
        "images": billing.price("images", 40),
    }
    assert pipeline == {"clustering": 100, "ideas": 50, "content": 450, "image_prompts": 40,
                        "images": 200}
    assert sum(pipeline.values()) == 840 <= free["monthly_credits"] == 1000


def test_price_rounds_a_part_up_and_refuses_nonsense():
    assert billing.price("content", 0) == 0
    assert billing.price("content", 1) == 1
    assert billing.price("content", 150) == 5  # 4.5 → 5
    assert billing.price("content", 100) == 3
    assert set(billing.OPERATION_TYPES) == set(billing.PRICES)
    with pytest.raises(ValueError):
        billing.price("teleport", 1)
    with pytest.raises(ValueError):
        billing.price("images", -1)


# -- charges -----------------------------------------------------------------------------------


async def test_fifty_concurrent_charges_against_a_balance_covering_ten(app, client):
    account_id = await _account(client, "race@example.com")
    assert await credits_of(app, account_id) == 1000  # the free plan's monthly credits

    async def one(i: int):
        try:
            return await _charge(app, account_id, 100, reference=f"job-{i}", units=100)
        except InsufficientCredits as exc:
            return exc

    results = await asyncio.gather(*(one(i) for i in range(50)))
    charged = [r for r in results if isinstance(r, dict)]
    refused = [r for r in results if isinstance(r, InsufficientCredits)]
    assert len(charged) == 10 and len(refused) == 40
    assert all(r.error == "Insufficient credits" for r in refused)
    assert await credits_of(app, account_id) == 0
    # each success saw a distinct balance: 900, 800, … 0 (never below zero, none twice)
    assert sorted(r["balance_after"] for r in charged) == list(range(0, 1000, 100))
    txs = await _rows(app, credit_transactions, account_id)
    usage = await _rows(app, credit_usage, account_id)
    assert len(txs) == 10 and len(usage) == 10
    assert {t["transaction_type"] for t in txs} == {"charge"}
    assert {u["reference"] for u in usage} == {r["reference"] for r in charged}
    await _check_invariant(app, account_id, 1000)


async def test_a_charge_writes_a_transaction_and_a_usage_row(app, client):
    account_id = await _account(client, "one@example.com")
    tx = await _charge(app, account_id, 45, operation_type="content", units=1500, cost=0.25,
                       tokens=1234, reference="task-1", description="Article")
    assert tx["transaction_type"] == "charge" and tx["amount"] == -45
    assert tx["balance_after"] == 955 and tx["reference"] == "task-1"
    (usage,) = await _rows(app, credit_usage, account_id)
    assert usage["id"] == tx["usage_id"] and usage["transaction_id"] == tx["id"]
    assert (usage["operation_type"], usage["credits_used"], usage["units"], usage["cost"],
            usage["tokens"], usage["credits_refunded"]) == ("content", 45, 1500, 0.25, 1234, 0)


async def test_a_charge_the_balance_does_not_cover_writes_nothing(app, client):
    account_id = await _account(client, "short@example.com")
    with pytest.raises(InsufficientCredits) as info:
        await _charge(app, account_id, 1001)
    assert info.value.errors == {"credits": ["This needs 1001 credits; the balance is 1000."]}
    assert await credits_of(app, account_id) == 1000
    assert await _rows(app, credit_transactions, account_id) == []
    assert await _rows(app, credit_usage, account_id) == []
    # exactly the balance is fine, and leaves zero
    await _charge(app, account_id, 1000)
    assert await credits_of(app, account_id) == 0


async def test_bad_amounts_and_operation_types_are_programming_errors(app, client):
    account_id = await _account(client, "bad@example.com")
    for kw in ({"amount": 0}, {"amount": -5}, {"amount": 5, "operation_type": "teleport"}):
        with pytest.raises(ValueError):
            await _charge(app, account_id, **kw)  # type: ignore[arg-type]
    assert await credits_of(app, account_id) == 1000


# -- refunds -----------------------------------------------------------------------------------


async def test_refund_restores_the_balance_once(app, client):
    account_id = await _account(client, "refund@example.com")
    await _charge(app, account_id, 30, reference="job-a")
    await _charge(app, account_id, 20, reference="job-a", operation_type="images")
    await _charge(app, account_id, 7, reference="job-b")
    assert await credits_of(app, account_id) == 943
    async with app.ctx.store.begin() as conn:
        refunds = await billing.refund(conn, account_id, reference="job-a",
                                       description="Job failed")
    assert [(r["transaction_type"], r["amount"]) for r in refunds] == [("refund", 30),
                                                                       ("refund", 20)]
    assert refunds[-1]["balance_after"] == 993 == await credits_of(app, account_id)
    # again: nothing left to give back (a failure hook that runs twice refunds once)
    async with app.ctx.store.begin() as conn:
        assert await billing.refund(conn, account_id, reference="job-a") == []
    usage = {u["reference"] + u["operation_type"]: u
             for u in await _rows(app, credit_usage, account_id)}
    assert usage["job-aclustering"]["credits_refunded"] == 30
    assert usage["job-aimages"]["credits_refunded"] == 20
    assert usage["job-bclustering"]["credits_refunded"] == 0
    await _check_invariant(app, account_id, 1000)


async def test_partial_refund_by_usage_id_is_capped_by_what_was_charged(app, client):
    account_id = await _account(client, "partial@example.com")
    tx = await _charge(app, account_id, 50)
    async with app.ctx.store.begin() as conn:
        (first,) = await billing.refund(conn, account_id, usage_id=tx["usage_id"], amount=20)
    assert first["amount"] == 20 and first["reference"] == f"usage:{tx['usage_id']}"
    async with app.ctx.store.begin() as conn:
        (second,) = await billing.refund(conn, account_id, usage_id=tx["usage_id"],
                                         amount=500)
    assert second["amount"] == 30
    assert await credits_of(app, account_id) == 1000
    await _check_invariant(app, account_id, 1000)


async def test_concurrent_refunds_of_one_job_give_it_back_once(app, client):
    account_id = await _account(client, "twice@example.com")
    await _charge(app, account_id, 60, reference="job-x")

    async def one():
        async with app.ctx.store.begin() as conn:
            return await billing.refund(conn, account_id, reference="job-x")

    results = await asyncio.gather(*(one() for _ in range(10)))
    assert sorted(len(r) for r in results) == [0] * 9 + [1]
    assert await credits_of(app, account_id) == 1000
    await _check_invariant(app, account_id, 1000)


async def test_refund_job_hook_refunds_what_the_task_was_charged(app, client):
    account_id = await _account(client, "hook@example.com")
    await _charge(app, account_id, 40, reference="5d9a-task")
    job = SimpleNamespace(account_id=account_id, task_id="5d9a-task")
    async with app.ctx.store.begin() as conn:
        await billing.refund_job(conn, job, "provider timed out")
    assert await credits_of(app, account_id) == 1000
    txs = await _rows(app, credit_transactions, account_id)
    assert txs[-1]["description"] == "Refund: provider timed out"


async def test_refunds_stay_in_their_account(app, client):
    mine = await _account(client, "mine@example.com")
    theirs = await _account(client, "theirs@example.com")
    await _charge(app, theirs, 10, reference="shared-name")
    async with app.ctx.store.begin() as conn:
        assert await billing.refund(conn, mine, reference="shared-name") == []
    assert await credits_of(app, mine) == 1000 and await credits_of(app, theirs) == 990


# -- grants and the invariant ------------------------------------------------------------------


async def test_grants_and_adjustments_never_go_below_zero(app, client):
    account_id = await _account(client, "grant@example.com")
    async with app.ctx.store.begin() as conn:
        g = await billing.grant(conn, account_id, amount=500, transaction_type="monthly_grant",
                                description="December", reference="2026-12")
    assert (g["amount"], g["balance_after"]) == (500, 1500)
    async with app.ctx.store.begin() as conn:
        a = await billing.grant(conn, account_id, amount=-1500, transaction_type="adjustment")
    assert a["balance_after"] == 0
    with pytest.raises(InsufficientCredits):
        async with app.ctx.store.begin() as conn:
            await billing.grant(conn, account_id, amount=-1, transaction_type="adjustment")
    for kw in ({"amount": -1}, {"amount": 0}, {"amount": 5, "transaction_type": "charge"}):
        with pytest.raises(ValueError):
            async with app.ctx.store.begin() as conn:
                await billing.grant(conn, account_id, **kw)  # type: ignore[arg-type]
    assert await credits_of(app, account_id) == 0
    await _check_invariant(app, account_id, 1000)


async def test_the_ledger_adds_up_after_a_mixed_run(app, client):
    account_id = await _account(client, "mixed@example.com")
    refs = []
    for i, op in enumerate(billing.OPERATION_TYPES * 3):
        amount = billing.price(op, 10 + i)
        tx = await _charge(app, account_id, amount, operation_type=op, reference=f"j{i}",
                           units=10 + i)
        refs.append(tx["reference"])
    async with app.ctx.store.begin() as conn:
        await billing.refund(conn, account_id, reference=refs[0])
        await billing.refund(conn, account_id, reference=refs[3], amount=1)
        await billing.grant(conn, account_id, amount=25, description="Goodwill")
        await billing.grant(conn, account_id, amount=-3, transaction_type="adjustment")
    with pytest.raises(InsufficientCredits):
        await _charge(app, account_id, 10_000)
    await _check_invariant(app, account_id, 1000)
    async with app.ctx.store.read() as conn:
        n = (await conn.execute(select(func.count()).select_from(credit_transactions)
                                .where(credit_transactions.c.account_id == account_id)))
        assert n.scalar_one() == 15 + 2 + 2
