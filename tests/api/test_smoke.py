"""A first walk through the auth flow on both stores."""

from __future__ import annotations


async def test_register_login_me(client):
    resp = await client.register("ann@example.com")
    assert resp.data["user"]["role"] == "owner"
    assert resp.json["message"] == "Registration successful"
    tokens = await client.login("ann@example.com")
    me = await client.get("/api/v1/auth/me/", token=tokens["access"])
    assert me.status == 200
    assert me.data["user"]["email"] == "ann@example.com"
    assert me.data["user"]["accessible_sites"] == []
    site = await client.site(tokens["access"])
    sector = await client.sector(tokens["access"], site["id"])
    assert sector["site_id"] == site["id"]
    lst = await client.get("/api/v1/auth/sites/", token=tokens["access"])
    assert lst.json["count"] == 1
    assert lst.json["results"][0]["sectors_count"] == 1
