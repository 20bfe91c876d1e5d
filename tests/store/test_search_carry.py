"""A search's kept total outlives writes that cannot change it (store/versions.py's change
log): a keyword added, changed or deleted without every search word keeps the kept totals
and ids of that search; one with them, an unknown change (a text edit, an import, a
cascade) or another process's write that touches them makes it count again. Every answer
equals the store's truth either way."""

from __future__ import annotations

import datetime as dt
from typing import Any

from igny8d import scheduler
from igny8d.store import versions
from igny8d.store.keywords import BULK_FAST_MIN, KeywordLoad, insert_keywords
from igny8d.store.writes import now
from tests.helpers.app import make_settings, start_app, stop_app
from tests.helpers.client import Client
from tests.helpers.factories import add_keywords, two_sector_owner, upload
from tests.helpers.paths import CLUSTERS, KEYWORDS

SEARCHES = {"shoes": "?search=shoes&ordering=-volume",
            "active boots": "?search=boots&status=active&ordering=-volume",
            "red shoes": "?search=red%20shoes&ordering=-volume"}


async def _names(client: Client, token: str, query: str) -> list[str]:
    resp = await client.get(f"{KEYWORDS}{query}&page_size=2", token=token)
    assert resp.status == 200, resp.json
    names = [r["keyword"] for r in resp.json["results"]]
    if resp.json["count"] > 2:
        more = await client.get(f"{KEYWORDS}{query}&page_size=2&page=2", token=token)
        assert more.status == 200, more.json
        names += [r["keyword"] for r in more.json["results"]]
    assert resp.json["count"] == len(names)
    return names


async def _all(client: Client, token: str) -> dict[str, list[str]]:
    return {name: await _names(client, token, q) for name, q in SEARCHES.items()}


async def test_a_search_counts_again_only_when_a_write_may_change_it(app, client, tmp_path,
                                                                     db_url):
    t = await two_sector_owner(client, "carry@example.com")
    token = t["token"]
    t = {**t, "sector": {"id": t["sector"], "site_id": t["site"]}}
    ids = dict(zip(["red shoes", "blue shoes", "green boots"], await add_keywords(
        client, t, [("red shoes", 30), ("blue shoes", 20), ("green boots", 10)]),
        strict=True))
    counts = app.ctx.counts
    seen = await _all(client, token)
    assert seen == {"shoes": ["red shoes", "blue shoes"], "active boots": ["green boots"],
                    "red shoes": ["red shoes"]}

    async def after(write: Any, carried: int) -> dict[str, list[str]]:
        await write
        before = counts.carried
        got = await _all(client, token)
        assert counts.carried - before == carried, got
        return got

    # a keyword without any search's words: every kept search carried
    seen = await after(add_keywords(client, t, [("yellow hat", 5)]), 3)
    # one with "shoes" (not "red"): that search counts again, the other two are carried
    seen = await after(add_keywords(client, t, [("Black SHOES", 40)]), 2)
    assert seen["shoes"] == ["Black SHOES", "red shoes", "blue shoes"]
    # a status change of a boots keyword (its text unchanged): only that search counts
    seen = await after(client.patch(f"{KEYWORDS}{ids['green boots']}/",
                                    {"status": "archived"}, token=token), 2)
    assert seen["active boots"] == []
    # a text edit: what it was is not known, every search counts again
    seen = await after(client.patch(f"{KEYWORDS}{ids['blue shoes']}/",
                                    {"keyword": "blue boots"}, token=token), 0)
    assert seen["shoes"] == ["Black SHOES", "red shoes"]
    assert seen["active boots"] == ["blue boots"]
    # deleting a shoes keyword: the shoes searches count again, the boots one is carried
    resp = await client.delete(f"{KEYWORDS}{ids['red shoes']}/", token=token)
    assert resp.status == 204
    seen = await after(client.get(f"{KEYWORDS}?page_size=1", token=token), 1)
    assert seen == {"shoes": ["Black SHOES"], "active boots": ["blue boots"], "red shoes": []}
    # a small import logs its rows' texts as any insert does (a large one: not known)
    resp = await upload(client, token, {"id": t["site"]}, t["sector"],
                        b"keyword,volume\nwhite shoes,1\n")
    assert resp.status == 200, resp.json
    seen = await after(client.get(f"{KEYWORDS}?page_size=1", token=token), 2)
    assert seen["shoes"] == ["Black SHOES", "white shoes"]
    # a cluster's delete sets its keywords' cluster (a cascade, not logged): counts again
    cluster = (await client.post(CLUSTERS, {"name": "C", "site_id": t["site"],
                                            "sector_id": t["sector"]["id"]}, token=token)).data
    await after(client.delete(f"{CLUSTERS}{cluster['id']}/", token=token), 0)

    # another process's write, seen through the shared log
    other = await start_app(make_settings(tmp_path / "b", db_url))
    there = other.client()
    try:
        await add_keywords(there, t, [("grey hat", 2)])
        seen = await after(client.get(f"{KEYWORDS}?page_size=1", token=token), 3)
        await add_keywords(there, t, [("red shoes", 3)])
        seen = await after(client.get(f"{KEYWORDS}?page_size=1", token=token), 1)
        assert seen == {"shoes": ["Black SHOES", "red shoes", "white shoes"],
                        "active boots": ["blue boots"], "red shoes": ["red shoes"]}
    finally:
        there.close()
        await stop_app(other)


def test_affects_errs_on_yes() -> None:
    texts = ["Running Shoes\nrunning shoes", "café crème\ncafé crème"]
    assert versions.affects(["shoes"], texts)
    assert versions.affects(["RUN", "hoe"], texts)
    assert not versions.affects(["shoes", "red"], texts)
    assert versions.affects(["cafe"], texts)  # accents folded away: wider than the store
    assert versions.affects(["crème"], ["nothing alike"])  # not plain ASCII: left to the store
    assert not versions.affects(["boots"], [])
    assert versions.affects([], ["anything"])  # no words: every change counts


async def test_a_gap_or_an_unknown_change_is_a_miss(app, client):
    t = await two_sector_owner(client, "gaps@example.com")
    t = {**t, "sector": {"id": t["sector"], "site_id": t["site"]}}
    await add_keywords(client, t, [("one shoe", 1), ("two shoes", 2)])
    account = t["account"]

    def changes(since: int, upto: int) -> Any:
        async def run() -> Any:
            return await app.ctx.store.read_now(versions.changes, account, "keywords",
                                                since, upto)
        return run()

    async with app.ctx.store.read() as conn:
        (top,) = await conn.run_sync(versions.read, account, "keywords", None)
    assert await changes(top - 2, top) == ["one shoe\none shoe", "two shoes\ntwo shoes"]
    assert await changes(top - 1, top + 1) is None  # a version not logged (yet)
    assert await changes(top, top) is None
    assert await changes(0, versions.CHANGES_MAX + 1) is None


async def test_a_bulk_load_and_the_purge_leave_misses(app, client):
    """A large import logs its change as not known; a purged log is a gap: both count
    again, never a stale total."""
    t = await two_sector_owner(client, "bulk@example.com")
    account = t["account"]
    rows = [KeywordLoad(f"kw {i}", f"kw {i}", i, 0, None, "active")
            for i in range(BULK_FAST_MIN)]
    async with app.ctx.store.begin() as conn:
        await insert_keywords(conn, account_id=account, site_id=t["site"],
                              sector_id=t["sector"], rows=rows)
    async with app.ctx.store.read() as conn:
        (top,) = await conn.run_sync(versions.read, account, "keywords", None)
    assert await app.ctx.store.read_now(versions.changes, account, "keywords",
                                        top - 1, top) is None
    async with app.ctx.store.begin() as conn:  # a small load: one INSERT, its texts logged
        await insert_keywords(conn, account_id=account, site_id=t["site"],
                              sector_id=t["sector"],
                              rows=[KeywordLoad("One More", "one more", 1, 0, None, "active")])
    assert await app.ctx.store.read_now(versions.changes, account, "keywords",
                                        top, top + 1) == ["One More\none more"]
    assert await scheduler.purge_list_changes(app.ctx) == 0  # all younger than kept
    async with app.ctx.store.begin() as conn:
        await versions.purge_changes(conn, before=now() + dt.timedelta(seconds=1))
    assert await app.ctx.store.read_now(versions.changes, account, "keywords",
                                        top, top + 1) is None
