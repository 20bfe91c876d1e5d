"""Bulk actions of the resource layer, through sectors' bulk_delete."""

from __future__ import annotations

from tests.helpers.paths import SECTORS

BULK = "/api/v1/auth/sectors/bulk_delete/"


async def _sectors(client, token, site_id, n):
    return [(await client.sector(token, site_id, f"Sector {i}"))["id"] for i in range(n)]


async def test_bulk_delete_own_sectors(client):
    token = await client.owner("ann@example.com")
    site = await client.site(token)
    ids = await _sectors(client, token, site["id"], 4)
    resp = await client.post(BULK, {"ids": ids[:3]}, token=token)
    assert resp.status == 200
    assert resp.data == {"deleted_count": 3}
    left = await client.get(SECTORS, token=token)
    assert [r["id"] for r in left.json["results"]] == [ids[3]]


async def test_one_foreign_id_refuses_the_whole_request(client):
    a = await client.owner("ann@example.com")
    b = await client.owner("bob@example.com")
    mine = await _sectors(client, a, (await client.site(a))["id"], 2)
    theirs = await _sectors(client, b, (await client.site(b))["id"], 1)
    resp = await client.post(BULK, {"ids": [*mine, *theirs]}, token=a)
    assert resp.status == 404
    assert resp.errors["ids"] == [f"Not found: {theirs[0]}."]
    assert (await client.get(SECTORS, token=a)).json["count"] == 2  # nothing deleted
    assert (await client.get(SECTORS, token=b)).json["count"] == 1


async def test_bulk_delete_validation_and_roles(client):
    owner = await client.owner("ann@example.com")
    site = await client.site(owner)
    ids = await _sectors(client, owner, site["id"], 1)
    for body in ({"ids": []}, {"ids": "1"}, {"ids": ["x"]}, {}, {"ids": [1], "extra": 1}):
        resp = await client.post(BULK, body, token=owner)
        assert resp.status == 400, body
    viewer = await client.member(owner, "vic@example.com", "viewer")
    assert (await client.post(BULK, {"ids": ids}, token=viewer)).status == 403
    assert (await client.post(BULK, {"ids": ids})).status == 401
    editor = await client.member(owner, "eve@example.com", "editor")
    assert (await client.post(BULK, {"ids": ids}, token=editor)).status == 200


async def test_bulk_delete_respects_site_grants(client):
    owner = await client.owner("ann@example.com")
    s1 = await client.site(owner, "One")
    s2 = await client.site(owner, "Two")
    granted = await _sectors(client, owner, s1["id"], 1)
    hidden = await _sectors(client, owner, s2["id"], 1)
    editor = await client.member(owner, "eve@example.com", "editor", site_ids=[s1["id"]])
    resp = await client.post(BULK, {"ids": [*granted, *hidden]}, token=editor)
    assert resp.status == 404
    assert (await client.post(BULK, {"ids": granted}, token=editor)).status == 200
