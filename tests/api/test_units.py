"""Unit tests for the dense bits: pagination links, tokens, passwords, roles, settings."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import jwt
import pytest

from igny8d import envelope
from igny8d.permissions import Principal, effective_site_ids
from igny8d.security import PasswordHasher, TokenError, TokenService
from igny8d.settings import SettingsError, load_settings

SECRET = "s" * 48


def test_page_links_like_drf():
    base = "http://h/api/v1/auth/sites/"
    q = [("page_size", "5"), ("search", "a b")]
    nxt, prev = envelope.page_links(base, q, page=1, page_size=5, count=12)
    assert nxt == base + "?page_size=5&search=a+b&page=2"
    assert prev is None
    nxt, prev = envelope.page_links(base, [*q, ("page", "2")], page=2, page_size=5, count=12)
    assert nxt == base + "?page_size=5&search=a+b&page=3"
    assert prev == base + "?page_size=5&search=a+b"  # page 1 drops the parameter
    nxt, prev = envelope.page_links(base, [("page", "3")], page=3, page_size=5, count=12)
    assert nxt is None
    assert prev == base + "?page=2"
    assert envelope.page_links(base, [], page=1, page_size=10, count=0) == (None, None)


def test_dumps_formats():
    when = dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    out = json.loads(envelope.dumps({"t": when, "d": Decimal("29.00"), "s": {1}}))
    assert out == {"t": "2025-01-02T03:04:05Z", "d": "29.00", "s": [1]}
    with pytest.raises(TypeError):
        envelope.dumps({"x": object()})


def test_tokens_round_trip_and_types():
    svc = TokenService(SECRET)
    access = svc.issue("access", user_id=3, account_id=4, version=2, key="k1")
    claims = svc.verify(access.token, "access")
    assert (claims.user_id, claims.account_id, claims.version, claims.key) == (3, 4, 2, "k1")
    with pytest.raises(TokenError, match="not a refresh"):
        svc.verify(access.token, "refresh")
    refresh = svc.issue("refresh", user_id=3, account_id=4, version=2, key="k1")
    with pytest.raises(TokenError, match="not an access"):
        svc.verify(refresh.token, "access")
    lifetime = refresh.expires_at - dt.datetime.now(dt.UTC)
    assert dt.timedelta(days=6, hours=23) < lifetime <= dt.timedelta(days=7)


def test_tokens_refuse_forgeries():
    svc = TokenService(SECRET)
    now = int(dt.datetime.now(dt.UTC).timestamp())
    payload = {"user_id": 1, "account_id": 1, "type": "access", "exp": now + 60, "iat": now,
               "jti": "x", "key": "k"}
    none_alg = jwt.encode(payload, key=None, algorithm="none")
    with pytest.raises(TokenError):
        svc.verify(none_alg, "access")
    other_key = jwt.encode(payload, "o" * 48, algorithm="HS256")
    with pytest.raises(TokenError, match="invalid"):
        svc.verify(other_key, "access")
    expired = jwt.encode({**payload, "exp": now - 5}, SECRET, algorithm="HS256")
    with pytest.raises(TokenError, match="expired"):
        svc.verify(expired, "access")
    missing = jwt.encode({k: v for k, v in payload.items() if k != "jti"}, SECRET,
                         algorithm="HS256")
    with pytest.raises(TokenError):
        svc.verify(missing, "access")
    with pytest.raises(TokenError):
        svc.verify("not.a.jwt", "access")


async def test_password_hasher():
    hasher = PasswordHasher(rounds=4)
    encoded = await hasher.hash("p" * 100)  # beyond bcrypt's 72 bytes
    assert encoded.startswith("bcrypt_sha256$")
    assert await hasher.verify("p" * 100, encoded)
    assert not await hasher.verify("p" * 99 + "q", encoded)  # no truncation at 72 bytes
    assert not await hasher.verify("x", None)
    assert not await hasher.verify("x", "!")
    assert not await hasher.verify("x", "bcrypt_sha256$garbage")


def _principal(role: str, superuser: bool = False) -> Principal:
    return Principal(user_id=1, account_id=1, email="a@b.c", username="a", role=role,
                     is_superuser=superuser, token_version=0, site_ids=None)


@pytest.mark.parametrize(("role", "allowed"), [
    ("owner", {"owner", "admin", "editor", "viewer", "system_bot"}),
    ("admin", {"admin", "editor", "viewer", "system_bot"}),
    ("editor", {"editor", "viewer", "system_bot"}),
    ("viewer", {"viewer", "system_bot"}),
])
def test_may_assign_not_above_own(role, allowed):
    p = _principal(role)
    assert {r for r in ("owner", "admin", "editor", "viewer", "system_bot")
            if p.may_assign(r)} == allowed


def test_site_grants_apply_to_editors_and_viewers_only():
    grants = frozenset({3})
    assert effective_site_ids("owner", grants) is None
    assert effective_site_ids("admin", grants) is None
    assert effective_site_ids("editor", grants) == grants
    assert effective_site_ids("viewer", frozenset()) is None


def test_settings_env_and_overrides(tmp_path):
    s = load_settings(env={"IGNY8_PORT": "9001", "IGNY8_DEBUG_THROTTLE": "yes",
                           "IGNY8_CORS_ORIGINS": "https://a.example, https://b.example"})
    assert s.port == 9001 and s.debug_throttle and not s.throttle_enabled
    assert s.cors_origins == ("https://a.example", "https://b.example")
    assert load_settings(env={"IGNY8_PORT": "9001"}, port=9002).port == 9002
    s = load_settings(env={"IGNY8_DATABASE_URL": "postgresql://u@h/db"})
    assert s.database_url == "postgresql+asyncpg://u@h/db"
    assert load_settings(env={"DEBUG": "True"}).debug
    with pytest.raises(SettingsError, match="port"):
        load_settings(env={"IGNY8_PORT": "70000"})


def test_generated_secret_is_kept(tmp_path):
    s = load_settings(env={"IGNY8_DATA_DIR": str(tmp_path)})
    first = s.with_secret().secret_key
    assert first and len(first) >= 32
    assert s.with_secret().secret_key == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_verified_tokens_are_cached_but_expiry_still_checked():
    import dataclasses

    svc = TokenService(SECRET)
    token = svc.issue("access", user_id=3, account_id=4, version=0, key="k").token
    first = svc.verify(token, "access")
    assert svc.verify(token, "access") is first  # the second check is the cached one
    with pytest.raises(TokenError, match="not a refresh"):
        svc.verify(token, "refresh")  # the type is checked on a hit too
    svc._verified[token] = dataclasses.replace(
        first, expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    with pytest.raises(TokenError, match="expired"):
        svc.verify(token, "access")
