"""Auth over HTTP, part 2: change-password, me, logout, Basic and session-cookie auth, and
that password hashing keeps the event loop free. Runs on SQLite and on Postgres."""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import bcrypt
import pytest

from tests.helpers.app import make_settings, start_app, stop_app
from tests.helpers.client import PASSWORD
from tests.helpers.paths import LOGIN, ME, REFRESH

CHANGE = "/api/v1/auth/change-password/"
LOGOUT = "/api/v1/auth/logout/"
NEW_PASSWORD = "battery-staple-42"
TOKEN_KEYS = {"user", "access", "refresh", "access_expires_at", "refresh_expires_at"}


def assert_unauthorized(resp: Any) -> None:
    assert resp.status == 401, resp.json
    assert resp.json["success"] is False
    assert resp.headers.get("WWW-Authenticate", "").startswith("Bearer")


def session_cookie(resp: Any) -> str:
    """The `igny8_session=...` pair of the response's Set-Cookie, as a browser sends it back."""
    for header in resp.headers.get_list("Set-Cookie"):
        pair = header.split(";", 1)[0].strip()
        if pair.startswith("igny8_session="):
            return pair
    raise AssertionError(f"no igny8_session cookie in {resp.headers.get_list('Set-Cookie')}")


def change_body(old: str = PASSWORD, new: str = NEW_PASSWORD, confirm: str | None = None):
    return {"old_password": old, "new_password": new,
            "new_password_confirm": new if confirm is None else confirm}


# -- change-password ---------------------------------------------------------------------------


async def test_change_password_validation(client):
    await client.register("cp@example.com")
    pair = await client.login("cp@example.com")
    token = pair["access"]
    resp = await client.post(CHANGE, change_body(old="not-my-password"), token=token)
    assert resp.status == 400, resp.json
    assert set(resp.errors) == {"old_password"}
    resp = await client.post(CHANGE, change_body(confirm="battery-staple-43"), token=token)
    assert resp.status == 400, resp.json
    assert set(resp.errors) == {"new_password_confirm"}
    resp = await client.post(CHANGE, change_body(new="short1"), token=token)
    assert resp.status == 400
    assert set(resp.errors) == {"new_password"}
    resp = await client.post(CHANGE, {"old_password": PASSWORD}, token=token)
    assert resp.status == 400
    assert set(resp.errors) == {"new_password", "new_password_confirm"}
    assert_unauthorized(await client.post(CHANGE, change_body()))
    # nothing changed: the tokens and the old password still work
    assert (await client.get(ME, token=token)).status == 200
    assert (await client.post(REFRESH, {"refresh": pair["refresh"]})).status == 200
    await client.login("cp@example.com", PASSWORD)


async def test_change_password_revokes_old_tokens(client):
    await client.register("cp2@example.com")
    old = await client.login("cp2@example.com")
    other_device = await client.login("cp2@example.com")
    resp = await client.post(CHANGE, change_body(), token=old["access"])
    assert resp.status == 200, resp.json
    fresh = resp.data
    assert set(fresh) == TOKEN_KEYS
    assert fresh["access"] != old["access"] and fresh["refresh"] != old["refresh"]
    # the pair in the answer works
    assert (await client.get(ME, token=fresh["access"])).status == 200
    # every token issued before the change is refused, on every device
    for pair in (old, other_device):
        assert_unauthorized(await client.get(ME, token=pair["access"]))
        assert_unauthorized(await client.post(REFRESH, {"refresh": pair["refresh"]}))
    assert (await client.post(REFRESH, {"refresh": fresh["refresh"]})).status == 200
    # the new password logs in, the old one does not
    bad = await client.post(LOGIN, {"email": "cp2@example.com", "password": PASSWORD})
    assert_unauthorized(bad)
    assert bad.error == "Invalid credentials"
    await client.login("cp2@example.com", NEW_PASSWORD)


# -- me ------------------------------------------------------------------------------------


async def test_me_owner_sees_all_sites_editor_only_granted(client):
    owner = await client.owner("meowner@example.com")
    a = await client.site(owner, "Alpha")
    b = await client.site(owner, "Bravo")
    c = await client.site(owner, "Charlie")
    me = await client.get(ME, token=owner)
    assert me.status == 200
    user = me.data["user"]
    assert user["email"] == "meowner@example.com"
    assert user["role"] == "owner"
    assert user["account"]["plan"] == "free"
    assert user["account"]["id"] == user["account_id"]
    assert [s["id"] for s in user["accessible_sites"]] == [a["id"], b["id"], c["id"]]
    assert set(user["accessible_sites"][0]) >= {"id", "name", "slug", "domain", "is_active"}

    editor = await client.member(owner, "meeditor@example.com", "editor",
                                 site_ids=[a["id"], c["id"]])
    me = await client.get(ME, token=editor)
    assert me.status == 200
    user = me.data["user"]
    assert user["role"] == "editor"
    assert sorted(user["site_ids"]) == sorted([a["id"], c["id"]])
    assert sorted(s["id"] for s in user["accessible_sites"]) == sorted([a["id"], c["id"]])

    # an editor with no grants sees every site
    open_editor = await client.member(owner, "meopen@example.com", "editor")
    me = await client.get(ME, token=open_editor)
    assert len(me.data["user"]["accessible_sites"]) == 3

    # another account's sites never show up
    stranger = await client.owner("stranger@example.com")
    await client.site(stranger, "Elsewhere")
    me = await client.get(ME, token=stranger)
    assert [s["name"] for s in me.data["user"]["accessible_sites"]] == ["Elsewhere"]


# -- logout --------------------------------------------------------------------------------


async def test_logout_revokes_given_refresh_token(client):
    await client.register("out@example.com")
    pair = await client.login("out@example.com")
    keep = await client.login("out@example.com")
    resp = await client.post(LOGOUT, {"refresh": pair["refresh"]}, token=pair["access"])
    assert resp.status == 200, resp.json
    assert_unauthorized(await client.post(REFRESH, {"refresh": pair["refresh"]}))
    # without an access token the refresh token alone logs out (OAuth revocation)
    alone = await client.post(LOGOUT, {"refresh": keep["refresh"]})
    assert alone.status == 200, alone.json
    assert_unauthorized(await client.post(REFRESH, {"refresh": keep["refresh"]}))
    # neither a token nor a refresh token: nobody to log out
    assert_unauthorized(await client.post(LOGOUT, {}))
    assert_unauthorized(await client.post(LOGOUT, {"refresh": "garbage"}))


async def test_logout_leaves_other_users_tokens_alone(client):
    await client.register("lo1@example.com")
    await client.register("lo2@example.com")
    one = await client.login("lo1@example.com")
    two = await client.login("lo2@example.com")
    resp = await client.post(LOGOUT, {"refresh": two["refresh"]}, token=one["access"])
    assert resp.status == 200, resp.json
    assert (await client.post(REFRESH, {"refresh": two["refresh"]})).status == 200


# -- Basic ---------------------------------------------------------------------------------


async def test_basic_auth(client):
    await client.register("basic@example.com")
    resp = await client.get(ME, basic=("basic@example.com", PASSWORD))
    assert resp.status == 200, resp.json
    assert resp.data["user"]["email"] == "basic@example.com"
    resp = await client.get(ME, basic=("BASIC@example.com", PASSWORD))
    assert resp.status == 200, resp.json
    wrong = await client.get(ME, basic=("basic@example.com", "wrong-pass-1"))
    assert_unauthorized(wrong)
    assert wrong.error == "Invalid credentials"
    unknown = await client.get(ME, basic=("ghost@example.com", PASSWORD))
    assert_unauthorized(unknown)
    assert unknown.error == "Invalid credentials"
    for raw in ("Basic !!!notbase64", "Basic Ym9ndXM=", "Basic "):  # "bogus": no colon
        assert_unauthorized(await client.get(ME, headers={"Authorization": raw}))


# -- session cookie ------------------------------------------------------------------------------


async def test_login_sets_no_cookie_unless_asked(client):
    """A cookie-keeping client (requests.Session, a browser, WordPress) must never end up
    authenticated without sending a token."""
    await client.register("jar@example.com")
    resp = await client.post(LOGIN, {"email": "jar@example.com", "password": PASSWORD})
    assert resp.status == 200
    assert resp.headers.get_list("Set-Cookie") == []
    for refusal in ({"session": "yes"}, {"session": None}):
        bad = await client.post(LOGIN, {"email": "jar@example.com", "password": PASSWORD,
                                        **refusal})
        assert bad.status == 400 and "session" in bad.errors, bad.json


async def test_session_cookie(client):
    await client.register("cookie@example.com")
    resp = await client.post(LOGIN, {"email": "cookie@example.com", "password": PASSWORD,
                                     "session": True})
    assert resp.status == 200
    headers = resp.headers.get_list("Set-Cookie")
    raw = next(h for h in headers if h.startswith("igny8_session="))
    attrs = raw.lower()
    assert "httponly" in attrs
    assert "samesite=strict" in attrs
    cookie = session_cookie(resp)
    me = await client.get(ME, headers={"Cookie": cookie})
    assert me.status == 200, me.json
    assert me.data["user"]["email"] == "cookie@example.com"
    # a tampered cookie is no credential
    assert cookie[-1] in "0123456789abcdef", cookie  # ends with the hex signature
    forged = cookie[:-1] + ("1" if cookie[-1] == "0" else "0")
    assert_unauthorized(await client.get(ME, headers={"Cookie": forged}))
    assert_unauthorized(await client.get(ME, headers={"Cookie": "igny8_session=1:0"}))


async def test_session_cookie_refused_after_password_change(client):
    await client.register("cookie2@example.com")
    resp = await client.post(LOGIN, {"email": "cookie2@example.com", "password": PASSWORD,
                                     "session": True})
    old_cookie = session_cookie(resp)
    change = await client.post(CHANGE, change_body(), headers={"Cookie": old_cookie})
    assert change.status == 200, change.json
    assert_unauthorized(await client.get(ME, headers={"Cookie": old_cookie}))
    new_cookie = session_cookie(change)
    assert (await client.get(ME, headers={"Cookie": new_cookie})).status == 200


async def test_logout_clears_session_cookie(client):
    await client.register("cookie3@example.com")
    pair = await client.login("cookie3@example.com")
    resp = await client.post(LOGOUT, {"refresh": pair["refresh"]}, token=pair["access"])
    assert resp.status == 200
    cleared = [h for h in resp.headers.get_list("Set-Cookie") if h.startswith("igny8_session=")]
    assert cleared, resp.headers
    assert "expires=" in cleared[0].lower() or "max-age=0" in cleared[0].lower()


async def test_logout_ends_the_cookie_session_too(client):
    """A copied cookie must not outlive logout: it names the login's session family."""
    await client.register("cookie4@example.com")
    resp = await client.post(LOGIN, {"email": "cookie4@example.com", "password": PASSWORD,
                                     "session": True})
    cookie = session_cookie(resp)
    other = await client.login("cookie4@example.com")  # a second, independent session
    assert (await client.get(ME, headers={"Cookie": cookie})).status == 200
    out = await client.post(LOGOUT, {}, headers={"Cookie": cookie})
    assert out.status == 200
    assert_unauthorized(await client.get(ME, headers={"Cookie": cookie}))
    # ... and its refresh token is dead, while the other session lives on
    assert_unauthorized(await client.post(REFRESH, {"refresh": resp.data["refresh"]}))
    assert (await client.post(REFRESH, {"refresh": other["refresh"]})).status == 200


async def test_logout_by_refresh_token_ends_that_logins_cookie(client):
    await client.register("cookie5@example.com")
    resp = await client.post(LOGIN, {"email": "cookie5@example.com", "password": PASSWORD,
                                     "session": True})
    cookie = session_cookie(resp)
    out = await client.post(LOGOUT, {"refresh": resp.data["refresh"]},
                            token=resp.data["access"])
    assert out.status == 200
    assert_unauthorized(await client.get(ME, headers={"Cookie": cookie}))


async def test_refresh_keeps_the_cookie_session(client):
    await client.register("cookie6@example.com")
    resp = await client.post(LOGIN, {"email": "cookie6@example.com", "password": PASSWORD,
                                     "session": True})
    cookie = session_cookie(resp)
    rotated = await client.post(REFRESH, {"refresh": resp.data["refresh"]})
    assert rotated.status == 200
    # the cookie names the login's session, which the rotation continues: no new cookie
    assert (await client.get(ME, headers={"Cookie": cookie})).status == 200
    assert not [h for h in rotated.headers.get_list("Set-Cookie")
                if h.startswith("igny8_session=")]


# -- the event loop stays free while bcrypt runs ------------------------------------------


async def test_login_does_not_block_event_loop(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pings sent while logins sit inside bcrypt all answer before any of the logins does.

    No clock bound (a 50 ms one failed at 83 ms on a loaded machine): bcrypt.checkpw is held
    at a gate until the pings have answered, so each login's bcrypt is "running" for as long
    as they take, and records whether the pings answered meanwhile. Off the loop that is a
    wait on the test's signal (60 s is only a deadlock guard). On the event loop's own thread
    it is false by construction (nothing else runs while bcrypt does), so the gate does not
    wait there: the logins finish first and both assertions fail.
    """
    logins_n, pings_n = 4, 6
    loop = asyncio.get_running_loop()
    loop_thread = threading.get_ident()
    real_checkpw = bcrypt.checkpw
    pings_answered = threading.Event()
    counter = itertools.count(1)
    all_inside = asyncio.Event()
    answered_meanwhile: list[bool] = []

    def gated_checkpw(password: bytes, hashed: bytes) -> bool:
        if next(counter) == logins_n:
            loop.call_soon_threadsafe(all_inside.set)
        on_loop = threading.get_ident() == loop_thread
        answered_meanwhile.append(not on_loop and pings_answered.wait(timeout=60))
        return real_checkpw(password, hashed)

    running = await start_app(make_settings(tmp_path, db_url))
    client = running.client()
    order: list[str] = []

    async def tagged(label: str, call: Awaitable[Any]) -> Any:
        result = await call
        order.append(label)
        return result

    try:
        await client.register("slow@example.com")
        monkeypatch.setattr(bcrypt, "checkpw", gated_checkpw)
        logins = [asyncio.ensure_future(tagged("login", client.login("slow@example.com")))
                  for _ in range(logins_n)]
        await asyncio.wait_for(all_inside.wait(), timeout=60)
        pings = await asyncio.gather(*(tagged("ping", client.get("/api/v1/system/ping/"))
                                       for _ in range(pings_n)))
        pings_answered.set()
        results = await asyncio.gather(*logins)
        assert all(p.status == 200 for p in pings)
        assert all(r["access"] for r in results)
        assert answered_meanwhile == [True] * logins_n
        assert order == ["ping"] * pings_n + ["login"] * logins_n, order
    finally:
        pings_answered.set()
        client.close()
        await stop_app(running)


async def test_logout_bad_bodies_are_clear_400s(client):
    await client.register("lo@example.com")
    pair = await client.login("lo@example.com")
    for body in ({"refresh": 5}, {"refresh": "x", "other": 1}, [1]):
        resp = await client.post(LOGOUT, body, token=pair["access"])
        assert resp.status == 400, body
    resp = await client.request("POST", LOGOUT, body="{bad", token=pair["access"],
                                headers={"Content-Type": "application/json"})
    assert resp.status == 400 and resp.errors["body"]
    # none of these ended the session
    assert (await client.post(REFRESH, {"refresh": pair["refresh"]})).status == 200
