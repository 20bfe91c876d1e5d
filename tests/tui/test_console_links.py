"""The pending password-reset and invitation links in the console (`l` on the Users tab): listed
with their user, kind and times; a reissue is asked first (the confirmation, on its reason
field), sent only once confirmed, and the new link is shown whole.

Driven by Textual's pilot over the recorded admin API (tests/helpers/console_replay.py), which
records what the console sent (method, path and body).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from textual.pilot import Pilot
from textual.widgets import Button, DataTable, Input, Static

from tests.helpers.console import SIZE, until
from tests.helpers.console_replay import (
    AUTH_LINKS,
    REISSUED_LINK,
    URL,
    log_in,
    replay_transport,
    settle,
)
from tui.app import ConsoleApp
from tui.client import AdminClient
from tui.screens.dialogs import ConfirmDialog
from tui.screens.links import AuthLinksScreen, LinkDetail
from tui.screens.main import MainScreen

Sent = list[tuple[str, str, Any]]


@pytest.fixture
async def pilot() -> AsyncIterator[Pilot[None]]:
    sent: Sent = []
    replay = replay_transport()

    def handle(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        sent.append((request.method, request.url.path, body))
        return replay.handler(request)  # type: ignore[no-any-return]

    app = ConsoleApp(URL, "ops@example.com", poll_s=0, client_factory=lambda url: AdminClient(
        url, transport=httpx.MockTransport(handle)))
    async with app.run_test(size=SIZE) as pilot:
        pilot.app.sent = sent  # type: ignore[attr-defined]
        await log_in(pilot)
        yield pilot


def sent(pilot: Pilot[None], method: str, part: str) -> list[tuple[str, Any]]:
    return [(path, body) for m, path, body in pilot.app.sent  # type: ignore[attr-defined]
            if m == method and part in path]


async def open_links(pilot: Pilot[None]) -> AuthLinksScreen:
    await pilot.press("4")
    await settle(pilot)
    assert isinstance(pilot.app.screen, MainScreen)
    assert pilot.app.screen.active_bindings["l"].binding.description == "Pending links"
    await pilot.press("l")
    await until(pilot, lambda: isinstance(pilot.app.screen, AuthLinksScreen), "the links")
    screen = pilot.app.screen
    assert isinstance(screen, AuthLinksScreen)
    await until(pilot, lambda: screen.query_one("#links-table", DataTable).row_count == 2,
                "the pending links")
    return screen


async def test_the_pending_links_are_listed(pilot: Pilot[None]) -> None:
    screen = await open_links(pilot)
    table = screen.query_one("#links-table", DataTable)
    invitation = [str(c) for c in table.get_row("12")]
    reset = [str(c) for c in table.get_row("9")]
    assert invitation == ["12", "noor@blueharbor.example", "invitation", "2026-12-01 11:20:05",
                          "2026-12-08 11:20:05", "no"]
    assert reset[1:3] == ["sam@northwind.example", "reset"]
    assert "2 pending links" in str(screen.query_one("#links-count", Static).content)
    assert sent(pilot, "GET", "/admin/auth_links/")
    await pilot.press("escape")
    await until(pilot, lambda: isinstance(pilot.app.screen, MainScreen), "the Users tab")


async def test_a_reissue_is_sent_only_once_confirmed_and_shows_the_link_whole(
        pilot: Pilot[None]) -> None:
    screen = await open_links(pilot)
    assert screen.selected() == AUTH_LINKS[0]
    # declined: nothing sent
    await pilot.press("i")
    await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmDialog), "the dialog")
    await pilot.press("escape", "escape")
    await until(pilot, lambda: pilot.app.screen is screen, "the links again")
    assert not sent(pilot, "POST", "/reissue/")
    # asked: the dialog opens on its reason; enter there moves to the button, sends nothing
    await pilot.press("i")
    await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmDialog), "the dialog")
    dialog = pilot.app.screen
    confirm = dialog.query_one("#confirm", Button)
    assert dialog.focused is dialog.query_one("#reason", Input)
    assert str(confirm.label) == "Reissue link"
    assert "noor@blueharbor.example" in str(dialog.query_one("#dialog-message", Static).content)
    for key in "asked by phone":
        await pilot.press("space" if key == " " else key)
    await pilot.press("enter")
    assert pilot.app.screen is dialog and dialog.focused is confirm
    assert not sent(pilot, "POST", "/reissue/")
    before = len(sent(pilot, "GET", "/admin/auth_links/"))
    await pilot.press("enter")  # the button: confirmed
    await until(pilot, lambda: isinstance(pilot.app.screen, LinkDetail), "the new link")
    assert sent(pilot, "POST", "/admin/") == [
        ("/api/v1/admin/auth_links/12/reissue/", {"reason": "asked by phone"})]
    detail = pilot.app.screen
    assert isinstance(detail, LinkDetail) and detail.link == REISSUED_LINK
    body = str(detail.query_one("#detail-body", Static).content)
    assert REISSUED_LINK in body.splitlines()  # whole, on a line of its own
    assert "noor@blueharbor.example" in body and "invitation" in body
    await settle(pilot)
    assert len(sent(pilot, "GET", "/admin/auth_links/")) > before  # the list is reloaded
    await pilot.press("escape")
    await until(pilot, lambda: pilot.app.screen is screen, "the links again")
