"""Auth over HTTP: register, login, refresh rotation, and which access tokens are refused.

Every test runs on SQLite and on Postgres (through the `client` / `app` fixtures).
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import time
import uuid
from typing import Any

import jwt
import pytest
from sqlalchemy import func, select, update

from igny8d.store.schema import accounts, refresh_tokens, users
from tests.helpers.client import PASSWORD
from tests.helpers.paths import LOGIN, ME, REFRESH, REGISTER

TOKEN_KEYS = {"user", "access", "refresh", "access_expires_at", "refresh_expires_at"}


def claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def parse_ts(value: str) -> dt.datetime:
    assert value.endswith("Z"), value
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def assert_unauthorized(resp: Any, error: str | None = None) -> None:
    assert resp.status == 401, resp.json
    assert resp.json["success"] is False
    assert resp.headers.get("WWW-Authenticate", "").startswith("Bearer")
    if error is not None:
        assert resp.error == error, resp.json


async def count_accounts(app: Any) -> int:
    async with app.ctx.store.read() as conn:
        return int((await conn.execute(select(func.count()).select_from(accounts))).scalar())


# -- register --------------------------------------------------------------------------------


async def test_register_creates_owner_on_free_plan(client):
    resp = await client.post(REGISTER, {
        "email": "Reg@Example.com", "password": PASSWORD, "password_confirm": PASSWORD,
        "username": "reggie", "account_name": "Reg Co",
    })
    assert resp.status == 201, resp.json
    assert resp.json["message"] == "Registration successful"
    user = resp.data["user"]
    assert user["email"] == "reg@example.com"
    assert user["username"] == "reggie"
    assert user["role"] == "owner"
    assert user["is_active"] is True
    assert isinstance(user["id"], int)
    assert "password" not in user and "password_hash" not in user
    account = user["account"]
    assert account["id"] == user["account_id"]
    assert account["name"] == "Reg Co"
    assert account["plan"] == "free"
    assert account["status"] == "active"
    assert isinstance(account["credits"], int) and account["credits"] > 0
    # the new owner can log in straight away
    tokens = await client.login("reg@example.com")
    assert tokens["user"]["id"] == user["id"]


async def test_register_minimal_body_gets_username_and_account(client):
    resp = await client.register("minimal@example.com")
    user = resp.data["user"]
    assert user["username"]
    assert user["account"]["name"]
    assert user["account"]["credits"] > 0


@pytest.mark.parametrize("email", ["dup@example.com", "DUP@Example.COM", "  dup@example.com "])
async def test_register_duplicate_email_409(app, client, email):
    await client.register("dup@example.com")
    before = await count_accounts(app)
    resp = await client.post(REGISTER, {
        "email": email, "password": PASSWORD, "password_confirm": PASSWORD,
    })
    assert resp.status == 409, resp.json
    assert resp.errors.get("email"), resp.json
    assert await count_accounts(app) == before  # no orphan account left behind


async def test_register_username_taken_409(app, client):
    await client.register("first@example.com", username="taken")
    before = await count_accounts(app)
    for name in ("taken", "TAKEN"):
        resp = await client.post(REGISTER, {
            "email": f"{name}-second@example.com", "password": PASSWORD,
            "password_confirm": PASSWORD, "username": name,
        })
        assert resp.status == 409, resp.json
        assert resp.errors.get("username"), resp.json
    assert await count_accounts(app) == before


async def test_register_concurrent_same_email_one_wins(client):
    body = {"email": "race@example.com", "password": PASSWORD, "password_confirm": PASSWORD}
    results = await asyncio.gather(*(client.post(REGISTER, body) for _ in range(5)))
    statuses = sorted(r.status for r in results)
    assert statuses == [201, 409, 409, 409, 409], [r.json for r in results]


@pytest.mark.parametrize(("body", "fields"), [
    ({"email": "a@example.com", "password": PASSWORD, "password_confirm": PASSWORD + "x"},
     {"password_confirm"}),
    ({"email": "a@example.com", "password": "short1", "password_confirm": "short1"},
     {"password"}),
    ({"email": "a@example.com", "password": "1234567890", "password_confirm": "1234567890"},
     {"password"}),
    ({"email": "not-an-email", "password": PASSWORD, "password_confirm": PASSWORD},
     {"email"}),
    ({"email": "a@b", "password": PASSWORD, "password_confirm": PASSWORD}, {"email"}),
    ({}, {"email", "password", "password_confirm"}),
    ({"email": "a@example.com"}, {"password", "password_confirm"}),
    ({"email": "a@example.com", "password": PASSWORD, "password_confirm": PASSWORD,
      "role": "admin"}, {"role"}),
    ({"email": 5, "password": PASSWORD, "password_confirm": PASSWORD}, {"email"}),
], ids=["mismatch", "too-short", "numeric", "bad-email", "no-tld", "empty", "missing",
        "unknown-field", "email-not-string"])
async def test_register_validation_400(app, client, body, fields):
    before = await count_accounts(app)
    resp = await client.post(REGISTER, body)
    assert resp.status == 400, resp.json
    assert set(resp.errors) == fields, resp.json
    for msgs in resp.errors.values():
        assert msgs and all(m for m in msgs)
    assert await count_accounts(app) == before


async def test_register_messages(client):
    resp = await client.post(REGISTER, {"email": "m@example.com", "password": PASSWORD,
                                        "password_confirm": "other-pass-1", "extra": 1})
    assert resp.status == 400
    assert resp.errors["extra"] == ["Unknown field."]
    resp = await client.post(REGISTER, {})
    assert resp.errors["email"] == ["This field is required."]
    resp = await client.post(REGISTER, {"email": "m@example.com", "password": "short",
                                        "password_confirm": "short"})
    assert resp.errors["password"] == ["Password must be at least 8 characters."]
    resp = await client.post(REGISTER, {"email": "m@example.com", "password": PASSWORD,
                                        "password_confirm": "other-pass-1"})
    assert resp.errors["password_confirm"] == ["Passwords do not match."]


async def test_register_rejects_non_json(client):
    resp = await client.post(REGISTER, body="email=a@example.com",
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert resp.status == 415, resp.json
    resp = await client.post(REGISTER, body="{not json",
                             headers={"Content-Type": "application/json"})
    assert resp.status == 400, resp.json
    resp = await client.post(REGISTER, json_body=["a", "b"])
    assert resp.status == 400, resp.json


# -- login -----------------------------------------------------------------------------------


async def test_login_shape_and_claims(client):
    reg = await client.register("login@example.com")
    user = reg.data["user"]
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    resp = await client.post(LOGIN, {"email": "login@example.com", "password": PASSWORD})
    after = dt.datetime.now(dt.UTC)
    assert resp.status == 200, resp.json
    assert resp.json["message"] == "Login successful"
    data = resp.data
    assert set(data) == TOKEN_KEYS
    assert data["user"]["id"] == user["id"]
    assert data["user"]["email"] == "login@example.com"
    assert data["user"]["role"] == "owner"
    assert data["user"]["account"]["id"] == user["account"]["id"]
    assert data["user"]["last_login"] is not None

    access, refresh = claims(data["access"]), claims(data["refresh"])
    for c in (access, refresh):
        assert {"user_id", "account_id", "type", "exp", "iat", "jti"} <= set(c)
        assert c["user_id"] == user["id"]
        assert c["account_id"] == user["account_id"]
        assert before.timestamp() - 1 <= c["iat"] <= after.timestamp() + 1
    assert access["type"] == "access"
    assert refresh["type"] == "refresh"
    assert access["jti"] != refresh["jti"]
    assert access["exp"] - access["iat"] == pytest.approx(15 * 60, abs=2)
    assert refresh["exp"] - refresh["iat"] == pytest.approx(7 * 86400, abs=2)
    assert jwt.get_unverified_header(data["access"])["alg"] == "HS256"
    # the *_expires_at fields say the same thing as the tokens
    assert parse_ts(data["access_expires_at"]).timestamp() == pytest.approx(access["exp"], abs=1)
    assert parse_ts(data["refresh_expires_at"]).timestamp() == pytest.approx(
        refresh["exp"], abs=1)

    me = await client.get(ME, token=data["access"])
    assert me.status == 200
    assert me.data["user"]["id"] == user["id"]


async def test_login_bad_credentials_same_answer(client):
    await client.register("who@example.com")
    wrong = await client.post(LOGIN, {"email": "who@example.com", "password": "wrong-pass-1"})
    unknown = await client.post(LOGIN, {"email": "nobody@example.com", "password": PASSWORD})
    assert_unauthorized(wrong, "Invalid credentials")
    assert_unauthorized(unknown, "Invalid credentials")
    assert set(wrong.json) == set(unknown.json)
    assert "data" not in wrong.json or wrong.json["data"] is None
    assert "access" not in json.dumps(wrong.json)


async def test_login_email_case_insensitive(client):
    await client.register("Case@Example.com")
    data = await client.login("CASE@EXAMPLE.COM")
    assert data["user"]["email"] == "case@example.com"
    data = await client.login("  case@example.com ")
    assert data["user"]["email"] == "case@example.com"


async def test_login_validation_400(client):
    resp = await client.post(LOGIN, {"email": "x@example.com"})
    assert resp.status == 400
    assert resp.errors == {"password": ["This field is required."]}
    resp = await client.post(LOGIN, {"email": "x@example.com", "password": "p", "otp": 1})
    assert resp.status == 400
    assert "otp" in resp.errors


async def test_login_inactive_user_refused(client):
    owner = await client.owner("boss@example.com")
    created = await client.post("/api/v1/auth/users/", {
        "email": "off@example.com", "password": PASSWORD, "role": "editor",
        "is_active": False,
    }, token=owner)
    assert created.status == 201, created.json
    resp = await client.post(LOGIN, {"email": "off@example.com", "password": PASSWORD})
    assert_unauthorized(resp)
    assert "access" not in json.dumps(resp.json)


# -- refresh ---------------------------------------------------------------------------------


async def test_refresh_rotates(client):
    await client.register("rot@example.com")
    first = await client.login("rot@example.com")
    resp = await client.post(REFRESH, {"refresh": first["refresh"]})
    assert resp.status == 200, resp.json
    second = resp.data
    assert set(second) == TOKEN_KEYS
    assert second["refresh"] != first["refresh"]
    assert claims(second["refresh"])["jti"] != claims(first["refresh"])["jti"]
    assert claims(second["access"])["type"] == "access"
    assert claims(second["refresh"])["type"] == "refresh"
    assert second["user"]["id"] == first["user"]["id"]
    me = await client.get(ME, token=second["access"])
    assert me.status == 200
    # the successor rotates in turn
    third = await client.post(REFRESH, {"refresh": second["refresh"]})
    assert third.status == 200, third.json


async def test_refresh_resent_within_grace_is_a_retry(client):
    """A client that lost the answer and retries is not logged out everywhere."""
    await client.register("retry@example.com")
    first = await client.login("retry@example.com")
    second = (await client.post(REFRESH, {"refresh": first["refresh"]})).data
    retry = await client.post(REFRESH, {"refresh": first["refresh"]})
    assert retry.status == 200, retry.json
    # both answers' refresh tokens belong to the live session
    assert (await client.post(REFRESH, {"refresh": second["refresh"]})).status == 200
    assert (await client.post(REFRESH, {"refresh": retry.data["refresh"]})).status == 200


async def test_refresh_reuse_after_grace_revokes_family(app, client):
    await client.register("family@example.com")
    first = await client.login("family@example.com")
    second = (await client.post(REFRESH, {"refresh": first["refresh"]})).data
    async with app.ctx.store.begin() as conn:  # the rotation happened a minute ago
        await conn.execute(update(refresh_tokens)
                           .where(refresh_tokens.c.jti == claims(first["refresh"])["jti"])
                           .values(revoked_at=dt.datetime.now(dt.UTC)
                                   - dt.timedelta(seconds=60)))
    replay = await client.post(REFRESH, {"refresh": first["refresh"]})
    assert_unauthorized(replay)
    # the reuse looks like theft: the token handed out by the rotation dies too
    after = await client.post(REFRESH, {"refresh": second["refresh"]})
    assert_unauthorized(after)
    # a fresh login still works
    again = await client.login("family@example.com")
    assert (await client.post(REFRESH, {"refresh": again["refresh"]})).status == 200


async def test_refresh_concurrent_resends_are_retries(client):
    await client.register("dupref@example.com")
    pair = await client.login("dupref@example.com")
    results = await asyncio.gather(*(client.post(REFRESH, {"refresh": pair["refresh"]})
                                     for _ in range(3)))
    assert [r.status for r in results] == [200, 200, 200], [r.json for r in results]
    for r in results:
        assert (await client.post(REFRESH, {"refresh": r.data["refresh"]})).status == 200


async def test_refresh_wrong_token_kinds(client):
    await client.register("kinds@example.com")
    pair = await client.login("kinds@example.com")
    # an access token is not a refresh token
    assert_unauthorized(await client.post(REFRESH, {"refresh": pair["access"]}))
    # a refresh token is not an access token
    assert_unauthorized(await client.get(ME, token=pair["refresh"]))
    for junk in ("garbage", "a.b.c", "x" * 4000):
        assert_unauthorized(await client.post(REFRESH, {"refresh": junk}))
    resp = await client.post(REFRESH, {"refresh": ""})
    assert resp.status in (400, 401), resp.json
    resp = await client.post(REFRESH, {})
    assert resp.status == 400
    assert resp.errors == {"refresh": ["This field is required."]}
    # none of the failures above cost the real refresh token anything
    assert (await client.post(REFRESH, {"refresh": pair["refresh"]})).status == 200


# -- access tokens -----------------------------------------------------------------------------


async def mint(app: Any, user: dict[str, Any], *, delta: dt.timedelta, **extra: Any) -> str:
    async with app.ctx.store.read() as conn:
        key = (await conn.execute(select(users.c.auth_key)
                                  .where(users.c.id == user["id"]))).scalar_one()
    now = dt.datetime.now(dt.UTC)
    payload = {
        "user_id": user["id"], "account_id": user["account_id"], "type": "access",
        "iat": int((now - dt.timedelta(minutes=30)).timestamp()),
        "exp": int((now + delta).timestamp()), "jti": uuid.uuid4().hex, "ver": 0, "key": key,
    }
    payload.update(extra)
    return jwt.encode(payload, app.ctx.settings.secret_key, algorithm="HS256")


async def test_expired_access_token_401(app, client):
    user = (await client.register("exp@example.com")).data["user"]
    # control: the same token, not yet expired, is accepted
    good = await mint(app, user, delta=dt.timedelta(minutes=5))
    assert (await client.get(ME, token=good)).status == 200
    expired = await mint(app, user, delta=dt.timedelta(seconds=-30))
    resp = await client.get(ME, token=expired)
    assert_unauthorized(resp)
    assert "expired" in resp.error.lower()


async def test_tampered_and_forged_tokens_401(app, client):
    user = (await client.register("tamper@example.com")).data["user"]
    other = (await client.register("victim@example.com")).data["user"]
    token = (await client.login("tamper@example.com"))["access"]
    header, payload, signature = token.split(".")
    # another user's id in the payload, original signature
    body = claims(token) | {"user_id": other["id"], "account_id": other["account_id"]}
    swapped = f"{header}.{b64url(json.dumps(body).encode())}.{signature}"
    assert_unauthorized(await client.get(ME, token=swapped))
    # a flipped byte in the signature
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    raw[0] ^= 0xFF
    assert_unauthorized(await client.get(ME, token=f"{header}.{payload}.{b64url(bytes(raw))}"))
    # signed with another secret
    forged = jwt.encode(claims(token), "not-the-secret-" * 4, algorithm="HS256")
    assert_unauthorized(await client.get(ME, token=forged))
    # missing required claims, even if correctly signed
    no_type = await mint(app, user, delta=dt.timedelta(minutes=5))
    stripped = {k: v for k, v in claims(no_type).items() if k != "type"}
    signed = jwt.encode(stripped, app.ctx.settings.secret_key, algorithm="HS256")
    assert_unauthorized(await client.get(ME, token=signed))
    # the original still works
    assert (await client.get(ME, token=token)).status == 200


async def test_alg_none_token_401(app, client):
    user = (await client.register("none@example.com")).data["user"]
    good = await mint(app, user, delta=dt.timedelta(minutes=5))
    body = claims(good)
    unsigned = jwt.encode(body, None, algorithm="none")
    assert_unauthorized(await client.get(ME, token=unsigned))
    for alg in ("none", "None", "NONE"):
        head = b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode())
        token = f"{head}.{b64url(json.dumps(body).encode())}."
        assert_unauthorized(await client.get(ME, token=token))
    # HS384 with the right secret is not an algorithm the server accepts either
    other_alg = jwt.encode(body, app.ctx.settings.secret_key, algorithm="HS384")
    assert_unauthorized(await client.get(ME, token=other_alg))


@pytest.mark.parametrize("header", [
    "Bearer", "Bearer ", "Bearer not.a.jwt", "Token abc", "Bearer a b",
])
async def test_malformed_authorization_401(client, header):
    resp = await client.get(ME, headers={"Authorization": header})
    assert_unauthorized(resp)


async def test_no_credentials_401(client):
    resp = await client.get(ME)
    assert_unauthorized(resp, "Authentication required")


async def test_deactivated_user_tokens_refused(client):
    owner = await client.owner("own@example.com")
    created = await client.post("/api/v1/auth/users/", {
        "email": "ed@example.com", "password": PASSWORD, "role": "editor",
    }, token=owner)
    assert created.status == 201, created.json
    uid = created.data["id"]
    pair = await client.login("ed@example.com")
    assert (await client.get(ME, token=pair["access"])).status == 200
    resp = await client.patch(f"/api/v1/auth/users/{uid}/", {"is_active": False}, token=owner)
    assert resp.status == 200, resp.json
    assert resp.data["is_active"] is False
    assert_unauthorized(await client.get(ME, token=pair["access"]))
    assert_unauthorized(await client.post(REFRESH, {"refresh": pair["refresh"]}))
    assert_unauthorized(await client.post(LOGIN, {"email": "ed@example.com",
                                                  "password": PASSWORD}))
    # reactivating does not bring the old tokens back; a new login works
    act = await client.post(f"/api/v1/auth/users/{uid}/activate/", {}, token=owner)
    assert act.status == 200, act.json
    assert_unauthorized(await client.get(ME, token=pair["access"]))
    assert_unauthorized(await client.post(REFRESH, {"refresh": pair["refresh"]}))
    fresh = await client.login("ed@example.com")
    assert (await client.get(ME, token=fresh["access"])).status == 200


async def test_deleted_user_tokens_refused(client):
    owner = await client.owner("own2@example.com")
    created = await client.post("/api/v1/auth/users/", {
        "email": "gone@example.com", "password": PASSWORD, "role": "viewer",
    }, token=owner)
    assert created.status == 201, created.json
    pair = await client.login("gone@example.com")
    resp = await client.delete(f"/api/v1/auth/users/{created.data['id']}/", token=owner)
    assert resp.status == 204
    assert_unauthorized(await client.get(ME, token=pair["access"]))
    assert_unauthorized(await client.post(REFRESH, {"refresh": pair["refresh"]}))
    assert_unauthorized(await client.post(LOGIN, {"email": "gone@example.com",
                                                  "password": PASSWORD}), "Invalid credentials")
    # the owner is untouched
    assert (await client.get(ME, token=owner)).status == 200


async def test_token_expiry_fields_are_future(client):
    await client.register("future@example.com")
    data = await client.login("future@example.com")
    now = time.time()
    assert parse_ts(data["access_expires_at"]).timestamp() > now
    assert parse_ts(data["refresh_expires_at"]).timestamp() > parse_ts(
        data["access_expires_at"]).timestamp()


async def test_concurrent_registrations_with_one_account_name_all_succeed(client):
    """Slugs and usernames are derived; a race for the same one must not become a 409."""
    import asyncio

    bodies = [{"email": f"racer{i}@example.com", "password": "long-password-1",
               "password_confirm": "long-password-1", "account_name": "Same Name"}
              for i in range(5)]
    results = await asyncio.gather(*(client.post("/api/v1/auth/register/", b) for b in bodies))
    assert [r.status for r in results] == [201] * 5
    slugs = {r.data["user"]["account"]["slug"] for r in results}
    assert len(slugs) == 5 and "same-name" in slugs
