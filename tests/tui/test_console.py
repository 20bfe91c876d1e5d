"""The operator console (tui/) driven by Textual's pilot against a real igny8d served in this
process: log in, the overview, a running job's detail and its cancellation, a credit grant,
a request looked up by its id; refusals (wrong password, a non-operator, a session ended by
another operator), and the server going away and coming back while the console is open.
The client's own rules (token refresh, errors as sentences) are checked against a tiny fake.

The console tests run on SQLite only: they test the console, the admin API's store behaviour
has its own tests on both stores.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from textual.pilot import Pilot
from textual.widgets import Button, DataTable, Input, ProgressBar, Static
from tornado.netutil import bind_sockets

from igny8d.app import make_app, server_for
from igny8d.permissions import Actor
from igny8d.store.schema import users
from tests.helpers.app import RunningApp, make_settings, start_app, stop_app
from tests.helpers.client import PASSWORD, Client
from tests.helpers.console import OPS, OPS_PASSWORD, SIZE, said, until
from tests.helpers.factories import superuser
from tests.helpers.paths import ROOT
from tui.app import ConsoleApp
from tui.client import AdminClient
from tui.errors import ApiError, LoginFailed, SessionEnded, Throttled, Unreachable
from tui.screens.accounts import AccountsPane
from tui.screens.dialogs import ConfirmDialog, CreditsDialog
from tui.screens.jobs import JobDetail
from tui.screens.links import AuthLinksScreen, LinkDetail
from tui.screens.login import LoginScreen
from tui.screens.main import MainScreen
from tui.screens.users import UsersPane
from tui.session import NOT_OPERATOR

# -- a real server ---------------------------------------------------------------------------

async def tenant(box: RunningApp, client: Client, email: str) -> dict[str, Any]:
    token = await client.owner(email)
    me = (await client.get("/api/v1/auth/me/", token=token)).data["user"]
    return {"token": token, "user_id": me["id"], "account_id": me["account"]["id"],
            "credits": me["account"]["credits"]}


async def queue_job(box: RunningApp, who: dict[str, Any]) -> str:
    actor = Actor(user_id=who["user_id"], account_id=who["account_id"], role="owner")
    async with box.ctx.store.begin() as conn:
        # `credits` as operations/lifecycle.py writes it: what the job was charged
        out = await box.ctx.executor.submit(conn, actor, kind="test.gated",
                                            payload={"ids": [1, 2, 3], "credits": 60})
    return str(out["task_id"])


async def admin_get(client: Client, token: str, path: str) -> Any:
    resp = await client.get(f"/api/v1/admin/{path}", token=token)
    assert resp.status == 200, resp.json
    return resp.json


# -- driving the console ---------------------------------------------------------------------

def text(pilot: Pilot[None], selector: str) -> str:
    return str(pilot.app.screen.query_one(selector, Static).content)


async def type_in(pilot: Pilot[None], value: str) -> None:
    await pilot.press(*[{" ": "space", "/": "slash", "-": "minus", ".": "full_stop",
                         "@": "at"}.get(ch, ch) for ch in value])


async def log_in(pilot: Pilot[None], password: str = OPS_PASSWORD) -> None:
    await until(pilot, lambda: isinstance(pilot.app.screen, LoginScreen), "the login screen")
    await pilot.pause()
    await type_in(pilot, password)  # the email was given: the password field has the focus
    await pilot.press("enter")


@contextlib.asynccontextmanager
async def driving(app: ConsoleApp) -> AsyncIterator[Pilot[None]]:
    """`app.run_test()` that lets the calls in flight finish before the app goes: a poll cut
    off mid-request would leave its handler running past the server's shutdown."""
    async with app.run_test(size=SIZE) as pilot:
        try:
            yield pilot
        finally:
            app.offline = True  # the poll ticks skip from now on
            app.workers.cancel_group(app, "reconnect")
            await asyncio.gather(*[w.wait() for w in app.workers if w.group != "action"],
                                 return_exceptions=True)
            await pilot.pause()


def console(box: RunningApp, email: str = OPS, **kw: Any) -> ConsoleApp:
    return ConsoleApp(box.base_url, email, poll_s=kw.pop("poll_s", 0.5), **kw)


async def logged_in(pilot: Pilot[None]) -> None:
    await log_in(pilot)
    await until(pilot, lambda: isinstance(pilot.app.screen, MainScreen), "the main screen")


def row_of(table: DataTable[Any], key: str) -> list[str]:
    return [str(cell) for cell in table.get_row(key)]


# -- the console against the server ----------------------------------------------------------

@pytest.mark.slow
async def test_overview_job_detail_and_cancel(box: RunningApp) -> None:
    client = box.client()
    try:
        ann = await tenant(box, client, "ann@example.com")
        task_id = await queue_job(box, ann)
        ops_token = (await client.login(OPS, OPS_PASSWORD))["access"]
        for _ in range(200):
            job = (await admin_get(client, ops_token, f"jobs/{task_id}/"))["data"]
            if job["state"] == "PROGRESS":
                break
            await asyncio.sleep(0.02)
        assert job["state"] == "PROGRESS"

        app = console(box)
        async with driving(app) as pilot:
            await logged_in(pilot)
            await until(pilot, lambda: "igny8d 0.1.0" in text(pilot, "#tile-server"),
                        "the version")
            await until(pilot, lambda: "sqlite ok" in text(pilot, "#tile-database"),
                        "the database")
            jobs_tile = text(pilot, "#tile-jobs")
            assert "PROGRESS" in jobs_tile and "1" in jobs_tile.split("PROGRESS")[1][:12]
            assert "this process" in str(pilot.app.screen.query_one("#tile-traffic")
                                         .border_title)

            await pilot.press("2")
            table: DataTable[Any] = pilot.app.screen.query_one("#jobs-table", DataTable)
            await until(pilot, lambda: table.row_count == 1, "the job")
            row = row_of(table, task_id)
            assert row[1] == "test.gated" and row[2] == "PROGRESS"
            assert "40%" in row[4] and row[5] == "AI_CALL" and "Clustering" in row[6]

            await pilot.press("enter")
            await until(pilot, lambda: isinstance(pilot.app.screen, JobDetail), "the detail")
            await until(pilot, lambda: "AI_CALL" in text(pilot, "#detail-body"), "the meta")
            assert pilot.app.screen.query_one(ProgressBar).progress == 40
            assert '"ids"' in text(pilot, "#job-json")
            assert "60 charged" in text(pilot, "#detail-body")  # the credits, not meta.cost

            await pilot.press("c")
            await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmDialog), "confirm")
            dialog = pilot.app.screen
            assert dialog.focused is dialog.query_one("#reason", Input)  # not the button
            confirm = dialog.query_one("#confirm", Button)
            assert str(confirm.label) == "Cancel job" and confirm.variant == "error"
            await type_in(pilot, "stuck")
            await pilot.press("enter")  # only moves on to the button
            assert pilot.app.screen is dialog and dialog.focused is confirm
            assert not said(app, "Cancelled")
            await pilot.press("enter")
            await until(pilot, lambda: said(app, "Cancelled"), "the cancellation")
            await until(pilot, lambda: "REVOKED" in text(pilot, "#detail-body"),
                        "the revoked state in the detail")
            job = (await admin_get(client, ops_token, f"jobs/{task_id}/"))["data"]
            assert job["state"] == "REVOKED"
            audit = await admin_get(client, ops_token, "audit/?action=job.cancel")
            assert [(a["target_id"], a["reason"]) for a in audit["results"]] == [
                (task_id, "stuck")]

            # A finished job is not offered a cancel: the key is disabled, no dialog opens.
            detail = pilot.app.screen
            assert detail.check_action("cancel", ()) is None
            await pilot.press("c")
            await pilot.pause(0.3)
            assert pilot.app.screen is detail and not said(app, "Not cancelled")
            detail.pane.cancel(task_id)  # asked anyway (a stale row): a fresh read says no
            await until(pilot, lambda: said(app, "Nothing to cancel"), "the refusal")
            assert not isinstance(pilot.app.screen, ConfirmDialog)
            await pilot.press("escape")
            await until(pilot, lambda: isinstance(pilot.app.screen, MainScreen), "the table")
            await until(pilot, lambda: row_of(table, task_id)[2] == "REVOKED", "the new state")
            assert app.is_running
    finally:
        client.close()


@pytest.mark.slow
async def test_grant_credits_changes_the_balance(box: RunningApp) -> None:
    client = box.client()
    try:
        bob = await tenant(box, client, "bob@example.com")
        key = str(bob["account_id"])
        app = console(box, poll_s=0)
        async with driving(app) as pilot:
            await logged_in(pilot)
            await pilot.press("3")
            table: DataTable[Any] = pilot.app.screen.query_one("#accounts-table", DataTable)
            await until(pilot, lambda: key in {k.value for k in table.rows}, "the account")
            assert row_of(table, key)[5] == f"{bob['credits']:,}"
            table.move_cursor(row=table.get_row_index(key))

            await pilot.press("g")
            await until(pilot, lambda: isinstance(pilot.app.screen, CreditsDialog), "the form")
            await type_in(pilot, "250")
            await pilot.press("enter")  # on to the reason
            await type_in(pilot, "goodwill")
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmDialog), "confirm")
            assert f"{bob['credits'] + 250:,}" in text(pilot, "#dialog-message")
            assert str(pilot.app.screen.query_one("#confirm", Button).label) == "Grant credits"
            await pilot.press("enter", "enter")  # the reason field, then the button
            after = f"{bob['credits'] + 250:,}"
            await until(pilot, lambda: row_of(table, key)[5] == after, "the new balance")
            me = (await client.get("/api/v1/auth/me/", token=bob["token"])).data["user"]
            assert me["account"]["credits"] == bob["credits"] + 250

            # Revoking more than the balance is refused in the form: nothing is sent.
            await pilot.press("v")
            await until(pilot, lambda: isinstance(pilot.app.screen, CreditsDialog), "the form")
            form = pilot.app.screen
            await type_in(pilot, "99999999")
            await pilot.press("enter")
            await type_in(pilot, "oops")
            await pilot.press("enter")
            await pilot.pause(0.2)
            assert pilot.app.screen is form
            assert f"The balance is {after}" in text(pilot, "#dialog-error")
            assert form.focused is form.query_one("#amount", Input)
            await pilot.press("escape")  # leaves the field, the form stays
            assert pilot.app.screen is form and not isinstance(form.focused, Input)
            await pilot.press("escape")  # closes it
            await until(pilot, lambda: not isinstance(pilot.app.screen, CreditsDialog),
                        "the form closed")
            assert not said(app, "Not changed") and row_of(table, key)[5] == after
            me = (await client.get("/api/v1/auth/me/", token=bob["token"])).data["user"]
            assert me["account"]["credits"] == bob["credits"] + 250
            assert isinstance(pilot.app.screen.query_one(AccountsPane), AccountsPane)
    finally:
        client.close()


@pytest.mark.slow
async def test_users_search_end_sessions_and_deactivate(box: RunningApp) -> None:
    client = box.client()
    try:
        eve = await tenant(box, client, "eve@example.com")
        await tenant(box, client, "fay@example.com")
        key = str(eve["user_id"])
        app = console(box, poll_s=0)
        async with driving(app) as pilot:
            await logged_in(pilot)
            await pilot.press("4")
            table: DataTable[Any] = pilot.app.screen.query_one("#users-table", DataTable)
            await until(pilot, lambda: table.row_count == 3, "every user")
            await pilot.press("slash")
            await type_in(pilot, "eve")
            await pilot.press("enter")
            await until(pilot, lambda: [k.value for k in table.rows] == [key], "the search")
            table.focus()

            await pilot.press("e")
            await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmDialog), "confirm")
            await pilot.press("enter", "enter")
            await until(pilot, lambda: said(app, "Sessions ended"), "the sessions ended")
            me = await client.get("/api/v1/auth/me/", token=eve["token"])
            assert me.status == 401  # her access token stopped working at once

            pane = pilot.app.screen.query_one(UsersPane)
            assert pane.check_action("reactivate", ()) is None  # she is active
            await pilot.press("d")
            await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmDialog), "confirm")
            assert str(pilot.app.screen.query_one("#confirm", Button).label) == "Deactivate user"
            await pilot.press("enter", "enter")
            await until(pilot, lambda: row_of(table, key)[5] == "no", "the inactive user")
            resp = await client.post("/api/v1/auth/login/",
                                     {"email": "eve@example.com", "password": PASSWORD})
            assert resp.status == 401

            # and back: reactivate (offered now, deactivate no longer)
            await until(pilot, lambda: pane.check_action("deactivate", ()) is None,
                        "deactivate disabled")
            await pilot.press("a")
            await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmDialog), "confirm")
            assert str(pilot.app.screen.query_one("#confirm", Button).label) == "Reactivate user"
            await type_in(pilot, "came back")
            await pilot.press("enter", "enter")
            await until(pilot, lambda: said(app, "Reactivated"), "the reactivation")
            await until(pilot, lambda: row_of(table, key)[5] == "yes", "the active user")
            resp = await client.post("/api/v1/auth/login/",
                                     {"email": "eve@example.com", "password": PASSWORD})
            assert resp.status == 200
            ops_token = (await client.login(OPS, OPS_PASSWORD))["access"]
            audit = await admin_get(client, ops_token, "audit/?action=user.reactivate")
            assert [(a["target_id"], a["reason"]) for a in audit["results"]] == [
                (key, "came back")]
    finally:
        client.close()


@pytest.mark.slow
async def test_a_pending_reset_link_is_reissued_and_works(box: RunningApp) -> None:
    client = box.client()
    try:
        await tenant(box, client, "gus@example.com")
        resp = await client.post("/api/v1/auth/password_reset/", {"email": "gus@example.com"})
        assert resp.status == 200  # no SMTP in the box: the link waits for an operator
        app = console(box, poll_s=0)
        async with driving(app) as pilot:
            await logged_in(pilot)
            await pilot.press("4")
            await pilot.pause()
            await pilot.press("l")
            await until(pilot, lambda: isinstance(pilot.app.screen, AuthLinksScreen), "links")
            table: DataTable[Any] = pilot.app.screen.query_one("#links-table", DataTable)
            await until(pilot, lambda: table.row_count == 1, "the pending link")
            assert [str(c) for c in table.get_row_at(0)][1:3] == ["gus@example.com", "reset"]
            await pilot.press("i")
            await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmDialog), "confirm")
            await type_in(pilot, "asked by phone")
            await pilot.press("enter", "enter")
            await until(pilot, lambda: isinstance(pilot.app.screen, LinkDetail), "the link")
            link = pilot.app.screen.link  # type: ignore[attr-defined]
        assert "/reset-password?token=" in link
        resp = await client.post("/api/v1/auth/password_reset/confirm/", {
            "token": link.split("token=", 1)[1], "new_password": "a-new-pass-77"})
        assert resp.status == 200, resp.json
        ops_token = (await client.login(OPS, OPS_PASSWORD))["access"]
        audit = await admin_get(client, ops_token, "audit/?action=user.reissue_link")
        assert [a["reason"] for a in audit["results"]] == ["asked by phone"]
    finally:
        client.close()


@pytest.mark.slow
async def test_request_lookup_shows_the_record_and_its_log_lines(box: RunningApp) -> None:
    client = box.client()
    try:
        cy = await tenant(box, client, "cy@example.com")
        resp = await client.get("/api/v1/planner/keywords/424242/", token=cy["token"])
        assert resp.status == 404
        rid = resp.headers["X-Request-ID"]
        app = console(box, poll_s=0)
        async with driving(app) as pilot:
            await logged_in(pilot)
            await pilot.press("5")
            await until(pilot, lambda: pilot.app.screen.query_one(
                "#requests-table", DataTable).row_count > 0, "the recent requests")
            await pilot.press("slash")
            box_input = pilot.app.screen.query_one("#rid", Input)
            assert pilot.app.screen.focused is box_input
            box_input.value = rid  # as pasted
            await pilot.press("enter")
            await until(pilot, lambda: rid in text(pilot, "#request-record"), "the record")
            record = text(pilot, "#request-record")
            assert "GET /api/v1/planner/keywords/424242/" in record
            assert "/api/v1/planner/keywords/{id}/" in record  # the route template
            assert "404" in record
            assert "log lines (0)" not in record and "igny8d.access" in record

            box_input.value = "00000000-0000-4000-8000-000000000000"
            await pilot.press("enter")
            await until(pilot, lambda: "No request" in text(pilot, "#request-record"),
                        "the unknown id")
    finally:
        client.close()


@pytest.mark.slow
async def test_requests_hide_the_consoles_own_admin_polling(box: RunningApp) -> None:
    client = box.client()
    try:
        cy = await tenant(box, client, "cy@example.com")
        app = console(box, poll_s=0.2)  # the overview polls the admin API while shown
        async with driving(app) as pilot:
            await logged_in(pilot)
            await pilot.pause(1.0)
            resp = await client.get("/api/v1/planner/keywords/424242/", token=cy["token"])
            rid = resp.headers["X-Request-ID"]
            await pilot.press("5")
            table = pilot.app.screen.query_one("#requests-table", DataTable)

            def paths() -> list[str]:
                return [row_of(table, str(k.value))[7] for k in table.rows]

            await until(pilot, lambda: rid in {str(k.value) for k in table.rows},
                        "the tenant's request")
            assert paths() and not any(p.startswith("/api/v1/admin/") for p in paths())
            assert "admin API calls hidden" in text(pilot, "#requests-count")
            await pilot.press("a")  # show them
            await until(pilot, lambda: any(p.startswith("/api/v1/admin/") for p in paths()),
                        "the admin calls")
            assert "hidden" not in text(pilot, "#requests-count")
            await pilot.press("a")  # and hide them again
            await until(pilot, lambda: not any(p.startswith("/api/v1/admin/")
                                               for p in paths()), "the admin calls hidden")
    finally:
        client.close()


async def test_wrong_password_is_a_message(box: RunningApp) -> None:
    app = console(box)
    async with driving(app) as pilot:
        await log_in(pilot, "not-the-password")
        await until(pilot, lambda: "Wrong email or password." in text(pilot, "#login-error"),
                    "the message")
        assert isinstance(pilot.app.screen, LoginScreen) and app.is_running
        assert pilot.app.screen.query_one("#password", Input).value == ""


async def test_a_non_superuser_is_refused(box: RunningApp) -> None:
    client = box.client()
    try:
        await client.register("dee@example.com", OPS_PASSWORD)
    finally:
        client.close()
    app = console(box, "dee@example.com")
    async with driving(app) as pilot:
        await log_in(pilot)
        await until(pilot, lambda: NOT_OPERATOR in text(pilot, "#login-error"), "the refusal")
        assert isinstance(pilot.app.screen, LoginScreen)


async def test_an_unreachable_server_on_login_is_a_message(tmp_path: Path) -> None:
    sock = bind_sockets(0, "127.0.0.1")[0]
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    app = ConsoleApp(f"127.0.0.1:{port}", OPS)
    async with driving(app) as pilot:
        await log_in(pilot)
        await until(pilot, lambda: "cannot reach" in text(pilot, "#login-error"),
                    "the message")


@pytest.mark.slow
async def test_server_going_away_shows_the_banner_and_reconnects(box: RunningApp) -> None:
    app = console(box, poll_s=0.3, retry_delays=(1,))
    async with driving(app) as pilot:
        await logged_in(pilot)
        banner = pilot.app.screen.query_one("#banner", Static)
        assert not banner.has_class("shown")

        box.server.stop()
        await box.server.close_all_connections()
        await until(pilot, lambda: "Server unreachable — retrying in" in str(banner.content),
                    "the banner")
        assert banner.has_class("shown") and app.offline
        for key in ("2", "3", "r", "4", "1"):  # the UI still answers, nothing crashes
            await pilot.press(key)
        assert app.is_running

        again = server_for(make_app(box.ctx), box.ctx.settings)  # the same box, restarted
        again.add_sockets(bind_sockets(box.port, "127.0.0.1"))
        try:
            await until(pilot, lambda: not app.offline, "the reconnection", timeout=15)
            assert not banner.has_class("shown")
            assert said(app, "Back online")
            assert isinstance(pilot.app.screen, MainScreen)
        finally:
            again.stop()
            await again.close_all_connections()


async def test_a_session_ended_elsewhere_returns_to_login(box: RunningApp) -> None:
    """Another operator ends our sessions: the next call is refused, the refresh too."""
    other = (await superuser(box, "ops2@example.com", OPS_PASSWORD))["user"]["id"]
    assert other
    client = box.client()
    try:
        token = (await client.login("ops2@example.com", OPS_PASSWORD))["access"]
        async with box.ctx.store.read() as conn:
            ops_id = (await conn.execute(select(users.c.id).where(users.c.email == OPS))
                      ).scalar_one()
        app = console(box, poll_s=0.3)
        async with driving(app) as pilot:
            await logged_in(pilot)
            resp = await client.post(f"/api/v1/admin/users/{ops_id}/end_sessions/", {},
                                     token=token)
            assert resp.status == 200, resp.json
            await until(pilot, lambda: isinstance(pilot.app.screen, LoginScreen)
                        and pilot.app.screen.query("#login-error"), "the login screen")
            assert "log in again" in text(pilot, "#login-error")
    finally:
        client.close()


# -- the client against a tiny fake ----------------------------------------------------------

def _iso(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat().replace("+00:00", "Z")


class Fake:
    """The few auth and admin answers the client's rules need, with a controllable clock."""

    def __init__(self, *, superuser: bool = True, lifetime: float = 900.0) -> None:
        self.now = 1_000_000.0
        self.superuser = superuser
        self.lifetime = lifetime
        self.issued = 0
        self.valid: set[str] = set()
        self.calls: list[str] = []
        self.refuse_refresh = False
        self.fail: Exception | None = None

    def tokens(self) -> dict[str, Any]:
        self.issued += 1
        access = f"access-{self.issued}"
        self.valid = {access}
        return {"user": {"id": 1, "email": OPS, "is_superuser": self.superuser},
                "access": access, "refresh": f"refresh-{self.issued}",
                "access_expires_at": _iso(self.now + self.lifetime),
                "refresh_expires_at": _iso(self.now + 7 * 86400)}

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.calls.append(f"{request.method} {path}")
        if self.fail is not None:
            raise self.fail
        rid = {"request_id": "r-1"}
        if path == "/api/v1/auth/login/":
            body = json.loads(request.content)
            if body["password"] != OPS_PASSWORD:
                return httpx.Response(401, json={"success": False,
                                                 "error": "Invalid credentials", **rid})
            return httpx.Response(200, json={"success": True, "data": self.tokens(), **rid})
        if path == "/api/v1/auth/refresh/":
            if self.refuse_refresh:
                return httpx.Response(401, json={"success": False,
                                                 "error": "Token has been revoked", **rid})
            return httpx.Response(200, json={"success": True, "data": self.tokens(), **rid})
        if path == "/api/v1/auth/logout/":
            return httpx.Response(200, json={"success": True, "data": None, **rid})
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if path == "/api/v1/auth/me/":
            if token not in self.valid:
                return httpx.Response(401, json={"success": False, "error": "Token expired",
                                                 **rid})
            user = {"id": 1, "email": OPS, "is_superuser": self.superuser}
            return httpx.Response(200, json={"success": True, "data": {"user": user}, **rid})
        if token not in self.valid or path == "/api/v1/admin/jobs/missing/":
            # The admin API hides itself: a refused token gets an unknown path's 404.
            return httpx.Response(404, json={"success": False, "error": "Not found.", **rid})
        if path == "/api/v1/admin/accounts/7/grant_credits/":
            return httpx.Response(400, json={
                "success": False, "error": "Validation failed",
                "errors": {"amount": ["The balance is 10: at most 10 can be revoked."]}, **rid})
        if path.startswith("/api/v1/admin/"):
            return httpx.Response(200, json={"success": True, "data": {"path": path}, **rid})
        return httpx.Response(404, json={"success": False, "error": "Not found.", **rid})

    def client(self) -> AdminClient:
        return AdminClient("fake.example:8000", transport=httpx.MockTransport(self.handle),
                           clock=lambda: self.now)


async def test_client_refreshes_before_expiry_and_once_for_concurrent_calls() -> None:
    fake = Fake()
    client = fake.client()
    await client.login(OPS, OPS_PASSWORD)
    assert client.base_url == "http://fake.example:8000"
    assert client.tokens is not None and client.tokens.access == "access-1"
    fake.now += 900 - 30  # 30 s left: inside the refresh margin
    fake.calls.clear()
    await asyncio.gather(client.overview(), client.overview(), client.overview())
    assert fake.calls.count("POST /api/v1/auth/refresh/") == 1
    assert client.tokens.access == "access-2"
    fake.calls.clear()
    await client.overview()
    assert fake.calls == ["GET /api/v1/admin/overview/"]
    await client.close()
    assert client.tokens is None and fake.calls[-1] == "POST /api/v1/auth/logout/"


async def test_client_refreshes_a_refused_token_and_ends_the_session_when_refused() -> None:
    fake = Fake()
    client = fake.client()
    await client.login(OPS, OPS_PASSWORD)
    fake.valid = set()  # the server no longer takes the access token (e.g. a restart)
    assert (await client.job("x"))["path"] == "/api/v1/admin/jobs/x/"
    assert fake.calls[-4:] == ["GET /api/v1/admin/jobs/x/", "GET /api/v1/auth/me/",
                               "POST /api/v1/auth/refresh/", "GET /api/v1/admin/jobs/x/"]
    with pytest.raises(ApiError) as caught:  # a genuine 404: the token still works
        await client.job("missing")
    assert caught.value.status == 404 and client.tokens is not None
    fake.valid = set()
    fake.refuse_refresh = True
    with pytest.raises(SessionEnded):
        await client.overview()
    assert client.tokens is None
    with pytest.raises(SessionEnded):
        await client.overview()


async def test_client_errors_are_sentences() -> None:
    fake = Fake()
    client = fake.client()
    with pytest.raises(LoginFailed, match=r"Wrong email or password\."):
        await client.login(OPS, "nope-nope-nope")
    await client.login(OPS, OPS_PASSWORD)
    with pytest.raises(ApiError) as caught:
        await client.grant_credits(7, -50, "too much")
    assert caught.value.status == 400
    assert caught.value.errors == {"amount": ["The balance is 10: at most 10 can be revoked."]}
    assert "amount: The balance is 10" in caught.value.describe()
    fake.fail = httpx.ConnectError("[Errno 111] Connection refused")
    with pytest.raises(Unreachable, match=r"cannot reach http://fake\.example:8000"):
        await client.overview()
    fake.fail = httpx.ReadTimeout("timed out")
    with pytest.raises(Unreachable, match="did not answer in time"):
        await client.overview()


async def test_client_refuses_a_non_superuser_and_ends_its_session() -> None:
    fake = Fake(superuser=False)
    client = fake.client()
    with pytest.raises(LoginFailed, match=r"not an operator \(superuser\)"):
        await client.login(OPS, OPS_PASSWORD)
    assert fake.calls[-1] == "POST /api/v1/auth/logout/" and client.tokens is None


@pytest.mark.slow
async def test_a_throttled_console_pauses_instead_of_failing(tmp_path: Path,
                                                              sqlite_template: Path) -> None:
    """The admin scope allows 30 requests a minute; a console that spends its budget is told
    429 and pauses its live refresh until Retry-After, with a banner, and no error pop-ups."""
    db = tmp_path / "igny8d.db"
    shutil.copy(sqlite_template, db)
    running = await start_app(make_settings(
        tmp_path, f"sqlite+aiosqlite:///{db}", debug_throttle=False,
        throttle_rates=("system_admin=4/minute",)))
    await superuser(running, OPS, OPS_PASSWORD)
    try:
        app = console(running, poll_s=0.2)
        async with driving(app) as pilot:
            await logged_in(pilot)
            await until(pilot, lambda: app.paused, "a pause after a 429")
            assert "throttling this operator" in app.banner
            assert not said(app, "Server answered 429")
            assert not said(app, "Console error")
            seen = sum(1 for m in running.ctx.metrics.recent
                       if m.path.startswith("/api/v1/admin/") and m.status == 429)
            await pilot.pause(1.0)  # paused: no more polls reach the server
            assert sum(1 for m in running.ctx.metrics.recent
                       if m.path.startswith("/api/v1/admin/") and m.status == 429) == seen
            assert isinstance(app.screen, MainScreen)
    finally:
        await stop_app(running)


async def test_client_raises_throttled_with_the_retry_after() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": "17"}, json={
            "success": False, "error": "Request was throttled.", "request_id": "r-9"})

    client = AdminClient("fake.example:8000", transport=httpx.MockTransport(handle))
    with pytest.raises(Throttled) as caught:
        AdminClient._body(await client._send("GET", "/api/v1/admin/overview/"))
    assert caught.value.retry_after == 17.0 and caught.value.status == 429
    await client.http.aclose()


# -- packaging -------------------------------------------------------------------------------

@pytest.mark.subprocess
def test_the_console_imports_nothing_of_the_server() -> None:
    """It must work against a remote box: only the HTTP API joins the two."""
    code = "import sys, tui.app\nprint('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout.split()
    assert "textual" in out
    assert not [m for m in out if m == "igny8d" or m.startswith("igny8d.")]


@pytest.mark.subprocess
def test_igny8d_console_is_a_subcommand() -> None:
    out = subprocess.run([sys.executable, "-m", "igny8d", "console", "--help"],
                         capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "--url" in out.stdout and "--email" in out.stdout


def test_the_stylesheet_ships_with_the_package() -> None:
    cfg = (ROOT / "setup.cfg").read_text()
    assert "tui =\n    *.tcss" in cfg and "igny8d-console = tui.app:main" in cfg
    assert (ROOT / "tui" / ConsoleApp.CSS_PATH).is_file()

