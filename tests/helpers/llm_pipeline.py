"""The four LLM steps of the pipeline, each from fixed inputs, through the API as a client runs
them: clustering 8 keywords, ideas for a 5-keyword cluster (of other keywords), an article
from an idea with a 3-section outline, image prompts for a short article. Each step starts
from rows made through the API (not from the previous step's output), so one step's failure
does not hide the next. Used by the real-model test (test_llm_real.py) and its replay
(test_llm_replay.py).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from tests.helpers.app import start_jobs_app, stop_app
from tests.helpers.client import Client
from tests.helpers.factories import ESPRESSO, SOURDOUGH, account, add_keywords, make_cluster
from tests.helpers.llm_record import Recorder, Replay
from tests.helpers.paths import (
    AUTO_CLUSTER,
    CONTENT,
    CONTENT_AUTO,
    IDEAS,
    IDEAS_AUTO,
    PROGRESS,
    PROMPTS_AUTO,
    QUEUE_TO_WRITER,
)
from tests.helpers.reads import credits

SAVE_OPENAI = "/api/v1/system/settings/integrations/openai/save/"
OUTLINE = [{"heading": "What makes a good espresso machine", "level": 2, "points": []},
           {"heading": "Espresso machine prices", "level": 2, "points": []},
           {"heading": "FAQ", "level": 2, "points": []}]
ARTICLE = ("<p>A home espresso machine pays for itself within a year.</p>"
           "<h2>Pump pressure</h2><p>Nine bars is what espresso needs.</p>"
           "<h2>Milk frothing</h2><p>A steam wand makes cafe-style milk.</p>")


async def wait(client: Client, token: str, task_id: str, *,
               timeout_s: float = 1800.0) -> dict[str, Any]:
    """The job's task_progress once it has finished (a real small model takes minutes)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        resp = await client.get(PROGRESS.format(task_id), token=token)
        assert resp.status == 200, resp.json
        if resp.data["state"] in ("SUCCESS", "FAILURE", "REVOKED"):
            return dict(resp.data)
        await asyncio.sleep(0.1)
    raise AssertionError(f"task {task_id} did not finish in {timeout_s:g} s")


async def _job(client: Client, token: str, step: str, path: str,
               body: dict[str, Any]) -> dict[str, Any]:
    before = await credits(client, token)
    start = time.monotonic()
    resp = await client.post(path, body, token=token)
    assert resp.status == 202, resp.json
    done = await wait(client, token, resp.data["task_id"])
    seconds = round(time.monotonic() - start, 1)
    after = await credits(client, token)
    return {"step": step, "state": done["state"], "error": done.get("error") or "",
            "seconds": seconds, "tokens": done["meta"].get("tokens", 0),
            "refunded": after == before, "result": done.get("result")}


async def run_steps(client: Client, base_url: str, model: str, email: str,
                    ) -> list[dict[str, Any]]:
    """The four steps' outcomes: {step, state, error, seconds, tokens, refunded, result}."""
    env = await account(client, email)
    token = env["token"]
    resp = await client.post(SAVE_OPENAI, {"enabled": True, "api_key": "", "base_url": base_url,
                                           "model": model, "timeout_s": 600}, token=token)
    assert resp.status == 200, resp.json
    out = []
    ids = await add_keywords(client, env, ESPRESSO[:4] + SOURDOUGH[:4])
    out.append(await _job(client, token, "clustering", AUTO_CLUSTER,
                          {"ids": ids, "sector_id": env["sector"]["id"]}))
    cid = await make_cluster(client, env, "home espresso machine", ESPRESSO[4:9])
    out.append(await _job(client, token, "ideas", IDEAS_AUTO, {"ids": [cid]}))
    resp = await client.post(IDEAS, {
        "title": "How to choose an espresso machine", "site_id": env["site"]["id"],
        "sector_id": env["sector"]["id"], "cluster_id": cid, "outline": OUTLINE,
        "target_keywords": ["espresso machine"], "estimated_word_count": 400}, token=token)
    assert resp.status == 201, resp.json
    queued = await client.post(QUEUE_TO_WRITER, {"ids": [resp.data["id"]]}, token=token)
    assert queued.status == 200, queued.json
    out.append(await _job(client, token, "content", CONTENT_AUTO,
                          {"ids": queued.data["task_ids"]}))
    resp = await client.post(CONTENT, {"title": "Espresso at home", "html_content": ARTICLE,
                                       "site_id": env["site"]["id"],
                                       "sector_id": env["sector"]["id"]}, token=token)
    assert resp.status == 201, resp.json
    out.append(await _job(client, token, "image_prompts", PROMPTS_AUTO,
                          {"ids": [resp.data["id"]]}))
    return out


def check_outcomes(outcomes: list[dict[str, Any]]) -> None:
    """What must hold whatever the model answered: a success did its job, a failure is
    readable and refunded."""
    for o in outcomes:
        assert o["state"] in ("SUCCESS", "FAILURE"), o
        if o["state"] == "FAILURE":
            assert o["error"] and "Traceback" not in o["error"], o
            assert o["refunded"], o
        elif o["step"] == "clustering":
            assert o["result"]["keywords_clustered"] > 0, o
        elif o["step"] == "ideas":
            assert o["result"]["ideas_created"] > 0, o
        elif o["step"] == "content":
            assert o["result"]["written"] == 1 and o["result"]["words"] > 0, o


async def run_through(server: Recorder | Replay, tmp_path: Path, db_url: str, model: str,
                      email: str, **settings: Any) -> list[dict[str, Any]]:
    """`run_steps` on a fresh jobs app whose LLM is `server` (a recorder or a replay, started
    here and stopped with the app)."""
    await server.start()
    running = await start_jobs_app(tmp_path, db_url, **settings)
    client = running.client()
    try:
        return await run_steps(client, server.url, model, email)
    finally:
        client.close()
        await stop_app(running)
        await server.stop()
