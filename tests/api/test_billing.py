"""Billing endpoints through HTTP on both stores: balance, usage (list, get, filters, summary,
limits), transactions (admin/owner only), and tenant isolation."""

from __future__ import annotations

import datetime as dt

from igny8d.services import billing
from tests.helpers.factories import owner_and_account
from tests.helpers.paths import BALANCE as BAL
from tests.helpers.paths import TRANSACTIONS as TX
from tests.helpers.paths import USAGE


async def _spend(app, account_id: int) -> None:
    """A small pipeline run: clustering, ideas, one article refunded after a failure."""
    async with app.ctx.store.begin() as conn:
        await billing.charge(conn, account_id, amount=billing.price("clustering", 100),
                             operation_type="clustering", description="Cluster 100",
                             units=100, reference="t-cluster")
        await billing.charge(conn, account_id, amount=billing.price("ideas", 2),
                             operation_type="ideas", description="Ideas", units=2,
                             reference="t-ideas")
        await billing.charge(conn, account_id, amount=billing.price("content", 1500),
                             operation_type="content", description="Article", units=1500,
                             reference="t-content")
        await billing.refund(conn, account_id, reference="t-content", description="Failed")


def _today() -> str:
    return dt.datetime.now(dt.UTC).date().isoformat()


async def test_balance_has_the_reference_shape(app, client):
    owner, account_id = await owner_and_account(client, "bal@example.com")
    resp = await client.get(BAL, token=owner)
    assert resp.status == 200
    assert resp.data == {"credits": 1000, "plan_credits_per_month": 1000,
                         "credits_used_this_month": 0, "credits_remaining": 1000}
    await _spend(app, account_id)
    resp = await client.get(BAL, token=owner)
    # 100 + 10 charged and kept; the article's 45 were refunded
    assert resp.data == {"credits": 890, "plan_credits_per_month": 1000,
                         "credits_used_this_month": 110, "credits_remaining": 890}


async def test_balance_and_usage_are_for_every_role_transactions_for_admins(app, client):
    owner, account_id = await owner_and_account(client, "roles@example.com")
    await _spend(app, account_id)
    viewer = await client.member(owner, "viewer@example.com", "viewer")
    editor = await client.member(owner, "editor@example.com", "editor")
    admin = await client.member(owner, "admin@example.com", "admin")
    for token in (viewer, editor, admin, owner):
        assert (await client.get(BAL, token=token)).status == 200
        assert (await client.get(USAGE, token=token)).json["count"] == 3
        assert (await client.get(f"{USAGE}summary/", token=token)).status == 200
        assert (await client.get(f"{USAGE}limits/", token=token)).status == 200
    for token in (viewer, editor):
        listed = await client.get(TX, token=token)
        assert listed.status == 403, listed.json
        assert (await client.get(f"{TX}1/", token=token)).status == 403
    for token in (admin, owner):
        assert (await client.get(TX, token=token)).json["count"] == 4
    assert (await client.get(BAL)).status == 401
    assert (await client.get(TX)).status == 401


async def test_billing_is_read_only(app, client):
    owner, _ = await owner_and_account(client, "ro@example.com")
    for path in (BAL, USAGE, TX, f"{USAGE}summary/"):
        for method in ("POST", "PUT", "DELETE"):
            resp = await client.request(method, path, token=owner, json_body={})
            assert resp.status == 405, (method, path, resp.status)


async def test_usage_list_get_and_filters(app, client):
    owner, account_id = await owner_and_account(client, "usage@example.com")
    await _spend(app, account_id)
    listed = await client.get(USAGE, token=owner)
    assert listed.json["count"] == 3
    first = listed.json["results"][0]  # newest first
    assert set(first) == {"id", "operation_type", "credits_used", "credits_refunded", "units",
                          "cost", "tokens", "description", "reference", "transaction_id",
                          "user_id", "created_at"}
    assert (first["operation_type"], first["credits_used"], first["credits_refunded"]) == \
        ("content", 45, 45)
    got = await client.get(f"{USAGE}{first['id']}/", token=owner)
    assert got.status == 200 and got.data == first

    ideas = await client.get(f"{USAGE}?operation_type=ideas", token=owner)
    assert [r["operation_type"] for r in ideas.json["results"]] == ["ideas"]
    both = await client.get(f"{USAGE}?operation_type=ideas,clustering", token=owner)
    assert both.json["count"] == 2
    bad = await client.get(f"{USAGE}?operation_type=teleport", token=owner)
    assert bad.status == 400 and "operation_type" in bad.errors

    today = _today()
    yesterday = (dt.date.fromisoformat(today) - dt.timedelta(days=1)).isoformat()
    tomorrow = (dt.date.fromisoformat(today) + dt.timedelta(days=1)).isoformat()
    # inclusive days: today's rows are inside [today, today]
    assert (await client.get(f"{USAGE}?start_date={today}&end_date={today}",
                             token=owner)).json["count"] == 3
    assert (await client.get(f"{USAGE}?end_date={yesterday}", token=owner)).json["count"] == 0
    assert (await client.get(f"{USAGE}?start_date={tomorrow}", token=owner)).json["count"] == 0
    for query, name in (("start_date=2026-13-01", "start_date"), ("end_date=yesterday",
                                                                  "end_date")):
        resp = await client.get(f"{USAGE}?{query}", token=owner)
        assert resp.status == 400, resp.json
        assert resp.errors == {name: ["Enter a date as YYYY-MM-DD."]}
    ordered = await client.get(f"{USAGE}?ordering=credits_used", token=owner)
    assert [r["credits_used"] for r in ordered.json["results"]] == [10, 45, 100]


async def test_usage_summary_totals_by_operation_type(app, client):
    owner, account_id = await owner_and_account(client, "summary@example.com")
    await _spend(app, account_id)
    resp = await client.get(f"{USAGE}summary/", token=owner)
    assert resp.status == 200
    data = resp.data
    today = dt.date.fromisoformat(_today())
    assert data["start_date"] == today.replace(day=1).isoformat()
    assert data["end_date"] >= today.isoformat()
    assert data["total_operations"] == 3 and data["total_credits_used"] == 110
    assert set(data["by_operation_type"]) == set(billing.OPERATION_TYPES)
    assert data["by_operation_type"]["content"] == {
        "count": 1, "units": 1500, "credits_charged": 45, "credits_refunded": 45,
        "credits_used": 0}
    assert data["by_operation_type"]["clustering"]["credits_used"] == 100
    assert data["by_operation_type"]["images"]["count"] == 0
    past = await client.get(f"{USAGE}summary/?start_date=2020-01-01&end_date=2020-01-31",
                            token=owner)
    assert past.data["total_operations"] == 0 and past.data["start_date"] == "2020-01-01"
    bad = await client.get(f"{USAGE}summary/?start_date=01/02/2026", token=owner)
    assert bad.status == 400 and "start_date" in bad.errors
    backwards = await client.get(f"{USAGE}summary/?start_date=2026-02-01&end_date=2026-01-01",
                                 token=owner)
    assert backwards.status == 400 and "end_date" in backwards.errors


async def test_usage_limits_shows_plan_limits_and_counts(app, client):
    owner, account_id = await owner_and_account(client, "limits@example.com")
    await client.site(owner, "One")
    await client.site(owner, "Two")
    await client.member(owner, "seat@example.com", "viewer")
    await _spend(app, account_id)
    resp = await client.get(f"{USAGE}limits/", token=owner)
    assert resp.status == 200
    data = resp.data
    assert data["plan"] == "free"
    assert data["sites"] == {"limit": 5, "used": 2, "remaining": 3}
    assert data["users"] == {"limit": 5, "used": 2, "remaining": 3}
    assert data["keywords"] == {"limit": 1000, "used": 0, "remaining": 1000}
    assert data["clusters"]["used"] == 0 and data["max_sectors_per_site"] == 20
    assert data["credits"] == {"limit": 1000, "used": 110, "remaining": 890}


async def test_transactions_list_get_and_filters(app, client):
    owner, account_id = await owner_and_account(client, "tx@example.com")
    await _spend(app, account_id)
    async with app.ctx.store.begin() as conn:
        await billing.grant(conn, account_id, amount=200, transaction_type="monthly_grant",
                            description="Monthly credits", reference="2026-12")
    listed = await client.get(TX, token=owner)
    assert listed.status == 200 and listed.json["count"] == 5
    newest = listed.json["results"][0]
    assert set(newest) == {"id", "transaction_type", "amount", "balance_after", "description",
                           "reference", "user_id", "created_at"}
    assert (newest["transaction_type"], newest["amount"], newest["balance_after"]) == \
        ("monthly_grant", 200, 1090)
    assert sum(r["amount"] for r in listed.json["results"]) == 1090 - 1000
    got = await client.get(f"{TX}{newest['id']}/", token=owner)
    assert got.status == 200 and got.data == newest
    charges = await client.get(f"{TX}?transaction_type=charge", token=owner)
    assert [r["amount"] for r in charges.json["results"]] == [-45, -10, -100]
    refunds = await client.get(f"{TX}?transaction_type=refund,monthly_grant", token=owner)
    assert refunds.json["count"] == 2
    assert (await client.get(f"{TX}?transaction_type=gift", token=owner)).status == 400
    assert (await client.get(f"{TX}?start_date={_today()}", token=owner)).json["count"] == 5
    assert (await client.get(f"{TX}?end_date=2020-01-01", token=owner)).json["count"] == 0
    bad = await client.get(f"{TX}?end_date=2026-02-30", token=owner)
    assert bad.status == 400 and bad.errors == {"end_date": ["Enter a date as YYYY-MM-DD."]}


async def test_other_accounts_rows_are_not_listed_and_answer_404(app, client):
    mine, my_account = await owner_and_account(client, "mine@example.com")
    theirs, their_account = await owner_and_account(client, "theirs@example.com")
    await _spend(app, their_account)
    async with app.ctx.store.begin() as conn:
        await billing.charge(conn, my_account, amount=5, operation_type="images",
                             description="Mine")
    mine_usage = await client.get(USAGE, token=mine)
    assert mine_usage.json["count"] == 1
    their_usage = await client.get(USAGE, token=theirs)
    their_tx = await client.get(TX, token=theirs)
    assert their_usage.json["count"] == 3 and their_tx.json["count"] == 4
    for row in their_usage.json["results"]:
        assert (await client.get(f"{USAGE}{row['id']}/", token=mine)).status == 404
    for row in their_tx.json["results"]:
        assert (await client.get(f"{TX}{row['id']}/", token=mine)).status == 404
    assert (await client.get(f"{USAGE}999999/", token=mine)).status == 404
    assert (await client.get(f"{USAGE}abc/", token=mine)).status == 404
    summary = (await client.get(f"{USAGE}summary/", token=mine)).data
    assert summary["total_credits_used"] == 5
    balance = (await client.get(BAL, token=mine)).data
    assert balance["credits"] == 995 and balance["credits_used_this_month"] == 5


async def test_list_counts_follow_new_charges(app, client):
    """The list count cache is keyed by the account's data version; a charge bumps it."""
    owner, account_id = await owner_and_account(client, "cache@example.com")
    assert (await client.get(USAGE, token=owner)).json["count"] == 0
    assert (await client.get(TX, token=owner)).json["count"] == 0
    async with app.ctx.store.begin() as conn:
        await billing.charge(conn, account_id, amount=1, operation_type="clustering",
                             description="One")
    assert (await client.get(USAGE, token=owner)).json["count"] == 1
    assert (await client.get(TX, token=owner)).json["count"] == 1


async def test_billing_reads_are_throttled_in_the_billing_scope(throttled_app):
    c = throttled_app.client()
    try:
        owner = await c.owner("throttle@example.com")
        for path in (BAL, USAGE, f"{USAGE}summary/", f"{USAGE}limits/", TX):
            resp = await c.get(path, token=owner)
            assert resp.status == 200, (path, resp.json)
            assert resp.headers["X-Throttle-Limit"] == "30", path  # billing: 30/minute
    finally:
        c.close()
