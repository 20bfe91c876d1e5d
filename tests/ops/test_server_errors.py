"""Unexpected failures: 500 in the envelope, no internals to the client, traceback in the log."""

from __future__ import annotations

import logging

from igny8d.store import sites as site_store
from tests.helpers.app import make_settings, start_app, stop_app


async def _boom(*_args, **_kwargs):
    raise RuntimeError("secret internals: password=hunter2")


async def test_unexpected_error_is_a_clean_500(client, monkeypatch, caplog):
    token = await client.owner("ann@example.com")
    monkeypatch.setattr(site_store, "accessible_sites", _boom)
    with caplog.at_level(logging.ERROR, logger="igny8d"):
        resp = await client.get("/api/v1/auth/me/", token=token)
    assert resp.status == 500
    assert resp.json == {"success": False, "error": "Internal server error",
                         "request_id": resp.headers["X-Request-ID"]}
    assert b"hunter2" not in resp.body
    logged = [r for r in caplog.records if r.exc_info]
    assert logged and logged[0].request_id == resp.headers["X-Request-ID"]


async def test_debug_mode_adds_the_traceback(tmp_path, db_url, monkeypatch):
    app = await start_app(make_settings(tmp_path, db_url, debug=True))
    client = app.client()
    try:
        token = await client.owner("ann@example.com")
        monkeypatch.setattr(site_store, "accessible_sites", _boom)
        resp = await client.get("/api/v1/auth/me/?token=s3cret&x=1", token=token)
        assert resp.status == 500
        assert any("RuntimeError" in line for line in resp.json["traceback"])
        context = resp.json["request"]
        assert context["method"] == "GET"
        assert context["path"] == "/api/v1/auth/me/?token=***&x=1"
        assert context["user_id"] is not None and context["account_id"] is not None
    finally:
        client.close()
        await stop_app(app)


async def test_status_is_503_when_the_database_is_down(tmp_path):
    settings = make_settings(tmp_path, "postgresql+asyncpg://postgres@127.0.0.1:1/nowhere")
    app = await start_app(settings)
    client = app.client()
    try:
        resp = await client.get("/api/v1/system/status/")
        assert resp.status == 503
        assert resp.errors == {"database": ["The database is not reachable."]}
        ping = await client.get("/api/v1/system/ping/")  # liveness does not need the store
        assert ping.status == 200
    finally:
        client.close()
        await stop_app(app)


async def test_production_500_carries_no_request_context(client, monkeypatch):
    token = await client.owner("cy@example.com")
    monkeypatch.setattr(site_store, "accessible_sites", _boom)
    resp = await client.get("/api/v1/auth/me/", token=token)
    assert resp.status == 500
    assert "request" not in resp.json and "traceback" not in resp.json
