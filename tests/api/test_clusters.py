"""Clusters through HTTP on both stores: CRUD, computed keyword figures, filters, search,
ordering, pagination, isolation, roles, references, bulk delete, the plan's cluster limit."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from igny8d.errors import ValidationFailed
from igny8d.permissions import Actor
from igny8d.services.sector_objects import cluster_in_sector
from igny8d.store.clusters import CLUSTERS
from igny8d.store.errors import RowNotFound
from igny8d.store.ideas import IDEAS
from igny8d.store.keywords import KEYWORDS
from igny8d.store.schema import clusters, content_ideas, keywords
from igny8d.store.writes import insert_many, insert_row
from tests.helpers.factories import new_cluster
from tests.helpers.paths import CLUSTERS as C
from tests.helpers.reads import all_pages


async def add_keywords(app, who, cluster_id: int | None, volumes: list[int],
                       prefix: str = "kw", sector=None) -> None:
    rows = [{"account_id": who["account"], "site_id": who["site"],
             "sector_id": sector or who["sector"], "keyword": f"{prefix} {i}",
             "keyword_norm": f"{prefix} {i}", "volume": v, "difficulty": 1,
             "status": "active", "cluster_id": cluster_id,
             "cluster_source": "manual" if cluster_id else None}
            for i, v in enumerate(volumes)]
    async with app.ctx.store.begin() as conn:
        await insert_many(conn, KEYWORDS, rows)


# -- CRUD and computed fields --------------------------------------------------------------------


async def test_create_read_update_delete_with_computed_fields(app, client, a):
    made = await new_cluster(client, a, "  Running shoes ", description="All about shoes")
    assert made["name"] == "Running shoes"
    assert made["status"] == "active" and made["keywords_count"] == 0 and made["volume"] == 0
    assert set(made) == {"id", "account_id", "site_id", "sector_id", "name", "description",
                         "status", "keywords_count", "volume", "created_at", "updated_at"}
    assert made["account_id"] == a["account"] and made["created_at"].endswith("Z")
    other = await new_cluster(client, a, "Trail shoes")
    await add_keywords(app, a, made["id"], [10, 20, 30], "road")
    await add_keywords(app, a, None, [1000], "loose")
    got = (await client.get(f"{C}{made['id']}/", token=a["token"])).data
    assert (got["keywords_count"], got["volume"]) == (3, 60)
    listed = {r["id"]: r for r in (await client.get(C, token=a["token"])).json["results"]}
    assert (listed[made["id"]]["keywords_count"], listed[made["id"]]["volume"]) == (3, 60)
    assert (listed[other["id"]]["keywords_count"], listed[other["id"]]["volume"]) == (0, 0)

    # PUT takes the create shape: site/sector echoed unchanged are fine, changed are 400
    put = await client.put(f"{C}{made['id']}/", {**got, "name": "Road shoes",
                                                   "status": "archived"}, token=a["token"])
    assert put.status == 200, put.json
    assert put.data["name"] == "Road shoes" and put.data["status"] == "archived"
    assert put.data["description"] == "All about shoes" and put.data["keywords_count"] == 3
    moved = await client.patch(f"{C}{made['id']}/", {"sector_id": a["other_sector"]},
                               token=a["token"])
    assert moved.status == 400 and "sector_id" in moved.errors
    patch = await client.patch(f"{C}{made['id']}/", {"description": ""}, token=a["token"])
    assert patch.status == 200 and patch.data["name"] == "Road shoes"
    bad = await client.patch(f"{C}{made['id']}/", {"status": "gone"}, token=a["token"])
    assert bad.status == 400 and "status" in bad.errors
    assert (await client.patch(f"{C}{made['id']}/", {"name": ""}, token=a["token"])).status \
        == 400

    assert (await client.delete(f"{C}{made['id']}/", token=a["token"])).status == 204
    assert (await client.get(f"{C}{made['id']}/", token=a["token"])).status == 404
    async with app.ctx.store.read() as conn:
        rows = (await conn.execute(select(keywords.c.keyword, keywords.c.cluster_id,
                                          keywords.c.cluster_source))).all()
    assert len(rows) == 4  # the keywords stay, unassigned
    assert all(cid is None and src is None for _, cid, src in rows)


async def test_body_validation(client, a):
    base = {"site_id": a["site"], "sector_id": a["sector"]}
    for body in ({**base}, {**base, "name": ""}, {**base, "name": "x" * 256},
                 {**base, "name": "n", "status": "deleted"}, {**base, "name": "n", "extra": 1},
                 {"name": "n", "site_id": a["site"]}, {**base, "name": "n", "site_id": "x"}):
        resp = await client.post(C, body, token=a["token"])
        assert resp.status == 400, (body, resp.json)
    huge = await client.post(C, {**base, "name": "n", "site_id": 2**70}, token=a["token"])
    assert huge.status == 400


async def test_duplicate_name_in_a_sector_is_409(client, a):
    first = await new_cluster(client, a, "Shoes")
    dup = await client.post(C, {"name": "Shoes", "site_id": a["site"],
                                "sector_id": a["sector"]}, token=a["token"])
    assert dup.status == 409 and "name" in dup.errors
    # the same name in another sector is another cluster
    await new_cluster(client, a, "Shoes", sector=a["other_sector"])
    second = await new_cluster(client, a, "Boots")
    rename = await client.patch(f"{C}{second['id']}/", {"name": "Shoes"}, token=a["token"])
    assert rename.status == 409 and "name" in rename.errors
    assert (await client.get(f"{C}{first['id']}/", token=a["token"])).data["name"] == "Shoes"


# -- references, roles, isolation -------------------------------------------------------------


async def test_references_of_another_account_or_sector(client, a, b):
    resp = await client.post(C, {"name": "X", "site_id": b["site"], "sector_id": a["sector"]},
                             token=a["token"])
    assert resp.status == 404 and "site_id" in resp.errors
    resp = await client.post(C, {"name": "X", "site_id": a["site"], "sector_id": b["sector"]},
                             token=a["token"])
    assert resp.status == 404 and "sector_id" in resp.errors
    other_site = await client.site(a["token"], "Second site")
    resp = await client.post(C, {"name": "X", "site_id": other_site["id"],
                                 "sector_id": a["sector"]}, token=a["token"])
    assert resp.status == 400 and "sector_id" in resp.errors
    assert (await client.get(C, token=a["token"])).json["count"] == 0


async def test_roles_viewer_reads_editor_writes(client, a):
    made = await new_cluster(client, a, "Shoes")
    viewer = await client.member(a["token"], "vic@example.com", "viewer")
    editor = await client.member(a["token"], "eve@example.com", "editor")
    body = {"name": "V", "site_id": a["site"], "sector_id": a["sector"]}
    assert (await client.get(C, token=viewer)).json["count"] == 1
    assert (await client.get(f"{C}{made['id']}/", token=viewer)).status == 200
    assert (await client.post(C, body, token=viewer)).status == 403
    assert (await client.patch(f"{C}{made['id']}/", {"name": "Z"}, token=viewer)).status == 403
    assert (await client.put(f"{C}{made['id']}/", {"name": "Z"}, token=viewer)).status == 403
    assert (await client.delete(f"{C}{made['id']}/", token=viewer)).status == 403
    assert (await client.post(f"{C}bulk_delete/", {"ids": [made["id"]]},
                              token=viewer)).status == 403
    assert (await client.get(C)).status == 401
    assert (await client.post(C, body, token=editor)).status == 201
    assert (await client.patch(f"{C}{made['id']}/", {"name": "Z"}, token=editor)).status == 200
    assert (await client.post(f"{C}bulk_delete/", {"ids": [made["id"]]},
                              token=editor)).status == 200


async def test_isolation_across_accounts(client, a, b):
    mine = await new_cluster(client, a, "Mine")
    theirs = await new_cluster(client, b, "Theirs")
    assert [r["id"] for r in (await client.get(C, token=a["token"])).json["results"]] == \
        [mine["id"]]
    for method, body in (("GET", None), ("PUT", {"name": "Hacked"}),
                         ("PATCH", {"name": "Hacked"}), ("DELETE", None)):
        resp = await client.request(method, f"{C}{theirs['id']}/", json_body=body,
                                    token=a["token"])
        assert resp.status == 404, (method, resp.json)
    resp = await client.post(f"{C}bulk_delete/", {"ids": [mine["id"], theirs["id"]]},
                             token=a["token"])
    assert resp.status == 404 and resp.errors["ids"] == [f"Not found: {theirs['id']}."]
    assert (await client.get(f"{C}{mine['id']}/", token=a["token"])).status == 200
    got = await client.get(f"{C}{theirs['id']}/", token=b["token"])
    assert got.status == 200 and got.data["name"] == "Theirs"
    # narrowing filters never widen: B's site id in A's list finds nothing
    assert (await client.get(f"{C}?site_id={b['site']}", token=a["token"])).json["count"] == 0


async def test_site_grants_limit_what_an_editor_sees(client, a):
    site2 = await client.site(a["token"], "Second site")
    sec2 = await client.sector(a["token"], site2["id"], "Other")
    hidden = (await client.post(C, {"name": "Hidden", "site_id": site2["id"],
                                    "sector_id": sec2["id"]}, token=a["token"])).data
    seen = await new_cluster(client, a, "Seen")
    editor = await client.member(a["token"], "eve@example.com", "editor", site_ids=[a["site"]])
    listed = (await client.get(C, token=editor)).json["results"]
    assert [r["id"] for r in listed] == [seen["id"]]
    assert (await client.get(f"{C}{hidden['id']}/", token=editor)).status == 404
    resp = await client.post(C, {"name": "N", "site_id": site2["id"], "sector_id": sec2["id"]},
                             token=editor)
    assert resp.status == 404 and "site_id" in resp.errors
    resp = await client.post(f"{C}bulk_delete/", {"ids": [hidden["id"]]}, token=editor)
    assert resp.status == 404


# -- filters, search, ordering, pagination ----------------------------------------------------


async def test_filters_search_ordering_and_pagination(client, a):
    made = []
    for i in range(23):
        sector = a["sector"] if i % 2 == 0 else a["other_sector"]
        made.append(await new_cluster(client, a, f"Topic {i:02d}", sector=sector,
                                      status="archived" if i % 5 == 0 else "active"))
    tok = a["token"]

    async def ids(query):
        resp = await client.get(C + query, token=tok)
        assert resp.status == 200, (query, resp.json)
        return [r["id"] for r in resp.json["results"]]

    archived = {c["id"] for c in made if c["status"] == "archived"}
    assert set(await ids("?status=archived&page_size=100")) == archived
    assert len(await ids("?status=active,archived&page_size=100")) == 23
    in_a = {c["id"] for c in made if c["sector_id"] == a["sector"]}
    assert set(await ids(f"?sector_id={a['sector']}&page_size=100")) == in_a
    assert set(await ids(f"?site_id={a['site']}&sector_id={a['other_sector']}&status=archived"
                         "&page_size=100")) == \
        {c["id"] for c in made if c["id"] not in in_a and c["id"] in archived}
    assert await ids("?search=topic%2007") == [made[7]["id"]]
    # every word must match (case-insensitive): "1" is in 01, 10..19 and 21
    assert await ids("?search=TOPIC%201&ordering=name&page_size=3") == \
        [made[1]["id"], made[10]["id"], made[11]["id"]]
    assert await ids("?search=%25") == [] and await ids("?search=_") == []
    assert (await ids("?ordering=-name&page_size=1")) == [made[22]["id"]]
    assert (await ids("?page_size=1")) == [made[22]["id"]]  # default -created_at
    assert (await ids("?ordering=created_at&page_size=1")) == [made[0]["id"]]

    for query, param in (("?status=gone", "status"), ("?sector_id=abc", "sector_id"),
                         ("?site_id=1.5", "site_id"), ("?ordering=colour", "ordering"),
                         ("?search=" + "x" * 300, "search")):
        resp = await client.get(C + query, token=tok)
        assert resp.status == 400 and param in resp.errors, (query, resp.json)
    assert (await client.get(C + "?page=99", token=tok)).status == 404

    collected = await all_pages(client, tok, f"{C}?page_size=4&ordering=name")
    assert [r["id"] for r in collected] == [c["id"] for c in made]


# -- bulk delete ------------------------------------------------------------------------------


async def test_bulk_delete_keeps_keywords_and_ideas_unassigned(app, client, a):
    one = await new_cluster(client, a, "One")
    two = await new_cluster(client, a, "Two")
    keep = await new_cluster(client, a, "Keep")
    await add_keywords(app, a, one["id"], [5, 5], "one")
    await add_keywords(app, a, two["id"], [7], "two")
    await add_keywords(app, a, keep["id"], [9], "keep")
    async with app.ctx.store.begin() as conn:
        idea = await insert_row(conn, IDEAS, {
            "account_id": a["account"], "site_id": a["site"], "sector_id": a["sector"],
            "cluster_id": one["id"], "title": "An idea"})
    resp = await client.post(f"{C}bulk_delete/", {"ids": [one["id"], two["id"]]},
                             token=a["token"])
    assert resp.status == 200 and resp.data == {"deleted_count": 2}
    left = (await client.get(C, token=a["token"])).json["results"]
    assert [(r["id"], r["keywords_count"], r["volume"]) for r in left] == [(keep["id"], 1, 9)]
    async with app.ctx.store.read() as conn:
        rows = {r.keyword: (r.cluster_id, r.cluster_source) for r in (await conn.execute(
            select(keywords.c.keyword, keywords.c.cluster_id, keywords.c.cluster_source)))}
        idea_cluster = (await conn.execute(select(content_ideas.c.cluster_id).where(
            content_ideas.c.id == idea["id"]))).scalar_one()
    assert rows == {"one 0": (None, None), "one 1": (None, None), "two 0": (None, None),
                    "keep 0": (keep["id"], "manual")}
    assert idea_cluster is None


async def test_bulk_delete_input(client, a):
    made = await new_cluster(client, a, "One")
    for body in ({"ids": []}, {"ids": list(range(1, 1002))}, {"ids": ["x"]}, {}):
        assert (await client.post(f"{C}bulk_delete/", body, token=a["token"])).status == 400
    resp = await client.post(f"{C}bulk_delete/", {"ids": [made["id"], 10**12]},
                             token=a["token"])
    assert resp.status == 404
    assert (await client.get(C, token=a["token"])).json["count"] == 1


# -- the plan's cluster limit -----------------------------------------------------------------


async def test_concurrent_creates_stop_exactly_at_the_plan_limit(app, client, a):
    async with app.ctx.store.begin() as conn:
        await insert_many(conn, CLUSTERS, [
            {"account_id": a["account"], "site_id": a["site"], "sector_id": a["sector"],
             "name": f"Seeded {i}"} for i in range(195)])  # the free plan allows 200
    results = await asyncio.gather(*(
        client.post(C, {"name": f"Race {i}", "site_id": a["site"], "sector_id": a["other_sector"]},
                    token=a["token"]) for i in range(20)))
    statuses = sorted(r.status for r in results)
    assert statuses.count(201) == 5 and statuses.count(403) == 15, statuses
    refused = next(r for r in results if r.status == 403)
    assert refused.error == "Plan limit reached" and "plan" in refused.errors
    async with app.ctx.store.read() as conn:
        count = (await conn.execute(select(func.count()).select_from(clusters).where(
            clusters.c.account_id == a["account"]))).scalar_one()
    assert count == 200


# -- the reusable sector rule -----------------------------------------------------------------


async def test_cluster_in_sector(app, client, a, b):
    mine = await new_cluster(client, a, "Mine")
    theirs = await new_cluster(client, b, "Theirs")
    actor = Actor(user_id=0, account_id=a["account"], role="owner")
    async with app.ctx.store.read() as conn:
        row = await cluster_in_sector(conn, actor, mine["id"], a["sector"])
        assert row["id"] == mine["id"]
        with pytest.raises(ValidationFailed) as wrong:
            await cluster_in_sector(conn, actor, mine["id"], a["other_sector"], field="x_id")
        assert "x_id" in wrong.value.errors
        with pytest.raises(RowNotFound) as hidden:
            await cluster_in_sector(conn, actor, theirs["id"], b["sector"])
        assert hidden.value.field == "cluster_id"


async def test_ordering_by_computed_fields(app, client, a):
    """keywords_count and volume are computed, and a list may still be ordered by them."""
    for name, volumes in (("small", [10]), ("big", [500, 600]), ("none", [])):
        cl = await new_cluster(client, a, name)
        await add_keywords(app, a, cl["id"], volumes, prefix=name)
    by_count = await client.get(C + "?ordering=-keywords_count", token=a["token"])
    assert [r["name"] for r in by_count.json["results"]] == ["big", "small", "none"]
    by_volume = await client.get(C + "?ordering=volume", token=a["token"])
    assert [r["name"] for r in by_volume.json["results"]] == ["none", "small", "big"]
    assert [r["volume"] for r in by_volume.json["results"]] == [0, 10, 1100]
