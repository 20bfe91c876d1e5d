"""Writer content over HTTP, on both stores: CRUD, sanitised HTML, computed word count,
the task reference in the same sector, filters, search, ordering, bulk delete, isolation."""

from __future__ import annotations

from igny8d.schemas.writer import MAX_HTML_BYTES
from tests.helpers.factories import make_content, make_task, two_sector_owner, where
from tests.helpers.paths import CONTENT, TASKS
from tests.helpers.reads import ids_of, local

CONTENT_KEYS = {"id", "account_id", "site_id", "sector_id", "task_id", "title", "html_content",
                "word_count", "meta_title", "meta_description", "primary_keyword",
                "secondary_keywords", "content_type", "status", "created_at", "updated_at"}


async def test_content_crud_and_word_count(client):
    t = await two_sector_owner(client, "ann@example.com")
    task = await make_task(client, t)
    made = await make_content(
        client, t, "Guide", "<h1>Hello world</h1><p>It's a <b>fine</b> day.</p>",
        task_id=task["id"], meta_title="Meta", meta_description="Desc",
        primary_keyword="hello", secondary_keywords=["world", "World", "day"],
        content_type="guide", status="review")
    assert set(made) == CONTENT_KEYS
    assert made["word_count"] == 6
    assert made["secondary_keywords"] == ["world", "day"]
    assert made["task_id"] == task["id"] and made["status"] == "review"
    url = f"{CONTENT}{made['id']}/"
    assert (await client.get(url, token=t["token"])).data == made

    resp = await client.patch(url, {"html_content": "<p>just two</p>"}, token=t["token"])
    assert resp.status == 200 and resp.data["word_count"] == 2
    assert resp.data["title"] == "Guide"
    resp = await client.patch(url, {"title": "Renamed"}, token=t["token"])
    assert resp.data["word_count"] == 2 and resp.data["html_content"] == "<p>just two</p>"
    # word_count is computed: a sent one is ignored in PUT (read-only), refused in POST
    resp = await client.put(url, {**resp.data, "word_count": 999, "status": "published"},
                            token=t["token"])
    assert resp.status == 200, resp.json
    assert resp.data["word_count"] == 2 and resp.data["status"] == "published"
    resp = await client.post(CONTENT, {"title": "x", "html_content": "", "word_count": 5,
                                       **where(t)}, token=t["token"])
    assert resp.status == 400 and "word_count" in resp.errors
    assert (await client.delete(url, token=t["token"])).status == 204
    assert (await client.get(url, token=t["token"])).status == 404


async def test_html_is_sanitised_on_the_way_in(client):
    t = await two_sector_owner(client, "ann@example.com")
    html = ('<p onclick="steal()">Safe <a href="javascript:alert(1)">link</a> '
            '<a href="https://example.com/" onmouseover="x()">ok</a></p>'
            '<script>alert("x")</script><style>p{}</style>'
            '<img src="x.png" onload="boom()" onerror="boom()">'
            '<iframe src="https://evil.example/"></iframe><object data="x"></object>'
            '<embed src="x.swf"><img src="data:image/png;base64,AAAA">'
            '<a href="data:text/html,<script>1</script>">d</a>')
    made = await make_content(client, t, html=html)
    out = made["html_content"]
    for bad in ("<script", "alert", "onclick", "onload", "onerror", "onmouseover",
                "javascript:", "<style", "<iframe", "<object", "<embed", "data:text"):
        assert bad not in out.lower(), (bad, out)
    assert '<a href="https://example.com/">ok</a>' in out
    assert '<img src="data:image/png;base64,AAAA">' in out
    assert "<p>Safe <a>link</a>" in out
    assert made["word_count"] == 4  # Safe link ok d: the script's words are gone
    resp = await client.patch(f"{CONTENT}{made['id']}/",
                              {"html_content": '<div onload="x">a<script>b</script></div>'},
                              token=t["token"])
    assert resp.data["html_content"] == "<div>a</div>" and resp.data["word_count"] == 1


async def test_html_size_cap(client):
    t = await two_sector_owner(client, "ann@example.com")
    resp = await client.post(CONTENT, {"title": "x", "html_content": "a" * (MAX_HTML_BYTES + 1),
                                       **where(t)}, token=t["token"])
    assert resp.status == 400 and "html_content" in resp.errors
    big = "<p>" + "word " * 300_000 + "</p>"  # 1.5 MB: sanitised off the event loop
    made = await make_content(client, t, html=big)
    assert made["word_count"] == 300_000


async def test_bad_bodies(client):
    t = await two_sector_owner(client, "ann@example.com")
    base = {"title": "T", "html_content": "<p>x</p>", **where(t)}
    for extra, field in (({"title": ""}, "title"), ({"status": "live"}, "status"),
                         ({"meta_title": "m" * 256}, "meta_title"),
                         ({"meta_description": "m" * 501}, "meta_description"),
                         ({"secondary_keywords": ["k"] * 51}, "secondary_keywords"),
                         ({"content_type": "poem"}, "content_type"),
                         ({"html_content": None}, "html_content")):
        resp = await client.post(CONTENT, {**base, **extra}, token=t["token"])
        assert resp.status == 400, extra
        assert any(k.startswith(field) for k in resp.errors), (extra, resp.errors)
    resp = await client.post(CONTENT, {"title": "T", **where(t)}, token=t["token"])
    assert resp.status == 400 and "html_content" in resp.errors


async def test_task_reference(client):
    a = await two_sector_owner(client, "ann@example.com")
    b = await two_sector_owner(client, "bob@example.com")
    theirs = await make_task(client, b)
    other = await make_task(client, a, sector_id=a["other_sector"])
    base = {"title": "T", "html_content": "<p>x</p>"}
    for body, status, field in (
            ({**where(a), "task_id": theirs["id"]}, 404, "task_id"),
            ({**where(a), "task_id": other["id"]}, 400, "task_id"),
            ({"site_id": b["site"], "sector_id": a["sector"]}, 404, "site_id"),
            ({"site_id": a["site"], "sector_id": b["sector"]}, 404, "sector_id")):
        resp = await client.post(CONTENT, {**base, **body}, token=a["token"])
        assert resp.status == status, (body, resp.json)
        assert field in resp.errors
    assert (await client.get(CONTENT, token=a["token"])).json["count"] == 0
    made = await make_content(client, a)
    url = f"{CONTENT}{made['id']}/"
    resp = await client.patch(url, {"task_id": other["id"]}, token=a["token"])
    assert resp.status == 400 and "task_id" in resp.errors
    mine = await make_task(client, a)
    resp = await client.patch(url, {"task_id": mine["id"]}, token=a["token"])
    assert resp.status == 200 and resp.data["task_id"] == mine["id"]
    # deleting the task leaves the content, unlinked
    assert (await client.delete(f"{TASKS}{mine['id']}/", token=a["token"])).status == 204
    assert (await client.get(url, token=a["token"])).data["task_id"] is None


async def test_filters_search_ordering_pagination(client):
    t = await two_sector_owner(client, "ann@example.com")
    task = await make_task(client, t)
    c1 = await make_content(client, t, "Alpha post", "<p>a b c</p>", task_id=task["id"])
    c2 = await make_content(client, t, "Beta post", "<p>a</p>", status="published",
                            content_type="article")
    c3 = await make_content(client, t, "Gamma", "<p>a b</p>", status="archived",
                            sector_id=t["other_sector"])
    tok, q = t["token"], CONTENT + "?"
    assert await ids_of(client, q + "status=published,archived&ordering=title", tok) == \
        [c2["id"], c3["id"]]
    assert await ids_of(client, q + "content_type=article", tok) == [c2["id"]]
    assert await ids_of(client, q + f"task_id={task['id']}", tok) == [c1["id"]]
    assert await ids_of(client, q + "task_id=null&ordering=title", tok) == [c2["id"], c3["id"]]
    assert await ids_of(client, q + f"sector_id={t['sector']}&ordering=title", tok) == \
        [c1["id"], c2["id"]]
    assert await ids_of(client, q + "search=POST&ordering=-title", tok) == [c2["id"], c1["id"]]
    assert await ids_of(client, q + "ordering=word_count", tok) == [c2["id"], c3["id"], c1["id"]]
    assert await ids_of(client, q + "ordering=-word_count", tok) == \
        [c1["id"], c3["id"], c2["id"]]
    for bad, param in (("status=live", "status"), ("task_id=x", "task_id"),
                       ("ordering=html_content", "ordering"), ("site_id=a", "site_id")):
        resp = await client.get(q + bad, token=tok)
        assert resp.status == 400 and param in resp.errors, bad
    seen: list[int] = []
    path: str | None = q + "page_size=2&ordering=created_at"
    while path:
        resp = await client.get(path, token=tok)
        seen += [r["id"] for r in resp.json["results"]]
        path = local(resp.json["next"]) if resp.json["next"] else None
    assert seen == [c1["id"], c2["id"], c3["id"]]


async def test_isolation_roles_and_bulk_delete(client):
    a = await two_sector_owner(client, "ann@example.com")
    b = await two_sector_owner(client, "bob@example.com")
    mine = [(await make_content(client, a, f"A{i}"))["id"] for i in range(3)]
    theirs = await make_content(client, b, "B")
    url = f"{CONTENT}{theirs['id']}/"
    assert sorted(await ids_of(client, CONTENT, a["token"])) == mine
    assert (await client.get(url, token=a["token"])).status == 404
    assert (await client.patch(url, {"title": "x"}, token=a["token"])).status == 404
    assert (await client.delete(url, token=a["token"])).status == 404
    resp = await client.post(CONTENT + "bulk_delete/", {"ids": [mine[0], theirs["id"]]},
                             token=a["token"])
    assert resp.status == 404 and resp.errors["ids"] == [f"Not found: {theirs['id']}."]
    assert len(await ids_of(client, CONTENT, a["token"])) == 3
    assert (await client.get(url, token=b["token"])).data == theirs

    viewer = await client.member(a["token"], "vic@example.com", "viewer")
    assert len(await ids_of(client, CONTENT, viewer)) == 3
    assert (await client.post(CONTENT, {"title": "x", "html_content": "", **where(a)},
                              token=viewer)).status == 403
    assert (await client.patch(f"{CONTENT}{mine[0]}/", {"title": "x"},
                               token=viewer)).status == 403
    assert (await client.post(CONTENT + "bulk_delete/", {"ids": mine},
                              token=viewer)).status == 403
    resp = await client.post(CONTENT + "bulk_delete/", {"ids": mine[:2]}, token=a["token"])
    assert resp.status == 200 and resp.data == {"deleted_count": 2}
    assert await ids_of(client, CONTENT, a["token"]) == mine[2:]
