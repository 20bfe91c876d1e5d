"""Keyword CSV export and import through HTTP on both stores."""

from __future__ import annotations

import asyncio
import codecs
import csv
import io
import time
from typing import Any

import pytest
from sqlalchemy import func, select, update

from igny8d.store.keywords import KEYWORDS, keyword_norm
from igny8d.store.schema import keywords, plans
from igny8d.store.writes import insert_many
from tests.helpers.client import multipart
from tests.helpers.factories import keyword, owner_site_sector, set_keyword_limit, upload
from tests.helpers.paths import KEYWORDS as K
from tests.helpers.paths import KEYWORDS_IMPORT as IMPORT

EXPORT = f"{K}export/"


async def _all(client: Any, token: str, **query: Any) -> list[dict]:
    out: list[dict] = []
    page = 1
    qs = "".join(f"&{k}={v}" for k, v in query.items())
    while True:
        resp = await client.get(f"{K}?page_size=100&page={page}&ordering=keyword{qs}",
                                token=token)
        out += resp.json["results"]
        if not resp.json["next"]:
            return out
        page += 1


def _shape(rows: list[dict]) -> list[tuple]:
    return sorted((r["keyword"], int(r["volume"] or 0), int(r["difficulty"] or 0),
                   r["intent"] or None, r["status"]) for r in rows)


async def _count(app: Any, sector_id: int) -> int:
    async with app.ctx.store.read() as conn:
        return int((await conn.execute(select(func.count()).select_from(keywords).where(
            keywords.c.sector_id == sector_id))).scalar_one())


# -- import -----------------------------------------------------------------------------------


async def test_import_counts_created_and_skipped(app, client):
    token, site, sector = await owner_site_sector(client, "ann@example.com")
    await keyword(client, token, sector, "Already There")
    data = codecs.BOM_UTF8 + (
        b'Volume;KEYWORD;Intent;status\r\n'
        b'10;"seo; tools";Commercial;\r\n'
        b'20;already  there;;\r\n'
        b'30;"say ""hi""";informational;pending\r\n'
        b';"SEO;  TOOLS";;\r\n'
        b'\r\n')
    resp = await upload(client, token, site, sector, data)
    assert resp.status == 200, resp.json
    assert resp.data == {"created": 2, "skipped_duplicates": 2}
    rows = {r["keyword"]: r for r in await _all(client, token)}
    assert rows["seo; tools"]["volume"] == 10
    assert rows["seo; tools"]["intent"] == "commercial"
    assert rows["say \"hi\""]["status"] == "pending"
    assert rows["seo; tools"]["site_id"] == site["id"]
    assert rows["seo; tools"]["sector_id"] == sector["id"]


@pytest.mark.parametrize("data, fragment", [
    (b"", "empty"),
    (b"keyword,volume\r\n", "no keywords"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x01", "UTF-8"),
    (b"PK\x03\x04\x14\x00\x00\x00", "binary"),
    (b"keyword|volume\nx|1\n", "keyword"),
    (b'keyword,volume\n"never closed,1\nb,2\n', "Row 2"),
])
async def test_unusable_files_import_nothing(app, client, data, fragment):
    token, site, sector = await owner_site_sector(client, "ann@example.com")
    resp = await upload(client, token, site, sector, data)
    assert resp.status == 400, resp.json
    assert any(fragment in m for m in resp.errors["file"]), resp.errors
    assert await _count(app, sector["id"]) == 0


async def test_one_bad_row_among_10k_imports_nothing(app, client):
    token, site, sector = await owner_site_sector(client, "ann@example.com")
    lines = ["keyword,volume,difficulty"] + [f"kw {i},{i},{i % 100}" for i in range(10_000)]
    lines[6544] = "kw bad,12,250"
    resp = await upload(client, token, site, sector, "\n".join(lines).encode())
    assert resp.status == 400
    assert resp.errors["file"] == ["Row 6545: difficulty: must be between 0 and 100."]
    assert await _count(app, sector["id"]) == 0


async def test_import_bad_requests(app, client):
    token, site, sector = await owner_site_sector(client, "ann@example.com")
    _b_token, b_site, b_sector = await owner_site_sector(client, "bob@example.com")
    ok = b"keyword\nx\n"
    resp = await upload(client, token, b_site, sector, ok)
    assert resp.status == 404 and "site_id" in resp.errors
    resp = await upload(client, token, site, b_sector, ok)
    assert resp.status == 404 and "sector_id" in resp.errors
    site2 = await client.site(token, "Two")
    resp = await upload(client, token, site2, sector, ok)
    assert resp.status == 400 and "sector_id" in resp.errors
    body, headers = multipart({"site_id": site["id"], "sector_id": sector["id"]})
    resp = await client.request("POST", IMPORT, body=body, headers=headers, token=token)
    assert resp.status == 400 and resp.errors == {"file": ["No file was submitted."]}
    # a urlencoded form cannot carry a file: 400 naming it, as DRF answers (not a 415)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    resp = await client.request("POST", IMPORT, token=token, headers=form,
                                body=f"site_id={site['id']}&sector_id={sector['id']}")
    assert resp.status == 400 and resp.errors == {"file": ["No file was submitted."]}
    resp = await client.request("POST", IMPORT, token=token, headers=form,
                                body=f"site_id=x&sector_id={sector['id']}&file=keyword%0Ax")
    assert resp.status == 400, resp.json
    assert resp.errors == {"site_id": ["A valid integer is required."], "file": [
        "The submitted data was not a file. Check the encoding type on the form."]}
    body, headers = multipart({"site_id": "x", "sector_id": sector["id"]},
                              {"file": ("a.csv", ok)})
    resp = await client.request("POST", IMPORT, body=body, headers=headers, token=token)
    assert resp.status == 400 and "site_id" in resp.errors
    resp = await upload(client, token, site, sector, ok, extra="1")
    assert resp.status == 400 and "extra" in resp.errors
    resp = await client.post(IMPORT, {"site_id": site["id"]}, token=token)
    assert resp.status == 415
    # the refusal names both form types the route takes
    assert resp.error.endswith(
        "send multipart/form-data or application/x-www-form-urlencoded."), resp.json
    resp = await client.request("POST", IMPORT, body=b"x",
                                headers={"Content-Type": "multipart/form-data"}, token=token)
    assert resp.status == 400  # no boundary
    viewer = await client.member(token, "vic@example.com", "viewer")
    assert (await upload(client, viewer, site, sector, ok)).status == 403
    assert await _count(app, sector["id"]) == 0
    assert (await upload(client, token, site, sector, ok)).status == 200


@pytest.mark.slow
async def test_import_over_its_size_limit_is_413(app, client):
    token, site, sector = await owner_site_sector(client, "ann@example.com")
    big = b"keyword\n" + b"x" * (21 * 1024 * 1024) + b"\n"
    resp = await upload(client, token, site, sector, big)
    assert resp.status == 413
    assert await _count(app, sector["id"]) == 0
    # between the server's default cap (10 MB) and the import's own (20 MB): accepted
    rows = b"keyword,volume\n" + b"".join(b"k%07d-%s,1\n" % (i, b"y" * 100)
                                          for i in range(110_000))
    assert 10 * 1024 * 1024 < len(rows) < 20 * 1024 * 1024
    old = await set_keyword_limit(app, "free", 200_000)
    try:
        resp = await upload(client, token, site, sector, rows)
        assert resp.status == 200, resp.json
        assert resp.data["created"] == 110_000
    finally:
        await set_keyword_limit(app, "free", old)
    # other routes keep the server's cap
    resp = await client.request("POST", K, body=b"{" + b" " * (11 * 1024 * 1024) + b"}",
                                headers={"Content-Type": "application/json"}, token=token)
    assert resp.status == 413


@pytest.mark.timeout(300)
@pytest.mark.slow
async def test_import_100k_rows(app, client):
    token, site, sector = await owner_site_sector(client, "ann@example.com")
    n = 100_000
    data = ("keyword,volume,difficulty,intent,status\r\n" + "".join(
        f"keyword number {i},{i % 9000},{i % 101},{('commercial', 'informational')[i % 2]},"
        f"active\r\n" for i in range(n))).encode()
    old = await set_keyword_limit(app, "free", 200_000)
    try:
        start = time.perf_counter()
        resp = await upload(client, token, site, sector, data)
        elapsed = time.perf_counter() - start
        assert resp.status == 200, resp.json
        assert resp.data == {"created": n, "skipped_duplicates": 0}
        assert await _count(app, sector["id"]) == n
        # the search index has the bulk-loaded rows, and still follows single creates
        found = await client.get(f"{K}?search=number%2099998", token=token)
        assert [r["keyword"] for r in found.json["results"]] == ["keyword number 99998"]
        await keyword(client, token, sector, "zebra crossing after import")
        found = await client.get(f"{K}?search=zebra%20crossing", token=token)
        assert found.json["count"] == 1
    finally:
        await set_keyword_limit(app, "free", old)
    print(f"\n[{app.ctx.store.dialect}] imported {n:,} rows ({len(data) / 1e6:.1f} MB) in "
          f"{elapsed:.2f}s: {n / elapsed:,.0f} rows/s")


async def test_concurrent_imports_at_the_keyword_limit(app, client):
    token, site, sector = await owner_site_sector(client, "ann@example.com")
    old = await set_keyword_limit(app, "free", 30)
    try:
        files = ["keyword\n" + "".join(f"file{f} kw{i}\n" for i in range(10)) for f in range(5)]
        results = await asyncio.gather(*(upload(client, token, site, sector, f.encode())
                                         for f in files))
    finally:
        await set_keyword_limit(app, "free", old)
    statuses = sorted(r.status for r in results)
    assert statuses == [200, 200, 200, 403, 403], [r.json for r in results]
    assert await _count(app, sector["id"]) == 30


async def test_concurrent_imports_of_one_file_never_duplicate(app, client):
    token, site, sector = await owner_site_sector(client, "ann@example.com")
    data = ("keyword\n" + "".join(f"kw {i}\n" for i in range(200))).encode()
    results = await asyncio.gather(*(upload(client, token, site, sector, data)
                                     for _ in range(4)))
    assert all(r.status == 200 for r in results), [r.json for r in results]
    assert sum(r.data["created"] for r in results) == 200
    assert await _count(app, sector["id"]) == 200


# -- export -----------------------------------------------------------------------------------


def _parse(body: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body.decode(), newline="")))


async def test_export_answers_csv_with_the_lists_filters(app, client):
    token, _site, sector = await owner_site_sector(client, "ann@example.com")
    b_token, _b_site, b_sector = await owner_site_sector(client, "bob@example.com")
    await keyword(client, token, sector, "=cmd|' /C calc'!A0", volume=5,
                  intent="commercial")
    await keyword(client, token, sector, 'quote " and, comma', volume=9, status="pending")
    await keyword(client, token, sector, "@SUM(1)", volume=1, status="archived")
    await keyword(client, b_token, b_sector, "bob's keyword")
    resp = await client.get(EXPORT, token=token)
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/csv")
    assert "keywords.csv" in resp.headers["Content-Disposition"]
    rows = _parse(resp.body)
    assert [r["keyword"] for r in rows] == ["'@SUM(1)", 'quote " and, comma',
                                            "'=cmd|' /C calc'!A0"]  # -created_at
    assert rows[0]["created_at"].endswith("Z") and rows[0]["intent"] == ""
    assert list(rows[0]) == ["id", "keyword", "volume", "difficulty", "intent", "status",
                             "cluster_id", "seed_keyword_id", "site_id", "sector_id",
                             "created_at", "updated_at"]
    assert resp.body.count(b"\r\n") == 4
    filtered = _parse((await client.get(f"{EXPORT}?status=active,pending&ordering=volume",
                                        token=token)).body)
    assert [r["volume"] for r in filtered] == ["5", "9"]
    searched = _parse((await client.get(f"{EXPORT}?search=comma", token=token)).body)
    assert [r["volume"] for r in searched] == ["9"]
    empty = await client.get(f"{EXPORT}?volume_min=1000", token=token)
    assert empty.status == 200 and len(_parse(empty.body)) == 0
    assert empty.body.startswith(b"id,keyword,")
    bad = await client.get(f"{EXPORT}?volume_min=x", token=token)
    assert bad.status == 400 and "volume_min" in bad.errors  # the JSON envelope
    bad = await client.get(f"{EXPORT}?ordering=secret", token=token)
    assert bad.status == 400 and "ordering" in bad.errors
    theirs = _parse((await client.get(EXPORT, token=b_token)).body)
    assert [r["keyword"] for r in theirs] == ["bob's keyword"]
    assert (await client.get(EXPORT)).status == 401


async def test_export_streams_in_chunks(app, client):
    token, site, sector = await owner_site_sector(client, "ann@example.com")
    n = 2600
    async with app.ctx.store.begin() as conn:
        await insert_many(conn, KEYWORDS, [{
            "account_id": site["account_id"], "site_id": site["id"],
            "sector_id": sector["id"], "keyword": f"kw {i:05d}",
            "keyword_norm": keyword_norm(f"kw {i:05d}"), "volume": i, "difficulty": i % 100,
            "status": "active"} for i in range(n)])
    resp = await client.get(f"{EXPORT}?ordering=volume", token=token)
    assert resp.status == 200
    assert resp.headers.get("Transfer-Encoding") == "chunked"
    assert "Content-Length" not in resp.headers
    rows = _parse(resp.body)
    assert [r["keyword"] for r in rows] == [f"kw {i:05d}" for i in range(n)]


async def test_export_then_import_gives_the_same_rows(app, client):
    token, site, sector = await owner_site_sector(client, "ann@example.com")
    seeds = (await client.get("/api/v1/planner/seed-keywords/?page_size=3", token=token)
             ).json["results"]
    for i, text in enumerate(["plain", "=1+2", "+plus", "-minus", "@at", "'quoted",
                              "''=double", "comma, inside", 'quote "inside"', "semi;colon",
                              "tab\tinside", "ünïcödé 日本語", "multi\nline", "a" * 255]):
        await keyword(client, token, sector, text, volume=i * 10, difficulty=i,
                      intent=("informational", "commercial", None)[i % 3],
                      status=("active", "pending", "archived")[i % 3])
    await client.post(f"{K}bulk_add_from_seed/", {
        "seed_keyword_ids": [s["id"] for s in seeds], "site_id": site["id"],
        "sector_id": sector["id"]}, token=token)
    exported = await client.get(f"{EXPORT}?sector_id={sector['id']}", token=token)
    assert exported.status == 200
    empty = await client.sector(token, site["id"], "Empty")
    resp = await upload(client, token, site, empty, exported.body)
    assert resp.status == 200, resp.json
    assert resp.data == {"created": 17, "skipped_duplicates": 0}
    before = await _all(client, token, sector_id=sector["id"])
    after = await _all(client, token, sector_id=empty["id"])
    assert _shape(after) == _shape(before)
    # and importing the same file again skips every row
    again = await upload(client, token, site, empty, exported.body)
    assert again.data == {"created": 0, "skipped_duplicates": 17}


async def test_plan_limit_is_checked_by_the_plan_table(app, client):
    """The limit read under the lock is the plan's current one."""
    token, site, sector = await owner_site_sector(client, "ann@example.com")
    async with app.ctx.store.begin() as conn:
        old = (await conn.execute(select(plans.c.max_keywords).where(plans.c.slug == "free"))
               ).scalar_one()
        await conn.execute(update(plans).where(plans.c.slug == "free").values(max_keywords=2))
    try:
        resp = await upload(client, token, site, sector, b"keyword\na\nb\nc\n")
        assert resp.status == 403 and resp.error == "Plan limit reached"
        assert await _count(app, sector["id"]) == 0
        resp = await upload(client, token, site, sector, b"keyword\na\nb\na\n")
        assert resp.status == 200 and resp.data == {"created": 2, "skipped_duplicates": 1}
    finally:
        await set_keyword_limit(app, "free", old)
