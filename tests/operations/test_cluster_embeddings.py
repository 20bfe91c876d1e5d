"""auto_cluster on embeddings from an OpenAI-compatible `/v1/embeddings` server (a test server
answering from the tests' own vectors), over HTTP on both stores with job workers running:
the local cap, not the LLM's 20; new keywords join existing clusters by their vectors; the
threshold per model; and a server that answers the wrong number of vectors, vectors of mixed
dimensions, NaN, empty vectors, broken JSON, a 400, a dropped connection or nothing at all
fails the job readably, refunds it and writes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from igny8d.ai.cluster.vectors import Space, head_key
from igny8d.ai.text import analyse
from tests.helpers.app import RunningApp, start_jobs_app, stop_app
from tests.helpers.client import Client
from tests.helpers.embedding_server import EmbeddingServer
from tests.helpers.factories import ESPRESSO, SOURDOUGH, account, add_keywords, make_cluster
from tests.helpers.fake_openai import fake_embedding
from tests.helpers.jobs import poll
from tests.helpers.paths import AUTO_CLUSTER, CLUSTERS, KEYWORDS
from tests.helpers.reads import all_rows, credits

SAVE_OPENAI = "/api/v1/system/settings/integrations/openai/save/"
MODEL = "text-embedding-3-small"
#: words the tests' embedding model takes for one another (TF-IDF sees nothing in common)
SYNONYMS = {"sofa": "couch", "sofas": "couches", "settee": "couch", "settees": "couches"}


def concept_embed(texts: Sequence[str]) -> list[list[float]]:
    """Character-trigram vectors of the texts with synonyms replaced: "sofa" is "couch"."""
    return [fake_embedding(" ".join(SYNONYMS.get(w, w) for w in t.lower().split()))
            for t in texts]


@pytest.fixture
async def server() -> AsyncIterator[EmbeddingServer]:
    async with EmbeddingServer(concept_embed, model=MODEL) as s:
        yield s


async def embeddings_app(tmp_path: Path, db_url: str, **settings: Any) -> RunningApp:
    return await start_jobs_app(tmp_path, db_url, ai_max_retries=0,
                                cluster_with_embeddings=True,
                                **{"embedding_threshold": 0.4, **settings})


@pytest.fixture
async def app_client(tmp_path: Path, db_url: str) -> AsyncIterator[Client]:
    running = await embeddings_app(tmp_path, db_url)
    client = running.client()
    yield client
    client.close()
    await stop_app(running)


async def integrate(client: Client, env: dict[str, Any], server: EmbeddingServer,
                    **extra: Any) -> None:
    resp = await client.post(SAVE_OPENAI, {"enabled": True, "api_key": "sk-test",
                                           "base_url": server.url, "model": "gpt-4o-mini",
                                           "embedding_model": server.model, **extra},
                             token=env["token"])
    assert resp.status == 200, resp.json


async def cluster(client: Client, env: dict[str, Any], ids: list[int]) -> dict[str, Any]:
    resp = await client.post(AUTO_CLUSTER, {"ids": ids, "sector_id": env["sector"]["id"]},
                             token=env["token"])
    assert resp.status == 202, resp.json
    return await poll(client, env["token"], resp.data["task_id"])


def together(keywords: list[dict[str, Any]]) -> set[frozenset[str]]:
    """The groups of keywords sharing a cluster (two or more)."""
    groups: dict[int, set[str]] = {}
    for k in keywords:
        if k["cluster_id"] is not None:
            groups.setdefault(int(k["cluster_id"]), set()).add(k["keyword"])
    return {frozenset(g) for g in groups.values() if len(g) > 1}


async def test_the_embeddings_path_takes_the_local_cap_not_the_llms(app_client, server):
    client = app_client
    env = await account(client, "cap@example.com")
    texts = ESPRESSO + SOURDOUGH + [(f"espresso machine model {n}", 10) for n in range(12)]
    ids = await add_keywords(client, env, texts)
    assert len(ids) > 20
    # an integration without an embedding model: the LLM groups them, the reference's 20
    await integrate(client, env, server, embedding_model=None)
    resp = await client.post(AUTO_CLUSTER, {"ids": ids, "sector_id": env["sector"]["id"]},
                             token=env["token"])
    assert resp.status == 400 and "at most 20" in resp.errors["ids"][0], resp.json
    # with one: no LLM call, the local cap
    await integrate(client, env, server)
    done = await cluster(client, env, ids)
    assert done["state"] == "SUCCESS", done
    assert done["result"]["method"] == "embeddings"
    assert sorted(t for batch in server.inputs for t in batch) == sorted(t for t, _ in texts)
    groups = together(await all_rows(client, env["token"], KEYWORDS))
    assert groups and all(len({"sourdough" in k for k in g}) == 1 for g in groups), groups


async def test_new_keywords_join_existing_clusters_by_their_vectors(app_client, server):
    client = app_client
    env = await account(client, "join@example.com")
    couch = await make_cluster(client, env, "couch", [("couch", 900), ("couches", 400)])
    ids = await add_keywords(client, env, [("sofa", 800), ("sofas", 300), ("settee", 50),
                                           ("sourdough starter", 700),
                                           ("sourdough starters", 200)])
    await integrate(client, env, server)
    done = await cluster(client, env, ids)
    assert done["state"] == "SUCCESS", done
    by_text = {k["keyword"]: k for k in await all_rows(client, env["token"], KEYWORDS)}
    # no term in common with "couch": only the vectors put them there
    assert {t: by_text[t]["cluster_id"] for t in ("sofa", "sofas", "settee")} == \
        dict.fromkeys(("sofa", "sofas", "settee"), couch)
    assert by_text["sourdough starter"]["cluster_id"] == \
        by_text["sourdough starters"]["cluster_id"] != couch
    # the existing cluster's keywords were embedded with the new ones, in one call
    (batch,) = server.inputs
    assert {"couch", "couches", "sofa", "sourdough starter"} <= set(batch)
    names = {c["name"] for c in await all_rows(client, env["token"], CLUSTERS)}
    assert "sofa" not in names and "settee" not in names


async def test_an_empty_existing_cluster_is_matched_on_its_name(app_client, server):
    client = app_client
    env = await account(client, "name@example.com")
    resp = await client.post(CLUSTERS, {"name": "Couches", "site_id": env["sector"]["site_id"],
                                        "sector_id": env["sector"]["id"]}, token=env["token"])
    assert resp.status == 201, resp.json
    cid = int(resp.data["id"])
    ids = await add_keywords(client, env, [("sofas", 800), ("settees", 300)])
    await integrate(client, env, server)
    done = await cluster(client, env, ids)
    assert done["state"] == "SUCCESS", done
    assert {k["cluster_id"] for k in await all_rows(client, env["token"], KEYWORDS)} == {cid}


def _same_terms(group: frozenset[str]) -> bool:
    """Whether the keywords have the same terms and facets (lexical similarity 1.0, which
    clusters them at any threshold) or nearly (a plural: ≥ 0.9, whose bonus lifts a close
    cosine to 0.99, `semantic.LEXICAL_BONUS`)."""
    analyses = [analyse(t) for t in sorted(group)]
    space = Space(analyses)
    keys = [space.index[head_key(a)] for a in analyses]
    return all(space.sim(u, v) >= 0.9 for u in keys for v in keys)


@pytest.mark.parametrize("thresholds, apart", [
    # this model's own threshold: no two vectors are that close, only (nearly) the same terms join
    ({MODEL: 0.99}, True),
    ({"other-model": 0.99}, False),  # another model's: the default applies
])
async def test_the_threshold_is_per_model(tmp_path, db_url, server, thresholds, apart):
    running = await embeddings_app(tmp_path, db_url, embedding_thresholds=thresholds)
    client = running.client()
    try:
        env = await account(client, "threshold@example.com")
        ids = await add_keywords(client, env, ESPRESSO[:6] + SOURDOUGH[:6])
        await integrate(client, env, server)
        done = await cluster(client, env, ids)
        assert done["state"] == "SUCCESS", done
        groups = together(await all_rows(client, env["token"], KEYWORDS))
        assert groups, groups
        assert all(_same_terms(g) for g in groups) is apart, groups
    finally:
        client.close()
        await stop_app(running)


@pytest.mark.parametrize("fault, message", [
    ("missing", "expected 12 embeddings indexed 0 to 11"),
    ("extra", "expected 12 embeddings indexed 0 to 11"),
    ("mixed_dimensions", "embeddings of different dimensions (256 and 255)"),
    ("nan", "embedding 11 is not finite (NaN or infinity)"),
    ("empty_vector", "data.11.embedding: List should have at least 1 item"),
    ("garbage", "not valid JSON"),
    ("hang", "did not answer within 0.5 s"),
    ("too_long", "This model's maximum context length is 256 tokens."),
    ("drop", "closed the connection before answering"),
])
async def test_a_bad_embedding_server_fails_readably_refunds_and_writes_nothing(
        app_client, server, fault, message):
    client = app_client
    env = await account(client, f"{fault.replace('_', '')}@example.com")
    ids = await add_keywords(client, env, ESPRESSO[:6] + SOURDOUGH[:6])
    # a short timeout only where the server hangs (a loaded machine may be slower than 0.5 s)
    await integrate(client, env, server, timeout_s=0.5 if fault == "hang" else 30)
    before = await credits(client, env["token"])
    rows = {(k["id"], k["cluster_id"], k["intent"])
            for k in await all_rows(client, env["token"], KEYWORDS)}
    server.fault = fault  # type: ignore[assignment]
    done = await cluster(client, env, ids)
    assert done["state"] == "FAILURE", done
    assert message in done["error"], done["error"]
    assert "Traceback" not in done["error"] and "sk-test" not in done["error"]
    assert await credits(client, env["token"]) == before
    assert await all_rows(client, env["token"], CLUSTERS) == []
    assert {(k["id"], k["cluster_id"], k["intent"])
            for k in await all_rows(client, env["token"], KEYWORDS)} == rows


@pytest.mark.parametrize(("model", "fitted_on"), [("all-minilm", "all-MiniLM-L6-v2"),
                                                ("sentence-transformers/all-mpnet-base-v2",
                                                 "all-mpnet-base-v2")])
async def test_under_the_pair_model_new_keywords_join_over_http(tmp_path, db_url, model,
                                                                fitted_on):
    """An Ollama-served all-MiniLM-L6-v2 (`all-minilm`), or a served all-mpnet-base-v2, at the
    default threshold: the learned pair model fitted on that model clusters and joins
    (`pair_model_for`); over HTTP, a new keyword with a vector like the cluster's joins it, an
    unrelated pair becomes a cluster of its own, nothing else moves."""
    from igny8d.ai.cluster import EMBEDDING_THRESHOLD
    from igny8d.operations.cluster import pair_model_for
    from igny8d.settings import Settings

    pair_model = pair_model_for(Settings(), model)
    assert pair_model is not None and pair_model.embedding_model == fitted_on
    running = await embeddings_app(tmp_path, db_url, embedding_threshold=EMBEDDING_THRESHOLD)
    client = running.client()
    try:
        async with EmbeddingServer(concept_embed, model=model) as server:
            env = await account(client, "pair@example.com")
            couch = await make_cluster(client, env, "couch", [("couch", 900), ("couches", 400)])
            ids = await add_keywords(client, env, [("sofa", 800), ("sofas", 300),
                                                   ("sourdough starter", 700),
                                                   ("sourdough starters", 200)])
            await integrate(client, env, server)
            done = await cluster(client, env, ids)
            assert done["state"] == "SUCCESS", done
            result = done["result"]
            assert result["method"] == "embeddings" and result["unclustered_count"] == 0
            assert result["clusters_created"] == 1
            by_text = {k["keyword"]: k for k in await all_rows(client, env["token"], KEYWORDS)}
            assert by_text["sofa"]["cluster_id"] == by_text["sofas"]["cluster_id"] == couch
            assert by_text["couch"]["cluster_id"] == couch
            sourdough = by_text["sourdough starter"]["cluster_id"]
            assert sourdough is not None and sourdough != couch
            assert by_text["sourdough starters"]["cluster_id"] == sourdough
    finally:
        client.close()
        await stop_app(running)


def _toward_commercial() -> list[float]:
    """A 768-dimension unit vector mpnet's intent model reads as commercial, whatever the
    rules say (the direction that raises its commercial score over its informational)."""
    from igny8d.ai.cluster.intent_model import shipped_for

    model = shipped_for("all-mpnet-base-v2")
    assert model is not None
    n = len(model.classes)
    rows = dict(zip(model.classes, model.coef, strict=True))
    d = [c - i for c, i in zip(rows["commercial"][n:], rows["informational"][n:], strict=True)]
    norm = sum(x * x for x in d) ** 0.5
    return [x / norm for x in d]


@pytest.mark.parametrize("read_intents", [True, False])
async def test_a_served_mpnet_reads_intents_from_the_vectors_over_http(tmp_path, db_url,
                                                                       read_intents):
    """A served all-mpnet-base-v2 whose vector for the sourdough keywords says commercial: with
    `embedding_intent_model` on (the default) they are stored commercial, where the rules say
    informational; off, the rules' intent is stored. A keyword given an intent keeps it, and
    the clusters are the same either way."""
    toward = _toward_commercial()

    def embed(texts: Sequence[str]) -> list[list[float]]:
        return [toward if t.startswith("sourdough") else [*concept_embed([t])[0], *[0.0] * 512]
                for t in texts]

    running = await embeddings_app(tmp_path, db_url, embedding_intent_model=read_intents)
    client = running.client()
    try:
        async with EmbeddingServer(embed, model="sentence-transformers/all-mpnet-base-v2"
                                   ) as server:
            env = await account(client, "intents@example.com")
            ids = await add_keywords(client, env, [("sourdough starter", 700),
                                                   ("sourdough starters", 200),
                                                   ("couch", 900), ("couches", 400)])
            ids += await add_keywords(client, env, [("sourdough hydration", 100)],
                                      intent="navigational")
            await integrate(client, env, server)
            done = await cluster(client, env, ids)
            assert done["state"] == "SUCCESS", done
            rows = await all_rows(client, env["token"], KEYWORDS)
            by_text = {k["keyword"]: k["intent"] for k in rows}
            expected = "commercial" if read_intents else "informational"
            assert by_text["sourdough starter"] == by_text["sourdough starters"] == expected
            assert by_text["sourdough hydration"] == "navigational"
            assert together(rows) == {frozenset({"sourdough starter", "sourdough starters",
                                                 "sourdough hydration"}),
                                      frozenset({"couch", "couches"})}
    finally:
        client.close()
        await stop_app(running)
