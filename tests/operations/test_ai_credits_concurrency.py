"""50 concurrent AI calls against a balance that covers exactly 10, on SQLite and Postgres:
`auto_generate_ideas` on 50 clusters (5 credits each) fired together over HTTP. Exactly 10
are answered 202 and queue a job, the other 40 get 402 and queue nothing; the balance ends at
0 and no ledger row ever shows it below zero."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import func, select, update

from igny8d.store.schema import accounts, credit_transactions, credit_usage, jobs
from tests.helpers.app import make_settings, start_app, stop_app
from tests.helpers.factories import account
from tests.helpers.paths import CLUSTERS, IDEAS_AUTO, KEYWORDS, TRANSACTIONS
from tests.helpers.reads import all_rows, credits


async def test_fifty_concurrent_calls_on_a_balance_for_ten(tmp_path: Path, db_url: str):
    # no workers: the jobs stay queued, so "exactly 10 queued" is what the calls did
    running = await start_app(make_settings(tmp_path, db_url, job_workers=0))
    clients = [running.client() for _ in range(5)]
    client = clients[0]
    try:
        env = await account(client, "race@example.com")
        token = env["token"]
        cluster_ids = []
        for n in range(50):
            resp = await client.post(CLUSTERS, {"name": f"topic {n}",
                                                "site_id": env["site"]["id"],
                                                "sector_id": env["sector"]["id"]},
                                     token=token)
            assert resp.status == 201, resp.json
            cid = int(resp.data["id"])
            resp = await client.post(KEYWORDS, {"keyword": f"topic {n} guide", "volume": 10,
                                          "cluster_id": cid, "site_id": env["site"]["id"],
                                          "sector_id": env["sector"]["id"]}, token=token)
            assert resp.status == 201, resp.json
            cluster_ids.append(cid)
        async with running.ctx.store.begin() as conn:
            await conn.execute(update(accounts).where(accounts.c.id == env["account_id"])
                               .values(credits=50))
        old_tx = {t["id"] for t in await all_rows(client, token, TRANSACTIONS)}

        answers = await asyncio.gather(*(
            clients[n % len(clients)].post(IDEAS_AUTO, {"ids": [cid]}, token=token)
            for n, cid in enumerate(cluster_ids)))
        statuses = sorted(a.status for a in answers)
        assert statuses.count(202) == 10, statuses
        assert statuses.count(402) == 40, statuses
        assert {a.error for a in answers if a.status == 402} == {"Insufficient credits"}
        assert await credits(client, token) == 0

        async with running.ctx.store.read() as conn:
            queued = (await conn.execute(select(func.count()).select_from(jobs))).scalar_one()
            usage = (await conn.execute(
                select(func.count(), func.sum(credit_usage.c.credits_used))
                .where(credit_usage.c.account_id == env["account_id"]))).one()
            lowest = (await conn.execute(
                select(func.min(credit_transactions.c.balance_after))
                .where(credit_transactions.c.account_id == env["account_id"]))).scalar_one()
        assert queued == 10
        assert tuple(usage) == (10, 50)
        assert lowest == 0
        task_ids = {a.data["task_id"] for a in answers if a.status == 202}
        charges = [t for t in await all_rows(client, token, TRANSACTIONS)
                   if t["id"] not in old_tx]
        assert len(charges) == 10 and {t["reference"] for t in charges} == task_ids
        assert sorted(t["balance_after"] for t in charges) == list(range(0, 50, 5))
    finally:
        for c in clients:
            c.close()
        await stop_app(running)
