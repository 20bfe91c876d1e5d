"""The whole AI pipeline end to end through HTTP on both stores, offline, with the local
provider and running job workers, as a client would drive it:

80 keywords over four themes → auto_cluster → clusters named after their keywords, themes
never mixed → auto_generate_ideas per cluster → bulk_queue_to_writer → auto_generate_content
→ draft articles (HTML, meta, word counts) → generate_image_prompts → pending images →
generate_images → generated images whose `file/` URL serves a PNG.

Credits go down at every step, never below zero; the ledger adds up (the transactions since
the start sum to the balance's change; usage net of refunds equals charges minus refunds; the
usage summary agrees), and the free plan's 1,000 credits cover the 80-keyword site (835 with
the default prices: per theme the product, its listicle, a price band and a beginner's page,
as eval/data/GUIDE.md groups them). Also: each AI action counts in its DESIGN.md throttle scope."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers.client import Client
from tests.helpers.factories import account
from tests.helpers.jobs import poll
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
    TASKS,
    TRANSACTIONS,
    USAGE,
)
from tests.helpers.reads import all_rows, credits

SUMMARY = "/api/v1/billing/credits/usage/summary/"
MODIFIERS = ["", "best", "cheap", "{} reviews", "buy", "{} for sale", "{} deals",
             "{} price", "top rated", "affordable", "{} discount", "{} brands", "premium",
             "{} online", "{} under 200", "{} for beginners", "{} sale", "compact",
             "{} comparison", "quiet"]
THEMES = ["espresso machine", "hiking boots", "standing desk", "robot vacuum"]


def theme_keywords(theme: str) -> list[tuple[str, int]]:
    out = []
    for n, mod in enumerate(MODIFIERS):
        text = mod.format(theme) if "{}" in mod else f"{mod} {theme}".strip()
        out.append((text, 10000 // (n + 1)))
    return out


async def step(client: Client, token: str, path: str, ids: list[int],
               spent: list[int], **body: Any) -> dict[str, Any]:
    """One paid call: the balance drops when it is accepted, the job succeeds."""
    before = await credits(client, token)
    resp = await client.post(path, {"ids": ids, **body}, token=token)
    assert resp.status == 202, resp.json
    assert await credits(client, token) < before, path
    done = await poll(client, token, resp.data["task_id"])
    assert done["state"] == "SUCCESS", done
    after = await credits(client, token)
    assert 0 <= after < before
    spent.append(before - after)
    return dict(done["result"])


@pytest.mark.slow
async def test_the_whole_pipeline_offline(jobs_app, client):
    env = await account(client, "pipeline@example.com")
    token = env["token"]
    start = await credits(client, token)
    assert start == 1000  # the free plan's monthly credits
    old_tx = {t["id"] for t in await all_rows(client, token, TRANSACTIONS)}
    theme_of: dict[int, str] = {}
    for theme in THEMES:
        for text, volume in theme_keywords(theme):
            resp = await client.post(KEYWORDS, {"keyword": text, "volume": volume,
                                          "site_id": env["site"]["id"],
                                          "sector_id": env["sector"]["id"]}, token=token)
            assert resp.status == 201, resp.json
            theme_of[int(resp.data["id"])] = theme
    assert len(theme_of) == 80
    spent: list[int] = []

    # 1. clusters
    result = await step(client, token, AUTO_CLUSTER, sorted(theme_of), spent,
                        sector_id=env["sector"]["id"])
    assert spent[-1] == 80
    assert result["keywords_clustered"] >= 64, result
    clusters = await all_rows(client, token, CLUSTERS)
    # per theme at most four pages: the product, its listicle ("best", "reviews", "top
    # rated"), a price band ("under 200") and a beginner's page
    assert 4 <= len(clusters) <= 16, [c["name"] for c in clusters]
    keywords = await all_rows(client, token, KEYWORDS)
    assert all(k["intent"] for k in keywords)
    members: dict[int, list[dict[str, Any]]] = {}
    for k in keywords:
        if k["cluster_id"] is not None:
            members.setdefault(int(k["cluster_id"]), []).append(k)
    for cluster in clusters:
        mine = members[int(cluster["id"])]
        assert len({theme_of[int(k["id"])] for k in mine}) == 1, (cluster["name"], mine)
        theme = theme_of[int(mine[0]["id"])]
        # named after its highest-volume keyword, which names its theme
        top = max(mine, key=lambda k: k["volume"])
        assert cluster["name"] == top["keyword"] and theme in cluster["name"], cluster
    assert {theme_of[int(ks[0]["id"])] for ks in members.values()} == set(THEMES)

    # 2. ideas, one call per cluster (the reference's cap)
    for cluster in clusters:
        got = await step(client, token, IDEAS_AUTO, [int(cluster["id"])], spent)
        assert got["ideas_created"] >= 1, got
    ideas = await all_rows(client, token, IDEAS)
    assert len(ideas) >= len(clusters)
    assert all(i["status"] == "new" and i["outline"] for i in ideas)

    # 3. tasks
    resp = await client.post(QUEUE_TO_WRITER, {"ids": [int(i["id"]) for i in ideas]}, token=token)
    assert resp.status == 200, resp.json
    task_ids = resp.data["task_ids"]
    assert len(task_ids) == len(ideas) <= 50

    # 4. articles
    got = await step(client, token, CONTENT_AUTO, task_ids, spent)
    assert got["written"] == len(task_ids), got
    contents = await all_rows(client, token, CONTENT)
    assert len(contents) == len(task_ids)
    for c in contents:
        assert c["status"] == "draft" and "<h2" in c["html_content"]
        assert c["word_count"] > 100
        assert 0 < len(c["meta_title"]) <= 60 and 0 < len(c["meta_description"]) <= 160
        assert c["primary_keyword"]
    assert {t["status"] for t in await all_rows(client, token, TASKS)} == {"review"}

    # 5. image prompts, then images (at most 50 per call)
    content_ids = [int(c["id"]) for c in contents]
    got = await step(client, token, PROMPTS_AUTO, content_ids, spent)
    images = await all_rows(client, token, IMAGES)
    assert len(images) == got["prompts_created"] >= len(contents)
    assert {i["status"] for i in images} == {"pending"}
    featured = [i for i in images if i["image_type"] == "featured"]
    assert len(featured) == len(contents)
    pending = sorted(int(i["id"]) for i in images)
    for start_at in range(0, len(pending), 50):
        got = await step(client, token, IMAGES_AUTO, pending[start_at:start_at + 50], spent)
        assert got["failed"] == []
    images = await all_rows(client, token, IMAGES)
    assert {i["status"] for i in images} == {"generated"}
    url = (await client.get(f"{IMAGES}{featured[0]['id']}/file/", token=token)).data["url"]
    served = await client.get(url[url.index("/media/"):])
    assert served.status == 200 and served.headers["Content-Type"] == "image/png"
    assert served.body.startswith(b"\x89PNG\r\n\x1a\n")

    # the ledger adds up, and the free plan covered it all
    balance = await credits(client, token)
    assert balance == start - sum(spent) >= 0
    txs = [t for t in await all_rows(client, token, TRANSACTIONS) if t["id"] not in old_tx]
    assert sum(t["amount"] for t in txs) == balance - start
    charges = -sum(t["amount"] for t in txs if t["transaction_type"] == "charge")
    refunds = sum(t["amount"] for t in txs if t["transaction_type"] == "refund")
    usage = await all_rows(client, token, USAGE)
    assert sum(u["credits_used"] for u in usage) == charges
    assert sum(u["credits_refunded"] for u in usage) == refunds
    assert sum(u["credits_used"] - u["credits_refunded"] for u in usage) == start - balance
    assert {u["operation_type"] for u in usage} == {
        "clustering", "ideas", "content", "image_prompts", "images"}
    summary = (await client.get(SUMMARY, token=token)).data
    assert summary["total_credits_used"] == start - balance
    by_type = summary["by_operation_type"]
    assert by_type["clustering"]["credits_used"] == 80
    assert by_type["images"]["credits_used"] == 5 * len(images)


async def test_each_ai_action_counts_in_its_throttle_scope(throttled_app):
    """DESIGN.md: auto_generate_ideas → planner_ai; auto_generate_content and
    generate_image_prompts → writer_ai; generate_images → image_gen (X-Throttle-Limit of one
    request each, and each scope's own count)."""
    c = throttled_app.client()
    try:
        token = await c.owner("ai-scopes@example.com")
        cases = [("/api/v1/planner/keywords/auto_cluster/", "10"),
                 (IDEAS_AUTO, "10"), (CONTENT_AUTO, "10"), (PROMPTS_AUTO, "10"),
                 (IMAGES_AUTO, "15")]
        for path, limit in cases:
            resp = await c.post(path, {"ids": []}, token=token)
            assert resp.status == 400, resp.json
            assert resp.headers["X-Throttle-Limit"] == limit, path
        # auto_cluster and auto_generate_ideas share planner_ai; the writer's two share
        # writer_ai; images have their own
        remaining = {path: (await c.post(path, {"ids": []}, token=token)).headers[
            "X-Throttle-Remaining"] for path, _limit in cases}
        assert remaining[IDEAS_AUTO] == "6"  # 2 + 2 of planner_ai's 10
        assert remaining[PROMPTS_AUTO] == "6"
        assert remaining[IMAGES_AUTO] == "13"
    finally:
        c.close()
