"""Content ideas through HTTP on both stores: CRUD, validation, references (cluster in the same
sector), filters, search, ordering, pagination, isolation, roles, bulk delete and queueing to
the writer (one task per idea, also under concurrent calls)."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from igny8d.store.schema import content_ideas, tasks
from tests.helpers.factories import new_cluster
from tests.helpers.paths import IDEAS as IU
from tests.helpers.paths import QUEUE_TO_WRITER as Q
from tests.helpers.reads import all_pages


async def new_idea(client, who, title="Idea", *, sector=None, **extra) -> dict[str, Any]:
    resp = await client.post(IU, {"title": title, "site_id": who["site"],
                                 "sector_id": sector or who["sector"], **extra},
                             token=who["token"])
    assert resp.status == 201, resp.json
    return resp.data


async def task_rows(app) -> list[dict[str, Any]]:
    async with app.ctx.store.read() as conn:
        return [dict(r) for r in (await conn.execute(
            select(tasks).order_by(tasks.c.id))).mappings()]


async def idea_statuses(app) -> dict[int, str]:
    async with app.ctx.store.read() as conn:
        return {int(i): s for i, s in (await conn.execute(
            select(content_ideas.c.id, content_ideas.c.status))).all()}


OUTLINE = [{"heading": "Why run", "level": 2, "points": ["health", " fun "]},
           {"heading": "Shoes", "level": 3}]


# -- CRUD -------------------------------------------------------------------------------------


async def test_create_read_update_delete(client, a):
    cluster = await new_cluster(client, a, "Shoes")
    made = await new_idea(client, a, "How to pick running shoes", cluster_id=cluster["id"],
                          description="A guide", content_type="guide",
                          content_structure="how_to", target_keywords=[" running shoes ", "Fit"],
                          estimated_word_count=2000, outline=OUTLINE)
    assert set(made) == {"id", "account_id", "site_id", "sector_id", "cluster_id", "title",
                         "description", "content_type", "content_structure", "target_keywords",
                         "outline", "estimated_word_count", "status", "created_at",
                         "updated_at"}
    assert made["target_keywords"] == ["running shoes", "Fit"]
    assert made["outline"] == [{"heading": "Why run", "level": 2, "points": ["health", "fun"]},
                               {"heading": "Shoes", "level": 3, "points": []}]
    assert made["status"] == "new" and made["cluster_id"] == cluster["id"]
    plain = await new_idea(client, a, "Plain")
    assert (plain["content_type"], plain["content_structure"], plain["estimated_word_count"],
            plain["target_keywords"], plain["outline"], plain["cluster_id"],
            plain["description"]) == ("blog_post", "guide", 1500, [], [], None, "")

    got = await client.get(f"{IU}{made['id']}/", token=a["token"])
    assert got.status == 200 and got.data == made
    put = await client.put(f"{IU}{made['id']}/", {**got.data, "title": "Picking shoes",
                                                   "cluster_id": None}, token=a["token"])
    assert put.status == 200, put.json
    assert put.data["title"] == "Picking shoes" and put.data["cluster_id"] is None
    assert put.data["outline"] == made["outline"]
    patch = await client.patch(f"{IU}{made['id']}/", {"status": "archived",
                                                     "cluster_id": cluster["id"]},
                               token=a["token"])
    assert patch.status == 200 and patch.data["status"] == "archived"
    assert patch.data["cluster_id"] == cluster["id"] and patch.data["title"] == "Picking shoes"
    moved = await client.patch(f"{IU}{made['id']}/", {"site_id": a["site"] + 1000},
                               token=a["token"])
    assert moved.status == 400 and "site_id" in moved.errors
    assert (await client.delete(f"{IU}{made['id']}/", token=a["token"])).status == 204
    assert (await client.get(f"{IU}{made['id']}/", token=a["token"])).status == 404


async def test_body_validation(client, a):
    base = {"title": "T", "site_id": a["site"], "sector_id": a["sector"]}
    bad_bodies = [
        ({**base, "title": ""}, "title"),
        ({**base, "title": "x" * 256}, "title"),
        ({**base, "content_type": "poem"}, "content_type"),
        ({**base, "content_structure": "essay"}, "content_structure"),
        ({**base, "status": "done"}, "status"),
        ({**base, "estimated_word_count": 99}, "estimated_word_count"),
        ({**base, "estimated_word_count": 20001}, "estimated_word_count"),
        ({**base, "target_keywords": [f"k{i}" for i in range(51)]}, "target_keywords"),
        ({**base, "target_keywords": ["x" * 256]}, "target_keywords"),
        ({**base, "target_keywords": ["  "]}, "target_keywords"),
        ({**base, "target_keywords": "a,b"}, "target_keywords"),
        ({**base, "outline": [{"heading": "H", "level": 4}]}, "outline"),
        ({**base, "outline": [{"heading": "", "level": 2}]}, "outline"),
        ({**base, "outline": [{"heading": "H", "level": 2, "extra": 1}]}, "outline"),
        ({**base, "outline": [{"heading": "H", "level": 2}] * 101}, "outline"),
        ({**base, "surprise": 1}, "surprise"),
        ({"title": "T", "site_id": a["site"]}, "sector_id"),
    ]
    for body, field in bad_bodies:
        resp = await client.post(IU, body, token=a["token"])
        assert resp.status == 400, (body, resp.json)
        assert any(k.startswith(field) for k in resp.errors), (field, resp.errors)
    ok = await client.post(IU, {**base, "target_keywords": [f"k{i}" for i in range(50)],
                               "outline": [{"heading": "H", "level": 2}] * 100,
                               "estimated_word_count": 100}, token=a["token"])
    assert ok.status == 201, ok.json
    assert (await client.get(IU, token=a["token"])).json["count"] == 1


# -- references, roles, isolation -------------------------------------------------------------


async def test_references(client, a, b):
    mine = await new_cluster(client, a, "Mine")
    elsewhere = await new_cluster(client, a, "Elsewhere", sector=a["other_sector"])
    theirs = await new_cluster(client, b, "Theirs")
    base = {"title": "T", "site_id": a["site"], "sector_id": a["sector"]}
    resp = await client.post(IU, {**base, "cluster_id": theirs["id"]}, token=a["token"])
    assert resp.status == 404 and "cluster_id" in resp.errors
    resp = await client.post(IU, {**base, "cluster_id": elsewhere["id"]}, token=a["token"])
    assert resp.status == 400 and "cluster_id" in resp.errors
    resp = await client.post(IU, {**base, "site_id": b["site"]}, token=a["token"])
    assert resp.status == 404 and "site_id" in resp.errors
    resp = await client.post(IU, {**base, "sector_id": b["sector"]}, token=a["token"])
    assert resp.status == 404 and "sector_id" in resp.errors
    second = await client.site(a["token"], "Second")
    resp = await client.post(IU, {**base, "site_id": second["id"]}, token=a["token"])
    assert resp.status == 400 and "sector_id" in resp.errors
    assert (await client.get(IU, token=a["token"])).json["count"] == 0

    idea = await new_idea(client, a, "T", cluster_id=mine["id"])
    for cid, status in ((theirs["id"], 404), (elsewhere["id"], 400), (10**15, 404)):
        resp = await client.patch(f"{IU}{idea['id']}/", {"cluster_id": cid}, token=a["token"])
        assert resp.status == status and "cluster_id" in resp.errors, resp.json
    got = await client.get(f"{IU}{idea['id']}/", token=a["token"])
    assert got.data["cluster_id"] == mine["id"]


async def test_roles(client, a):
    idea = await new_idea(client, a, "T")
    viewer = await client.member(a["token"], "vic@example.com", "viewer")
    body = {"title": "V", "site_id": a["site"], "sector_id": a["sector"]}
    assert (await client.get(IU, token=viewer)).json["count"] == 1
    assert (await client.post(IU, body, token=viewer)).status == 403
    assert (await client.patch(f"{IU}{idea['id']}/", {"title": "Z"}, token=viewer)).status == 403
    assert (await client.delete(f"{IU}{idea['id']}/", token=viewer)).status == 403
    for path in (f"{IU}bulk_delete/", Q):
        assert (await client.post(path, {"ids": [idea["id"]]}, token=viewer)).status == 403
        assert (await client.post(path, {"ids": [idea["id"]]})).status == 401
    editor = await client.member(a["token"], "eve@example.com", "editor")
    assert (await client.post(Q, {"ids": [idea["id"]]}, token=editor)).data["queued"] == 1


async def test_isolation_across_accounts(app, client, a, b):
    mine = await new_idea(client, a, "Mine")
    theirs = await new_idea(client, b, "Theirs")
    assert [r["id"] for r in (await client.get(IU, token=a["token"])).json["results"]] == \
        [mine["id"]]
    for method, body in (("GET", None), ("PUT", {"title": "X"}), ("PATCH", {"title": "X"}),
                         ("DELETE", None)):
        resp = await client.request(method, f"{IU}{theirs['id']}/", json_body=body,
                                    token=a["token"])
        assert resp.status == 404, method
    for path in (f"{IU}bulk_delete/", Q):
        resp = await client.post(path, {"ids": [mine["id"], theirs["id"]]}, token=a["token"])
        assert resp.status == 404 and resp.errors["ids"] == [f"Not found: {theirs['id']}."]
    assert await idea_statuses(app) == {mine["id"]: "new", theirs["id"]: "new"}
    assert await task_rows(app) == []
    got = await client.get(f"{IU}{theirs['id']}/", token=b["token"])
    assert got.data["title"] == "Theirs"


# -- filters, search, ordering, pagination ----------------------------------------------------


async def test_filters_search_ordering_and_pagination(client, a):
    c1 = await new_cluster(client, a, "C1")
    c2 = await new_cluster(client, a, "C2", sector=a["other_sector"])
    types = ("blog_post", "guide", "comparison")
    structures = ("how_to", "listicle", "faq", "review")
    made = []
    for i in range(21):
        sector = a["other_sector"] if i % 3 == 0 else a["sector"]
        cluster = c2["id"] if i % 3 == 0 else (c1["id"] if i % 2 else None)
        made.append(await new_idea(
            client, a, f"Idea {i:02d}", sector=sector, cluster_id=cluster,
            content_type=types[i % 3], content_structure=structures[i % 4],
            estimated_word_count=100 * (i + 1), status="archived" if i % 7 == 0 else "new"))
    tok = a["token"]

    async def ids(query):
        resp = await client.get(IU + query + "&page_size=100", token=tok)
        assert resp.status == 200, (query, resp.json)
        return [r["id"] for r in resp.json["results"]]

    def where(pred):
        return {m["id"] for m in made if pred(m)}

    assert set(await ids("?status=archived")) == where(lambda m: m["status"] == "archived")
    assert set(await ids("?status=new,archived")) == where(lambda m: True)
    assert set(await ids(f"?cluster_id={c1['id']}")) == where(lambda m: m["cluster_id"] ==
                                                              c1["id"])
    assert set(await ids("?cluster_id=null")) == where(lambda m: m["cluster_id"] is None)
    assert set(await ids("?content_type=guide,comparison")) == \
        where(lambda m: m["content_type"] in ("guide", "comparison"))
    assert set(await ids("?content_structure=faq")) == \
        where(lambda m: m["content_structure"] == "faq")
    assert set(await ids(f"?sector_id={a['other_sector']}&site_id={a['site']}")) == \
        where(lambda m: m["sector_id"] == a["other_sector"])
    assert await ids("?search=idea%2013") == [made[13]["id"]]
    assert await ids("?ordering=-estimated_word_count&status=new") == \
        [m["id"] for m in reversed(made) if m["status"] == "new"]
    assert await ids("?ordering=-title&content_type=blog_post") == \
        [m["id"] for m in reversed(made) if m["content_type"] == "blog_post"]
    assert (await ids("?ordering=created_at"))[0] == made[0]["id"]

    for query, param in (("?status=queue", "status"), ("?cluster_id=x", "cluster_id"),
                         ("?content_type=poem", "content_type"),
                         ("?content_structure=faq,essay", "content_structure"),
                         ("?sector_id=1e3", "sector_id"), ("?ordering=volume", "ordering")):
        resp = await client.get(IU + query, token=tok)
        assert resp.status == 400 and param in resp.errors, (query, resp.json)

    collected = await all_pages(client, tok, f"{IU}?page_size=5&ordering=estimated_word_count")
    assert [r["id"] for r in collected] == [m["id"] for m in made]


# -- bulk delete and queue to writer ----------------------------------------------------------


async def test_bulk_delete(app, client, a):
    ids = [(await new_idea(client, a, f"Item {i}"))["id"] for i in range(3)]
    resp = await client.post(f"{IU}bulk_delete/", {"ids": ids[:2]}, token=a["token"])
    assert resp.status == 200 and resp.data == {"deleted_count": 2}
    assert set(await idea_statuses(app)) == {ids[2]}
    assert (await client.post(f"{IU}bulk_delete/", {"ids": ids[:1]},
                              token=a["token"])).status == 404


async def test_queue_to_writer_creates_one_draft_task_per_idea(app, client, a):
    cluster = await new_cluster(client, a, "Shoes")
    one = await new_idea(client, a, "Running Shoes", cluster_id=cluster["id"],
                         description="Desc", content_type="comparison",
                         content_structure="listicle", target_keywords=["Trail Shoes", "Fit"])
    two = await new_idea(client, a, "Two")
    done = await new_idea(client, a, "Done", status="completed")
    resp = await client.post(Q, {"ids": [two["id"], one["id"], one["id"], done["id"]]},
                             token=a["token"])
    assert resp.status == 200, resp.json
    assert resp.data["queued"] == 2 and resp.data["skipped"] == 1
    rows = await task_rows(app)
    assert resp.data["task_ids"] == [r["id"] for r in rows]
    first = rows[0]
    assert {k: first[k] for k in ("account_id", "site_id", "sector_id", "idea_id", "cluster_id",
                                  "title", "description", "keywords", "keywords_text",
                                  "content_type", "content_structure", "status")} == {
        "account_id": a["account"], "site_id": a["site"], "sector_id": a["sector"],
        "idea_id": one["id"], "cluster_id": cluster["id"], "title": "Running Shoes",
        "description": "Desc", "keywords": ["Trail Shoes", "Fit"],
        "keywords_text": "trail shoes fit", "content_type": "comparison",
        "content_structure": "listicle", "status": "draft"}
    assert rows[1]["idea_id"] == two["id"] and rows[1]["keywords"] == []
    assert await idea_statuses(app) == {one["id"]: "queued", two["id"]: "queued",
                                        done["id"]: "completed"}
    listed = await client.get(IU + "?status=queued", token=a["token"])
    assert {r["id"] for r in listed.json["results"]} == {one["id"], two["id"]}

    again = await client.post(Q, {"ids": [one["id"], two["id"]]}, token=a["token"])
    assert again.data == {"queued": 0, "skipped": 2, "task_ids": []}
    # set back to new by hand, an idea that already has a task is still not queued twice
    await client.patch(f"{IU}{one['id']}/", {"status": "new"}, token=a["token"])
    again = await client.post(Q, {"ids": [one["id"]]}, token=a["token"])
    assert again.data == {"queued": 0, "skipped": 1, "task_ids": []}
    assert len(await task_rows(app)) == 2


async def test_queue_to_writer_input(client, a):
    for body in ({"ids": []}, {"ids": list(range(1, 1002))}, {"ids": [1.5]}, {"id": [1]}):
        assert (await client.post(Q, body, token=a["token"])).status == 400, body


async def test_concurrent_queue_calls_create_exactly_one_task_per_idea(app, client, a):
    ids = [(await new_idea(client, a, f"Idea {i}"))["id"] for i in range(30)]
    calls = [ids, list(reversed(ids)), ids[:15], ids[10:], ids]
    results = await asyncio.gather(*(client.post(Q, {"ids": c}, token=a["token"])
                                     for c in calls))
    assert all(r.status == 200 for r in results), [r.json for r in results]
    assert sum(r.data["queued"] for r in results) == 30
    for call, r in zip(calls, results, strict=True):
        assert r.data["queued"] + r.data["skipped"] == len(set(call))
    rows = await task_rows(app)
    assert sorted(r["idea_id"] for r in rows) == sorted(ids)
    assert sorted(t for r in results for t in r.data["task_ids"]) == [r["id"] for r in rows]
    assert set((await idea_statuses(app)).values()) == {"queued"}
