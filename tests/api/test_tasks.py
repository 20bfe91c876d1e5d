"""Writer tasks over HTTP, on both stores: CRUD, references in the same sector, filters,
search on title and keywords, ordering, pagination, bulk actions, roles and isolation."""

from __future__ import annotations

from typing import Any

import pytest

from igny8d.store import clusters as cluster_store
from igny8d.store import ideas as idea_store
from igny8d.store.writes import insert_row
from tests.helpers.factories import make_task, two_sector_owner, where
from tests.helpers.paths import TASKS
from tests.helpers.reads import ids_of, local

TASK_KEYS = {"id", "account_id", "site_id", "sector_id", "idea_id", "cluster_id", "title",
             "description", "keywords", "content_type", "content_structure", "status",
             "created_at", "updated_at"}


async def insert_planner(app: Any, spec: Any, t: dict[str, Any], sector: str = "sector",
                         **values: Any) -> int:
    """A cluster or idea row written straight to the store (the planner's own endpoints are
    tested elsewhere)."""
    async with app.ctx.store.begin() as conn:
        row = await insert_row(conn, spec, {
            "account_id": t["account"], "site_id": t["site"], "sector_id": t[sector],
            **values})
    return int(row["id"])


async def cluster(app: Any, t: dict[str, Any], name: str = "C", sector: str = "sector") -> int:
    return await insert_planner(app, cluster_store.CLUSTERS, t, sector, name=name)


async def idea(app: Any, t: dict[str, Any], title: str = "I", sector: str = "sector") -> int:
    return await insert_planner(app, idea_store.IDEAS, t, sector, title=title)


# -- CRUD -----------------------------------------------------------------------------------------


async def test_task_crud(client, app):
    t = await two_sector_owner(client, "ann@example.com")
    c = await cluster(app, t)
    i = await idea(app, t)
    created = await make_task(client, t, "  Best running shoes  ", description="d",
                              keywords=["Running Shoes", "running shoes", " trail  shoes "],
                              cluster_id=c, idea_id=i, content_type="guide",
                              content_structure="how_to", status="in_progress")
    assert set(created) == TASK_KEYS  # keywords_text is internal
    assert created["title"] == "Best running shoes"
    assert created["keywords"] == ["Running Shoes", "trail shoes"]
    assert created["cluster_id"] == c and created["idea_id"] == i
    assert created["status"] == "in_progress" and created["content_type"] == "guide"
    assert created["account_id"] == t["account"]
    assert created["created_at"].endswith("Z")
    url = f"{TASKS}{created['id']}/"
    got = await client.get(url, token=t["token"])
    assert got.status == 200 and got.data == created

    resp = await client.patch(url, {"title": "New", "cluster_id": None}, token=t["token"])
    assert resp.status == 200, resp.json
    assert resp.data["title"] == "New" and resp.data["cluster_id"] is None
    assert resp.data["keywords"] == created["keywords"]  # omitted: kept

    # PUT takes the GET back: read-only and unchanged fixed fields are ignored
    echoed = {**resp.data, "status": "review"}
    resp = await client.put(url, echoed, token=t["token"])
    assert resp.status == 200, resp.json
    assert resp.data["status"] == "review"
    moved = {**resp.data, "sector_id": t["other_sector"]}
    resp = await client.put(url, moved, token=t["token"])
    assert resp.status == 400 and "sector_id" in resp.errors

    assert (await client.delete(url, token=t["token"])).status == 204
    assert (await client.get(url, token=t["token"])).status == 404


async def test_task_defaults_and_bad_bodies(client):
    t = await two_sector_owner(client, "ann@example.com")
    task = await make_task(client, t)
    assert task["status"] == "draft" and task["keywords"] == []
    assert task["content_type"] == "blog_post" and task["content_structure"] == "guide"
    assert task["description"] == "" and task["cluster_id"] is None
    bad = [
        ({"title": ""}, "title"), ({"title": "x" * 256}, "title"),
        ({"status": "done"}, "status"), ({"content_type": "poem"}, "content_type"),
        ({"content_structure": "x"}, "content_structure"),
        ({"keywords": ["k"] * 51}, "keywords"), ({"keywords": "k"}, "keywords"),
        ({"keywords": ["x" * 256]}, "keywords"), ({"cluster_id": "x"}, "cluster_id"),
        ({"keywords_text": "x"}, "keywords_text"),
    ]
    for extra, field in bad:
        resp = await client.post(TASKS, {"title": "T", **where(t), **extra}, token=t["token"])
        assert resp.status == 400, extra
        assert any(k.startswith(field) for k in resp.errors), (extra, resp.errors)
    resp = await client.post(TASKS, {"title": "T"}, token=t["token"])
    assert resp.status == 400 and {"site_id", "sector_id"} <= set(resp.errors)


# -- references -----------------------------------------------------------------------------------


async def test_references_must_be_visible_and_in_the_sector(client, app):
    a = await two_sector_owner(client, "ann@example.com")
    b = await two_sector_owner(client, "bob@example.com")
    b_cluster = await cluster(app, b)
    b_idea = await idea(app, b)
    other_cluster = await cluster(app, a, "Other", sector="other_sector")
    other_idea = await idea(app, a, sector="other_sector")
    cases = [
        ({"site_id": b["site"], "sector_id": a["sector"]}, 404, "site_id"),
        ({"site_id": a["site"], "sector_id": b["sector"]}, 404, "sector_id"),
        ({**where(a), "cluster_id": b_cluster}, 404, "cluster_id"),
        ({**where(a), "idea_id": b_idea}, 404, "idea_id"),
        ({**where(a), "cluster_id": 10**12}, 404, "cluster_id"),
        ({**where(a), "cluster_id": other_cluster}, 400, "cluster_id"),
        ({**where(a), "idea_id": other_idea}, 400, "idea_id"),
    ]
    for body, status, field in cases:
        resp = await client.post(TASKS, {"title": "T", **body}, token=a["token"])
        assert resp.status == status, (body, resp.json)
        assert field in resp.errors, (body, resp.errors)
    # a sector of another site of the same account
    site2 = await client.site(a["token"], "Second")
    sector2 = await client.sector(a["token"], site2["id"], "S2")
    resp = await client.post(TASKS, {"title": "T", "site_id": a["site"],
                                     "sector_id": sector2["id"]}, token=a["token"])
    assert resp.status == 400 and "sector_id" in resp.errors
    assert (await client.get(TASKS, token=a["token"])).json["count"] == 0  # nothing written

    task = await make_task(client, a)
    url = f"{TASKS}{task['id']}/"
    for body, status in (({"cluster_id": b_cluster}, 404), ({"cluster_id": other_cluster}, 400),
                         ({"idea_id": other_idea}, 400), ({"idea_id": b_idea}, 404)):
        resp = await client.patch(url, {"title": "Changed", **body}, token=a["token"])
        assert resp.status == status, (body, resp.json)
        assert set(body) <= set(resp.errors)
    assert (await client.get(url, token=a["token"])).data["title"] == "Task"
    mine = await cluster(app, a, "Mine")
    resp = await client.patch(url, {"cluster_id": mine}, token=a["token"])
    assert resp.status == 200 and resp.data["cluster_id"] == mine


# -- filters, search, ordering, pagination --------------------------------------------------------


async def test_filters_search_and_ordering(client, app):
    t = await two_sector_owner(client, "ann@example.com")
    c = await cluster(app, t)
    t1 = await make_task(client, t, "Alpha guide", keywords=["Running Shoes"], cluster_id=c,
                         status="draft")
    t2 = await make_task(client, t, "Beta list", keywords=["trail 100%_off"],
                         content_structure="listicle", status="review")
    t3 = await make_task(client, t, "Gamma", content_type="article", status="completed",
                         sector_id=t["other_sector"])
    tok = t["token"]
    q = TASKS + "?"
    assert await ids_of(client, q + "status=draft,review&ordering=title", tok) == \
        [t1["id"], t2["id"]]
    assert await ids_of(client, q + "status=completed", tok) == [t3["id"]]
    assert await ids_of(client, q + f"cluster_id={c}", tok) == [t1["id"]]
    assert await ids_of(client, q + "cluster_id=null&ordering=title", tok) == \
        [t2["id"], t3["id"]]
    assert await ids_of(client, q + "content_type=article", tok) == [t3["id"]]
    assert await ids_of(client, q + "content_structure=listicle", tok) == [t2["id"]]
    assert await ids_of(client, q + f"sector_id={t['other_sector']}", tok) == [t3["id"]]
    assert len(await ids_of(client, q + f"site_id={t['site']}", tok)) == 3
    # search: title or keywords, case-insensitive, every word must match somewhere
    assert await ids_of(client, q + "search=running", tok) == [t1["id"]]
    assert await ids_of(client, q + "search=SHOES+alpha", tok) == [t1["id"]]
    assert await ids_of(client, q + "search=beta", tok) == [t2["id"]]
    assert await ids_of(client, q + "search=100%25_", tok) == [t2["id"]]
    assert await ids_of(client, q + "search=%25", tok) == [t2["id"]]
    assert await ids_of(client, q + "search=_", tok) == [t2["id"]]
    assert await ids_of(client, q + "search=x'%20OR%201=1--", tok) == []
    resp = await client.get(q + "search=" + "a" * 10_000, token=tok)
    assert resp.status == 400 and "search" in resp.errors
    # a NUL byte never reaches the database (control characters are dropped from queries)
    assert (await client.get(q + "search=be%00ta", token=tok)).status in (200, 400)
    # ordering
    assert await ids_of(client, q + "ordering=-title", tok) == [t3["id"], t2["id"], t1["id"]]
    assert await ids_of(client, q + "ordering=status", tok) == [t3["id"], t1["id"], t2["id"]]
    assert await ids_of(client, q + "ordering=created_at", tok) == [t1["id"], t2["id"], t3["id"]]
    assert await ids_of(client, TASKS, tok) == [t3["id"], t2["id"], t1["id"]]  # -created_at
    # ill-typed filters name the parameter
    for bad, param in (("status=done", "status"), ("cluster_id=abc", "cluster_id"),
                       ("content_type=poem", "content_type"), ("sector_id=1.5", "sector_id"),
                       ("ordering=keywords_text", "ordering")):
        resp = await client.get(q + bad, token=tok)
        assert resp.status == 400 and param in resp.errors, bad


async def test_keywords_replaced_on_update_are_searched(client):
    t = await two_sector_owner(client, "ann@example.com")
    task = await make_task(client, t, "T", keywords=["old phrase"])
    url = f"{TASKS}{task['id']}/"
    resp = await client.patch(url, {"keywords": ["New Phrase"]}, token=t["token"])
    assert resp.status == 200 and resp.data["keywords"] == ["New Phrase"]
    assert await ids_of(client, TASKS + "?search=old", t["token"]) == []
    assert await ids_of(client, TASKS + "?search=new", t["token"]) == [task["id"]]


async def test_pagination_links_to_the_end(client):
    t = await two_sector_owner(client, "ann@example.com")
    made = [(await make_task(client, t, f"T{i:02}"))["id"] for i in range(7)]
    seen: list[int] = []
    path: str | None = TASKS + "?page_size=3&ordering=title"
    while path:
        resp = await client.get(path, token=t["token"])
        assert resp.status == 200 and resp.json["count"] == 7
        seen += [r["id"] for r in resp.json["results"]]
        path = local(resp.json["next"]) if resp.json["next"] else None
    assert seen == made
    assert (await client.get(TASKS + "?page=4&page_size=3", token=t["token"])).status == 404
    assert (await client.get(TASKS + "?page=x", token=t["token"])).status == 404


# -- bulk actions ---------------------------------------------------------------------------------


async def test_bulk_update_and_delete(client):
    t = await two_sector_owner(client, "ann@example.com")
    ids = [(await make_task(client, t, f"T{i}"))["id"] for i in range(3)]
    resp = await client.post(TASKS + "bulk_update/", {"ids": ids[:2], "status": "completed"},
                             token=t["token"])
    assert resp.status == 200 and resp.data == {"updated_count": 2}
    assert sorted(await ids_of(client, TASKS + "?status=completed", t["token"])) == ids[:2]
    for body in ({"ids": ids, "status": "nope"}, {"ids": [], "status": "draft"},
                 {"ids": list(range(1, 1002)), "status": "draft"}, {"ids": ids},
                 {"ids": ids, "status": "draft", "x": 1}):
        assert (await client.post(TASKS + "bulk_update/", body, token=t["token"])).status \
            == 400, body
    resp = await client.post(TASKS + "bulk_delete/", {"ids": ids[1:]}, token=t["token"])
    assert resp.status == 200 and resp.data == {"deleted_count": 2}
    assert await ids_of(client, TASKS, t["token"]) == ids[:1]


async def test_isolation_across_accounts(client):
    a = await two_sector_owner(client, "ann@example.com")
    b = await two_sector_owner(client, "bob@example.com")
    mine = await make_task(client, a, "Mine")
    theirs = await make_task(client, b, "Theirs")
    assert await ids_of(client, TASKS, a["token"]) == [mine["id"]]
    url = f"{TASKS}{theirs['id']}/"
    assert (await client.get(url, token=a["token"])).status == 404
    assert (await client.patch(url, {"title": "x"}, token=a["token"])).status == 404
    assert (await client.put(url, {"title": "x", **where(a)}, token=a["token"])).status == 404
    assert (await client.delete(url, token=a["token"])).status == 404
    for action, extra in (("bulk_update/", {"status": "archived"}), ("bulk_delete/", {})):
        resp = await client.post(TASKS + action, {"ids": [mine["id"], theirs["id"]], **extra},
                                 token=a["token"])
        assert resp.status == 404, action
        assert resp.errors["ids"] == [f"Not found: {theirs['id']}."]
    # nothing changed on either side
    assert (await client.get(f"{TASKS}{mine['id']}/", token=a["token"])).data == mine
    assert (await client.get(url, token=b["token"])).data == theirs


async def test_roles_and_site_grants(client):
    t = await two_sector_owner(client, "ann@example.com")
    task = await make_task(client, t)
    viewer = await client.member(t["token"], "vic@example.com", "viewer")
    assert await ids_of(client, TASKS, viewer) == [task["id"]]
    url = f"{TASKS}{task['id']}/"
    assert (await client.get(url, token=viewer)).status == 200
    assert (await client.post(TASKS, {"title": "x", **where(t)}, token=viewer)).status == 403
    assert (await client.patch(url, {"title": "x"}, token=viewer)).status == 403
    assert (await client.delete(url, token=viewer)).status == 403
    for action, extra in (("bulk_update/", {"status": "archived"}), ("bulk_delete/", {})):
        resp = await client.post(TASKS + action, {"ids": [task["id"]], **extra}, token=viewer)
        assert resp.status == 403
    assert (await client.get(TASKS)).status == 401
    # an editor granted only another site sees none of this site's tasks
    other = await client.site(t["token"], "Other")
    editor = await client.member(t["token"], "eve@example.com", "editor",
                                 site_ids=[other["id"]])
    assert await ids_of(client, TASKS, editor) == []
    assert (await client.get(url, token=editor)).status == 404
    resp = await client.post(TASKS, {"title": "x", **where(t)}, token=editor)
    assert resp.status == 404 and "site_id" in resp.errors
    resp = await client.post(TASKS + "bulk_delete/", {"ids": [task["id"]]}, token=editor)
    assert resp.status == 404
    editor2 = await client.member(t["token"], "ed@example.com", "editor")
    assert (await client.patch(url, {"title": "by editor"}, token=editor2)).status == 200


@pytest.mark.parametrize("path", ["0", "-1", "abc", "99999999999999999999"])
async def test_bad_detail_ids(client, path):
    t = await two_sector_owner(client, "ann@example.com")
    assert (await client.get(f"{TASKS}{path}/", token=t["token"])).status == 404
