"""The keyword list's fast paths give the answers of the plain ones, on both stores.

- the caller is read from the store on every request (one statement, no cache): a password
  change, a deactivation, a role change, new site grants or a suspended account show at
  once, with the same token;
- a search's ids kept per account data version (CountCache.ids) never outlive a write:
  created, renamed, re-statused, re-ordered and deleted keywords show on the next page;
- the statements built once per shape, the two ways of walking a search, the timestamps
  read as text and the short reads on the event loop give the same rows as the plain
  statements.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import delete, func, insert, select, update

from igny8d import envelope
from igny8d.handlers.planner_keywords import KEYWORDS as RESOURCE
from igny8d.permissions import Actor
from igny8d.scope import Scope
from igny8d.services.clusters import CLUSTERS as CLUSTER_SERVICE
from igny8d.services.keywords import KEYWORD_FIELDS, KEYWORDS_SERVICE
from igny8d.store.keywords import KEYWORDS
from igny8d.store.pages import read_ids, read_page
from igny8d.store.rows import list_rows
from igny8d.store.schema import accounts, keywords
from igny8d.store.specs import Term, order_clauses, search_clauses
from igny8d.store.writes import insert_many
from tests.helpers.client import PASSWORD
from tests.helpers.factories import keyword, owner_site_sector
from tests.helpers.paths import KEYWORDS as K
from tests.helpers.paths import ME
from tests.helpers.paths import USERS as U


async def _ids(client: Any, token: str, query: str) -> tuple[int, list[int]]:
    resp = await client.get(f"{K}?{query}", token=token)
    assert resp.status == 200, resp.json
    return resp.json["count"], [r["id"] for r in resp.json["results"]]


async def _insert(app: Any, sector: dict, rows: list[dict[str, Any]]) -> None:
    """Keywords straight into the store (as an import does), many at once."""
    async with app.ctx.store.begin() as conn:
        await insert_many(conn, KEYWORDS, [{
            "account_id": sector["account_id"], "site_id": sector["site_id"],
            "sector_id": sector["id"], "keyword_norm": r["keyword"].lower(),
            "status": "active", "volume": 0, "difficulty": 0, **r} for r in rows])


# -- the caller is always the store's ---------------------------------------------------------


async def test_old_token_refused_after_password_change(client):
    token, _, _ = await owner_site_sector(client, "fast@example.com")
    assert (await client.get(K, token=token)).status == 200
    resp = await client.post("/api/v1/auth/change-password/", {
        "old_password": PASSWORD, "new_password": "An0ther-Passw0rd!",
        "new_password_confirm": "An0ther-Passw0rd!"}, token=token)
    assert resp.status == 200, resp.json
    refused = await client.get(K, token=token)
    assert refused.status == 401 and refused.error == "Token has been revoked"
    assert (await client.get(K, token=resp.data["access"])).status == 200


async def test_deactivated_or_demoted_member_refused_at_once(client):
    owner, _, sector = await owner_site_sector(client, "fast@example.com")
    editor = await client.member(owner, "ed@example.com", "editor")
    viewer = await client.member(owner, "vi@example.com", "viewer")
    ed_id = (await client.get(ME, token=editor)).data["user"]["id"]
    vi_id = (await client.get(ME, token=viewer)).data["user"]["id"]
    assert (await client.get(K, token=editor)).status == 200
    assert (await client.patch(f"{U}{ed_id}/", {"is_active": False}, token=owner)).status == 200
    refused = await client.get(K, token=editor)
    assert refused.status == 401 and refused.error == "User not found or inactive"
    # a role change ends the sessions: the old token no longer acts with the old role
    assert (await client.get(K, token=viewer)).status == 200
    assert (await client.patch(f"{U}{vi_id}/", {"role": "editor"}, token=owner)).status == 200
    assert (await client.get(K, token=viewer)).status == 401
    fresh = (await client.login("vi@example.com"))["access"]
    await keyword(client, fresh, sector, "now an editor")


async def test_new_site_grants_apply_to_the_same_token(client):
    owner, s1, sec1 = await owner_site_sector(client, "fast@example.com")
    s2 = await client.site(owner, "Two")
    sec2 = await client.sector(owner, s2["id"], "Other")
    a = await keyword(client, owner, sec1, "alpha shoes")
    b = await keyword(client, owner, sec2, "beta shoes")
    editor = await client.member(owner, "ed@example.com", "editor", site_ids=[s1["id"]])
    ed_id = (await client.get(ME, token=editor)).data["user"]["id"]
    for query in ("page_size=25", "page_size=25&search=shoes"):
        assert await _ids(client, editor, query) == (1, [a["id"]])
        assert await _ids(client, editor, query) == (1, [a["id"]])  # cached this time
    assert (await client.patch(f"{U}{ed_id}/", {"site_ids": [s2["id"]]},
                               token=owner)).status == 200
    for query in ("page_size=25", "page_size=25&search=shoes"):
        assert await _ids(client, editor, query) == (1, [b["id"]])
    assert (await client.patch(f"{U}{ed_id}/", {"site_ids": []}, token=owner)).status == 200
    for query in ("page_size=25", "page_size=25&search=shoes"):
        assert await _ids(client, editor, query) == (2, [b["id"], a["id"]])


async def test_suspended_account_refused(app, client):
    token, _, sector = await owner_site_sector(client, "fast@example.com")
    assert (await client.get(K, token=token)).status == 200
    async with app.ctx.store.begin() as conn:
        await conn.execute(update(accounts).where(accounts.c.id == sector["account_id"])
                           .values(status="suspended"))
    assert (await client.get(K, token=token)).status == 401


# -- a search's kept ids never outlive a write --------------------------------------------------


async def test_search_ids_follow_every_write(app, client):
    token, _, sector = await owner_site_sector(client, "fast@example.com")
    made = [await keyword(client, token, sector, f"red shoes {i}", volume=10 * i) for i in range(5)]
    await keyword(client, token, sector, "blue hat")
    newest_first = [k["id"] for k in reversed(made)]
    query = "page_size=25&search=shoes"
    assert await _ids(client, token, query) == (5, newest_first)
    hits = app.ctx.counts.id_hits
    assert await _ids(client, token, query) == (5, newest_first)
    assert app.ctx.counts.id_hits == hits + 1  # the page came from the kept ids

    extra = await keyword(client, token, sector, "new shoes")
    assert await _ids(client, token, query) == (6, [extra["id"], *newest_first])
    resp = await client.patch(f"{K}{made[4]['id']}/", {"keyword": "red boots"}, token=token)
    assert resp.status == 200, resp.json
    assert await _ids(client, token, query) == (5, [extra["id"], *newest_first[1:]])
    assert (await client.delete(f"{K}{extra['id']}/", token=token)).status == 204
    assert await _ids(client, token, query) == (4, newest_first[1:])

    by_volume = "page_size=25&search=shoes&ordering=-volume"
    assert await _ids(client, token, by_volume) == (4, [made[i]["id"] for i in (3, 2, 1, 0)])
    await client.patch(f"{K}{made[0]['id']}/", {"volume": 1000}, token=token)
    assert await _ids(client, token, by_volume) == (4, [made[i]["id"] for i in (0, 3, 2, 1)])

    active = "page_size=25&search=shoes&status=active"
    assert (await _ids(client, token, active))[0] == 4
    resp = await client.post(f"{K}bulk_update_status/", {
        "ids": [made[1]["id"], made[2]["id"]], "status": "archived"}, token=token)
    assert resp.status == 200, resp.json
    assert await _ids(client, token, active) == (2, [made[3]["id"], made[0]["id"]])


async def test_search_pages_from_kept_ids_end_to_end(app, client):
    token, _, sector = await owner_site_sector(client, "fast@example.com")
    await _insert(app, sector, [{"keyword": f"trail shoes {i:03d}", "volume": i % 7}
                                for i in range(60)])
    await _insert(app, sector, [{"keyword": f"city boots {i:03d}"} for i in range(20)])
    async with app.ctx.store.read() as conn:
        expected = [int(r) for r in (await conn.execute(
            select(keywords.c.id).where(keywords.c.keyword_norm.like("%shoes%"))
            .order_by(keywords.c.volume.desc(), keywords.c.id.desc()))).scalars()]
    for _ in range(2):  # found, then from the kept ids
        seen: list[int] = []
        url: str | None = f"{K}?page_size=25&search=shoes&ordering=-volume"
        while url:
            resp = await client.get(url.replace(client.base_url, ""), token=token)
            assert resp.status == 200, resp.json
            assert resp.json["count"] == 60
            seen += [r["id"] for r in resp.json["results"]]
            url = resp.json["next"]
        assert seen == expected
    past = await client.get(f"{K}?page_size=25&search=shoes&ordering=-volume&page=4",
                            token=token)
    assert past.status == 404 and past.error == "Invalid page."


async def test_kept_ids_missing_a_row_are_read_again(app, client):
    """A row gone without a data version bump (nothing in igny8d does that: a hand-made
    delete here) is never answered as missing or as an error: the page is read again."""
    token, _, sector = await owner_site_sector(client, "fast@example.com")
    made = [await keyword(client, token, sector, f"green shoes {i}") for i in range(3)]
    query = "page_size=25&search=shoes"
    assert (await _ids(client, token, query))[1] == [k["id"] for k in reversed(made)]
    async with app.ctx.store.begin() as conn:
        await conn.execute(delete(keywords).where(keywords.c.id == made[1]["id"]))
    count, ids = await _ids(client, token, query)
    assert ids == [made[2]["id"], made[0]["id"]]
    assert count == 3  # the total is kept by the data version, as it always was


async def test_same_shape_other_values(client):
    token, _, sector = await owner_site_sector(client, "fast@example.com")
    a = await keyword(client, token, sector, "one", intent="commercial", status="active")
    b = await keyword(client, token, sector, "two", intent="informational", status="pending")
    c = await keyword(client, token, sector, "three", intent="transactional", status="archived")
    assert await _ids(client, token, "status=active") == (1, [a["id"]])
    assert await _ids(client, token, "status=pending") == (1, [b["id"]])
    assert await _ids(client, token, "status=active,pending") == (2, [b["id"], a["id"]])
    assert await _ids(client, token, "status=active,pending,archived") == (
        3, [c["id"], b["id"], a["id"]])
    assert await _ids(client, token, "intent=commercial,transactional&ordering=keyword") == (
        2, [a["id"], c["id"]])
    assert await _ids(client, token, "search=t") == (2, [c["id"], b["id"]])
    assert await _ids(client, token, "search=o") == (2, [b["id"], a["id"]])
    assert await _ids(client, token, "search=thr") == (1, [c["id"]])
    assert await _ids(client, token, "search=two") == (1, [b["id"]])


# -- the store's read unit against the plain statements -----------------------------------------


async def _plain(app: Any, scope: Scope, where: list[Any], order: list[tuple[str, bool]],
                 limit: int, offset: int) -> list[dict[str, Any]]:
    async with app.ctx.store.read() as conn:
        rows = await list_rows(conn, KEYWORDS, scope=scope, where=where,
                               order_by=order_clauses(KEYWORDS, order),
                               limit=limit, offset=offset)
    return [{k: envelope.timestamp(r[k]) if isinstance(r[k], dt.datetime) else r[k]
             for k in KEYWORD_FIELDS} for r in rows]


@pytest.mark.parametrize("ordering", ["-created_at", "-volume", "keyword", "difficulty"])
async def test_read_page_ways_agree(app, client, ordering):
    """Walking the order or looking the hits up, by kept ids or not, on a thread or on
    the event loop: the rows of the plain statement, timestamps written alike."""
    _, _, sector = await owner_site_sector(client, "fast@example.com")
    start = dt.datetime(2025, 3, 1, 12, 0, 0, tzinfo=dt.UTC)
    await _insert(app, sector, [{
        "keyword": f"{'shoes' if i % 3 else 'hats'} {i:03d}", "volume": i % 11,
        "difficulty": i % 5, "status": "active" if i % 2 else "pending",
        "created_at": start + dt.timedelta(seconds=i // 2, microseconds=(i % 4) * 250_000),
    } for i in range(240)])
    scope = Scope(sector["account_id"])
    order = RESOURCE._order_terms(ordering, strict=True)
    where = search_clauses(KEYWORDS, ["shoes"], ("keyword",),
                           dialect=app.ctx.store.dialect)
    where.append(keywords.c.status == "active")
    terms = [Term("eq", ("status",), "active")]
    total = 80  # the first page below is found by walking the order (80 >= 8 x 5)
    for limit, offset in ((5, 0), (25, 25), (10, 70), (25, 75)):
        expected = await _plain(app, scope, where, order, limit, offset)
        ways = [dict(count=None), dict(count=total), dict(count=total, ids_max=1000)]
        for way in ways:
            for run in (app.ctx.store.run_read, app.ctx.store.read_now):
                page = await run(read_page, KEYWORDS, scope=scope, terms=terms,
                                 search=["shoes"], search_fields=("keyword",), order=order,
                                 limit=limit, offset=offset, columns=KEYWORD_FIELDS,
                                 text_times=True, **way)
                assert page.count == total
                assert page.rows == expected, (way, limit, offset)
                if "ids_max" in way:
                    assert page.ids is not None and len(page.ids) == total
                    again = await run(read_ids, KEYWORDS,
                                      page.ids[offset:offset + limit], scope=scope,
                                      columns=KEYWORD_FIELDS, text_times=True)
                    assert again == expected


async def test_timestamps_as_text_equal_the_envelopes(app, client):
    token, _, sector = await owner_site_sector(client, "fast@example.com")
    made = await keyword(client, token, sector, "stamp")
    async with app.ctx.store.begin() as conn:
        for micro, kw in ((0, "zero"), (1, "one"), (999_999, "nines")):
            await conn.execute(insert(keywords).values(
                account_id=sector["account_id"], site_id=sector["site_id"],
                sector_id=sector["id"], keyword=kw, keyword_norm=kw, volume=0, difficulty=0,
                status="active",
                created_at=dt.datetime(2024, 2, 29, 23, 59, 59, micro, tzinfo=dt.UTC),
                updated_at=func.now()))  # the database's own clock, in its own format
    listed = (await client.get(f"{K}?ordering=created_at", token=token)).json["results"]
    async with app.ctx.store.read() as conn:
        rows = {r["id"]: r for r in await list_rows(conn, KEYWORDS,
                                                    scope=Scope(sector["account_id"]))}
    assert len(listed) == 4
    for item in listed:
        row = rows[item["id"]]
        assert item["created_at"] == envelope.timestamp(row["created_at"])
        assert item["updated_at"] == envelope.timestamp(row["updated_at"])
    assert [i["created_at"] for i in listed[:3]] == [
        "2024-02-29T23:59:59Z", "2024-02-29T23:59:59.000001Z", "2024-02-29T23:59:59.999999Z"]
    detail = (await client.get(f"{K}{made['id']}/", token=token)).data
    assert detail["created_at"] == listed[3]["created_at"]


async def test_service_plain_page_is_its_list_page_presented(app, client):
    """`ResourceService.plain_page` / `plain_rows` (the list's one read unit) give what
    `list_page` + `present` give, timestamps as the envelope writes them."""
    _, _, sector = await owner_site_sector(client, "fast@example.com")
    await _insert(app, sector, [{"keyword": f"kw {i} shoes" if i % 3 else f"kw {i}",
                                 "volume": i % 7, "status": "active" if i % 4 else "pending"}
                                for i in range(90)])
    svc, actor = KEYWORDS_SERVICE, Actor.system(sector["account_id"])
    assert svc.plain_pages and not CLUSTER_SERVICE.plain_pages  # clusters present figures
    order = RESOURCE._order_terms("-volume", strict=True)
    async with app.ctx.store.read() as conn:
        count, rows = await svc.list_page(conn, actor, where=[keywords.c.status == "active"],
                                          order_by=order_clauses(KEYWORDS, order), limit=10,
                                          offset=10)
        expected = [{k: envelope.timestamp(v) if isinstance(v, dt.datetime) else v
                     for k, v in r.items()} for r in await svc.present(conn, actor, rows)]
    active = [Term("eq", ("status",), "active")]
    for known in (None, count):  # counted on a reader thread; then short, on the loop
        page = await svc.plain_page(app.ctx, actor, terms=active, order=order, limit=10,
                                    offset=10, count=known)
        assert (page.count, page.rows) == (count, expected)
    found = await svc.plain_page(app.ctx, actor, search=["shoes"], search_fields=("keyword",),
                                 order=order, limit=5, ids_max=1000)
    assert found.count == 60 and found.ids is not None and len(found.ids) == 60
    assert await svc.plain_rows(app.ctx, actor, found.ids[:5]) == found.rows
    assert await svc.plain_rows(app.ctx, actor, [*found.ids[:4], 10**9]) is None


# -- search answered from the index: the reference's substring test, whatever the path ----------

_WORDS = ("trail", "Shoes", "snowshoes", "CASE", "café", "50%_off", "tea", "go", "a")


@pytest.mark.parametrize("ordering", ["-volume", "keyword", ""])
async def test_search_is_every_word_a_substring(app, client, ordering):
    """Each search word a case-insensitive substring of the keyword (DRF's icontains), its
    count exact, however the words are looked up (trigram hits first or walked in order,
    two-letter words scanned) and whatever another account holds."""
    token, _, sector = await owner_site_sector(client, "fast@example.com")
    _, _, other = await owner_site_sector(client, "other@example.com")
    texts = [f"{_WORDS[i % 9]} {_WORDS[(i * 5 + 2) % 9]} {i:03d}" for i in range(240)]
    await _insert(app, sector, [{"keyword": t, "volume": i % 13,
                                 "status": "active" if i % 3 else "archived"}
                                for i, t in enumerate(texts)])
    # the other account's rows match the same words: never counted, never listed
    await _insert(app, other, [{"keyword": f"{t} x"} for t in texts[:120]])
    async with app.ctx.store.read() as conn:
        rows = (await conn.execute(select(keywords).where(
            keywords.c.account_id == sector["account_id"]))).all()
    key = {"-volume": lambda r: (-r.volume, -r.id), "keyword": lambda r: (r.keyword_norm, r.id),
           "": lambda r: (-r.created_at.timestamp(), -r.id)}[ordering]
    searches = ["shoes", "SHOES trail", "shoes sno", "es", "ca", "a", "café", "50%_",
                "go tea", "zzz", "e 00"]
    for search in searches:
        for status in ("", "active"):
            expected = sorted((r for r in rows if all(
                w.lower() in r.keyword.lower() for w in search.split())
                and status in ("", r.status)), key=key)
            query = (f"page_size=10&search={search.replace('%', '%25').replace(' ', '%20')}"
                     + (f"&status={status}" if status else "")
                     + (f"&ordering={ordering}" if ordering else ""))
            for page in (1, 2, 3):
                if page > 1 and len(expected) <= 10 * (page - 1):
                    break
                count, ids = await _ids(client, token, f"{query}&page={page}")
                assert count == len(expected), (search, status)
                assert ids == [r.id for r in expected[10 * (page - 1):10 * page]], (
                    search, status, page)
