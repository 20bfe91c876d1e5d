"""Two igny8d processes on one Redis share their rate limits (the multi-process promise)."""

from __future__ import annotations

import uuid

import pytest

from tests.helpers.app import make_settings, redis_url_or_skip, start_app, stop_app


@pytest.fixture
def redis_url() -> str:
    return redis_url_or_skip()


@pytest.mark.redis
async def test_login_budget_is_shared_across_apps(tmp_path, db_url, redis_url):
    prefix = f"t{uuid.uuid4().hex[:12]}"
    apps = [
        await start_app(make_settings(
            tmp_path / name, db_url, debug_throttle=False, ratelimit_storage=redis_url,
            ratelimit_prefix=prefix,
        ))
        for name in ("a", "b")
    ]
    clients = [a.client() for a in apps]
    try:
        body = {"email": "nobody@example.com", "password": "wrong-password"}
        statuses = []
        for i in range(20):  # the auth scope allows 20 a minute, whichever process answers
            resp = await clients[i % 2].post("/api/v1/auth/login/", body)
            statuses.append(resp.status)
            assert resp.headers["X-Throttle-Limit"] == "20"
            assert resp.headers["X-Throttle-Remaining"] == str(19 - i)
        assert set(statuses) == {401}
        for c in clients:
            resp = await c.post("/api/v1/auth/login/", body)
            assert resp.status == 429
            assert resp.error == "Rate limit exceeded"
            assert int(resp.headers["Retry-After"]) >= 1
            assert resp.headers["X-Throttle-Remaining"] == "0"
    finally:
        for c in clients:
            c.close()
        await apps[0].ctx.limiter.reset()
        for a in apps:
            await stop_app(a)
