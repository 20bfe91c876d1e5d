"""Password reset and invitations over HTTP on both stores: links mailed through a local SMTP
server, single use, expiring, hashed at rest; without SMTP, listed to superusers."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from igny8d import mail
from igny8d.store.schema import auth_tokens
from tests.helpers.app import RunningApp, make_settings, start_app, stop_app
from tests.helpers.client import PASSWORD, Client
from tests.helpers.factories import operator, tenant
from tests.helpers.paths import ADMIN, LOGIN, REFRESH, USERS
from tests.helpers.reads import audit_count
from tests.helpers.smtp import Inbox, start_smtp, token_in

RESET = "/api/v1/auth/password_reset/"
CONFIRM = "/api/v1/auth/password_reset/confirm/"
ACCEPT = "/api/v1/auth/invitations/accept/"
LINKS = f"{ADMIN}auth_links/"
NEW = "a-new-pass-42"


@pytest.fixture
def smtp() -> Iterator[tuple[int, Inbox]]:
    controller, inbox = start_smtp()
    yield controller.port, inbox
    controller.stop()


@pytest.fixture
async def mailing(tmp_path: Path, db_url: str,
                  smtp: tuple[int, Inbox]
                  ) -> AsyncIterator[tuple[RunningApp, Client, Inbox]]:
    """An app that mails through the local server, a client of it, and the inbox."""
    port, inbox = smtp
    running = await start_app(make_settings(
        tmp_path, db_url, smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False,
        smtp_from="noreply@igny8.test", public_url="https://app.igny8.test/"))
    client = running.client()
    yield running, client, inbox
    await mail.drain()
    client.close()
    await stop_app(running)


async def all_links(app: RunningApp) -> list[dict[str, Any]]:
    async with app.ctx.store.read() as conn:
        return [dict(r) for r in (await conn.execute(select(auth_tokens))).mappings()]


def same_answer(resp: Any) -> dict[str, Any]:
    return {k: v for k, v in resp.json.items() if k != "request_id"}


# -- password reset by mail ------------------------------------------------------------------------


async def test_reset_mails_a_single_use_link_that_ends_every_session(mailing):
    _, client, inbox = mailing
    ann = await tenant(client, "ann@example.com")
    known = await client.post(RESET, {"email": "ANN@example.com"})
    unknown = await client.post(RESET, {"email": "nobody@example.com"})
    assert known.status == unknown.status == 200
    assert same_answer(known) == same_answer(unknown)  # no account enumeration

    [message] = await inbox.wait(1)
    assert message["To"] == "ann@example.com" and message["From"] == "noreply@igny8.test"
    body = message.get_payload(decode=True).decode()
    assert "https://app.igny8.test/reset-password?token=" in body
    token = token_in(message)
    assert len(inbox.messages) == 1  # nothing went to the unknown address

    resp = await client.post(CONFIRM, {"token": token, "new_password": NEW,
                                       "new_password_confirm": NEW})
    assert resp.status == 200, resp.json
    # the sessions of before are over, the old password too; the new one works
    assert (await client.post(REFRESH, {"refresh": ann["refresh"]})).status == 401
    assert (await client.get("/api/v1/auth/me/", token=ann["token"])).status == 401
    assert (await client.post(LOGIN, {"email": ann["email"], "password": PASSWORD})).status \
        == 401
    await client.login(ann["email"], NEW)
    again = await client.post(CONFIRM, {"token": token, "new_password": "another-pass-9"})
    assert again.status == 400 and "token" in again.errors, again.json


async def test_links_are_stored_hashed_and_a_new_one_voids_the_old(mailing):
    running, client, inbox = mailing
    await tenant(client, "ann@example.com")
    await client.post(RESET, {"email": "ann@example.com"})
    await client.post(RESET, {"email": "ann@example.com"})
    first, second = (token_in(m) for m in await inbox.wait(2))
    rows = await all_links(running)
    assert {r["token_hash"] for r in rows} == {hashlib.sha256(t.encode()).hexdigest()
                                               for t in (first, second)}
    assert all(r["mailed_at"] is not None for r in rows)
    old = await client.post(CONFIRM, {"token": first, "new_password": NEW})
    assert old.status == 400 and old.errors["token"], old.json
    assert (await client.post(CONFIRM, {"token": second, "new_password": NEW})).status == 200


# -- tokens refused --------------------------------------------------------------------------------


async def test_expired_unknown_and_weak_are_refused(app, client):
    await tenant(client, "ann@example.com")
    await client.post(RESET, {"email": "ann@example.com"})
    op = await operator(app, client)
    [pending] = (await client.get(LINKS, token=op["token"])).json["results"]
    fresh = await client.post(f"{LINKS}{pending['id']}/reissue/", {"reason": "phone call"},
                              token=op["token"])
    token = fresh.data["link"].split("token=")[1]
    weak = await client.post(CONFIRM, {"token": token, "new_password": "12345678"})
    assert weak.status == 400 and "new_password" in weak.errors, weak.json
    async with app.ctx.store.begin() as conn:
        await conn.execute(update(auth_tokens).values(
            expires_at=auth_tokens.c.created_at))
    expired = await client.post(CONFIRM, {"token": token, "new_password": NEW})
    assert expired.status == 400 and "token" in expired.errors, expired.json
    unknown = await client.post(CONFIRM, {"token": "not-a-token", "new_password": NEW})
    assert unknown.status == 400 and "token" in unknown.errors, unknown.json


async def test_malformed_bodies_wrong_links_and_wrong_roles_are_clear_errors(app, client):
    """Bad input on the new endpoints: a 400 naming the field (or the body), a reset link
    does not accept an invitation, a non-operator cannot reissue, an unknown or non-numeric
    link id is a 404 — and nothing is written by any of them."""
    ann = await tenant(client, "ann@example.com")
    await client.post(RESET, {"email": "ann@example.com"})
    op = await operator(app, client)
    [pending] = (await client.get(LINKS, token=op["token"])).json["results"]
    before = await all_links(app)
    for path, field in ((CONFIRM, "new_password"), (ACCEPT, "password")):
        missing = await client.post(path, {field: NEW})
        assert missing.status == 400 and "token" in missing.errors, missing.json
        typed = await client.post(path, {"token": 42, field: NEW})
        assert typed.status == 400 and "token" in typed.errors, typed.json
        empty = await client.post(path, {"token": "", field: NEW})
        assert empty.status == 400 and "token" in empty.errors, empty.json
        huge = await client.post(path, {"token": "x" * 201, field: NEW})
        assert huge.status == 400 and "token" in huge.errors, huge.json
        no_password = await client.post(path, {"token": "abc"})
        assert no_password.status == 400 and field in no_password.errors, no_password.json
        for raw in (b"[]", b"not json", b"{"):
            bad = await client.post(path, body=raw,
                                    headers={"Content-Type": "application/json"})
            assert bad.status == 400, (raw, bad.json)
    # neither the owner (no operator) nor an anonymous caller can reissue: the admin API
    # does not exist for them
    assert (await client.post(f"{LINKS}{pending['id']}/reissue/", {}, token=ann["token"])
            ).status == 404
    assert (await client.post(f"{LINKS}{pending['id']}/reissue/", {})).status == 404
    for bad_id in ("999999", "abc", "0"):
        gone = await client.post(f"{LINKS}{bad_id}/reissue/", {}, token=op["token"])
        assert gone.status == 404, (bad_id, gone.json)
    assert await all_links(app) == before
    # a reset link is not an invitation: refused, and it still resets the password
    fresh = await client.post(f"{LINKS}{pending['id']}/reissue/", {}, token=op["token"])
    token = fresh.data["link"].split("token=")[1]
    wrong = await client.post(ACCEPT, {"token": token, "password": NEW})
    assert wrong.status == 400 and "token" in wrong.errors, wrong.json
    assert (await client.post(CONFIRM, {"token": token, "new_password": NEW})).status == 200
    await client.login("ann@example.com", NEW)


async def test_deactivating_a_user_voids_their_live_links(app, client):
    """An invitation still live when the user is deactivated (after being activated by
    hand) must not let them activate themselves again."""
    ann = await tenant(client, "ann@example.com")
    invited = await client.post(f"{USERS}invite/", {"email": "eve@example.com"},
                                token=ann["token"])
    eve_id = invited.data["id"]
    op = await operator(app, client)
    [pending] = (await client.get(LINKS, token=op["token"])).json["results"]
    fresh = await client.post(f"{LINKS}{pending['id']}/reissue/", {}, token=op["token"])
    token = fresh.data["link"].split("token=")[1]
    for active in (True, False):
        resp = await client.patch(f"{USERS}{eve_id}/", {"is_active": active},
                                  token=ann["token"])
        assert resp.status == 200 and resp.data["is_active"] is active, resp.json
    refused = await client.post(ACCEPT, {"token": token, "password": NEW})
    assert refused.status == 400 and "token" in refused.errors, refused.json
    assert (await client.get(LINKS, token=op["token"])).json["count"] == 0


async def test_two_confirms_at_once_exactly_one_wins(app, client):
    await tenant(client, "ann@example.com")
    await client.post(RESET, {"email": "ann@example.com"})
    op = await operator(app, client)
    [pending] = (await client.get(LINKS, token=op["token"])).json["results"]
    link = (await client.post(f"{LINKS}{pending['id']}/reissue/", {},
                              token=op["token"])).data["link"]
    token = link.split("token=")[1]
    answers = await asyncio.gather(*(
        client.post(CONFIRM, {"token": token, "new_password": f"racer-pass-{i}"})
        for i in range(4)))
    assert sorted(r.status for r in answers) == [200, 400, 400, 400], [r.json for r in answers]
    winner = next(i for i, r in enumerate(answers) if r.status == 200)
    await client.login("ann@example.com", f"racer-pass-{winner}")


# -- invitations -----------------------------------------------------------------------------------


async def test_invitation_mailed_accepted_and_resent(mailing):
    _, client, inbox = mailing
    ann = await tenant(client, "ann@example.com")
    resp = await client.post(f"{USERS}invite/", {"email": "eve@example.com", "role": "editor"},
                             token=ann["token"])
    assert resp.status == 201 and resp.data["is_active"] is False, resp.json
    eve_id = resp.data["id"]
    # an invitee not yet active gets no reset link (and the same answer)
    assert (await client.post(RESET, {"email": "eve@example.com"})).status == 200
    [first] = await inbox.wait(1)
    await mail.drain()
    assert len(inbox.messages) == 1
    assert first["To"] == "eve@example.com"
    assert "https://app.igny8.test/accept-invitation?token=" in \
        first.get_payload(decode=True).decode()
    resent = await client.post(f"{USERS}{eve_id}/resend_invitation/", {}, token=ann["token"])
    assert resent.status == 200, resent.json
    _, second = await inbox.wait(2)
    void = await client.post(ACCEPT, {"token": token_in(first), "password": NEW})
    assert void.status == 400 and "token" in void.errors, void.json
    assert (await client.post(LOGIN, {"email": "eve@example.com", "password": NEW})).status \
        == 401
    accepted = await client.post(ACCEPT, {"token": token_in(second), "password": NEW,
                                          "password_confirm": NEW})
    assert accepted.status == 200, accepted.json
    assert accepted.data["user"]["is_active"] is True
    assert accepted.data["user"]["role"] == "editor"
    await client.login("eve@example.com", NEW)
    twice = await client.post(ACCEPT, {"token": token_in(second), "password": "other-pass-1"})
    assert twice.status == 400
    active = await client.post(f"{USERS}{eve_id}/resend_invitation/", {}, token=ann["token"])
    assert active.status == 409, active.json


# -- without SMTP: shown to operators --------------------------------------------------------------


async def test_without_smtp_superusers_list_and_reissue_pending_links(app, client, caplog):
    caplog.set_level(logging.INFO, logger="igny8d.auth")
    ann = await tenant(client, "ann@example.com")
    invited = await client.post(f"{USERS}invite/", {"email": "eve@example.com"},
                                token=ann["token"])
    await client.post(RESET, {"email": "ann@example.com"})
    await mail.drain()
    pending_logs = [r.getMessage() for r in caplog.records if "pending" in r.getMessage()]
    assert len(pending_logs) == 2 and all("token=" not in m for m in pending_logs)
    # the owner is no operator: the listing does not exist for them
    assert (await client.get(LINKS, token=ann["token"])).status == 404
    op = await operator(app, client)
    listed = await client.get(LINKS, token=op["token"])
    assert listed.status == 200 and listed.json["count"] == 2, listed.json
    assert [(r["email"], r["purpose"], r["mailed"]) for r in listed.json["results"]] == [
        ("ann@example.com", "password_reset", False), ("eve@example.com", "invitation", False)]
    assert all("link" not in r and "token_hash" not in r for r in listed.json["results"])
    only = (await client.get(f"{LINKS}?purpose=invitation", token=op["token"])).json
    assert [r["user_id"] for r in only["results"]] == [invited.data["id"]]
    link_id = only["results"][0]["id"]

    before = await audit_count(app)
    fresh = await client.post(f"{LINKS}{link_id}/reissue/", {"reason": "asked"},
                              token=op["token"])
    assert fresh.status == 200, fresh.json
    # no public_url: the link names the configured host and port
    assert fresh.data["link"].startswith("http://127.0.0.1:8000/accept-invitation?token=")
    assert await audit_count(app) == before + 1
    gone = await client.post(f"{LINKS}{link_id}/reissue/", {}, token=op["token"])
    assert gone.status == 404  # the reissued link replaced it
    token = fresh.data["link"].split("token=")[1]
    assert (await client.post(ACCEPT, {"token": token, "password": NEW})).status == 200
    await client.login("eve@example.com", NEW)
    left = await client.get(LINKS, token=op["token"])
    assert [r["purpose"] for r in left.json["results"]] == ["password_reset"]


async def test_reset_request_is_throttled_in_auth_strict(throttled_app):
    client = throttled_app.client()
    try:
        answers = [await client.post(RESET, {"email": "x@example.com"}) for _ in range(6)]
    finally:
        client.close()
    assert [r.status for r in answers] == [200] * 5 + [429]


async def test_a_users_list_sees_an_accepted_invitation(mailing):
    """Accepting an invitation (`is_active`) writes users outside the resource layer; a users
    list filtered by it is not served the total kept from before (it bumps the users list like
    any write)."""
    _, client, inbox = mailing
    ann = await tenant(client, "lists@example.com")
    resp = await client.post(f"{USERS}invite/", {"email": "ivy@example.com", "role": "editor"},
                             token=ann["token"])
    assert resp.status == 201, resp.json
    active = f"{USERS}?is_active=true"
    before = await client.get(active, token=ann["token"])
    assert before.status == 200 and before.json["count"] == 1, before.json
    [mailed] = await inbox.wait(1)
    accepted = await client.post(ACCEPT, {"token": token_in(mailed), "password": NEW})
    assert accepted.status == 200, accepted.json
    after = await client.get(active, token=ann["token"])
    assert after.json["count"] == 2, after.json
