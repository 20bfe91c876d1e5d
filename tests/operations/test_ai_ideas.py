"""POST /api/v1/planner/clusters/auto_generate_ideas/ through HTTP on both stores, with job
workers running and the local provider: ideas written for the cluster (status `new`, its site
and sector, target keywords, an outline in the ideas API's shape covering its keywords), the
charge for the planned ideas and the refund of those not written (a re-run's duplicates, a
cluster deleted meanwhile, a provider answering fewer), a failing provider (FAILURE with its
message, everything refunded, nothing written), and the bad inputs (foreign ids, a site the
caller may not see, too many, none, an empty cluster, roles)."""

from __future__ import annotations

from typing import Any

from igny8d.ai.types import ClusterBrief, Generation, IdeaDraft, Prompts, ProviderError
from igny8d.operations import ideas as ideas_operation
from igny8d.schemas.planner_clusters import CONTENT_STRUCTURES
from tests.helpers.app import make_settings, start_app, stop_app
from tests.helpers.factories import ESPRESSO, SOURDOUGH, account, make_cluster
from tests.helpers.jobs import job_count, poll, run
from tests.helpers.paths import CLUSTERS, IDEAS, IDEAS_AUTO
from tests.helpers.reads import all_rows, credits, usage_of


def words(text: str) -> str:
    return " ".join(text.lower().split())


# -- ideas ---------------------------------------------------------------------------------------

async def test_ideas_for_a_cluster(jobs_app, client):
    env = await account(client, "ideas@example.com")
    token = env["token"]
    cid = await make_cluster(client, env, "espresso machine", ESPRESSO)
    before = await credits(client, token)
    planned = ideas_operation.ideas_for(len(ESPRESSO))
    assert planned == 1

    resp = await client.post(IDEAS_AUTO, {"ids": [cid]}, token=token)
    assert resp.status == 202, resp.json
    task_id = resp.data["task_id"]
    # charged at once for the planned ideas, with a usage row naming the task
    assert await credits(client, token) == before - 5 * planned
    done = await poll(client, token, task_id)
    assert done["state"] == "SUCCESS", done
    assert done["meta"]["percentage"] == 100
    assert done["meta"]["tokens"] == 0 and done["meta"]["cost"] == 0  # the local provider
    assert done["meta"]["request_steps"] and done["meta"]["response_steps"]
    result = done["result"]
    assert result["ideas_created"] == planned and result["skipped"] == []

    ideas = await all_rows(client, token, f"{IDEAS}?cluster_id={cid}")
    assert sorted(i["id"] for i in ideas) == sorted(result["idea_ids"])
    texts = {words(t) for t, _v in ESPRESSO}
    for idea in ideas:
        assert idea["status"] == "new"
        assert (idea["site_id"], idea["sector_id"]) == (env["site"]["id"], env["sector"]["id"])
        assert idea["title"] and idea["description"]
        assert idea["content_structure"] in CONTENT_STRUCTURES
        assert idea["estimated_word_count"] >= 100
        assert {words(k) for k in idea["target_keywords"]} <= texts
        outline = idea["outline"]
        assert outline and outline[0]["level"] == 2
        assert all(set(o) == {"heading", "level", "points"} and o["level"] in (2, 3)
                   for o in outline)
        # every keyword of the cluster is covered by some section (an H2's points)
        covered = {words(p) for o in outline if o["level"] == 2 for p in o["points"]}
        assert texts <= covered, texts - covered
    usage = await usage_of(client, token, task_id)
    assert usage["operation_type"] == "ideas"
    assert (usage["credits_used"], usage["credits_refunded"]) == (5 * planned, 0)
    assert await credits(client, token) == before - 5 * planned


async def test_a_rerun_writes_no_duplicates_and_refunds_them(jobs_app, client):
    env = await account(client, "again@example.com")
    token = env["token"]
    cid = await make_cluster(client, env, "sourdough starter", SOURDOUGH)
    first = await run(client, token, IDEAS_AUTO, [cid])
    assert first["state"] == "SUCCESS" and first["result"]["ideas_created"] == 1
    after_first = await credits(client, token)

    second = await run(client, token, IDEAS_AUTO, [cid])
    assert second["state"] == "SUCCESS", second
    assert second["result"]["ideas_created"] == 0
    assert [s["reason"].split(":")[0] for s in second["result"]["skipped"]] == ["duplicate"]
    assert len(await all_rows(client, token, f"{IDEAS}?cluster_id={cid}")) == 1
    # charged, then given back: the balance is as before the second call
    assert await credits(client, token) == after_first
    usage = await usage_of(client, token, second["task_id"])
    assert usage["credits_used"] == usage["credits_refunded"] == 5


async def test_a_bigger_cluster_gets_more_ideas(jobs_app, client):
    env = await account(client, "big@example.com")
    token = env["token"]
    texts = ESPRESSO + [(f"espresso machine {w}", 100 - n) for n, w in enumerate(
        ("brands", "parts", "repair", "cleaning", "descaling", "grinder", "milk frother",
         "beginners", "small", "commercial", "portafilter", "pressure gauge", "water tank",
         "steam wand", "pod", "dual boiler"))]
    cid = await make_cluster(client, env, "espresso machine", texts)
    planned = ideas_operation.ideas_for(len(texts))
    assert planned == 2
    before = await credits(client, token)
    done = await run(client, token, IDEAS_AUTO, [cid])
    assert done["state"] == "SUCCESS", done
    ideas = await all_rows(client, token, f"{IDEAS}?cluster_id={cid}")
    assert len(ideas) == done["result"]["ideas_created"] == planned
    assert len({words(i["title"]) for i in ideas}) == planned
    assert await credits(client, token) == before - 5 * planned


async def test_bad_input_charges_nothing(jobs_app, client):
    env = await account(client, "bad@example.com")
    token = env["token"]
    cid = await make_cluster(client, env, "espresso machine", ESPRESSO[:3])
    other = await make_cluster(client, env, "sourdough starter", SOURDOUGH[:3])
    resp = await client.post(CLUSTERS, {"name": "empty", "site_id": env["site"]["id"],
                                        "sector_id": env["sector"]["id"]}, token=token)
    empty = int(resp.data["id"])
    stranger = await account(client, "stranger@example.com")
    foreign = await make_cluster(client, stranger, "hiking boots", [("hiking boots", 10)])
    before = await credits(client, token)

    resp = await client.post(IDEAS_AUTO, {"ids": [foreign]}, token=token)
    assert resp.status == 404, resp.json
    assert str(foreign) in resp.errors["ids"][0]
    resp = await client.post(IDEAS_AUTO, {"ids": [cid, other]}, token=token)
    assert resp.status == 400 and "at most 1" in resp.errors["ids"][0], resp.json
    resp = await client.post(IDEAS_AUTO, {"ids": [empty]}, token=token)
    assert resp.status == 400 and "no keywords" in resp.errors["ids"][0], resp.json
    for body in ({"ids": []}, {}, {"ids": ["x"]}, {"ids": [0]}, {"ids": [cid], "extra": 1},
                 {"ids": cid}):
        resp = await client.post(IDEAS_AUTO, body, token=token)
        assert resp.status == 400, (body, resp.json)
    resp = await client.request("POST", IDEAS_AUTO, body=b"{nope", token=token,
                                headers={"Content-Type": "application/json"})
    assert resp.status == 400
    viewer = await client.member(token, "viewer@example.com", "viewer")
    resp = await client.post(IDEAS_AUTO, {"ids": [cid]}, token=viewer)
    assert resp.status == 403
    resp = await client.post(IDEAS_AUTO, {"ids": [cid]})
    assert resp.status == 401
    assert await credits(client, token) == before
    assert await job_count(jobs_app) == 0

    # an editor limited to another site cannot see this cluster: 404, nothing charged
    other_site = await client.site(token, "Other site")
    limited = await client.member(token, "limited@example.com", "editor",
                                  site_ids=[other_site["id"]])
    resp = await client.post(IDEAS_AUTO, {"ids": [cid]}, token=limited)
    assert resp.status == 404 and str(cid) in resp.errors["ids"][0], resp.json
    assert await credits(client, token) == before
    assert await job_count(jobs_app) == 0

    # an editor may; a repeated id counts once
    editor = await client.member(token, "editor@example.com", "editor")
    done = await run(client, editor, IDEAS_AUTO, [cid, cid])
    assert done["state"] == "SUCCESS", done
    assert await credits(client, token) == before - 5


async def test_a_cluster_deleted_before_the_job_runs_is_refunded(tmp_path, db_url):
    running = await start_app(make_settings(tmp_path, db_url, job_workers=1))
    running.ctx.executor.poll_max = 0.2
    client = running.client()
    try:
        env = await account(client, "gone@example.com")
        token = env["token"]
        cid = await make_cluster(client, env, "espresso machine", ESPRESSO[:4])
        resp = await client.post(IDEAS_AUTO, {"ids": [cid]}, token=token)
        assert resp.status == 202
        assert await credits(client, token) == 995
        assert (await client.delete(f"{CLUSTERS}{cid}/", token=token)).status == 204
        await running.ctx.executor.start()
        done = await poll(client, token, resp.data["task_id"])
        assert done["state"] == "SUCCESS", done
        assert done["result"]["ideas_created"] == 0
        assert done["result"]["skipped"][0]["reason"].startswith("gone")
        assert await credits(client, token) == 1000
        assert await all_rows(client, token, IDEAS) == []
    finally:
        client.close()
        await stop_app(running)


async def test_fewer_ideas_than_planned_refund_the_difference(jobs_app, client, monkeypatch):
    from igny8d.ai.providers.local import LocalProvider

    real = LocalProvider.generate_ideas

    async def fewer(self: Any, cluster: ClusterBrief, prompts: Prompts, *,
                    count: int = 3) -> Generation[tuple[IdeaDraft, ...]]:
        got = await real(self, cluster, prompts, count=count)
        return Generation(got.value[:1], tokens=got.tokens, cost=got.cost)

    monkeypatch.setattr(LocalProvider, "generate_ideas", fewer)
    env = await account(client, "fewer@example.com")
    token = env["token"]
    texts = ESPRESSO + [(f"espresso machine model {n}", 50) for n in range(16)]
    cid = await make_cluster(client, env, "espresso machine", texts)
    assert ideas_operation.ideas_for(len(texts)) == 2
    done = await run(client, token, IDEAS_AUTO, [cid])
    assert done["state"] == "SUCCESS", done
    assert done["result"]["ideas_created"] == 1
    assert done["result"]["skipped"][0]["reason"].startswith("short")
    assert await credits(client, token) == 1000 - 5
    usage = await usage_of(client, token, done["task_id"])
    assert (usage["credits_used"], usage["credits_refunded"]) == (10, 5)


async def test_a_failing_provider_fails_the_job_and_refunds(jobs_app, client, monkeypatch):
    from igny8d.ai.providers.local import LocalProvider

    async def broken(self: Any, cluster: ClusterBrief, prompts: Prompts, *,
                     count: int = 3) -> Generation[tuple[IdeaDraft, ...]]:
        raise ProviderError("The model is overloaded; try again later.", status=503)

    monkeypatch.setattr(LocalProvider, "generate_ideas", broken)
    env = await account(client, "broken@example.com")
    token = env["token"]
    cid = await make_cluster(client, env, "espresso machine", ESPRESSO[:5])
    done = await run(client, token, IDEAS_AUTO, [cid])
    assert done["state"] == "FAILURE", done
    assert "The model is overloaded; try again later." in done["error"]
    assert "Traceback" not in done["error"]
    assert await credits(client, token) == 1000
    assert await all_rows(client, token, IDEAS) == []
    usage = await usage_of(client, token, done["task_id"])
    assert usage["credits_used"] == usage["credits_refunded"] == 5
