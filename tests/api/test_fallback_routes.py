"""Item 4 of issue 16: `/` leads to the docs, a path without its trailing slash is sent to
the slashed one (GET/HEAD) or named in the 404 (other methods); unknown paths stay 404."""

from __future__ import annotations

import pytest

SITES = "/api/v1/auth/sites/"


async def test_root_leads_a_browser_to_the_docs(client):
    resp = await client.get("/")
    assert resp.status == 302
    assert resp.headers["Location"] == "/api/docs/"
    assert resp.headers["X-Request-ID"]
    page = await client.get(resp.headers["Location"])
    assert page.status == 200 and b"swagger-ui" in page.body


@pytest.mark.parametrize(("typed", "slashed"), [
    ("/api/v1/system/ping", "/api/v1/system/ping/"),
    ("/api/docs", "/api/docs/"),
    ("/api/redoc", "/api/redoc/"),
    ("/api/v1/auth/sites/12", "/api/v1/auth/sites/12/"),  # a pattern route
    ("/api/v1/planner/keywords/auto_cluster", "/api/v1/planner/keywords/auto_cluster/"),
])
@pytest.mark.parametrize("method", ["GET", "HEAD"])
async def test_missing_slash_is_a_permanent_redirect(client, typed, slashed, method):
    resp = await client.request(method, typed)
    assert resp.status == 301, resp.body
    assert resp.headers["Location"] == slashed
    assert resp.body == b""


async def test_redirect_keeps_the_query_string(client):
    resp = await client.get("/api/v1/auth/sites?page=1&page_size=5")
    assert resp.status == 301
    assert resp.headers["Location"] == "/api/v1/auth/sites/?page=1&page_size=5"
    token = await client.owner("slash@example.com")
    followed = await client.get(resp.headers["Location"], token=token)
    assert followed.status == 200  # the redirect leads to the real, working path


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
async def test_other_methods_get_a_404_naming_the_slashed_path(client, method):
    resp = await client.request(method, "/api/v1/auth/sites", json_body={"name": "x"})
    assert resp.status == 404
    assert resp.json["success"] is False
    assert "/api/v1/auth/sites/" in resp.json["error"]
    assert resp.json["request_id"] == resp.headers["X-Request-ID"]
    assert "Location" not in resp.headers


@pytest.mark.parametrize("path", ["/api/v1/nope", "/api/v1/system/pingg", "/nope.txt",
                                  "/api/v1/auth/sites/1/nope"])
async def test_unknown_paths_stay_a_404_in_the_envelope(client, path):
    for method in ("GET", "POST"):
        resp = await client.request(method, path)
        assert resp.status == 404, (method, path)
        assert resp.json["success"] is False
        assert resp.json["error"].startswith("Not found")
        assert "did you mean" not in resp.json["error"]
        assert "Location" not in resp.headers
