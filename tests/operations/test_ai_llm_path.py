"""The AI actions with an OpenAI-compatible integration configured (saved through
`system/settings/integrations/openai/save/`, pointing at tests/helpers/fake_openai.py), over
HTTP on both stores with job workers running.

The fake gets the account's saved prompt as the system message of each call; the tokens and cost
it reports land in the task's progress meta and on the usage row; auto_cluster takes at most the
reference's 20 ids on this path (400 above); clustering on embeddings with the
`cluster_with_embeddings` setting; and a provider that answers 401, garbage or nothing at all
fails the job with a readable message, refunds it and writes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.app import RunningApp, start_jobs_app, stop_app
from tests.helpers.client import Client
from tests.helpers.factories import ESPRESSO, SOURDOUGH, account, add_keywords, make_cluster
from tests.helpers.fake_openai import FakeOpenAI
from tests.helpers.jobs import poll, run
from tests.helpers.paths import (
    AUTO_CLUSTER,
    CLUSTERS,
    CONTENT,
    CONTENT_AUTO,
    IDEAS,
    IDEAS_AUTO,
    IMAGES,
    IMAGES_AUTO,
    KEYWORDS,
    PROMPTS_AUTO,
    QUEUE_TO_WRITER,
)
from tests.helpers.reads import all_rows, credits, usage_of

SAVE_OPENAI = "/api/v1/system/settings/integrations/openai/save/"
SAVE_PROMPT = "/api/v1/system/prompts/save/"
PROMPTS = {"clustering": "ACME clustering rules: group by product.",
           "ideas": "ACME ideas rules: practical, no fluff.",
           "content_generation": "ACME house style: short sentences.",
           "image_prompt_extraction": "ACME image prompts: flat illustrations."}


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI(api_key="sk-test-123456") as server:
        yield server


async def llm_app(tmp_path: Path, db_url: str, **settings: Any) -> RunningApp:
    return await start_jobs_app(tmp_path, db_url, ai_max_retries=0, **settings)


@pytest.fixture
async def jobs_app(tmp_path: Path, db_url: str) -> AsyncIterator[RunningApp]:
    running = await llm_app(tmp_path, db_url)
    yield running
    await stop_app(running)


async def configure(client: Client, env: dict[str, Any], fake: FakeOpenAI,
                    **extra: Any) -> None:
    """The account's openai integration on the fake, and its own prompts."""
    resp = await client.post(SAVE_OPENAI, {"enabled": True, "api_key": "sk-test-123456",
                                           "base_url": fake.url, "model": "gpt-4o-mini",
                                           **extra}, token=env["token"])
    assert resp.status == 200, resp.json
    for prompt_type, value in PROMPTS.items():
        resp = await client.post(SAVE_PROMPT, {"prompt_type": prompt_type,
                                               "prompt_value": value}, token=env["token"])
        assert resp.status in (200, 201), resp.json


def chats(fake: FakeOpenAI, task: str) -> list[Any]:
    return [r for r in fake.requests if r.path == "/chat/completions"
            and (r.brief or {}).get("task") == task]


async def check_metered(client: Client, token: str, done: dict[str, Any]) -> None:
    """Tokens and cost in the finished task's meta, and the same on its usage row."""
    meta = done["meta"]
    assert meta["tokens"] > 0 and meta["cost"] > 0, meta
    assert any(s["name"] == "response" for s in meta["response_steps"]), meta
    usage = await usage_of(client, token, done["task_id"])
    assert usage["tokens"] == meta["tokens"]
    assert usage["cost"] == pytest.approx(meta["cost"])


async def test_the_actions_use_the_integration_and_the_saved_prompts(jobs_app, client, fake):
    env = await account(client, "llm@example.com")
    token = env["token"]
    await configure(client, env, fake)

    # auto_cluster: at most 20 ids on this path
    ids = await add_keywords(client, env, ESPRESSO + SOURDOUGH + [("pour over kettle", 10)])
    resp = await client.post(AUTO_CLUSTER, {"ids": ids, "sector_id": env["sector"]["id"]},
                             token=token)
    assert resp.status == 400 and "at most 20" in resp.errors["ids"][0], resp.json
    assert await credits(client, token) == 1000 and fake.requests == []
    resp = await client.post(AUTO_CLUSTER, {"ids": ids[:20], "sector_id": env["sector"]["id"]},
                             token=token)
    assert resp.status == 202, resp.json
    done = await poll(client, token, resp.data["task_id"])
    done["task_id"] = resp.data["task_id"]
    assert done["state"] == "SUCCESS", done
    assert done["result"]["method"] == "llm"
    # every keyword ends in a cluster: the model's two groups, and a cluster of its own for
    # each keyword our intent rules split off them
    result = done["result"]
    assert result["keywords_clustered"] == 20 and result["unclustered_count"] == 0, result
    assert result["clusters_created"] == 2 + result["single_keyword_clusters"], result
    (call,) = chats(fake, "clustering")
    assert call.messages[0] == {"role": "system", "content": PROMPTS["clustering"]}
    assert call.headers["authorization"] == "Bearer sk-test-123456"
    await check_metered(client, token, done)
    clusters = {c["name"]: c for c in await all_rows(client, token, CLUSTERS)}
    assert {"espresso machine", "sourdough starter"} <= set(clusters)
    assert sum(c["keywords_count"] == 1 for c in clusters.values()) == \
        result["single_keyword_clusters"]

    # ideas
    cid = int(clusters["espresso machine"]["id"])
    done = await run(client, token, IDEAS_AUTO, [cid])
    assert done["state"] == "SUCCESS", done
    (call,) = chats(fake, "ideas")
    assert call.messages[0]["content"] == PROMPTS["ideas"]
    assert call.brief["count"] == 1
    await check_metered(client, token, done)
    ideas = await all_rows(client, token, IDEAS)
    assert [i["title"] for i in ideas] == ["Espresso Machine: idea 1"]
    assert ideas[0]["outline"][0] == {"heading": ideas[0]["outline"][0]["heading"],
                                      "level": 2, "points": [ideas[0]["outline"][0]["points"][0]]}
    assert ideas[0]["outline"][1]["level"] == 3

    # content
    task_ids = (await client.post(QUEUE_TO_WRITER, {"ids": [ideas[0]["id"]]}, token=token)).data[
        "task_ids"]
    done = await run(client, token, CONTENT_AUTO, task_ids)
    assert done["state"] == "SUCCESS", done
    # outline-first: an intro call, then one call per H2 of the idea's outline
    outline = [o["heading"] for o in ideas[0]["outline"] if o["level"] == 2]
    assert len(chats(fake, "content_intro")) == 1
    sections = chats(fake, "content_section")
    assert [c.brief["section"]["heading"] for c in sections] == outline
    assert {c.messages[0]["content"] for c in sections} == {PROMPTS["content_generation"]}
    assert all(c.json["max_tokens"] <= 600 for c in sections)
    await check_metered(client, token, done)
    assert len([s for s in done["meta"]["request_steps"] if s["name"] == "request"]) == \
        1 + len(outline)
    (content,) = await all_rows(client, token, CONTENT)
    assert [h for h in outline if f"<h2>{h}</h2>" in content["html_content"]] == outline
    assert content["word_count"] > 0

    # image prompts (LLM), images (rendered locally: no image model configured)
    done = await run(client, token, PROMPTS_AUTO, [int(content["id"])])
    assert done["state"] == "SUCCESS", done
    (call,) = chats(fake, "image_prompt_extraction")
    assert call.messages[0]["content"] == PROMPTS["image_prompt_extraction"]
    await check_metered(client, token, done)
    images = await all_rows(client, token, IMAGES)
    assert images and {i["status"] for i in images} == {"pending"}
    done = await run(client, token, IMAGES_AUTO, [int(i["id"]) for i in images])
    assert done["state"] == "SUCCESS", done
    assert {i["status"] for i in await all_rows(client, token, IMAGES)} == {"generated"}
    assert "/images/generations" not in fake.paths()


async def test_clustering_on_embeddings(tmp_path, db_url, fake):
    running = await llm_app(tmp_path, db_url, cluster_with_embeddings=True)
    client = running.client()
    try:
        env = await account(client, "embed@example.com")
        await configure(client, env, fake, embedding_model="text-embedding-3-small")
        ids = await add_keywords(client, env, ESPRESSO[:6] + SOURDOUGH[:6])
        resp = await client.post(AUTO_CLUSTER, {"ids": ids, "sector_id": env["sector"]["id"]},
                                 token=env["token"])
        assert resp.status == 202, resp.json
        done = await poll(client, env["token"], resp.data["task_id"])
        assert done["state"] == "SUCCESS", done
        assert done["result"]["method"] == "embeddings"
        assert "/embeddings" in fake.paths() and chats(fake, "clustering") == []
        assert done["meta"]["tokens"] > 0
        keywords = await all_rows(client, env["token"], KEYWORDS)
        by_cluster: dict[int, set[str]] = {}
        for k in keywords:
            if k["cluster_id"] is not None:
                by_cluster.setdefault(int(k["cluster_id"]), set()).add(
                    "espresso" if "espresso" in k["keyword"] else "sourdough")
        assert by_cluster and all(len(t) == 1 for t in by_cluster.values()), by_cluster
    finally:
        client.close()
        await stop_app(running)


@pytest.mark.parametrize("reply, message", [
    (FakeOpenAI.unauthorized(), "refused the API key (401)"),
    (FakeOpenAI.garbage(), "not valid JSON"),
    (FakeOpenAI.hang(5.0), "did not answer within 0.5 s"),
])
async def test_a_failing_provider_fails_readably_and_refunds(jobs_app, client, fake, reply,
                                                              message):
    env = await account(client, "fails@example.com")
    token = env["token"]
    # a short timeout only for the hang: a loaded machine can take 0.5 s to answer a reply
    await configure(client, env, fake, timeout_s=0.5 if reply.delay > 1 else 30)
    cid = await make_cluster(client, env, "espresso machine", ESPRESSO[:5])
    fake.script(reply)
    done = await run(client, token, IDEAS_AUTO, [cid])
    assert done["state"] == "FAILURE", done
    assert message in done["error"], done["error"]
    assert "sk-test" not in done["error"] and "sk-wrong" not in done["error"]
    assert "Traceback" not in done["error"]
    assert await credits(client, token) == 1000
    assert await all_rows(client, token, IDEAS) == []
    usage = await usage_of(client, token, done["task_id"])
    assert usage["credits_used"] == usage["credits_refunded"] == 5


async def test_an_llm_article_is_sanitised_like_any_content(jobs_app, client, fake):
    env = await account(client, "sanitise@example.com")
    token = env["token"]
    await configure(client, env, fake)
    resp = await client.post("/api/v1/writer/tasks/", {
        "title": "Espresso at home", "keywords": ["espresso machine"],
        "site_id": env["site"]["id"], "sector_id": env["sector"]["id"]}, token=token)
    task = int(resp.data["id"])
    fake.script(FakeOpenAI.chat({
        "title": "Espresso at home",
        "html_content": "<h2 onclick=\"steal()\">Beans</h2><script>alert(1)</script>"
                        "<p>Fresh beans <a href=\"javascript:evil()\">matter</a> a lot.</p>",
        "meta_title": "Espresso at home", "meta_description": "Beans and more.",
        "slug": "espresso-at-home", "primary_keyword": "espresso machine",
        "secondary_keywords": ["beans"]}))
    done = await run(client, token, CONTENT_AUTO, [task])
    assert done["state"] == "SUCCESS", done
    (content,) = await all_rows(client, token, CONTENT)
    html = content["html_content"].lower()
    assert "<script" not in html and "onclick" not in html and "javascript:" not in html
    assert "<h2>beans</h2>" in html
    assert content["word_count"] == 6  # Beans / Fresh beans matter a lot
    assert content["secondary_keywords"] == ["beans"]
