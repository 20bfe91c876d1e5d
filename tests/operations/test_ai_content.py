"""POST /api/v1/writer/tasks/auto_generate_content/ through HTTP on both stores, with job
workers running and the local provider: a draft content row per task (sanitised HTML that
follows the idea's outline as the user wrote it, meta fields within their lengths, keywords,
the task's site and sector, word_count computed), tasks moved to `review` and ideas to
`completed`; credits charged on the planned words and the words not written refunded; tasks
that already have content skipped and not charged; progress per task; a cancel mid-job
(REVOKED, refunded, nothing written); a provider failing on the second article (FAILURE,
nothing half-written, refunded); bad input."""

from __future__ import annotations

import asyncio
import math
import re
from typing import Any

from igny8d.ai.types import ArticleBrief, ArticleDraft, Generation, Prompts, ProviderError
from igny8d.services import jobs as job_service
from igny8d.text import word_count
from tests.helpers.factories import ESPRESSO, account, actor_for, make_cluster
from tests.helpers.jobs import held, job_count, poll, run
from tests.helpers.paths import CONTENT, CONTENT_AUTO, IDEAS, PROGRESS, QUEUE_TO_WRITER, TASKS
from tests.helpers.reads import all_rows, credits, usage_of

OUTLINE = [
    {"heading": "Why brew espresso at home", "level": 2, "points": ["home espresso machine"]},
    {"heading": "What to look for in a machine", "level": 2,
     "points": ["espresso machine price", "espresso machine for home"]},
    {"heading": "Pressure and temperature", "level": 3, "points": []},
    {"heading": "Our verdict on cheap machines", "level": 2,
     "points": ["cheap espresso machine"]},
]
HEADING = re.compile(r"<h([23])[^>]*>(.*?)</h\1>", re.S)


def price_words(n: int) -> int:
    return math.ceil(n * 3 / 100)


async def idea_task(client, env, cid: int, title: str, **idea: Any) -> int:
    """An idea (as a user wrote it) queued to the writer: its task's id."""
    resp = await client.post(IDEAS, {"title": title, "site_id": env["site"]["id"],
                                     "sector_id": env["sector"]["id"], "cluster_id": cid,
                                     **idea}, token=env["token"])
    assert resp.status == 201, resp.json
    queued = await client.post(QUEUE_TO_WRITER, {"ids": [resp.data["id"]]}, token=env["token"])
    assert queued.status == 200, queued.json
    return int(queued.data["task_ids"][0])


async def plain_task(client, env, title: str, **extra: Any) -> int:
    resp = await client.post(TASKS, {"title": title, "site_id": env["site"]["id"],
                                     "sector_id": env["sector"]["id"], **extra},
                             token=env["token"])
    assert resp.status == 201, resp.json
    return int(resp.data["id"])


async def test_articles_follow_the_outline_and_pay_for_words_written(jobs_app, client):
    env = await account(client, "writer@example.com")
    token = env["token"]
    cid = await make_cluster(client, env, "espresso machine", ESPRESSO)
    t1 = await idea_task(client, env, cid, "Choosing an espresso machine for home",
                         outline=OUTLINE, estimated_word_count=800,
                         target_keywords=["espresso machine", "home espresso machine"])
    t2 = await plain_task(client, env, "Sourdough starter basics",
                          keywords=["sourdough starter", "feed sourdough starter"])
    before = await credits(client, token)
    charged = price_words(800 + 1500)  # the idea's estimate; 1500 for a task without one

    async with held(jobs_app):  # the charge read before the job refunds unwritten words
        resp = await client.post(CONTENT_AUTO, {"ids": [t2, t1]}, token=token)
        assert resp.status == 202, resp.json
        task_id = resp.data["task_id"]
        assert await credits(client, token) == before - charged
    done = await poll(client, token, task_id)
    assert done["state"] == "SUCCESS", done
    assert done["result"]["written"] == 2 and done["result"]["skipped"] == []

    rows = {int(c["task_id"]): c for c in await all_rows(client, token, CONTENT)}
    assert set(rows) == {t1, t2}
    assert sorted(int(c["id"]) for c in rows.values()) == sorted(done["result"]["content_ids"])
    for content in rows.values():
        assert content["status"] == "draft"
        assert (content["site_id"], content["sector_id"]) == (env["site"]["id"],
                                                              env["sector"]["id"])
        assert 0 < len(content["meta_title"]) <= 60
        assert 0 < len(content["meta_description"]) <= 160
        assert content["primary_keyword"]
        assert content["word_count"] == word_count(content["html_content"]) > 50
        assert "<script" not in content["html_content"].lower()
    # the user's outline, heading by heading, in order and at its levels
    headings = [(int(level), re.sub(r"<[^>]+>", "", text).strip())
                for level, text in HEADING.findall(rows[t1]["html_content"])]
    wanted = [(o["level"], o["heading"]) for o in OUTLINE]
    found = [h for h in headings if h in wanted]
    assert found == wanted, headings
    # the primary keyword is one of the task's (the idea's target keywords here)
    assert rows[t1]["primary_keyword"].lower() in {"espresso machine", "home espresso machine"}
    assert rows[t2]["primary_keyword"].lower() in {"sourdough starter",
                                                   "feed sourdough starter"}

    tasks = {int(t["id"]): t for t in await all_rows(client, token, TASKS)}
    assert tasks[t1]["status"] == tasks[t2]["status"] == "review"
    idea = (await all_rows(client, token, IDEAS))[0]
    assert idea["status"] == "completed"

    # the words written (at most the planned ones) are what is kept
    kept = price_words(min(rows[t1]["word_count"], 800) + min(rows[t2]["word_count"], 1500))
    assert done["result"]["words"] == rows[t1]["word_count"] + rows[t2]["word_count"]
    assert await credits(client, token) == before - kept
    usage = await usage_of(client, token, task_id)
    assert usage["operation_type"] == "content"
    assert (usage["credits_used"], usage["credits_refunded"]) == (charged, charged - kept)


async def test_tasks_with_content_are_skipped_and_not_charged(jobs_app, client):
    env = await account(client, "skip@example.com")
    token = env["token"]
    done_task = await plain_task(client, env, "Already written", keywords=["espresso"])
    resp = await client.post(CONTENT, {"title": "Mine", "html_content": "<p>By hand.</p>",
                                       "site_id": env["site"]["id"], "task_id": done_task,
                                       "sector_id": env["sector"]["id"]}, token=token)
    assert resp.status == 201, resp.json
    fresh = await plain_task(client, env, "Not yet written", keywords=["espresso grinder"])
    before = await credits(client, token)
    async with held(jobs_app):
        resp = await client.post(CONTENT_AUTO, {"ids": [done_task, fresh]}, token=token)
        assert resp.status == 202
        assert await credits(client, token) == before - price_words(1500)
    done = await poll(client, token, resp.data["task_id"])
    assert done["state"] == "SUCCESS", done
    assert done["result"]["written"] == 1
    assert done["result"]["skipped"] == [
        {"task_id": done_task,
         "reason": "exists: the task already has content (send rewrite: true to replace it)"}]
    mine = await all_rows(client, token, f"{CONTENT}?task_id={done_task}")
    assert [c["title"] for c in mine] == ["Mine"]

    # nothing left to write: queued for free, nothing charged, nothing written
    before = await credits(client, token)
    done = await run(client, token, CONTENT_AUTO, [done_task, fresh])
    assert done["state"] == "SUCCESS", done
    assert done["result"]["written"] == 0 and len(done["result"]["skipped"]) == 2
    assert await credits(client, token) == before
    assert len(await all_rows(client, token, CONTENT)) == 2


async def test_bad_input(jobs_app, client):
    env = await account(client, "badc@example.com")
    token = env["token"]
    mine = await plain_task(client, env, "Mine", keywords=["espresso"])
    stranger = await account(client, "strangerc@example.com")
    theirs = await plain_task(client, stranger, "Theirs", keywords=["boots"])
    before = await credits(client, token)
    resp = await client.post(CONTENT_AUTO, {"ids": [mine, theirs]}, token=token)
    assert resp.status == 404 and str(theirs) in resp.errors["ids"][0], resp.json
    resp = await client.post(CONTENT_AUTO, {"ids": list(range(1, 52))}, token=token)
    assert resp.status == 400 and "at most 50" in resp.errors["ids"][0], resp.json
    for body in ({"ids": []}, {}, {"ids": [mine], "overwrite": True}, {"ids": [-1]}):
        resp = await client.post(CONTENT_AUTO, body, token=token)
        assert resp.status == 400, (body, resp.json)
    viewer = await client.member(token, "viewerc@example.com", "viewer")
    assert (await client.post(CONTENT_AUTO, {"ids": [mine]}, token=viewer)).status == 403
    assert await credits(client, token) == before
    assert await job_count(jobs_app) == 0


async def test_cancel_mid_job_refunds_and_writes_nothing(jobs_app, client, monkeypatch):
    from igny8d.ai.providers.local import LocalProvider

    real = LocalProvider.generate_article
    gate = asyncio.Event()
    calls: list[str] = []

    async def slow(self: Any, brief: ArticleBrief, prompts: Prompts) -> Generation[ArticleDraft]:
        calls.append(brief.title)
        if len(calls) == 2:
            await gate.wait()
        return await real(self, brief, prompts)

    monkeypatch.setattr(LocalProvider, "generate_article", slow)
    env = await account(client, "cancel@example.com")
    token = env["token"]
    ids = [await plain_task(client, env, f"Article {n}", keywords=[f"topic {n}"])
           for n in range(3)]
    resp = await client.post(CONTENT_AUTO, {"ids": ids}, token=token)
    assert resp.status == 202
    task_id = resp.data["task_id"]
    assert await credits(client, token) == 1000 - price_words(3 * 1500)
    for _ in range(500):
        meta = (await client.get(PROGRESS.format(task_id), token=token)).data["meta"]
        if meta["message"].startswith("Writing 2/3"):
            break
        await asyncio.sleep(0.02)
    assert meta["message"] == "Writing 2/3: Article 1", meta
    assert meta["phase"] == "AI_CALL"

    async with jobs_app.ctx.store.begin() as conn:
        await job_service.cancel(conn, await actor_for(jobs_app, "cancel@example.com"),
                                 task_id=task_id, registry=jobs_app.ctx.jobs)
    gate.set()
    done = await poll(client, token, task_id)
    assert done["state"] == "REVOKED", done
    await asyncio.sleep(0.3)  # the worker notices and stops; nothing may be written after
    assert await all_rows(client, token, CONTENT) == []
    assert await credits(client, token) == 1000
    assert {t["status"] for t in await all_rows(client, token, TASKS)} == {"draft"}
    assert (await poll(client, token, task_id))["state"] == "REVOKED"


async def test_a_provider_failing_midway_writes_nothing(jobs_app, client, monkeypatch):
    from igny8d.ai.providers.local import LocalProvider

    real = LocalProvider.generate_article

    async def flaky(self: Any, brief: ArticleBrief, prompts: Prompts) -> Generation[ArticleDraft]:
        if brief.title == "Second":
            raise ProviderError("The provider's answer was not valid JSON.")
        return await real(self, brief, prompts)

    monkeypatch.setattr(LocalProvider, "generate_article", flaky)
    env = await account(client, "flaky@example.com")
    token = env["token"]
    ids = [await plain_task(client, env, title, keywords=["espresso"])
           for title in ("First", "Second", "Third")]
    done = await run(client, token, CONTENT_AUTO, ids)
    assert done["state"] == "FAILURE", done
    assert "not valid JSON" in done["error"]
    assert await all_rows(client, token, CONTENT) == []
    assert await credits(client, token) == 1000
    usage = await usage_of(client, token, done["task_id"])
    assert usage["credits_refunded"] == usage["credits_used"] == price_words(4500)
