"""List totals are cached per account data version: repeated pages do not re-count, and
every kind of write (create, update, delete, cascades, bulk, select_sectors) shows at once."""

from __future__ import annotations

from tests.helpers.paths import SECTORS as SEC
from tests.helpers.paths import SITES as S


async def _count(client, token, query=""):
    resp = await client.get(f"{SEC}{query}", token=token)
    assert resp.status == 200, resp.json
    return resp.json["count"]


async def test_repeated_pages_hit_the_cache(app, client):
    token = await client.owner("cc@example.com")
    site = await client.site(token)
    for i in range(3):
        await client.sector(token, site["id"], f"S{i}")
    assert await _count(client, token) == 3
    hits = app.ctx.counts.hits
    for _ in range(5):
        assert await _count(client, token) == 3
    assert app.ctx.counts.hits - hits == 5


async def test_every_write_invalidates(client):
    token = await client.owner("inv@example.com")
    site = await client.site(token)
    other = await client.site(token, "Other")
    ids = [(await client.sector(token, site["id"], f"S{i}"))["id"] for i in range(4)]
    await client.sector(token, other["id"], "X")
    assert await _count(client, token) == 5
    assert await _count(client, token, "?is_active=true") == 5
    # an update that changes a filtered column
    await client.patch(f"{SEC}{ids[0]}/", {"is_active": False}, token=token)
    assert await _count(client, token, "?is_active=true") == 4
    # select_sectors (raw update in the store)
    await client.post(f"{S}{site['id']}/select_sectors/", {"sector_ids": [ids[1]]}, token=token)
    assert await _count(client, token, "?is_active=true") == 2
    # delete, bulk delete
    assert (await client.delete(f"{SEC}{ids[1]}/", token=token)).status == 204
    assert await _count(client, token) == 4
    await client.post(f"{SEC}bulk_delete/", {"ids": [ids[2]]}, token=token)
    assert await _count(client, token) == 3
    # a cascade: deleting the site takes its sectors
    assert (await client.delete(f"{S}{site['id']}/", token=token)).status == 204
    assert await _count(client, token) == 1


async def test_accounts_do_not_share_totals(client):
    a = await client.owner("ca@example.com")
    b = await client.owner("cb@example.com")
    site_a = await client.site(a)
    await client.sector(a, site_a["id"])
    assert await _count(client, a) == 1
    assert await _count(client, b) == 0
