"""Cached list totals are as narrow as the write (store/versions.py): a write to one sector's
keywords keeps the other sectors' and the other tables' totals, while every kind of write
(create, update, bulk, cascades, imports, an AI job's save, a charge) shows at once in every
list it changes, also to another process. A missing total is counted once while the other
requests for it wait (`CountCache.once`)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from igny8d.context import LIST_READS, CountCache
from igny8d.handlers.planner_keywords import KEYWORDS as RESOURCE
from tests.helpers.app import make_settings, start_app, start_jobs_app, stop_app
from tests.helpers.client import Client
from tests.helpers.factories import add_keywords, two_sector_owner, upload, where
from tests.helpers.jobs import poll
from tests.helpers.paths import AUTO_CLUSTER, CLUSTERS, IDEAS, KEYWORDS, SECTORS, SITES, USAGE


async def _count(client: Client, token: str, path: str, query: str = "") -> int:
    resp = await client.get(f"{path}{query}", token=token)
    assert resp.status == 200, resp.json
    return int(resp.json["count"])


def _sector(t: dict[str, Any], which: str = "sector") -> dict[str, Any]:
    return {"id": t[which], "site_id": t["site"]}


async def test_a_write_keeps_other_sectors_and_tables(app, client):
    t = await two_sector_owner(client, "narrow@example.com")
    token, a, b = t["token"], t["sector"], t["other_sector"]
    await add_keywords(client, t, [("alpha", 1), ("beta", 2)], sector=_sector(t))
    await add_keywords(client, t, [("gamma", 3)], sector=_sector(t, "other_sector"))
    resp = await client.post(CLUSTERS, {"name": "C", **where(t)}, token=token)
    assert resp.status == 201, resp.json
    lists = {"a": (KEYWORDS, f"?sector_id={a}"), "b": (KEYWORDS, f"?sector_id={b}"),
             "all": (KEYWORDS, ""), "clusters": (CLUSTERS, "")}
    assert {k: await _count(client, token, *v) for k, v in lists.items()} == \
        {"a": 2, "b": 1, "all": 3, "clusters": 1}

    await add_keywords(client, t, [("delta", 4)], sector=_sector(t))

    counts = app.ctx.counts
    kept = {}
    for name, (path, query) in lists.items():
        hits = counts.hits
        kept[name] = (await _count(client, token, path, query), counts.hits > hits)
    # the other sector's and the other table's totals were served from the cache
    assert kept == {"a": (3, False), "b": (1, True), "all": (4, False),
                    "clusters": (1, True)}


async def test_every_kind_of_write_shows_in_the_lists_it_changes(app, client):
    t = await two_sector_owner(client, "writes@example.com")
    token, a, b = t["token"], t["sector"], t["other_sector"]
    first = _sector(t)
    ids = await add_keywords(client, t, [("one", 1), ("two", 2), ("three", 3)], sector=first)
    other = await add_keywords(client, t, [("four", 4)], sector=_sector(t, "other_sector"))
    cluster = (await client.post(CLUSTERS, {"name": "C", **where(t)}, token=token)).data
    cid = int(cluster["id"])

    async def lists() -> dict[str, int]:
        return {
            "a": await _count(client, token, KEYWORDS, f"?sector_id={a}"),
            "b": await _count(client, token, KEYWORDS, f"?sector_id={b}"),
            "all": await _count(client, token, KEYWORDS),
            "active": await _count(client, token, KEYWORDS, "?status=active"),
            "in_cluster": await _count(client, token, KEYWORDS, f"?cluster_id={cid}"),
            "unclustered": await _count(client, token, KEYWORDS, "?unclustered=true"),
            "clusters": await _count(client, token, CLUSTERS),
            "ideas": await _count(client, token, IDEAS, f"?cluster_id={cid}"),
        }

    seen = await lists()
    assert seen == {"a": 3, "b": 1, "all": 4, "active": 4, "in_cluster": 0,
                    "unclustered": 4, "clusters": 1, "ideas": 0}
    # an update of one row (into a cluster)
    resp = await client.patch(f"{KEYWORDS}{ids[0]}/", {"cluster_id": cid}, token=token)
    assert resp.status == 200, resp.json
    seen = await lists()
    assert (seen["in_cluster"], seen["unclustered"]) == (1, 3)
    # an idea of the cluster
    resp = await client.post(IDEAS, {"title": "I", "cluster_id": cid,
                                     **where(t)}, token=token)
    assert resp.status == 201, resp.json
    assert (await lists())["ideas"] == 1
    # a bulk status change, across both sectors
    resp = await client.post(f"{KEYWORDS}bulk_update_status/",
                             {"ids": [ids[1], other[0]], "status": "archived"}, token=token)
    assert resp.status == 200, resp.json
    assert (await lists())["active"] == 2
    # deleting the cluster empties its keywords' and ideas' cluster (foreign keys)
    assert (await client.delete(f"{CLUSTERS}{cid}/", token=token)).status == 204
    seen = await lists()
    assert (seen["in_cluster"], seen["unclustered"], seen["ideas"], seen["clusters"]) == \
        (0, 4, 0, 0)
    # a bulk delete in one sector
    resp = await client.post(f"{KEYWORDS}bulk_delete/", {"ids": [ids[2]]}, token=token)
    assert resp.status == 200, resp.json
    assert (await lists())["a"] == 2
    # an import into the other sector
    resp = await upload(client, token, {"id": t["site"]}, {"id": b},
                        b"keyword,volume\nfive,5\nsix,6\n")
    assert resp.status == 200, resp.json
    seen = await lists()
    assert (seen["a"], seen["b"], seen["all"]) == (2, 3, 5)
    # deleting a sector takes its keywords (a cascade from another table)
    assert (await client.delete(f"{SECTORS}{b}/", token=token)).status == 204
    seen = await lists()
    assert (seen["b"], seen["all"]) == (0, 2)
    # deleting the site takes everything
    assert (await client.delete(f"{SITES}{t['site']}/", token=token)).status == 204
    assert (await lists())["all"] == 0


async def test_another_process_sees_every_write_at_once(app, client, tmp_path, db_url):
    other = await start_app(make_settings(tmp_path / "b", db_url))
    there = other.client()
    try:
        t = await two_sector_owner(client, "procs@example.com")
        token, a = t["token"], t["sector"]
        await add_keywords(client, t, [("one", 1)], sector=_sector(t))
        assert await _count(there, token, KEYWORDS, f"?sector_id={a}") == 1
        assert await _count(there, token, KEYWORDS) == 1
        await add_keywords(client, t, [("two", 2)], sector=_sector(t))
        assert await _count(there, token, KEYWORDS, f"?sector_id={a}") == 2
        assert await _count(there, token, KEYWORDS) == 2
    finally:
        there.close()
        await stop_app(other)


async def test_an_ai_job_and_its_charge_show_in_the_lists(tmp_path, db_url):
    jobs_app = await start_jobs_app(tmp_path, db_url)
    client = jobs_app.client()
    try:
        t = await two_sector_owner(client, "aijob@example.com")
        token, a = t["token"], t["sector"]
        ids = await add_keywords(client, t, [("espresso machine", 10), ("espresso beans", 9),
                                             ("espresso grinder", 8)], sector=_sector(t))
        assert await _count(client, token, KEYWORDS, f"?sector_id={a}&unclustered=true") == 3
        assert await _count(client, token, CLUSTERS, f"?sector_id={a}") == 0
        usage = await _count(client, token, USAGE)
        resp = await client.post(AUTO_CLUSTER, {"ids": ids, "sector_id": a}, token=token)
        assert resp.status == 202, resp.json
        done = await poll(client, token, resp.data["task_id"])
        assert done["state"] == "SUCCESS", done
        assert await _count(client, token, KEYWORDS, f"?sector_id={a}&unclustered=true") == 0
        assert await _count(client, token, CLUSTERS, f"?sector_id={a}") >= 1
        assert await _count(client, token, USAGE) == usage + 1
    finally:
        client.close()
        await stop_app(jobs_app)


async def test_concurrent_misses_count_once(app, client):
    t = await two_sector_owner(client, "flight@example.com")
    await add_keywords(client, t, [(f"word {i}", i) for i in range(5)], sector=_sector(t))
    svc = app.ctx  # the keyword list's page reads go through its service
    real = RESOURCE.service.plain_page
    counted = 0

    async def plain_page(*args: Any, **kwargs: Any) -> Any:
        nonlocal counted
        if kwargs.get("count") is None:
            counted += 1
            await asyncio.sleep(0.05)  # hold the count so the others arrive meanwhile
        return await real(*args, **kwargs)

    RESOURCE.service.plain_page = plain_page  # type: ignore[method-assign]
    try:
        answers = await asyncio.gather(*(client.get(f"{KEYWORDS}?search=word&page_size=2",
                                                    token=t["token"]) for _ in range(6)))
    finally:
        del RESOURCE.service.plain_page
    assert {r.json["count"] for r in answers} == {5}
    assert counted == 1
    assert svc.counts.in_flight == 0


# -- CountCache.once, unit ---------------------------------------------------------------------


async def test_once_runs_one_computation_for_its_waiters():
    cache = CountCache()
    calls = 0
    gate = asyncio.Event()

    async def compute() -> int:
        nonlocal calls
        calls += 1
        await gate.wait()
        cache.put(("k",), 7)
        return 7

    tasks = [asyncio.create_task(cache.once(("k",), compute)) for _ in range(5)]
    await asyncio.sleep(0)
    gate.set()
    results = await asyncio.gather(*tasks)
    assert calls == 1
    assert sorted(results, key=str) == [7, None, None, None, None]
    assert cache.get(("k",)) == 7
    assert cache.in_flight == 0


async def test_once_raises_the_error_to_every_waiter():
    cache = CountCache()
    gate = asyncio.Event()

    async def compute() -> int:
        await gate.wait()
        raise RuntimeError("store down")

    tasks = [asyncio.create_task(cache.once(("k",), compute)) for _ in range(3)]
    await asyncio.sleep(0)
    gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert [str(r) for r in results] == ["store down"] * 3
    assert cache.in_flight == 0


async def test_a_cancelled_computation_is_taken_over_and_a_cancelled_waiter_leaves():
    cache = CountCache()
    started = asyncio.Event()
    calls = 0

    async def slow() -> int:
        nonlocal calls
        calls += 1
        started.set()
        await asyncio.sleep(3600)
        return 0

    async def quick() -> int:
        nonlocal calls
        calls += 1
        return 5

    leader = asyncio.create_task(cache.once(("k",), slow))
    await started.wait()
    quitter = asyncio.create_task(cache.once(("k",), quick))
    waiter = asyncio.create_task(cache.once(("k",), quick))
    await asyncio.sleep(0)
    quitter.cancel()  # a waiter going away leaves the computation running
    with pytest.raises(asyncio.CancelledError):
        await quitter
    assert not leader.done()
    leader.cancel()  # the computation going away: the waiter computes instead
    with pytest.raises(asyncio.CancelledError):
        await leader
    assert await waiter == 5
    assert calls == 2
    assert cache.in_flight == 0


async def test_list_reads_take_turns_and_give_them_back(app, client):
    t = await two_sector_owner(client, "turns@example.com")
    await add_keywords(client, t, [("one", 1)], sector=_sector(t))
    turns = app.ctx.list_reads
    slots = LIST_READS  # on both stores
    many = slots * 2
    answers = await asyncio.gather(*(client.get(f"{KEYWORDS}?page={1 + i % 2}",
                                                token=t["token"]) for i in range(many)))
    # page 2 is a 404: a read that failed gave its turn back as well
    assert sorted(r.status for r in answers) == [200] * (many // 2) + [404] * (many // 2)
    for _ in range(slots):  # every turn is free again
        assert not turns.locked()
        await turns.acquire()
    for _ in range(slots):
        turns.release()
