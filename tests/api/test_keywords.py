"""Planner keywords through HTTP on both stores: CRUD, rules, filters, bulk actions, seeds."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import func, select, update

from igny8d.store.schema import clusters, keywords
from tests.helpers.factories import keyword, owner_site_sector, set_keyword_limit
from tests.helpers.paths import KEYWORDS as K

SEEDS = "/api/v1/planner/seed-keywords/"


async def _cluster(app: Any, sector: dict, name: str = "C") -> int:
    async with app.ctx.store.begin() as conn:
        row = (await conn.execute(clusters.insert().values(
            account_id=sector["account_id"], site_id=sector["site_id"], sector_id=sector["id"],
            name=name, description="", status="active",
            created_at=func.now(), updated_at=func.now()).returning(clusters.c.id))).one()
    return int(row[0])


async def _count(app: Any, account_id: int) -> int:
    async with app.ctx.store.read() as conn:
        return int((await conn.execute(select(func.count()).select_from(keywords).where(
            keywords.c.account_id == account_id))).scalar_one())


# -- CRUD and rules ---------------------------------------------------------------------------


async def test_create_read_update_delete(client):
    token, site, sector = await owner_site_sector(client, "ann@example.com")
    data = await keyword(client, token, sector, "  SEO   Tools ", volume=1200,
                         difficulty=40, intent="commercial")
    assert data["keyword"] == "SEO   Tools"
    assert set(data) == {"id", "account_id", "site_id", "sector_id", "keyword",
                         "seed_keyword_id", "volume", "difficulty", "intent", "status",
                         "cluster_id", "created_at", "updated_at"}
    assert data["status"] == "active" and data["cluster_id"] is None
    assert data["created_at"].endswith("Z")
    kid = data["id"]
    got = await client.get(f"{K}{kid}/", token=token)
    assert got.data == data
    # PUT takes the create shape: site/sector echoed unchanged are fine, changed are 400
    put = await client.put(f"{K}{kid}/", {**data, "keyword": "seo tools pro", "volume": 5},
                           token=token)
    assert put.status == 200, put.json
    assert put.data["keyword"] == "seo tools pro" and put.data["volume"] == 5
    assert put.data["difficulty"] == 40
    other = await client.sector(token, site["id"], "Other")
    moved = await client.patch(f"{K}{kid}/", {"sector_id": other["id"]}, token=token)
    assert moved.status == 400 and "sector_id" in moved.errors
    patch = await client.patch(f"{K}{kid}/", {"status": "archived", "intent": None},
                               token=token)
    assert patch.status == 200 and patch.data["status"] == "archived"
    assert patch.data["intent"] is None
    assert (await client.delete(f"{K}{kid}/", token=token)).status == 204
    assert (await client.get(f"{K}{kid}/", token=token)).status == 404


async def test_duplicates_in_a_sector_are_409_ignoring_case_and_spaces(client):
    token, site, sector = await owner_site_sector(client, "ann@example.com")
    await keyword(client, token, sector, "best crm tools")
    dup = await client.post(K, {"keyword": " Best  CRM\ttools", "site_id": site["id"],
                                "sector_id": sector["id"]}, token=token)
    assert dup.status == 409 and "keyword" in dup.errors
    other = await client.sector(token, site["id"], "Other")
    await keyword(client, token, other, "best crm tools")  # another sector is fine
    second = await keyword(client, token, sector, "crm")
    clash = await client.patch(f"{K}{second['id']}/", {"keyword": "BEST crm tools"},
                               token=token)
    assert clash.status == 409 and "keyword" in clash.errors


async def test_validation(client):
    token, site, sector = await owner_site_sector(client, "ann@example.com")
    base = {"keyword": "k", "site_id": site["id"], "sector_id": sector["id"]}
    for bad, field in [({"keyword": "   "}, "keyword"), ({"keyword": "x" * 256}, "keyword"),
                       ({"keyword": "a\x00b"}, "keyword"), ({"volume": -1}, "volume"),
                       ({"difficulty": 101}, "difficulty"), ({"difficulty": -1}, "difficulty"),
                       ({"intent": "shopping"}, "intent"), ({"status": "done"}, "status"),
                       ({"volume": "many"}, "volume"), ({"extra": 1}, "extra"),
                       ({"site_id": 2**70}, "site_id")]:
        resp = await client.post(K, {**base, **bad}, token=token)
        assert resp.status == 400, (bad, resp.json)
        assert field in resp.errors, (bad, resp.errors)
    missing = await client.post(K, {"keyword": "k"}, token=token)
    assert missing.status == 400 and {"site_id", "sector_id"} <= set(missing.errors)
    assert (await client.post(K, {**base, "keyword": "x" * 255}, token=token)).status == 201
    kid = (await keyword(client, token, sector, "p"))["id"]
    assert (await client.patch(f"{K}{kid}/", {"volume": None}, token=token)).status == 400
    assert (await client.patch(f"{K}{kid}/", {"keyword": ""}, token=token)).status == 400


async def test_references_of_other_accounts_and_sectors(app, client):
    token, site, sector = await owner_site_sector(client, "ann@example.com")
    b_token, b_site, b_sector = await owner_site_sector(client, "bob@example.com")
    base = {"keyword": "k", "site_id": site["id"], "sector_id": sector["id"]}
    resp = await client.post(K, {**base, "site_id": b_site["id"]}, token=token)
    assert resp.status == 404 and "site_id" in resp.errors
    resp = await client.post(K, {**base, "sector_id": b_sector["id"]}, token=token)
    assert resp.status == 404 and "sector_id" in resp.errors
    site2 = await client.site(token, "Second")
    sector2 = await client.sector(token, site2["id"], "S2")
    resp = await client.post(K, {**base, "sector_id": sector2["id"]}, token=token)
    assert resp.status == 400 and "sector_id" in resp.errors
    theirs = await _cluster(app, b_sector)
    resp = await client.post(K, {**base, "cluster_id": theirs}, token=token)
    assert resp.status == 404 and "cluster_id" in resp.errors
    other_sector_cluster = await _cluster(app, sector2)
    resp = await client.post(K, {**base, "cluster_id": other_sector_cluster}, token=token)
    assert resp.status == 400 and "cluster_id" in resp.errors
    resp = await client.post(K, {**base, "seed_keyword_id": 10**9}, token=token)
    assert resp.status == 400 and "seed_keyword_id" in resp.errors
    assert (await client.get(K, token=token)).json["count"] == 0  # nothing written
    kid = (await keyword(client, token, sector, "mine"))["id"]
    resp = await client.patch(f"{K}{kid}/", {"cluster_id": theirs}, token=token)
    assert resp.status == 404 and "cluster_id" in resp.errors
    resp = await client.patch(f"{K}{kid}/", {"cluster_id": other_sector_cluster}, token=token)
    assert resp.status == 400 and "cluster_id" in resp.errors
    # B cannot see, change or delete A's keyword
    assert (await client.get(f"{K}{kid}/", token=b_token)).status == 404
    assert (await client.patch(f"{K}{kid}/", {"volume": 1}, token=b_token)).status == 404
    assert (await client.delete(f"{K}{kid}/", token=b_token)).status == 404
    assert (await client.get(K, token=b_token)).json["count"] == 0


async def test_cluster_assignment_is_manual(app, client):
    token, _site, sector = await owner_site_sector(client, "ann@example.com")
    cid = await _cluster(app, sector)
    data = await keyword(client, token, sector, "k", cluster_id=cid)
    assert data["cluster_id"] == cid

    async def source() -> str | None:
        async with app.ctx.store.read() as conn:
            return (await conn.execute(select(keywords.c.cluster_source).where(
                keywords.c.id == data["id"]))).scalar_one()

    assert await source() == "manual"
    async with app.ctx.store.begin() as conn:
        await conn.execute(update(keywords).values(cluster_source="auto"))
    # echoing the same cluster keeps the clustering's choice
    assert (await client.put(f"{K}{data['id']}/", {**data}, token=token)).status == 200
    assert await source() == "auto"
    resp = await client.patch(f"{K}{data['id']}/", {"cluster_id": None}, token=token)
    assert resp.data["cluster_id"] is None
    assert await source() is None


async def test_from_a_seed_keyword_its_metrics_are_copied(client):
    token, _site, sector = await owner_site_sector(client, "ann@example.com")
    seed = (await client.get(SEEDS, token=token)).json["results"][0]
    data = await keyword(client, token, sector, seed["keyword"], seed_keyword_id=seed["id"])
    assert (data["volume"], data["difficulty"], data["intent"]) == (
        seed["volume"], seed["difficulty"], seed["intent"])
    assert data["seed_keyword_id"] == seed["id"]
    own = await keyword(client, token, sector, "own", seed_keyword_id=seed["id"], volume=7,
                        intent="navigational")
    assert (own["volume"], own["difficulty"], own["intent"]) == (
        7, seed["difficulty"], "navigational")


async def test_roles(client):
    token, site, sector = await owner_site_sector(client, "ann@example.com")
    kid = (await keyword(client, token, sector, "k"))["id"]
    viewer = await client.member(token, "vic@example.com", "viewer")
    editor = await client.member(token, "eve@example.com", "editor")
    body = {"keyword": "v", "site_id": site["id"], "sector_id": sector["id"]}
    assert (await client.get(K, token=viewer)).json["count"] == 1
    assert (await client.get(f"{K}{kid}/", token=viewer)).status == 200
    assert (await client.get(f"{K}export/", token=viewer)).status == 200
    assert (await client.post(K, body, token=viewer)).status == 403
    assert (await client.patch(f"{K}{kid}/", {"volume": 1}, token=viewer)).status == 403
    assert (await client.delete(f"{K}{kid}/", token=viewer)).status == 403
    for action, payload in [("bulk_delete", {"ids": [kid]}),
                            ("bulk_update_status", {"ids": [kid], "status": "pending"}),
                            ("bulk_add_from_seed", {"seed_keyword_ids": [1],
                                                    "site_id": site["id"],
                                                    "sector_id": sector["id"]})]:
        assert (await client.post(f"{K}{action}/", payload, token=viewer)).status == 403
    assert (await client.get(K)).status == 401
    assert (await client.post(K, body, token=editor)).status == 201


async def test_site_grants_limit_what_a_member_sees(client):
    token, site, sector = await owner_site_sector(client, "ann@example.com")
    site2 = await client.site(token, "Two")
    sector2 = await client.sector(token, site2["id"], "S2")
    await keyword(client, token, sector, "one")
    hidden = await keyword(client, token, sector2, "two")
    editor = await client.member(token, "eve@example.com", "editor", site_ids=[site["id"]])
    listed = await client.get(K, token=editor)
    assert [r["keyword"] for r in listed.json["results"]] == ["one"]
    assert (await client.get(f"{K}{hidden['id']}/", token=editor)).status == 404
    resp = await client.post(K, {"keyword": "x", "site_id": site2["id"],
                                 "sector_id": sector2["id"]}, token=editor)
    assert resp.status == 404 and "site_id" in resp.errors


# -- plan limit -------------------------------------------------------------------------------


async def test_concurrent_creates_stop_exactly_at_the_keyword_limit(app, client):
    token, site, sector = await owner_site_sector(client, "ann@example.com")
    account_id = site["account_id"]
    old = await set_keyword_limit(app, "free", 5)
    try:
        results = await asyncio.gather(*(client.post(K, {
            "keyword": f"kw {i}", "site_id": site["id"], "sector_id": sector["id"]},
            token=token) for i in range(20)))
        statuses = sorted(r.status for r in results)
        assert statuses.count(201) == 5, statuses
        assert statuses.count(403) == 15, statuses
        refused = next(r for r in results if r.status == 403)
        assert refused.error == "Plan limit reached" and "plan" in refused.errors
        assert await _count(app, account_id) == 5
        seeds = (await client.get(SEEDS, token=token)).json["results"]
        resp = await client.post(f"{K}bulk_add_from_seed/", {
            "seed_keyword_ids": [seeds[0]["id"]], "site_id": site["id"],
            "sector_id": sector["id"]}, token=token)
        assert resp.status == 403
        assert await _count(app, account_id) == 5
    finally:
        await set_keyword_limit(app, "free", old)


# -- list: filters, search, ordering, pagination ----------------------------------------------


async def _fixture_list(app: Any, client: Any) -> tuple[str, dict, dict, dict, int]:
    token, site, sector = await owner_site_sector(client, "ann@example.com")
    other = await client.sector(token, site["id"], "Other")
    cid = await _cluster(app, sector)
    await keyword(client, token, sector, "alpha seo", volume=100, difficulty=10,
                  intent="informational", status="active", cluster_id=cid)
    await keyword(client, token, sector, "beta seo", volume=300, difficulty=50,
                  intent="commercial", status="pending")
    await keyword(client, token, sector, "Gamma 50%_off", volume=200, difficulty=90,
                  intent="transactional", status="archived")
    await keyword(client, token, other, "delta", volume=0, difficulty=0)
    return token, site, sector, other, cid


async def test_filters(app, client):
    token, site, _sector, other, cid = await _fixture_list(app, client)

    async def words(query: str) -> list[str]:
        resp = await client.get(f"{K}?{query}", token=token)
        assert resp.status == 200, (query, resp.json)
        return sorted(r["keyword"] for r in resp.json["results"])

    assert await words("status=active") == ["alpha seo", "delta"]
    assert await words("status=active,pending") == ["alpha seo", "beta seo", "delta"]
    assert await words(f"cluster_id={cid}") == ["alpha seo"]
    assert await words("cluster_id=null") == ["Gamma 50%_off", "beta seo", "delta"]
    assert await words("unclustered=true") == ["Gamma 50%_off", "beta seo", "delta"]
    assert await words("unclustered=false") == ["alpha seo"]
    assert await words("intent=commercial") == ["beta seo"]
    assert await words("seed_keyword__intent=commercial,informational") == [
        "alpha seo", "beta seo"]
    assert await words("difficulty_min=10&difficulty_max=50") == ["alpha seo", "beta seo"]
    assert await words("volume_min=200") == ["Gamma 50%_off", "beta seo"]
    assert await words("volume_max=100") == ["alpha seo", "delta"]
    assert await words(f"sector_id={other['id']}") == ["delta"]
    assert await words(f"site_id={site['id']}&status=archived") == ["Gamma 50%_off"]
    assert await words("seed_keyword_id=1") == []
    for bad in ("status=done", "cluster_id=x", "volume_min=a", "unclustered=maybe",
                "intent=shopping", "difficulty_max=1.5", "site_id=1e3"):
        resp = await client.get(f"{K}?{bad}", token=token)
        assert resp.status == 400, bad
        assert bad.split("=")[0] in resp.errors, (bad, resp.errors)


async def test_search_and_ordering(app, client):
    token, *_ = await _fixture_list(app, client)

    async def words(query: str) -> list[str]:
        resp = await client.get(f"{K}?{query}", token=token)
        assert resp.status == 200, (query, resp.json)
        return [r["keyword"] for r in resp.json["results"]]

    assert sorted(await words("search=SEO")) == ["alpha seo", "beta seo"]
    assert await words("search=seo%20beta") == ["beta seo"]
    assert await words("search=50%25_") == ["Gamma 50%_off"]
    assert await words("search=%25") == ["Gamma 50%_off"]
    assert await words("search=_") == ["Gamma 50%_off"]
    assert await words("search=%27%3B%20DROP%20TABLE%20keywords%3B--") == []
    # Tornado turns control characters of a query argument into spaces: no 500 either way
    assert (await client.get(f"{K}?search=a%00b", token=token)).status in (200, 400)
    long = await client.get(f"{K}?search=" + "x" * 10_000, token=token)
    assert long.status == 400 and "search" in long.errors
    assert await words("ordering=volume") == ["delta", "alpha seo", "Gamma 50%_off",
                                              "beta seo"]
    assert await words("ordering=-seed_keyword__volume") == [
        "beta seo", "Gamma 50%_off", "alpha seo", "delta"]
    assert await words("ordering=seed_keyword__difficulty") == [
        "delta", "alpha seo", "beta seo", "Gamma 50%_off"]
    assert await words("ordering=keyword") == ["alpha seo", "beta seo", "delta",
                                               "Gamma 50%_off"]
    assert await words("") == ["delta", "Gamma 50%_off", "beta seo", "alpha seo"]
    assert (await words("ordering=created_at"))[:1] == ["alpha seo"]
    bad = await client.get(f"{K}?ordering=password", token=token)
    assert bad.status == 400 and "ordering" in bad.errors


async def test_pagination_links_followed_to_the_end(client):
    token, _site, sector = await owner_site_sector(client, "ann@example.com")
    for i in range(23):
        await keyword(client, token, sector, f"kw {i:02d}", volume=i)
    seen: list[str] = []
    url: str | None = f"{K}?page_size=5&ordering=volume&status=active"
    pages = 0
    while url:
        resp = await client.get(url.replace(client.base_url, ""), token=token)
        assert resp.status == 200
        assert resp.json["count"] == 23
        seen += [r["keyword"] for r in resp.json["results"]]
        url = resp.json["next"]
        pages += 1
    assert pages == 5 and seen == [f"kw {i:02d}" for i in range(23)]
    assert (await client.get(f"{K}?page=6&page_size=5", token=token)).status == 404
    assert (await client.get(f"{K}?page=0", token=token)).status == 404
    assert (await client.get(f"{K}?page=x", token=token)).status == 404
    big = await client.get(f"{K}?page_size=1000", token=token)
    assert len(big.json["results"]) == 23
    assert len((await client.get(f"{K}?page_size=-1", token=token)).json["results"]) == 10


# -- bulk actions -----------------------------------------------------------------------------


async def test_bulk_delete_and_update_status_isolation(client):
    token, _site, sector = await owner_site_sector(client, "ann@example.com")
    b_token, _b_site, b_sector = await owner_site_sector(client, "bob@example.com")
    mine = [(await keyword(client, token, sector, f"a{i}"))["id"] for i in range(3)]
    theirs = [(await keyword(client, b_token, b_sector, f"b{i}"))["id"] for i in range(2)]
    for action, extra in [("bulk_delete", {}), ("bulk_update_status", {"status": "archived"})]:
        resp = await client.post(f"{K}{action}/", {"ids": [*mine, *theirs], **extra},
                                 token=token)
        assert resp.status == 404, resp.json
        assert resp.errors["ids"] == [f"Not found: {theirs[0]}, {theirs[1]}."]
    b_rows = (await client.get(K, token=b_token)).json["results"]
    assert len(b_rows) == 2 and {r["status"] for r in b_rows} == {"active"}
    a_rows = (await client.get(K, token=token)).json["results"]
    assert len(a_rows) == 3 and {r["status"] for r in a_rows} == {"active"}
    resp = await client.post(f"{K}bulk_update_status/", {"ids": mine[:2], "status": "pending"},
                             token=token)
    assert resp.status == 200 and resp.data == {"updated_count": 2}
    pending = await client.get(f"{K}?status=pending", token=token)
    assert sorted(r["id"] for r in pending.json["results"]) == sorted(mine[:2])
    resp = await client.post(f"{K}bulk_delete/", {"ids": mine[:2]}, token=token)
    assert resp.status == 200 and resp.data == {"deleted_count": 2}
    assert (await client.get(K, token=token)).json["count"] == 1
    for body in ({"ids": list(range(1, 1002)), "status": "active"}, {"ids": [], "status": "a"},
                 {"ids": mine, "status": "done"}, {"ids": mine}):
        resp = await client.post(f"{K}bulk_update_status/", body, token=token)
        assert resp.status == 400, body
    too_many = await client.post(f"{K}bulk_delete/", {"ids": list(range(1, 1002))},
                                 token=token)
    assert too_many.status == 400 and "ids" in too_many.errors


async def test_bulk_add_from_seed(client):
    token, site, sector = await owner_site_sector(client, "ann@example.com")
    seeds = (await client.get(f"{SEEDS}?page_size=5&ordering=id", token=token)).json["results"]
    ids = [s["id"] for s in seeds]
    await keyword(client, token, sector, seeds[0]["keyword"].upper())  # already there
    resp = await client.post(f"{K}bulk_add_from_seed/", {
        "seed_keyword_ids": [*ids, ids[1]], "site_id": site["id"], "sector_id": sector["id"]},
        token=token)
    assert resp.status == 200, resp.json
    assert resp.data["added"] == 4 and resp.data["skipped"] == 1
    assert len(resp.data["keyword_ids"]) == 4
    listed = await client.get(f"{K}?page_size=100", token=token)
    by_kw = {r["keyword"]: r for r in listed.json["results"]}
    for seed in seeds[1:]:
        row = by_kw[seed["keyword"]]
        assert (row["seed_keyword_id"], row["volume"], row["difficulty"], row["intent"]) == (
            seed["id"], seed["volume"], seed["difficulty"], seed["intent"])
        assert row["id"] in resp.data["keyword_ids"]
    again = await client.post(f"{K}bulk_add_from_seed/", {
        "seed_keyword_ids": ids, "site_id": site["id"], "sector_id": sector["id"]}, token=token)
    assert again.data == {"added": 0, "skipped": 5, "keyword_ids": []}
    # bad input: nothing written
    b_token, b_site, b_sector = await owner_site_sector(client, "bob@example.com")
    for body, status, field in [
        ({"seed_keyword_ids": ids, "site_id": b_site["id"], "sector_id": sector["id"]},
         404, "site_id"),
        ({"seed_keyword_ids": ids, "site_id": site["id"], "sector_id": b_sector["id"]},
         404, "sector_id"),
        ({"seed_keyword_ids": [10**9], "site_id": site["id"], "sector_id": sector["id"]},
         400, "seed_keyword_ids"),
        ({"seed_keyword_ids": [], "site_id": site["id"], "sector_id": sector["id"]},
         400, "seed_keyword_ids"),
        ({"seed_keyword_ids": list(range(1, 1002)), "site_id": site["id"],
          "sector_id": sector["id"]}, 400, "seed_keyword_ids"),
    ]:
        resp = await client.post(f"{K}bulk_add_from_seed/", body, token=token)
        assert resp.status == status, (body, resp.json)
        assert field in resp.errors
    assert (await client.get(K, token=token)).json["count"] == 5
    assert (await client.get(K, token=b_token)).json["count"] == 0


async def test_concurrent_bulk_adds_never_duplicate(client):
    token, site, sector = await owner_site_sector(client, "ann@example.com")
    ids = [s["id"] for s in (await client.get(f"{SEEDS}?page_size=20", token=token)
                             ).json["results"]]
    body = {"seed_keyword_ids": ids, "site_id": site["id"], "sector_id": sector["id"]}
    results = await asyncio.gather(*(client.post(f"{K}bulk_add_from_seed/", body, token=token)
                                     for _ in range(5)))
    assert all(r.status == 200 for r in results), [r.json for r in results]
    assert sum(r.data["added"] for r in results) == len(ids)
    assert (await client.get(K, token=token)).json["count"] == len(ids)


# -- the seed library -------------------------------------------------------------------------


async def test_seed_library(client):
    token = await client.owner("ann@example.com")
    listed = await client.get(f"{SEEDS}?page_size=100", token=token)
    assert listed.status == 200 and listed.json["count"] > 100
    first = listed.json["results"][0]
    assert set(first) == {"id", "industry_id", "industry_sector_id", "keyword", "volume",
                          "difficulty", "intent"}
    words = [r["keyword"] for r in listed.json["results"]]
    assert words == sorted(words)
    sector_id = first["industry_sector_id"]
    narrowed = await client.get(f"{SEEDS}?industry_sector_id={sector_id}", token=token)
    assert {r["industry_sector_id"] for r in narrowed.json["results"]} == {sector_id}
    by_industry = await client.get(f"{SEEDS}?industry_id={first['industry_id']}&"
                                   "intent=commercial", token=token)
    assert all(r["industry_id"] == first["industry_id"] and r["intent"] == "commercial"
               for r in by_industry.json["results"])
    found = await client.get(f"{SEEDS}?search=python", token=token)
    assert found.json["count"] >= 1
    assert all("python" in r["keyword"].lower() for r in found.json["results"])
    top = await client.get(f"{SEEDS}?ordering=-volume&page_size=3", token=token)
    vols = [r["volume"] for r in top.json["results"]]
    assert vols == sorted(vols, reverse=True)
    assert (await client.get(f"{SEEDS}{first['id']}/", token=token)).data == first
    assert (await client.get(f"{SEEDS}?industry_id=x", token=token)).status == 400
    assert (await client.get(SEEDS)).status == 401
    assert (await client.post(SEEDS, {"keyword": "x"}, token=token)).status == 405
