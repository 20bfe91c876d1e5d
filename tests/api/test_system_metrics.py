"""GET /api/v1/system/request-metrics/{request_id}/: a recent request of your own account."""

from __future__ import annotations

import datetime as dt
import uuid

METRICS = "/api/v1/system/request-metrics/{}/"


async def test_own_request_is_found_with_its_timing(client):
    token = await client.owner("ann@example.com")
    me = await client.get("/api/v1/auth/me/", token=token)
    rid = me.headers["X-Request-ID"]
    resp = await client.get(METRICS.format(rid), token=token)
    assert resp.status == 200
    data = resp.data
    assert data["request_id"] == rid
    assert (data["method"], data["path"], data["status"]) == ("GET", "/api/v1/auth/me/", 200)
    assert data["user_id"] == me.data["user"]["id"]
    assert data["account_id"] == me.data["user"]["account_id"]
    assert data["duration_ms"] >= 0
    at = dt.datetime.fromisoformat(data["at"].replace("Z", "+00:00"))
    assert abs((dt.datetime.now(dt.UTC) - at).total_seconds()) < 60


async def test_other_accounts_and_unknown_requests_are_404(client):
    a = await client.owner("ann@example.com")
    b = await client.owner("bob@example.com")
    rid = (await client.get("/api/v1/auth/me/", token=a)).headers["X-Request-ID"]
    for token, path in ((b, METRICS.format(rid)), (a, METRICS.format(uuid.uuid4())),
                        (a, METRICS.format("not-a-uuid"))):
        resp = await client.get(path, token=token)
        assert resp.status == 404
        assert resp.error == "Request not found."


async def test_needs_authentication(client):
    resp = await client.get(METRICS.format(uuid.uuid4()))
    assert resp.status == 401
