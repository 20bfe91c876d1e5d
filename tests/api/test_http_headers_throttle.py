"""Security headers, CORS, throttling and the system endpoints (every test on both stores)."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import pytest

from igny8d import __version__
from tests.helpers.app import make_settings, start_app, stop_app
from tests.helpers.client import PASSWORD
from tests.helpers.paths import LOGIN, REGISTER, SITES

# -- security headers and CORS -------------------------------------------------------------------


async def test_security_headers(client):
    for method, path in (("GET", "/api/v1/system/ping/"), ("GET", "/api/v1/nope/"),
                         ("GET", SITES), ("DELETE", REGISTER), ("GET", "/api/schema/"),
                         ("GET", "/api/docs/"), ("OPTIONS", SITES),
                         ("GET", "/api/docs/assets/swagger-ui-dist/swagger-ui.css")):
        resp = await client.request(method, path)
        assert resp.headers["X-Content-Type-Options"] == "nosniff", path
        server = resp.headers.get("Server", "")
        assert server == "igny8d", (path, server)  # no product version


async def test_no_cors_by_default(client):
    origin = {"Origin": "https://evil.example"}
    resp = await client.get("/api/v1/system/ping/", headers=origin)
    assert resp.status == 200
    assert "Access-Control-Allow-Origin" not in resp.headers
    pre = await client.request("OPTIONS", SITES, headers={
        **origin, "Access-Control-Request-Method": "POST"})
    assert pre.status == 204
    assert "Access-Control-Allow-Origin" not in pre.headers
    assert "Access-Control-Allow-Methods" not in pre.headers


async def test_cors_with_configured_origin(tmp_path: Path, db_url: str):
    running = await start_app(make_settings(tmp_path, db_url,
                                            cors_origins=("https://app.example",)))
    c = running.client()
    try:
        pre = await c.request("OPTIONS", SITES, headers={
            "Origin": "https://app.example", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type"})
        assert pre.status == 204
        assert pre.headers["Access-Control-Allow-Origin"] == "https://app.example"
        methods = {m.strip() for m in pre.headers["Access-Control-Allow-Methods"].split(",")}
        assert {"GET", "POST"} <= methods
        allowed = pre.headers["Access-Control-Allow-Headers"].lower()
        assert "authorization" in allowed and "content-type" in allowed
        assert "Origin" in pre.headers.get("Vary", "")
        # Actual requests (success and error) carry the header so the browser can read them.
        for path in ("/api/v1/system/ping/", SITES):
            resp = await c.get(path, headers={"Origin": "https://app.example"})
            assert resp.headers["Access-Control-Allow-Origin"] == "https://app.example"
            assert "X-Request-ID" in resp.headers["Access-Control-Expose-Headers"]
        # Another origin gets nothing.
        other = await c.request("OPTIONS", SITES, headers={
            "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
        assert "Access-Control-Allow-Origin" not in other.headers
        assert "Access-Control-Allow-Methods" not in other.headers
    finally:
        c.close()
        await stop_app(running)


# -- throttling ----------------------------------------------------------------------------------


def assert_throttle_headers(resp: Any, limit: int) -> None:
    assert resp.headers["X-Throttle-Limit"] == str(limit)
    remaining = int(resp.headers["X-Throttle-Remaining"])
    assert 0 <= remaining <= limit
    reset = int(resp.headers["X-Throttle-Reset"])
    assert time.time() - 1 <= reset <= time.time() + 61


async def test_throttle_headers_on_throttled_endpoints(throttled_app):
    c = throttled_app.client()
    try:
        first = await c.get("/api/v1/auth/plans/")
        second = await c.get("/api/v1/auth/plans/")
        assert_throttle_headers(first, 100)
        assert int(second.headers["X-Throttle-Remaining"]) == \
            int(first.headers["X-Throttle-Remaining"]) - 1
        resp = await c.get(SITES)  # a 401 still reports the budget
        assert resp.status == 401
        assert_throttle_headers(resp, 100)
        resp = await c.post(LOGIN, {"email": "a@example.com", "password": "x"})
        assert_throttle_headers(resp, 20)
    finally:
        c.close()


async def test_login_auth_scope_21st_is_429(throttled_app):
    c = throttled_app.client()
    try:
        creds = {"email": "nobody@example.com", "password": "wrong-password"}
        for i in range(20):
            resp = await c.post(LOGIN, creds)
            assert resp.status == 401, (i, resp.json)
            assert resp.headers["X-Throttle-Remaining"] == str(19 - i)
        resp = await c.post(LOGIN, creds)
        assert resp.status == 429
        assert resp.error == "Rate limit exceeded"
        assert 1 <= int(resp.headers["Retry-After"]) <= 60
        assert resp.headers["X-Throttle-Limit"] == "20"
        assert resp.headers["X-Throttle-Remaining"] == "0"
        assert int(resp.headers["X-Throttle-Reset"]) >= int(time.time())
        # The scope is shared by register and refresh, not by other scopes.
        resp = await c.post(REGISTER, {"email": "b@example.com"})
        assert resp.status == 429
        resp = await c.get("/api/v1/system/ping/")
        assert resp.status == 200
    finally:
        c.close()


async def test_throttle_keyed_by_user(throttled_app):
    c = throttled_app.client()
    try:
        ann = await c.owner("ann@example.com")
        bob = await c.owner("bob@example.com")
        body = {"old_password": "not-my-password", "new_password": "new-password-1",
                "new_password_confirm": "new-password-1"}
        path = "/api/v1/auth/change-password/"
        for _ in range(5):  # auth_strict: 5/min
            resp = await c.post(path, body, token=ann)
            assert resp.status == 400, resp.json
        resp = await c.post(path, body, token=ann)
        assert resp.status == 429
        assert resp.headers["X-Throttle-Limit"] == "5"
        resp = await c.post(path, body, token=bob)
        assert resp.status == 400
        assert resp.headers["X-Throttle-Remaining"] == "4"
        # Ann's default-scope budget is her own too.
        for _ in range(3):
            me = await c.get("/api/v1/auth/me/", token=ann)
        assert me.headers["X-Throttle-Remaining"] == "97"
        me = await c.get("/api/v1/auth/me/", token=bob)
        assert me.headers["X-Throttle-Remaining"] == "99"
    finally:
        c.close()


async def test_debug_throttle_bypass(client):
    creds = {"email": "nobody@example.com", "password": "wrong-password"}
    for _ in range(30):
        resp = await client.post(LOGIN, creds)
        assert resp.status == 401
        assert "X-Throttle-Limit" not in resp.headers


# -- system endpoints ----------------------------------------------------------------------------


async def test_ping(client):
    resp = await client.get("/api/v1/system/ping/")
    assert resp.status == 200
    assert resp.json["success"] is True
    assert resp.data == {"status": "ok"}
    assert set(resp.json) == {"success", "data", "request_id"}


async def test_status(client, db_url):
    resp = await client.get("/api/v1/system/status/")
    assert resp.status == 200
    data = resp.data
    assert data["status"] == "ok"
    assert data["version"] == __version__
    assert data["database"]["reachable"] is True
    assert data["database"]["dialect"] == ("sqlite" if db_url.startswith("sqlite")
                                           else "postgresql")
    assert isinstance(data["uptime_seconds"], (int, float))
    assert data["uptime_seconds"] >= 0
    assert data["time"].endswith("Z")
    first = data["uptime_seconds"]
    await asyncio.sleep(0.05)
    again = await client.get("/api/v1/system/status/")
    assert again.data["uptime_seconds"] > first


async def test_each_endpoint_counts_in_its_scope(throttled_app):
    """DESIGN.md's scope table, read back from X-Throttle-Limit of one request each."""
    c = throttled_app.client()
    try:
        token = await c.owner("scopes@example.com")
        pair = await c.login("scopes@example.com")
        cases = [
            ("POST", "/api/v1/auth/register/", {}, None, "20"),          # auth
            ("POST", "/api/v1/auth/login/", {}, None, "20"),             # auth
            ("POST", "/api/v1/auth/refresh/", {}, None, "20"),           # auth
            ("POST", "/api/v1/auth/change-password/", {}, token, "5"),   # auth_strict
            ("GET", "/api/v1/auth/me/", None, token, "100"),             # default
            ("GET", "/api/v1/auth/sites/", None, token, "100"),          # default
            ("GET", "/api/v1/auth/plans/", None, None, "100"),           # default
            ("GET", f"/api/v1/system/request-metrics/{pair['access'][:8]}/", None, token,
             "100"),                                                      # system
            ("GET", "/api/v1/planner/keywords/", None, token, "60"),     # planner
            ("GET", "/api/v1/planner/clusters/", None, token, "60"),     # planner
            ("GET", "/api/v1/planner/ideas/", None, token, "60"),        # planner
            ("POST", "/api/v1/planner/keywords/auto_cluster/", {}, token, "10"),  # planner_ai
            ("GET", "/api/v1/writer/tasks/", None, token, "60"),         # writer
            ("GET", "/api/v1/writer/content/", None, token, "60"),       # writer
            ("GET", "/api/v1/writer/images/", None, token, "60"),        # writer
            ("GET", "/api/v1/billing/credits/balance/balance/", None, token, "30"),  # billing
            ("GET", "/api/v1/billing/credits/transactions/", None, token, "30"),  # billing
        ]
        for method, path, body, tok, limit in cases:
            resp = await c.request(method, path, json_body=body, token=tok)
            assert resp.headers["X-Throttle-Limit"] == limit, (path, resp.status)
        for path in ("/api/v1/system/ping/", "/api/v1/system/status/"):  # not throttled
            resp = await c.get(path)
            assert "X-Throttle-Limit" not in resp.headers, path
    finally:
        c.close()


async def test_health_checks_are_not_throttled(throttled_app):
    """A load balancer polling from one address never sees a 429 (the default is 100/min)."""
    c = throttled_app.client()
    try:
        for path in ("/api/v1/system/ping/", "/api/v1/system/status/"):
            statuses = [(await c.get(path)).status for _ in range(150)]
            assert statuses == [200] * 150, (path, sorted(set(statuses)))
        # ... and polling spends nothing of the address's budget for the real endpoints.
        resp = await c.get("/api/v1/auth/plans/")
        assert resp.headers["X-Throttle-Remaining"] == "99"
    finally:
        c.close()


# -- client address: X-Forwarded-For only from trusted proxies --------------------------------


async def _login_statuses(c: Any, forwarded: list[str], header: str = "X-Forwarded-For",
                          ) -> list[int]:
    creds = {"email": "nobody@example.com", "password": "wrong-password"}
    return [(await c.post(LOGIN, creds, headers={header: xff})).status for xff in forwarded]


async def test_spoofed_forwarded_for_does_not_dodge_the_throttle(throttled_app):
    """No trusted proxy configured: X-Forwarded-For is the client's own claim, ignored."""
    c = throttled_app.client()
    try:
        statuses = await _login_statuses(c, [f"203.0.113.{i}" for i in range(21)])
        assert statuses == [401] * 20 + [429]
    finally:
        c.close()


async def test_trusted_proxy_forwarded_for_keys_the_throttle(
    tmp_path: Path, db_url: str, caplog: pytest.LogCaptureFixture,
):
    running = await start_app(make_settings(tmp_path, db_url, debug_throttle=False,
                                            trusted_proxies=("127.0.0.1",)))
    c = running.client()
    caplog.set_level(logging.INFO, logger="igny8d.access")
    try:
        # Each client behind the proxy has its own budget ...
        assert await _login_statuses(c, [f"203.0.113.{i}" for i in range(21)]) == [401] * 21
        logged = [getattr(r, "remote_ip", None) for r in caplog.records
                  if r.name == "igny8d.access"]
        assert logged[:3] == ["203.0.113.0", "203.0.113.1", "203.0.113.2"]  # the access log
        # ... and entries left of the proxy's own are the client's claims: not believed.
        spoofed = [f"10.9.9.{i}, 198.51.100.7" for i in range(21)]
        assert await _login_statuses(c, spoofed) == [401] * 20 + [429]
        # X-Real-Ip (which Tornado's xheaders would prefer) is not ours to believe.
        real_ip = [f"192.0.2.{i}" for i in range(21)]
        statuses = await _login_statuses(c, real_ip, header="X-Real-Ip")
        assert statuses == [401] * 20 + [429]  # all the proxy's own (127.0.0.1)
    finally:
        c.close()
        await stop_app(running)


async def test_forwarded_for_from_an_untrusted_peer_is_ignored(tmp_path: Path, db_url: str):
    """Proxies are configured (so Tornado parses X-Forwarded-For), but this client is none."""
    running = await start_app(make_settings(tmp_path, db_url, debug_throttle=False,
                                            trusted_proxies=("10.0.0.0/8",)))
    c = running.client()
    try:
        statuses = await _login_statuses(c, [f"203.0.113.{i}" for i in range(21)])
        assert statuses == [401] * 20 + [429]
    finally:
        c.close()
        await stop_app(running)


async def test_forwarded_scheme_only_from_a_trusted_proxy(tmp_path: Path, db_url: str):
    """Tornado's xheaders believe X-Forwarded-Proto from anyone; a client past the proxy
    must not pick its session cookie's `secure` flag (nor its links' scheme)."""
    for n, (trusted, secure) in enumerate(((("10.0.0.0/8",), False), (("127.0.0.1",), True))):
        running = await start_app(make_settings(tmp_path / str(n), db_url,
                                                trusted_proxies=trusted))
        c = running.client()
        try:
            email = f"scheme{n}@example.com"
            await c.register(email)
            resp = await c.post(LOGIN, {"email": email, "password": PASSWORD,
                                        "session": True},
                                headers={"X-Forwarded-Proto": "https"})
            assert resp.status == 200, resp.json
            cookie = resp.headers["Set-Cookie"]
            assert ("; Secure" in cookie) is secure, cookie
        finally:
            c.close()
            await stop_app(running)
