"""The LLM path through the API, with the fake OpenAI-compatible server, when the model or
the server misbehaves: garbage, the wrong shape, an empty list, a 400 for an over-long prompt,
a timeout, a connection dropped mid-answer, a clustering that clusters nothing, an empty
article. Each is a readable job failure, a full refund, nothing half-written — and the tokens
a failed call spent are on the job's meta and its usage row. Also: an article's progress per
section, and `rewrite` on auto_generate_content (documented in the OpenAPI schema)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from igny8d.ai.providers.openai.chat import forget_refusals
from tests.helpers.app import RunningApp, start_jobs_app, stop_app
from tests.helpers.client import Client
from tests.helpers.factories import ESPRESSO, account, add_keywords, make_cluster
from tests.helpers.fake_openai import FakeOpenAI, Reply
from tests.helpers.jobs import poll, run
from tests.helpers.paths import (
    AUTO_CLUSTER,
    CLUSTERS,
    CONTENT,
    CONTENT_AUTO,
    IDEAS,
    PROGRESS,
    QUEUE_TO_WRITER,
    TASKS,
)
from tests.helpers.reads import all_rows, credits, usage_of

SAVE_OPENAI = "/api/v1/system/settings/integrations/openai/save/"


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    forget_refusals()
    async with FakeOpenAI(api_key="sk-test-123456") as server:
        yield server


@pytest.fixture
async def jobs_app(tmp_path: Path, db_url: str) -> AsyncIterator[RunningApp]:
    running = await start_jobs_app(tmp_path, db_url, ai_max_retries=0)
    yield running
    await stop_app(running)


async def llm_account(client: Client, email: str, fake: FakeOpenAI,
                      timeout_s: float = 30.0) -> dict[str, Any]:
    """Short timeouts only where a test wants one: a loaded CI machine can take over
    0.5 s to answer a fake reply, and the job would fail for the wrong reason."""
    env = await account(client, email)
    resp = await client.post(SAVE_OPENAI, {"enabled": True, "api_key": "sk-test-123456",
                                           "base_url": fake.url, "model": "gpt-4o-mini",
                                           "timeout_s": timeout_s}, token=env["token"])
    assert resp.status == 200, resp.json
    return env


def twice(reply: Reply) -> tuple[Reply, ...]:
    """A model answer that is wrong again when asked to repair it."""
    return (reply, reply)


BAD_IDEAS = [
    pytest.param((FakeOpenAI.garbage(),), "not valid JSON", False, id="garbage"),
    pytest.param(twice(FakeOpenAI.chat("Here are three great ideas!")),
                 "not valid JSON (after one repair attempt)", True, id="prose"),
    pytest.param(twice(FakeOpenAI.chat({"ideas": {"title": "one"}})),
                 "did not match the expected shape: ideas", True, id="wrong-shape"),
    pytest.param(twice(FakeOpenAI.chat({"ideas": []})),
                 "ideas: List should have at least 1 item", True, id="empty-list"),
    pytest.param((FakeOpenAI.context_exceeded(),), "maximum context length", False,
                 id="over-long-prompt"),
    pytest.param((FakeOpenAI.hang(5.0),), "did not answer within 0.5 s", False, id="timeout"),
    pytest.param((FakeOpenAI.dropped(),), "closed the connection before answering", False,
                 id="dropped"),
]


@pytest.mark.parametrize("replies, message, metered", BAD_IDEAS)
async def test_a_bad_answer_fails_the_job_refunds_it_and_writes_nothing(
        jobs_app, client, fake, replies, message, metered):
    hangs = any(reply.delay > 1 for reply in replies)
    env = await llm_account(client, "bad@example.com", fake, 0.5 if hangs else 30.0)
    token = env["token"]
    cid = await make_cluster(client, env, "espresso machine", ESPRESSO[:5])
    before = await credits(client, token)
    fake.script(*replies)
    done = await run(client, token, IDEAS_AUTO, [cid])
    assert done["state"] == "FAILURE", done
    assert message in done["error"], done["error"]
    assert done["error"].startswith("The AI provider failed: ")
    assert "Traceback" not in done["error"] and "sk-test" not in done["error"]
    assert await credits(client, token) == before
    assert await all_rows(client, token, IDEAS) == []
    usage = await usage_of(client, token, done["task_id"])
    assert usage["credits_used"] == usage["credits_refunded"] > 0
    if metered:  # the model answered (twice): its tokens are recorded, though it failed
        assert done["meta"]["tokens"] > 0
        assert usage["tokens"] == done["meta"]["tokens"]
        assert len([s for s in done["meta"]["request_steps"] if s["name"] == "request"]) == 2
    else:
        assert usage["tokens"] in (0, None)


IDEAS_AUTO = "/api/v1/planner/clusters/auto_generate_ideas/"


async def test_a_clustering_without_clusters_is_no_paid_success(jobs_app, client, fake):
    env = await llm_account(client, "nocluster@example.com", fake)
    token = env["token"]
    ids = await add_keywords(client, env, ESPRESSO[:6])
    fake.script(*twice(FakeOpenAI.chat({"unclustered": [k for k, _v in ESPRESSO[:6]]},
                                       prompt_tokens=300, completion_tokens=40)))
    resp = await client.post(AUTO_CLUSTER, {"ids": ids, "sector_id": env["sector"]["id"]},
                             token=token)
    assert resp.status == 202, resp.json
    done = await poll(client, token, resp.data["task_id"])
    assert done["state"] == "FAILURE", done
    assert "clusters" in done["error"]
    assert await credits(client, token) == 1000
    assert await all_rows(client, token, CLUSTERS) == []
    usage = await usage_of(client, token, resp.data["task_id"])
    assert usage["credits_refunded"] == usage["credits_used"] == 6
    assert usage["tokens"] == done["meta"]["tokens"] == 680

    # groups whose keywords are none of those given: nothing placed, the same failure
    fake.script(FakeOpenAI.chat({"clusters": [{"name": "tea", "keywords": ["green tea",
                                                                           "black tea"]}]}))
    resp = await client.post(AUTO_CLUSTER, {"ids": ids, "sector_id": env["sector"]["id"]},
                             token=token)
    done = await poll(client, token, resp.data["task_id"])
    assert done["state"] == "FAILURE" and "placed no keyword" in done["error"], done
    assert await credits(client, token) == 1000


async def outline_task(client: Client, env: dict[str, Any], cid: int, title: str,
                       sections: list[str]) -> int:
    outline = [{"heading": h, "level": 2, "points": [f"{h} point"]} for h in sections]
    resp = await client.post(IDEAS, {"title": title, "site_id": env["site"]["id"],
                                     "sector_id": env["sector"]["id"], "cluster_id": cid,
                                     "outline": outline, "estimated_word_count": 800},
                             token=env["token"])
    assert resp.status == 201, resp.json
    queued = await client.post(QUEUE_TO_WRITER, {"ids": [resp.data["id"]]}, token=env["token"])
    assert queued.status == 200, queued.json
    return int(queued.data["task_ids"][0])


async def test_an_empty_article_fails_and_sections_report_progress(jobs_app, client, fake):
    env = await llm_account(client, "sections@example.com", fake)
    token = env["token"]
    cid = await make_cluster(client, env, "espresso machine", ESPRESSO[:4])
    sections = ["Why espresso", "Choosing a machine", "Cleaning", "FAQ"]
    task = await outline_task(client, env, cid, "Espresso at home", sections)

    # the second section is slow: its progress message can be read meanwhile
    fake.script(Reply(path="/chat/completions"), Reply(path="/chat/completions"),
                Reply(path="/chat/completions", delay=0.4))
    resp = await client.post(CONTENT_AUTO, {"ids": [task]}, token=token)
    assert resp.status == 202, resp.json
    messages: list[str] = []
    for _ in range(300):
        meta = (await client.get(PROGRESS.format(resp.data["task_id"]), token=token)).data
        messages.append(meta["meta"]["message"])
        if meta["state"] in ("SUCCESS", "FAILURE"):
            break
        await asyncio.sleep(0.02)
    assert "Writing section 2/4: Choosing a machine" in messages, messages
    assert meta["state"] == "SUCCESS", meta
    (content,) = await all_rows(client, token, CONTENT)
    assert all(f"<h2>{h}</h2>" in content["html_content"] for h in sections)

    # a second task whose sections come back without text: failure, refund, nothing written
    other = await outline_task(client, env, cid, "Espresso grinders", ["Burrs", "Blades"])
    fake.script(Reply(path="/chat/completions"),
                *twice(FakeOpenAI.chat({"html_content": "<p>  </p>"})))
    before = await credits(client, token)
    done = await run(client, token, CONTENT_AUTO, [other])
    assert done["state"] == "FAILURE", done
    assert "the section has no text" in done["error"]
    assert await credits(client, token) == before
    assert len(await all_rows(client, token, CONTENT)) == 1
    tasks = {int(t["id"]): t for t in await all_rows(client, token, TASKS)}
    assert tasks[other]["status"] != "review"
    usage = await usage_of(client, token, done["task_id"])
    assert usage["tokens"] == done["meta"]["tokens"] > 0


async def test_rewrite_replaces_the_content_and_is_charged(jobs_app, client, fake):
    env = await llm_account(client, "rewrite@example.com", fake)
    token = env["token"]
    cid = await make_cluster(client, env, "espresso machine", ESPRESSO[:4])
    task = await outline_task(client, env, cid, "Espresso at home", ["Beans", "Milk"])
    done = await run(client, token, CONTENT_AUTO, [task])
    assert done["state"] == "SUCCESS", done
    (first,) = await all_rows(client, token, CONTENT)

    # without rewrite: skipped, with the reason, free
    before = await credits(client, token)
    done = await run(client, token, CONTENT_AUTO, [task])
    assert done["result"]["written"] == 0
    assert done["result"]["skipped"] == [{"task_id": task, "reason": (
        "exists: the task already has content (send rewrite: true to replace it)")}]
    assert await credits(client, token) == before

    # with rewrite: regenerated, the same row replaced, charged
    fake.on_chat = lambda brief: {"html_content": "<p>Rewritten words about "
                                                  f"{brief['section']['heading']}.</p>"} \
        if brief.get("task") == "content_section" else {
            "title": "Espresso, rewritten", "html_content": "<p>A new intro.</p>",
            "meta_title": "", "meta_description": "", "slug": "", "primary_keyword": "",
            "secondary_keywords": []}
    resp = await client.post(CONTENT_AUTO, {"ids": [task], "rewrite": True}, token=token)
    assert resp.status == 202, resp.json
    done = await poll(client, token, resp.data["task_id"])
    assert done["state"] == "SUCCESS", done
    assert (done["result"]["written"], done["result"]["rewritten"]) == (1, 1)
    assert done["result"]["content_ids"] == [first["id"]]
    (again,) = await all_rows(client, token, CONTENT)
    assert again["id"] == first["id"] and again["title"] == "Espresso, rewritten"
    assert "Rewritten words about Milk" in again["html_content"]
    assert again["status"] == "draft"
    assert await credits(client, token) < before

    for body in ({"ids": [task], "rewrite": "please"}, {"ids": [task], "rewrite": None}):
        resp = await client.post(CONTENT_AUTO, body, token=token)
        assert resp.status == 400 and "rewrite" in resp.errors, resp.json


async def test_the_openapi_document_shows_rewrite(jobs_app, client):
    resp = await client.get("/api/schema/")
    assert resp.status == 200
    text = resp.body.decode() if isinstance(resp.body, bytes) else str(resp.json)
    assert "rewrite" in text and "send rewrite" not in text
    assert "regenerated and replaced" in text
