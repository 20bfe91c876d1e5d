"""The extension of `auto_generate_ideas` (issue 16, item 11) through HTTP on both stores:
`{sector_id, all_without_ideas: true}` queues ideas for every cluster of the sector that has
keywords and no idea, as one job charged per idea; the bad bodies; and concurrent calls
against a balance for two sectors — each cluster paid for once, the balance never below 0."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update

from igny8d.operations import ideas as ideas_operation
from igny8d.store.schema import accounts, credit_transactions, jobs
from tests.helpers.app import make_settings, start_app, stop_app
from tests.helpers.client import Client
from tests.helpers.factories import ESPRESSO, SOURDOUGH, account, make_cluster
from tests.helpers.jobs import accepted, job_count, poll
from tests.helpers.paths import CLUSTERS, IDEAS, IDEAS_AUTO
from tests.helpers.reads import all_rows, credits

HIKING = [("hiking boots", 5000), ("waterproof hiking boots", 900), ("hiking boots for women",
                                                                     700)]


def whole(sector_id: int) -> dict[str, Any]:
    return {"sector_id": sector_id, "all_without_ideas": True}


async def test_ideas_for_every_cluster_of_a_sector_without_ideas(jobs_app, client):
    env = await account(client, "sector@example.com")
    token = env["token"]
    sector = env["sector"]["id"]
    wanted = [await make_cluster(client, env, "espresso machine", ESPRESSO),
              await make_cluster(client, env, "sourdough starter", SOURDOUGH),
              await make_cluster(client, env, "hiking boots", HIKING)]
    has_idea = await make_cluster(client, env, "tea kettle", [("tea kettle", 100)])
    resp = await client.post(IDEAS, {"title": "Kettles", "site_id": env["site"]["id"],
                                     "sector_id": sector, "cluster_id": has_idea}, token=token)
    assert resp.status == 201, resp.json
    resp = await client.post(CLUSTERS, {"name": "empty", "site_id": env["site"]["id"],
                                        "sector_id": sector}, token=token)
    assert resp.status == 201
    other_sector = await client.sector(token, env["site"]["id"], "Sector B")
    elsewhere = await make_cluster(client, {**env, "sector": other_sector}, "french press",
                                   [("french press", 300)])
    before = await credits(client, token)
    planned = sum(ideas_operation.ideas_for(n) for n in (len(ESPRESSO), len(SOURDOUGH),
                                                          len(HIKING)))

    task_id = accepted(await client.post(IDEAS_AUTO, whole(sector), token=token))
    assert await credits(client, token) == before - 5 * planned  # one charge, per idea
    done = await poll(client, token, task_id)
    assert done["state"] == "SUCCESS", done
    assert done["result"]["clusters"] == 3 and done["result"]["ideas_created"] == planned
    ideas = await all_rows(client, token, IDEAS)
    by_cluster = {i["cluster_id"] for i in ideas if i["id"] in done["result"]["idea_ids"]}
    assert by_cluster == set(wanted)
    assert all(i["sector_id"] == sector for i in ideas if i["cluster_id"] in wanted)
    assert not [i for i in ideas if i["cluster_id"] == elsewhere]
    assert await credits(client, token) == before - 5 * planned

    # every cluster has its ideas now: nothing to do, nothing charged
    resp = await client.post(IDEAS_AUTO, whole(sector), token=token)
    assert resp.status == 400 and list(resp.errors) == ["sector_id"], resp.json
    # the reference's contract is unchanged
    done = await poll(client, token, accepted(
        await client.post(IDEAS_AUTO, {"ids": [elsewhere]}, token=token)))
    assert done["state"] == "SUCCESS"


async def test_bad_bodies_and_foreign_sectors_charge_nothing(jobs_app, client):
    env = await account(client, "badsector@example.com")
    token = env["token"]
    sector = env["sector"]["id"]
    cid = await make_cluster(client, env, "espresso machine", ESPRESSO[:2])
    stranger = await account(client, "stranger@example.com")
    before = await credits(client, token)
    for body, field in (({"all_without_ideas": True}, "sector_id"),
                        ({**whole(sector), "ids": [cid]}, "ids"),
                        ({"sector_id": sector}, "sector_id"),
                        ({"ids": [cid], "sector_id": sector}, "sector_id"),
                        ({"sector_id": sector, "all_without_ideas": "yes"}, "all_without_ideas"),
                        ({"sector_id": 0, "all_without_ideas": True}, "sector_id"),
                        ({}, "ids")):
        resp = await client.post(IDEAS_AUTO, body, token=token)
        assert resp.status == 400, (body, resp.json)
        assert field in resp.errors, (body, resp.json)
    resp = await client.post(IDEAS_AUTO, whole(stranger["sector"]["id"]), token=token)
    assert resp.status == 404 and list(resp.errors) == ["sector_id"], resp.json
    viewer = await client.member(token, "viewer@example.com", "viewer")
    assert (await client.post(IDEAS_AUTO, whole(sector), token=viewer)).status == 403
    assert await credits(client, token) == before
    assert await job_count(jobs_app) == 0


async def _sector_with_clusters(client: Client, env: dict[str, Any], name: str,
                                n: int) -> int:
    sector = await client.sector(env["token"], env["site"]["id"], name)
    for k in range(n):
        await make_cluster(client, {**env, "sector": sector}, f"{name} topic {k}",
                           [(f"{name} topic {k} guide", 10)])
    return int(sector["id"])


async def test_concurrent_calls_pay_each_cluster_once_within_the_balance(tmp_path: Path,
                                                                        db_url: str):
    # no workers: the jobs stay queued, so what is queued is what the calls did
    running = await start_app(make_settings(tmp_path, db_url, job_workers=0))
    clients = [running.client() for _ in range(4)]
    client = clients[0]
    try:
        env = await account(client, "race@example.com")
        token = env["token"]
        sectors = [await _sector_with_clusters(client, env, f"S{n}", 3) for n in range(4)]
        async with running.ctx.store.begin() as conn:  # 3 ideas of 5 credits: two sectors
            await conn.execute(update(accounts).where(accounts.c.id == env["account_id"])
                               .values(credits=30))

        calls = [s for s in sectors for _ in range(2)]  # each sector asked twice at once
        answers = await asyncio.gather(*(
            clients[n % len(clients)].post(IDEAS_AUTO, whole(s), token=token)
            for n, s in enumerate(calls)))
        by_status: dict[int, list[int]] = {}
        for sector, answer in zip(calls, answers, strict=True):
            by_status.setdefault(answer.status, []).append(sector)
        assert sorted(by_status) == [202, 400, 402], by_status
        admitted = by_status[202]
        # two sectors queued, once each; their second call found every cluster queued
        assert len(admitted) == 2 and len(set(admitted)) == 2
        assert sorted(by_status[400]) == sorted(admitted)
        assert len(by_status[402]) == 4 and not set(by_status[402]) & set(admitted)
        assert await credits(client, token) == 0

        async with running.ctx.store.read() as conn:
            payloads = list((await conn.execute(select(jobs.c.payload))).scalars())
            lowest = (await conn.execute(
                select(func.min(credit_transactions.c.balance_after))
                .where(credit_transactions.c.account_id == env["account_id"]))).scalar_one()
        assert len(payloads) == 2
        queued = [cid for p in payloads for cid in p["ids"]]
        assert len(queued) == len(set(queued)) == 6  # no cluster queued twice
        assert all(p["credits"] == 15 and p["units"] == 3 for p in payloads)
        assert lowest == 0
    finally:
        for c in clients:
            c.close()
        await stop_app(running)
