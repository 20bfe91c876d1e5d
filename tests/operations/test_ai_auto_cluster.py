"""POST /api/v1/planner/keywords/auto_cluster/ end to end through HTTP on both stores, with
running job workers: validation (scope, sector, sizes), the credit charge with the queued
job in one transaction (402 queues nothing), the job's clusters, intents and progress (every
keyword in a cluster, one that fits nowhere in its own), re-clustering, the plan's cluster limit,
joining existing clusters, manual placements kept, and the refund of a failed job."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update

from igny8d.operations import cluster as cluster_operation
from igny8d.store.schema import accounts, credit_usage, plans
from tests.helpers.app import make_settings, start_app, stop_app
from tests.helpers.client import Client
from tests.helpers.factories import ESPRESSO, SOURDOUGH, account, add_keywords
from tests.helpers.jobs import accepted, job_count, poll
from tests.helpers.paths import AUTO_CLUSTER as AUTO
from tests.helpers.paths import CLUSTERS, KEYWORDS, USAGE
from tests.helpers.reads import credits

TOPICS: dict[str, list[tuple[str, int]]] = {
    "espresso": ESPRESSO,
    "hiking": [("hiking boots", 8000), ("hiking boot", 3500), ("best hiking boots", 2500),
               ("waterproof hiking boots", 1500), ("hiking boots women", 1200),
               ("hiking boots men", 1100), ("lightweight hiking boots", 900),
               ("cheap hiking boots", 600), ("hiking boots sale", 400),
               ("leather hiking boots", 300)],
    "sourdough": SOURDOUGH,
}
HEADS = {"espresso": "espresso", "hiking": "hiking boot", "sourdough": "sourdough"}


async def keywords_of(client: Client, token: str, sector_id: int) -> dict[int, dict[str, Any]]:
    resp = await client.get(f"{KEYWORDS}?sector_id={sector_id}&page_size=100", token=token)
    assert resp.status == 200
    return {int(k["id"]): k for k in resp.json["results"]}


async def clusters_of(client: Client, token: str, sector_id: int) -> dict[int, dict[str, Any]]:
    resp = await client.get(f"{CLUSTERS}?sector_id={sector_id}&page_size=100", token=token)
    assert resp.status == 200
    return {int(c["id"]): c for c in resp.json["results"]}


async def test_auto_cluster_end_to_end(jobs_app, client):
    env = await account(client, "cluster@example.com")
    token, sector = env["token"], env["sector"]
    topic_of: dict[int, str] = {}
    for topic, texts in TOPICS.items():
        for kid in await add_keywords(client, env, texts):
            topic_of[kid] = topic
    ids = sorted(topic_of)
    before = await credits(client, token)

    resp = await client.post(AUTO, {"ids": ids, "sector_id": sector["id"]}, token=token)
    task_id = accepted(resp)
    # charged at once, with a usage row naming the task
    assert await credits(client, token) == before - 30
    usage = (await client.get(f"{USAGE}?operation_type=clustering", token=token)).json
    rows = usage["results"]
    assert len(rows) == 1
    assert rows[0]["reference"] == task_id
    assert rows[0]["credits_used"] == 30 and rows[0]["units"] == 30

    done = await poll(client, token, task_id, "SUCCESS", "FAILURE")
    assert done["state"] == "SUCCESS", done
    assert done["meta"]["percentage"] == 100
    result = done["result"]
    assert result["clusters_created"] >= 3
    # every keyword ends in a cluster: none is left over
    assert result["keywords_clustered"] == 30
    assert result["unclustered"] == [] and result["unclustered_count"] == 0
    assert result["intents_set"] == 30  # none had an intent

    kws = await keywords_of(client, token, sector["id"])
    clusters = await clusters_of(client, token, sector["id"])
    assert len(clusters) == result["clusters_created"]
    assert all(k["intent"] is not None for k in kws.values())
    clustered = [k for k in kws.values() if k["cluster_id"] is not None]
    assert len(clustered) == result["keywords_clustered"]
    # clusters never mix topics, and every topic's head keyword names a cluster
    members: dict[int, set[str]] = {}
    for k in clustered:
        members.setdefault(int(k["cluster_id"]), set()).add(topic_of[int(k["id"])])
    assert all(len(t) == 1 for t in members.values()), members
    singles = 0
    for cid, cluster in clusters.items():
        topic = next(iter(members[cid]))
        assert HEADS[topic] in cluster["name"], cluster
        assert cluster["keywords_count"] >= 1
        if cluster["keywords_count"] == 1:
            singles += 1
            (only,) = [k for k in clustered if k["cluster_id"] == cid]
            assert cluster["name"] == only["keyword"]  # named after its keyword
    assert result["single_keyword_clusters"] == singles
    names = {c["name"] for c in clusters.values()}
    assert {"espresso machine", "hiking boots", "sourdough starter"} <= names
    # "best X" (a listicle) and "X price" (a buy page) are different pages
    home = {k["keyword"]: k["cluster_id"] for k in clustered}
    assert home["best espresso machine"] != home["espresso machine price"]
    assert home["espresso machine"] == home["espresso machines"]
    # credits: only the one charge (no refund after a success)
    assert await credits(client, token) == before - 30

    # clustering the same keywords again places every one again, in the same clusters
    resp = await client.post(AUTO, {"ids": ids, "sector_id": sector["id"]}, token=token)
    again = await poll(client, token, resp.data["task_id"], "SUCCESS", "FAILURE")
    assert again["state"] == "SUCCESS", again
    assert again["result"]["keywords_clustered"] == 30
    assert again["result"]["unclustered_count"] == 0
    assert again["result"]["clusters_created"] == 0
    after = await keywords_of(client, token, sector["id"])
    assert {i: k["cluster_id"] for i, k in after.items()} == \
        {i: k["cluster_id"] for i, k in kws.items()}


async def test_the_intents_auto_cluster_stores_read_names_and_questions(jobs_app, client):
    """Keywords without an intent get the classifier's (the reference's four values): a name
    typed alone is navigational, a how-to about a brand of the lists informational, a sign-in
    navigational; a keyword given its intent keeps it."""
    env = await account(client, "intents@example.com")
    token, sector = env["token"], env["sector"]
    ids = await add_keywords(client, env, [("skydio", 900), ("skydio x10 review", 300),
                                           ("how to kayak", 800), ("how to login to ikea", 400)])
    (given,) = await add_keywords(client, env, [("equifax", 700)], intent="commercial")
    done = await poll(client, token, accepted(await client.post(
        AUTO, {"ids": [*ids, given], "sector_id": sector["id"]}, token=token)),
        "SUCCESS", "FAILURE")
    assert done["state"] == "SUCCESS", done
    assert done["result"]["intents_set"] == 4
    intent = {k["keyword"]: k["intent"]
              for k in (await keywords_of(client, token, sector["id"])).values()}
    assert intent == {"skydio": "navigational", "skydio x10 review": "commercial",
                      "how to kayak": "informational", "how to login to ikea": "navigational",
                      "equifax": "commercial"}


async def test_the_plans_cluster_limit_is_the_one_reason_to_leave_keywords_out(jobs_app, client):
    env = await account(client, "limit@example.com")
    token, sector = env["token"], env["sector"]
    ids = await add_keywords(client, env, TOPICS["sourdough"] + TOPICS["hiking"])
    async with jobs_app.ctx.store.begin() as conn:
        plan_id = (await conn.execute(select(accounts.c.plan_id).where(
            accounts.c.id == env["account_id"]))).scalar_one()
        limit = (await conn.execute(select(plans.c.max_clusters).where(
            plans.c.id == plan_id))).scalar_one()
        await conn.execute(update(plans).where(plans.c.id == plan_id).values(max_clusters=1))
    try:
        resp = await client.post(AUTO, {"ids": ids, "sector_id": sector["id"]}, token=token)
        done = await poll(client, token, resp.data["task_id"], "SUCCESS", "FAILURE")
    finally:  # the plan is shared with the other tests' accounts
        async with jobs_app.ctx.store.begin() as conn:
            await conn.execute(update(plans).where(plans.c.id == plan_id)
                               .values(max_clusters=limit))
    assert done["state"] == "SUCCESS", done
    result = done["result"]
    assert result["clusters_created"] == 1
    assert result["keywords_clustered"] + result["unclustered_count"] == 20
    assert result["unclustered_count"] > 0
    assert all(u["reason"].startswith("plan_limit: ") for u in result["unclustered"])
    kws = await keywords_of(client, token, sector["id"])
    left = {u["id"] for u in result["unclustered"]}
    assert all(kws[i]["cluster_id"] is None for i in left)


async def test_new_keywords_join_existing_clusters_and_manual_ones_stay(jobs_app, client):
    env = await account(client, "join@example.com")
    token, sector = env["token"], env["sector"]
    first = await add_keywords(client, env, TOPICS["espresso"][:5] + TOPICS["hiking"][:5])
    resp = await client.post(AUTO, {"ids": first, "sector_id": sector["id"]}, token=token)
    assert resp.status == 202
    done = await poll(client, token, resp.data["task_id"], "SUCCESS", "FAILURE")
    assert done["state"] == "SUCCESS", done
    clusters = await clusters_of(client, token, sector["id"])
    by_name = {c["name"]: cid for cid, c in clusters.items()}
    espresso = by_name["espresso machine"]
    hiking = by_name["hiking boots"]

    # a keyword a user put by hand in the hiking cluster, though it is about espresso
    manual = (await add_keywords(client, env, [("espresso grinder for espresso machine", 10)],
                                 cluster_id=hiking))[0]
    later = await add_keywords(client, env, TOPICS["espresso"][5:])
    resp = await client.post(AUTO, {"ids": [*later, manual], "sector_id": sector["id"]},
                             token=token)
    assert resp.status == 202
    done = await poll(client, token, resp.data["task_id"], "SUCCESS", "FAILURE")
    assert done["state"] == "SUCCESS", done
    assert done["result"]["kept_manual"] == 1
    kws = await keywords_of(client, token, sector["id"])
    assert kws[manual]["cluster_id"] == hiking
    # into the existing espresso clusters: the listicle's, or (price, deals, sale: not the
    # listicle's page) the cheap one's
    cheap = by_name.get("cheap espresso machine")
    joined = [k for k in later if kws[k]["cluster_id"] in (espresso, cheap)]
    assert len(joined) >= 3, [kws[k] for k in later]
    # no second "espresso machine" cluster: names are unique per sector
    names = [c["name"] for c in (await clusters_of(client, token, sector["id"])).values()]
    assert len(names) == len(set(names))


async def test_validation_and_scope(jobs_app, client):
    env = await account(client, "val@example.com")
    token, sector = env["token"], env["sector"]
    ids = await add_keywords(client, env, TOPICS["espresso"][:3])
    other_sector = await client.sector(token, env["site"]["id"], "Sector B")
    elsewhere = await add_keywords(client, env, TOPICS["hiking"][:2], sector=other_sector)
    stranger = await account(client, "stranger@example.com")
    foreign = await add_keywords(client, stranger, TOPICS["sourdough"][:2])
    before = await credits(client, token)

    # foreign ids: 404 naming them, nothing charged or queued
    resp = await client.post(AUTO, {"ids": [*ids, *foreign], "sector_id": sector["id"]},
                             token=token)
    assert resp.status == 404, resp.json
    assert "ids" in resp.errors
    assert all(str(f) in resp.errors["ids"][0] for f in foreign)
    # another account's sector
    resp = await client.post(AUTO, {"ids": ids, "sector_id": stranger["sector"]["id"]},
                             token=token)
    assert resp.status == 404 and "sector_id" in resp.errors
    # ids of another sector of the caller's: 400
    resp = await client.post(AUTO, {"ids": [*ids, *elsewhere], "sector_id": sector["id"]},
                             token=token)
    assert resp.status == 400, resp.json
    assert str(elsewhere[0]) in resp.errors["ids"][0]
    # empty, malformed, missing sector
    for body in ({"ids": [], "sector_id": sector["id"]}, {"ids": ids},
                 {"ids": ["x"], "sector_id": sector["id"]},
                 {"ids": ids, "sector_id": sector["id"], "extra": 1}):
        resp = await client.post(AUTO, body, token=token)
        assert resp.status == 400, (body, resp.json)
    assert await credits(client, token) == before
    assert await job_count(jobs_app) == 0

    # a viewer may not; an editor may
    viewer = await client.member(token, "viewer@example.com", "viewer")
    resp = await client.post(AUTO, {"ids": ids, "sector_id": sector["id"]}, token=viewer)
    assert resp.status == 403
    editor = await client.member(token, "editor@example.com", "editor")
    resp = await client.post(AUTO, {"ids": ids, "sector_id": sector["id"]}, token=editor)
    assert resp.status == 202
    done = await poll(client, editor, resp.data["task_id"], "SUCCESS", "FAILURE")
    assert done["state"] == "SUCCESS"


async def test_too_many_ids(tmp_path, db_url):
    running = await start_app(make_settings(tmp_path, db_url, local_cluster_max_ids=3))
    client = running.client()
    try:
        env = await account(client, "many@example.com")
        ids = await add_keywords(client, env, TOPICS["espresso"][:4])
        body = {"ids": ids, "sector_id": env["sector"]["id"]}
        resp = await client.post(AUTO, body, token=env["token"])
        assert resp.status == 400, resp.json
        assert "at most 3" in resp.errors["ids"][0]
        # repeated ids count once
        resp = await client.post(AUTO, {**body, "ids": ids[:3] * 2}, token=env["token"])
        assert resp.status == 202, resp.json
        assert await credits(client, env["token"]) == 1000 - 3
    finally:
        client.close()
        await stop_app(running)


async def test_insufficient_credits_is_402_and_queues_nothing(jobs_app, client):
    env = await account(client, "poor@example.com")
    ids = await add_keywords(client, env, TOPICS["hiking"][:5])
    async with jobs_app.ctx.store.begin() as conn:
        await conn.execute(update(accounts).where(accounts.c.id == env["account_id"])
                           .values(credits=4))
    resp = await client.post(AUTO, {"ids": ids, "sector_id": env["sector"]["id"]},
                             token=env["token"])
    assert resp.status == 402, resp.json
    assert resp.error == "Insufficient credits"
    assert await credits(client, env["token"]) == 4
    assert await job_count(jobs_app) == 0
    async with jobs_app.ctx.store.read() as conn:
        assert (await conn.execute(select(func.count()).select_from(credit_usage))
                ).scalar_one() == 0


async def test_a_failed_job_refunds_its_credits(jobs_app, client, monkeypatch):
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(cluster_operation, "cluster_keywords", broken)
    env = await account(client, "fail@example.com")
    token = env["token"]
    ids = await add_keywords(client, env, TOPICS["sourdough"])
    resp = await client.post(AUTO, {"ids": ids, "sector_id": env["sector"]["id"]},
                             token=token)
    assert resp.status == 202
    done = await poll(client, token, resp.data["task_id"], "SUCCESS", "FAILURE")
    assert done["state"] == "FAILURE"
    assert "internal error (RuntimeError)" in done["error"]
    assert "boom" not in done["error"]
    assert await credits(client, token) == 1000
    usage = (await client.get(f"{USAGE}?operation_type=clustering", token=token)).json
    assert usage["results"][0]["credits_refunded"] == 10
    # nothing was written
    assert await clusters_of(client, token, env["sector"]["id"]) == {}
    kws = await keywords_of(client, token, env["sector"]["id"])
    assert all(k["cluster_id"] is None and k["intent"] is None for k in kws.values())
