"""Integration settings through HTTP on both stores: defaults, save/PUT merges, the key sealed
at rest and masked on every read (never in a response or a log record), strict bodies, roles
(admins and owners only; the image settings' view for everyone), isolation, a key sealed under
another server secret (readable errors, never a 500), the account's ProviderConfig, and the
test and generate actions against the fake OpenAI server (tests/helpers/fake_openai.py) and a small
in-test fake of Runware's API."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import tornado.web
from PIL import Image
from sqlalchemy import select, update
from tornado.httpserver import HTTPServer
from tornado.testing import bind_unused_port

from igny8d.ai.types import ProviderConfig
from igny8d.errors import ValidationFailed
from igny8d.log import JsonFormatter
from igny8d.services import integrations
from igny8d.store.schema import integration_settings
from tests.helpers.app import make_settings, start_app, stop_app
from tests.helpers.factories import owner_and_account
from tests.helpers.fake_openai import FakeOpenAI
from tests.helpers.paths import BALANCE as BAL

INT = "/api/v1/system/settings/integrations/"
IMAGES = "/api/v1/system/integrations/image_generation/"
KEY = "sk-test-0123456789abcdefSECRET"
GOOD = "sk-good-aaaaaaaaaaaaaaaa1234"
BAD = "sk-bad-0000000000000000000BAD"
RUNWARE_KEY = "rw-key-9876543210fedcbaZZZZ"



# -- fakes ----------------------------------------------------------------------------------------


class _Fake:
    """Requests a fake server saw (headers and bodies), for asserting what was sent."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self.base_url = ""


class _RunwareHandler(tornado.web.RequestHandler):
    def initialize(self, fake: _Fake) -> None:
        self.fake = fake

    def post(self) -> None:
        tasks = json.loads(self.request.body)
        self.fake.seen.append({"tasks": tasks})
        if tasks[0].get("apiKey") == RUNWARE_KEY:
            self.finish({"data": [{"taskType": "authentication",
                                   "connectionSessionUUID": "8a1c7e"}]})
        else:
            self.set_status(401)
            self.finish({"errors": [{"code": "invalidApiKey",
                                     "message": "Invalid API key. Get one at runware.ai.",
                                     "taskType": "authentication"}]})


async def _serve(app: tornado.web.Application) -> tuple[HTTPServer, int]:
    sock, port = bind_unused_port()
    server = HTTPServer(app)
    server.add_sockets([sock])
    return server, port


@pytest.fixture
async def fake_openai() -> AsyncIterator[FakeOpenAI]:
    """The shared fake OpenAI-compatible server, accepting only GOOD."""
    async with FakeOpenAI(api_key=GOOD) as fake:
        yield fake


@pytest.fixture
async def fake_runware() -> AsyncIterator[_Fake]:
    fake = _Fake()
    server, port = await _serve(tornado.web.Application([(r"/v1", _RunwareHandler,
                                                          {"fake": fake})]))
    fake.base_url = f"http://127.0.0.1:{port}/v1"
    yield fake
    server.stop()
    await server.close_all_connections()


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    """Every record igny8d and Tornado log meanwhile, as the JSON log would write it."""
    lines: list[str] = []
    formatter = JsonFormatter()

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(formatter.format(record))
            lines.append(repr(record.__dict__))

    handler = Capture(level=logging.DEBUG)
    loggers = [logging.getLogger(n) for n in ("igny8d", "tornado")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.DEBUG)
    yield lines
    for lg, level in zip(loggers, levels, strict=True):
        lg.removeHandler(handler)
        lg.setLevel(level)


def _never_shown(key: str, *bodies: Any) -> None:
    for body in bodies:
        text = body if isinstance(body, str) else json.dumps(body)
        assert key not in text
        assert key[4:-4] not in text  # not even its middle


async def _config(app, account_id: int) -> ProviderConfig | None:
    async with app.ctx.store.read() as conn:
        return await integrations.provider_config(conn, account_id, app.ctx.settings)


# -- reads, saves, masking ------------------------------------------------------------------------


async def test_defaults_when_nothing_was_saved_and_unknown_ids(client):
    token, _ = await owner_and_account(client, "i-defaults@example.com")
    openai = await client.get(f"{INT}openai/", token=token)
    assert openai.status == 200, openai.json
    assert openai.data == {
        "integration_id": "openai", "enabled": False, "api_key": "", "has_api_key": False,
        "key_status": "none", "base_url": "https://api.openai.com/v1", "model": "gpt-4o-mini",
        "embedding_model": None, "image_model": None, "timeout_s": None, "updated_at": None}
    runware = await client.get(f"{INT}runware/", token=token)
    assert runware.data == {
        "integration_id": "runware", "enabled": False, "api_key": "", "has_api_key": False,
        "key_status": "none", "base_url": "https://api.runware.ai/v1", "model": None,
        "timeout_s": None, "updated_at": None}
    image = await client.get(f"{INT}image_generation/", token=token)
    assert image.data == {
        "integration_id": "image_generation", "enabled": False, "provider": "local",
        "model": None, "size": None, "featured_size": None, "in_article_size": None,
        "active_provider": "local", "updated_at": None}
    assert (await client.get(IMAGES, token=token)).data == image.data
    for method, suffix in (("GET", ""), ("PUT", ""), ("POST", "save/"), ("POST", "test/"),
                           ("POST", "generate/")):
        resp = await client.request(method, f"{INT}anthropic/{suffix}", json_body={},
                                    token=token)
        assert resp.status == 404 and "anthropic" in resp.error, (method, suffix, resp.json)


async def test_save_seals_the_key_masks_it_and_provider_config_opens_it(app, client,
                                                                      log_lines):
    token, account_id = await owner_and_account(client, "i-save@example.com")
    saved = await client.post(f"{INT}openai/save/", {
        "enabled": True, "api_key": KEY, "base_url": "http://127.0.0.1:11434/v1/",
        "model": "llama3.1:8b", "embedding_model": "nomic-embed-text", "timeout_s": 30,
    }, token=token)
    assert saved.status == 200, saved.json
    assert saved.data["api_key"] == "sk-…CRET"
    assert saved.data["has_api_key"] is True and saved.data["key_status"] == "ok"
    assert saved.data["base_url"] == "http://127.0.0.1:11434/v1"
    assert saved.data["enabled"] is True and saved.data["updated_at"]
    got = await client.get(f"{INT}openai/", token=token)
    assert got.data == saved.data

    async with app.ctx.store.read() as conn:
        row = (await conn.execute(select(integration_settings).where(
            integration_settings.c.account_id == account_id))).mappings().one()
    assert row["api_key_encrypted"].startswith("v1.")
    _never_shown(KEY, row["api_key_encrypted"], row["config"])
    assert "api_key" not in row["config"]

    assert await _config(app, account_id) == ProviderConfig(
        kind="openai", base_url="http://127.0.0.1:11434/v1", api_key=KEY, model="llama3.1:8b",
        embedding_model="nomic-embed-text", image_model=None, timeout_s=30.0,
        max_retries=app.ctx.settings.ai_max_retries)

    # the key is in no answer and no log record (the request that carried it included)
    _never_shown(KEY, saved.body.decode(), got.body.decode(),
                 (await client.get(IMAGES, token=token)).body.decode())
    assert any("/integrations/openai/save/" in line for line in log_lines)
    _never_shown(KEY, "\n".join(log_lines))


async def test_put_and_save_merge(app, client):
    token, account_id = await owner_and_account(client, "i-merge@example.com")
    await client.put(f"{INT}openai/", {"enabled": True, "api_key": KEY, "model": "m1",
                                     "timeout_s": 12.5}, token=token)
    # absent fields keep their values, the key included
    resp = await client.put(f"{INT}openai/", {"model": "m2"}, token=token)
    assert resp.status == 200, resp.json
    assert resp.data["model"] == "m2" and resp.data["timeout_s"] == 12.5
    assert resp.data["enabled"] is True and resp.data["has_api_key"] is True
    config = await _config(app, account_id)
    assert config is not None and config.api_key == KEY and config.model == "m2"

    # a client that PUTs back what it GOT (masked key, read-only fields) changes nothing
    got = (await client.get(f"{INT}openai/", token=token)).data
    echoed = await client.put(f"{INT}openai/", got, token=token)
    assert echoed.status == 200, echoed.json
    assert {k: v for k, v in echoed.data.items() if k != "updated_at"} == \
        {k: v for k, v in got.items() if k != "updated_at"}
    config = await _config(app, account_id)
    assert config is not None and config.api_key == KEY

    # null restores the default; an empty body changes nothing
    reset = await client.post(f"{INT}openai/save/", {"model": None, "timeout_s": None},
                              token=token)
    assert reset.data["model"] == "gpt-4o-mini" and reset.data["timeout_s"] is None
    config = await _config(app, account_id)
    assert config is not None and config.timeout_s == app.ctx.settings.ai_timeout_s
    assert (await client.put(f"{INT}openai/", {}, token=token)).data["has_api_key"] is True

    # a masked-looking key that is not the saved one's mask is refused, nothing changes
    masked = await client.put(f"{INT}openai/", {"api_key": "sk-…zzzz"}, token=token)
    assert masked.status == 400 and "api_key" in masked.errors
    changed = await client.put(f"{INT}openai/", {"integration_id": "runware"}, token=token)
    assert changed.status == 400 and "integration_id" in changed.errors
    config = await _config(app, account_id)
    assert config is not None and config.api_key == KEY

    # a new key replaces it; "" and null clear it
    new = await client.put(f"{INT}openai/", {"api_key": "sk-second-key-000000009999"},
                           token=token)
    assert new.data["api_key"] == "sk-…9999"
    config = await _config(app, account_id)
    assert config is not None and config.api_key == "sk-second-key-000000009999"
    for cleared in ("", None):
        await client.put(f"{INT}openai/", {"api_key": "sk-third-key-0000000000001"}, token=token)
        gone = await client.put(f"{INT}openai/", {"api_key": cleared}, token=token)
        assert gone.data["has_api_key"] is False and gone.data["api_key"] == ""
        assert gone.data["key_status"] == "none"
        config = await _config(app, account_id)
        assert config is not None and config.api_key == ""

    disabled = await client.put(f"{INT}openai/", {"enabled": False}, token=token)
    assert disabled.data["enabled"] is False
    assert await _config(app, account_id) is None


async def test_bodies_are_strict_and_a_refusal_writes_nothing(client):
    token, _ = await owner_and_account(client, "i-strict@example.com")
    await client.put(f"{INT}openai/", {"enabled": True, "model": "kept"}, token=token)
    bad = [
        ("openai", {"temperature": 0.2}, "temperature"),
        ("openai", {"base_url": "ftp://example.com/v1"}, "base_url"),
        ("openai", {"base_url": "not a url"}, "base_url"),
        ("openai", {"base_url": "https://user:pw@example.com/v1"}, "base_url"),
        ("openai", {"base_url": "https://example.com/v1?key=1"}, "base_url"),
        ("openai", {"base_url": ""}, "base_url"),
        ("openai", {"timeout_s": 0}, "timeout_s"),
        ("openai", {"timeout_s": 601}, "timeout_s"),
        ("openai", {"model": "two words"}, "model"),
        ("openai", {"model": ""}, "model"),
        ("openai", {"api_key": "sk-\x00"}, "api_key"),
        ("openai", {"enabled": None}, "enabled"),
        ("openai", {"provider": "openai"}, "provider"),
        ("runware", {"embedding_model": "x"}, "embedding_model"),
        ("runware", {"image_model": "x"}, "image_model"),
        ("image_generation", {"api_key": "x"}, "api_key"),
        ("image_generation", {"provider": "midjourney"}, "provider"),
        ("image_generation", {"provider": "runware"}, "provider"),
        ("image_generation", {"size": "big"}, "size"),
        ("image_generation", {"size": "10x10"}, "size"),
        ("image_generation", {"featured_size": "4096x4096"}, "featured_size"),
        ("image_generation", {"in_article_size": "1024 x 1024"}, "in_article_size"),
    ]
    for pk, body, field in bad:
        for method, path in (("PUT", f"{INT}{pk}/"), ("POST", f"{INT}{pk}/save/")):
            resp = await client.request(method, path, json_body=body, token=token)
            assert resp.status == 400 and field in resp.errors, (pk, body, resp.json)
    runware = await client.put(f"{INT}image_generation/", {"provider": "runware"}, token=token)
    assert "Runware" in runware.errors["provider"][0]
    malformed = await client.request("PUT", f"{INT}openai/", body=b"[1]", token=token,
                                     headers={"Content-Type": "application/json"})
    assert malformed.status == 400
    assert (await client.get(f"{INT}openai/", token=token)).data["model"] == "kept"
    assert (await client.get(f"{INT}runware/", token=token)).data["updated_at"] is None
    image = (await client.get(f"{INT}image_generation/", token=token)).data
    assert image["provider"] == "local" and image["updated_at"] is None
    ok = await client.put(f"{INT}image_generation/", {"size": "1024x1024",
                                                    "featured_size": "1200x630"}, token=token)
    assert ok.status == 200 and ok.data["size"] == "1024x1024"


async def test_only_admins_and_owners_manage_integrations(client):
    owner, _ = await owner_and_account(client, "i-roles@example.com")
    admin = await client.member(owner, "i-admin@example.com", "admin")
    editor = await client.member(owner, "i-editor@example.com", "editor")
    viewer = await client.member(owner, "i-viewer@example.com", "viewer")
    await client.put(f"{INT}openai/", {"api_key": KEY}, token=owner)
    for token in (editor, viewer):
        for method, suffix, body in (("GET", "", None), ("PUT", "", {"enabled": True}),
                                     ("POST", "save/", {"enabled": True}),
                                     ("POST", "test/", {}), ("POST", "generate/", {})):
            resp = await client.request(method, f"{INT}openai/{suffix}", json_body=body,
                                        token=token)
            assert resp.status == 403, (method, suffix, resp.json)
        # everyone may see how images are made; no key is in that view
        view = await client.get(IMAGES, token=token)
        assert view.status == 200 and "api_key" not in view.data
        assert view.data["active_provider"] == "local"
    assert (await client.get(f"{INT}openai/", token=owner)).data["enabled"] is False
    by_admin = await client.put(f"{INT}openai/", {"model": "admin-model"}, token=admin)
    assert by_admin.status == 200 and by_admin.data["has_api_key"] is True
    assert (await client.get(f"{INT}openai/")).status == 401
    assert (await client.get(IMAGES)).status == 401


async def test_accounts_do_not_share_settings_and_a_moved_key_does_not_open(app, client):
    a, account_a = await owner_and_account(client, "i-a@example.com")
    b, account_b = await owner_and_account(client, "i-b@example.com")
    await client.put(f"{INT}openai/", {"enabled": True, "api_key": KEY}, token=a)
    other = await client.get(f"{INT}openai/", token=b)
    assert other.data["enabled"] is False and other.data["has_api_key"] is False
    assert await _config(app, account_b) is None
    await client.put(f"{INT}openai/", {"enabled": True, "model": "b-model"}, token=b)
    config_a = await _config(app, account_a)
    assert config_a is not None and config_a.api_key == KEY and config_a.model == "gpt-4o-mini"

    # A's sealed key copied into B's row (a database-level copy) does not open there
    async with app.ctx.store.begin() as conn:
        sealed = (await conn.execute(select(integration_settings.c.api_key_encrypted).where(
            integration_settings.c.account_id == account_a))).scalar_one()
        await conn.execute(update(integration_settings).where(
            integration_settings.c.account_id == account_b).values(api_key_encrypted=sealed))
    moved = await client.get(f"{INT}openai/", token=b)
    assert moved.data["key_status"] == "unreadable" and moved.data["has_api_key"] is True
    assert moved.data["api_key"] == ""
    with pytest.raises(ValidationFailed):
        await _config(app, account_b)


async def test_a_key_sealed_under_another_secret_reads_as_unreadable(tmp_path: Path,
                                                                     db_url: str):
    first = await start_app(make_settings(tmp_path, db_url))
    try:
        c = first.client()
        token, account_id = await owner_and_account(c, "i-secret@example.com")
        await c.put(f"{INT}openai/", {"enabled": True, "api_key": KEY}, token=token)
        c.close()
    finally:
        await stop_app(first)
    second = await start_app(make_settings(tmp_path, db_url, secret_key="z" * 48))
    try:
        c = second.client()
        token = (await c.login("i-secret@example.com"))["access"]
        got = await c.get(f"{INT}openai/", token=token)
        assert got.status == 200, got.json
        assert got.data["has_api_key"] is True and got.data["key_status"] == "unreadable"
        assert got.data["api_key"] == ""
        with pytest.raises(ValidationFailed) as info:
            await _config(second, account_id)
        assert "cannot be read" in info.value.error and "Save the key again" in info.value.error
        tested = await c.post(f"{INT}openai/test/", {}, token=token)
        assert tested.status == 400 and "cannot be read" in tested.error
        # other settings can still be changed; the unreadable key stays until replaced
        kept = await c.put(f"{INT}openai/", {"model": "m"}, token=token)
        assert kept.status == 200 and kept.data["key_status"] == "unreadable"
        fixed = await c.put(f"{INT}openai/", {"api_key": GOOD}, token=token)
        assert fixed.data["key_status"] == "ok"
        config = await _config(second, account_id)
        assert config is not None and config.api_key == GOOD
        c.close()
    finally:
        await stop_app(second)


async def test_image_settings_choose_the_image_model(app, client):
    token, account_id = await owner_and_account(client, "i-images@example.com")
    viewer = await client.member(token, "i-images-viewer@example.com", "viewer")
    saved = await client.put(f"{INT}image_generation/", {
        "enabled": True, "provider": "openai", "model": "dall-e-3", "size": "1024x1024"},
        token=token)
    assert saved.status == 200, saved.json
    assert saved.data["active_provider"] == "local"  # the openai integration is off
    assert await _config(app, account_id) is None

    await client.put(f"{INT}openai/", {"enabled": True, "api_key": KEY}, token=token)
    view = await client.get(IMAGES, token=viewer)
    assert view.data["active_provider"] == "openai" and view.data["model"] == "dall-e-3"
    config = await _config(app, account_id)
    assert config is not None and config.image_model == "dall-e-3"

    # no model of its own: the openai integration's image_model; none at all: local
    await client.put(f"{INT}image_generation/", {"model": None}, token=token)
    config = await _config(app, account_id)
    assert config is not None and config.image_model is None
    assert (await client.get(IMAGES, token=viewer)).data["active_provider"] == "local"
    await client.put(f"{INT}openai/", {"image_model": "gpt-image-1"}, token=token)
    config = await _config(app, account_id)
    assert config is not None and config.image_model == "gpt-image-1"
    async with app.ctx.store.read() as conn:
        assert await integrations.image_sizes(conn, account_id) == {
            "featured": (1024, 1024), "in_article": (1024, 1024)}
    await client.put(f"{INT}image_generation/", {"size": None, "in_article_size": "800x600"},
                     token=token)
    async with app.ctx.store.read() as conn:
        assert await integrations.image_sizes(conn, account_id) == {"in_article": (800, 600)}
    # images off, or provider local: rendered locally, chat still through openai
    for body in ({"enabled": False}, {"enabled": True, "provider": "local"}):
        await client.put(f"{INT}image_generation/", body, token=token)
        config = await _config(app, account_id)
        assert config is not None and config.kind == "openai" and config.image_model is None


# -- test ---------------------------------------------------------------------------------------


async def test_local_always_passes(client):
    token, _ = await owner_and_account(client, "i-local@example.com")
    for pk, body in (("openai", {}), ("openai", {"provider": "local"}),
                     ("runware", {}), ("image_generation", {}),
                     ("image_generation", {"provider": "local"})):
        resp = await client.post(f"{INT}{pk}/test/", body, token=token)
        assert resp.status == 200, (pk, body, resp.json)
        assert resp.data["ok"] is True and resp.data["provider"] == "local", resp.data
        assert resp.data["detail"]
    # a saved key alone does not switch the account off local: not enabled, not asked for
    await client.put(f"{INT}openai/", {"api_key": KEY}, token=token)
    resp = await client.post(f"{INT}openai/test/", {}, token=token)
    assert resp.data["provider"] == "local" and "not enabled" in resp.data["detail"]
    wrong = await client.post(f"{INT}openai/test/", {"provider": "local", "model": "x"},
                              token=token)
    assert wrong.status == 400 and "model" in wrong.errors
    unknown = await client.post(f"{INT}openai/test/", {"temperature": 1}, token=token)
    assert unknown.status == 400 and "temperature" in unknown.errors


async def test_runware_test_against_a_fake(client, fake_runware, log_lines):
    token, _ = await owner_and_account(client, "i-runware@example.com")
    missing = await client.post(f"{INT}runware/test/", {"provider": "runware",
                                                      "base_url": fake_runware.base_url},
                                token=token)
    assert missing.status == 400 and "No Runware API key" in missing.error
    assert fake_runware.seen == []

    await client.put(f"{INT}runware/", {"api_key": RUNWARE_KEY, "base_url": fake_runware.base_url,
                                      "model": "runware:100@1"}, token=token)
    ok = await client.post(f"{INT}runware/test/", {"provider": "runware"}, token=token)
    assert ok.status == 200, ok.json
    assert ok.data == {"ok": True, "provider": "runware", "model": "runware:100@1",
                       "detail": "Runware accepted the API key."}
    assert fake_runware.seen[-1]["tasks"] == [{"taskType": "authentication",
                                               "apiKey": RUNWARE_KEY}]

    bad = await client.post(f"{INT}runware/test/", {"provider": "runware",
                                                  "api_key": "rw-wrong-key-000000000000"},
                            token=token)
    assert bad.status == 400 and "Invalid API key" in bad.error
    assert bad.errors["provider"] == [bad.error]
    # the unsaved key was only tried: the saved one is unchanged
    assert (await client.get(f"{INT}runware/", token=token)).data["api_key"] == "rw-…ZZZZ"

    with socket_closed() as url:
        gone = await client.post(f"{INT}runware/test/", {"provider": "runware", "base_url": url},
                                 token=token)
    assert gone.status == 400 and "Could not reach" in gone.error
    _never_shown(RUNWARE_KEY, ok.body.decode(), bad.body.decode(), gone.body.decode(),
                 "\n".join(log_lines))


@contextlib.contextmanager
def socket_closed() -> Iterator[str]:
    """A loopback URL nobody listens on."""
    sock, port = bind_unused_port()
    sock.close()
    yield f"http://127.0.0.1:{port}/v1"


async def test_openai_test_against_a_fake(client, fake_openai, log_lines):
    token, _ = await owner_and_account(client, "i-openai-test@example.com")
    # before saving anything: the body's settings are tried, nothing is written
    unsaved = await client.post(f"{INT}openai/test/", {
        "provider": "openai", "api_key": GOOD, "base_url": fake_openai.url}, token=token)
    assert unsaved.status == 200, unsaved.json
    assert unsaved.data["ok"] is True and unsaved.data["provider"] == "openai"
    assert unsaved.data["model"] == "gpt-4o-mini" and unsaved.data["detail"]
    assert fake_openai.requests[-1].path == "/models"
    assert fake_openai.requests[-1].headers["authorization"] == f"Bearer {GOOD}"
    assert (await client.get(f"{INT}openai/", token=token)).data["updated_at"] is None

    await client.put(f"{INT}openai/", {"enabled": True, "api_key": GOOD,
                                     "base_url": fake_openai.url}, token=token)
    saved = await client.post(f"{INT}openai/test/", {"provider": "openai"}, token=token)
    assert saved.status == 200 and saved.data["provider"] == "openai", saved.json
    assert (await client.post(f"{INT}openai/test/", {}, token=token)).data["provider"] == "openai"

    bad = await client.post(f"{INT}openai/test/", {"api_key": BAD}, token=token)
    assert bad.status == 400, bad.json
    assert "refused the API key" in bad.error and bad.errors["provider"] == [bad.error]
    assert "Traceback" not in bad.body.decode()
    _never_shown(BAD, bad.body.decode())  # the fake's 401 message quotes the key sent
    with socket_closed() as url:
        gone = await client.post(f"{INT}openai/test/", {"base_url": url}, token=token)
    assert gone.status == 400 and "Could not reach" in gone.error
    _never_shown(GOOD, unsaved.body.decode(), saved.body.decode(), bad.body.decode(),
                 "\n".join(log_lines))


# -- generate -------------------------------------------------------------------------------------


async def _fetch(client, url: str) -> tuple[int, str, bytes]:
    resp = await client.http.fetch(url, raise_error=False)
    return resp.code, resp.headers.get("Content-Type", ""), resp.body


async def test_generate_renders_a_local_png_served_at_its_url_and_charges_nothing(client):
    token, _ = await owner_and_account(client, "i-generate@example.com")
    before = (await client.get(BAL, token=token)).data["credits"]
    resp = await client.post(f"{INT}image_generation/generate/", {"prompt": "A lighthouse"},
                             token=token)
    assert resp.status == 200, resp.json
    data = resp.data
    assert data["content_type"] == "image/png" and data["provider"] == "local"
    assert data["url"].startswith(client.base_url + "/media/images/")
    code, ctype, body = await _fetch(client, data["url"])
    assert code == 200 and ctype == "image/png" and body.startswith(b"\x89PNG")
    with Image.open(io.BytesIO(body)) as img:
        assert img.size == (data["width"], data["height"])

    await client.put(f"{INT}image_generation/", {"featured_size": "640x360"}, token=token)
    sized = await client.post(f"{INT}openai/generate/", {}, token=token)
    assert sized.status == 200, sized.json
    assert (sized.data["width"], sized.data["height"]) == (640, 360)
    assert (await client.get(BAL, token=token)).data["credits"] == before
    empty = await client.post(f"{INT}image_generation/generate/", {"prompt": ""}, token=token)
    assert empty.status == 400 and "prompt" in empty.errors


async def test_generate_through_openai_images_against_a_fake(client, fake_openai):
    token, _ = await owner_and_account(client, "i-generate-openai@example.com")
    await client.put(f"{INT}openai/", {"enabled": True, "api_key": GOOD,
                                     "base_url": fake_openai.url}, token=token)
    await client.put(f"{INT}image_generation/", {"enabled": True, "provider": "openai",
                                               "model": "dall-e-3", "size": "1024x1024"},
                     token=token)
    resp = await client.post(f"{INT}image_generation/generate/", {}, token=token)
    assert resp.status == 200, resp.json
    assert resp.data["provider"] == "openai" and resp.data["content_type"] == "image/png"
    sent = fake_openai.requests[-1]
    assert sent.path == "/images/generations" and sent.json["model"] == "dall-e-3"
    assert sent.json["prompt"] == "A test image" and sent.json["size"] == "1024x1024"
    code, _, body = await _fetch(client, resp.data["url"])
    assert code == 200 and body.startswith(b"\x89PNG")
    with Image.open(io.BytesIO(body)) as img:  # the size of what was served, not asked
        assert img.size == (resp.data["width"], resp.data["height"])

    await client.put(f"{INT}openai/", {"api_key": BAD}, token=token)
    bad = await client.post(f"{INT}image_generation/generate/", {}, token=token)
    assert bad.status == 400 and "refused the API key" in bad.error
    _never_shown(BAD, bad.body.decode())


async def test_concurrent_saves_of_different_fields_lose_none(app, client):
    token, account_id = await owner_and_account(client, "i-race@example.com")
    bodies = [{"enabled": True}, {"api_key": KEY}, {"model": "m-race"},
              {"embedding_model": "e-race"}, {"timeout_s": 7}, {"base_url": "http://h:1/v1"}]
    answers = await asyncio.gather(*(client.put(f"{INT}openai/", body, token=token)
                                     for body in bodies))
    assert [a.status for a in answers] == [200] * len(bodies), [a.json for a in answers]
    assert await _config(app, account_id) == ProviderConfig(
        kind="openai", base_url="http://h:1/v1", api_key=KEY, model="m-race",
        embedding_model="e-race", timeout_s=7.0, max_retries=app.ctx.settings.ai_max_retries)


async def test_throttle_scopes_are_the_references(throttled_app):
    """Prompts are `system` (100/min), integration settings `system_admin` (30/min); the
    image settings' view for every user is `system`."""
    c = throttled_app.client()
    try:
        token = await c.owner("i-throttle@example.com")
        for method, path, limit in (
                ("GET", "/api/v1/system/prompts/", 100),
                ("GET", "/api/v1/system/prompts/by_type/ideas/", 100),
                ("GET", IMAGES, 100),
                ("GET", f"{INT}openai/", 30),
                ("PUT", f"{INT}openai/", 30),
                ("POST", f"{INT}openai/save/", 30),
                ("POST", f"{INT}openai/test/", 30)):
            resp = await c.request(method, path, json_body={} if method != "GET" else None,
                                   token=token)
            assert resp.status == 200, (path, resp.json)
            assert resp.headers["X-Throttle-Limit"] == str(limit), path
    finally:
        c.close()
