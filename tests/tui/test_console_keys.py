"""The console never traps the keyboard: `w` works on the Overview whatever has the focus, `esc`
leaves a text field before it closes anything, a confirmation opens on its reason and `enter`
there does not confirm, actions the server would refuse are disabled, tables fit their rows
after a reload and request ids are shown whole.

Driven by Textual's pilot over the recorded admin API (tests/helpers/console_replay.py), which
also records what the console sent, so a test can tell an action asked from one not asked.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.widgets import Button, DataTable, Input, Static

from tests.helpers.console import SIZE, said, until
from tests.helpers.console_replay import JOBS, RID, URL, log_in, replay_transport, settle
from tui.app import ConsoleApp
from tui.client import AdminClient
from tui.screens.accounts import AccountsPane
from tui.screens.base import fill
from tui.screens.dialogs import ConfirmDialog, CreditsDialog
from tui.screens.jobs import JobDetail, JobsPane
from tui.screens.main import MainScreen
from tui.screens.overview import OverviewPane

Sent = list[tuple[str, str, dict[str, Any]]]


def recording_app(sent: Sent) -> ConsoleApp:
    """The console over the replay, noting every call (method, path, query)."""
    replay = replay_transport()

    def handle(request: httpx.Request) -> httpx.Response:
        sent.append((request.method, request.url.path, dict(request.url.params)))
        return replay.handler(request)  # type: ignore[no-any-return]

    return ConsoleApp(URL, "ops@example.com", poll_s=0, client_factory=lambda url: AdminClient(
        url, transport=httpx.MockTransport(handle)))


@pytest.fixture
async def pilot() -> AsyncIterator[Pilot[None]]:
    sent: Sent = []
    app = recording_app(sent)
    async with app.run_test(size=SIZE) as pilot:
        pilot.app.sent = sent  # type: ignore[attr-defined]
        await log_in(pilot)
        yield pilot


def posts(pilot: Pilot[None]) -> list[str]:
    return [path for method, path, _ in pilot.app.sent if method == "POST"  # type: ignore[attr-defined]
            and "/admin/" in path]


def main(pilot: Pilot[None]) -> MainScreen:
    screen = pilot.app.screen
    assert isinstance(screen, MainScreen)
    return screen


async def test_w_changes_the_traffic_window_on_the_overview(pilot: Pilot[None]) -> None:
    overview = main(pilot).query_one(OverviewPane)
    title = str(main(pilot).query_one("#tile-traffic").border_title)
    assert "last 5 min" in title
    await pilot.press("w")
    await settle(pilot)
    assert "last 15 min" in str(main(pilot).query_one("#tile-traffic").border_title)
    assert overview.window_s == 900
    assert any("15 min" in m for m in said(pilot.app, ""))  # type: ignore[arg-type]
    windows = [q.get("window_s") for m, p, q in pilot.app.sent  # type: ignore[attr-defined]
               if p.endswith("/admin/overview/")]
    assert windows[-1] == "900"
    # from the tab bar too (the focus is not the pane's)
    main(pilot).query_one("Tabs").focus()
    await pilot.press("w")
    await settle(pilot)
    assert overview.window_s == 3600
    # and not on another tab
    await pilot.press("2")
    await settle(pilot)
    assert main(pilot).check_action("window", ()) is False
    await pilot.press("w")
    await settle(pilot)
    assert overview.window_s == 3600


async def test_esc_leaves_a_filter_field_and_the_tables_keys_work_again(
        pilot: Pilot[None]) -> None:
    await pilot.press("2")
    await settle(pilot)
    screen = main(pilot)
    await pilot.press("slash")
    kind = screen.query_one("#job-kind", Input)
    assert screen.focused is kind
    await pilot.press("s")  # typed into the field, not the state filter
    assert kind.value == "s"
    await pilot.press("escape")
    assert screen.focused is screen.query_one("#jobs-table", DataTable)
    assert isinstance(pilot.app.screen, MainScreen)


async def test_a_confirmation_keeps_its_reason_and_enter_does_not_confirm(
        pilot: Pilot[None]) -> None:
    await pilot.press("3", "down")  # Northwind Media, active
    await settle(pilot)
    await pilot.press("s")
    await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmDialog), "the dialog")
    dialog = pilot.app.screen
    reason = dialog.query_one("#reason", Input)
    confirm = dialog.query_one("#confirm", Button)
    assert dialog.focused is reason
    assert str(confirm.label) == "Suspend account" and confirm.variant == "error"
    for key in "late":
        await pilot.press(key)
    await pilot.press("enter")
    assert pilot.app.screen is dialog and dialog.focused is confirm and reason.value == "late"
    assert not posts(pilot)
    # esc from a field leaves it; from anywhere else, it declines
    reason.focus()
    await pilot.press("escape")
    assert pilot.app.screen is dialog and not isinstance(dialog.focused, Input)
    await pilot.press("escape")
    await until(pilot, lambda: isinstance(pilot.app.screen, MainScreen), "the dialog closed")
    assert not posts(pilot)


async def test_a_finished_job_is_not_offered_a_cancel(pilot: Pilot[None]) -> None:
    await pilot.press("2")
    await settle(pilot)
    pane = main(pilot).query_one(JobsPane)
    table = main(pilot).query_one("#jobs-table", DataTable)
    states = {j["task_id"]: j["state"] for j in JOBS}
    for row in range(table.row_count):
        table.move_cursor(row=row)
        await pilot.pause()
        key = pane.selected()
        assert key is not None
        state = states[key["task_id"]]
        assert (pane.check_action("cancel", ()) is True) == (state in ("PENDING", "PROGRESS"))
        assert (pane.check_action("retry", ()) is True) == (state == "FAILURE")
    finished = next(i for i, j in enumerate(JOBS) if j["state"] == "SUCCESS")
    table.move_cursor(row=finished)
    await pilot.press("c")
    await settle(pilot)
    assert isinstance(pilot.app.screen, MainScreen) and not posts(pilot)


async def test_the_job_detail_shows_the_credits_charged(pilot: Pilot[None]) -> None:
    await pilot.press("2")
    await settle(pilot)
    done = next(i for i, j in enumerate(JOBS) if j["state"] == "SUCCESS")
    main(pilot).query_one("#jobs-table", DataTable).move_cursor(row=done)
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(pilot.app.screen, JobDetail), "the detail")
    body = pilot.app.screen.query_one("#detail-body", Static)
    await until(pilot, lambda: "charged" in str(body.content), "the credits")
    assert "60 charged" in str(body.content)
    assert "$0.0182 / 9,120 tokens" in str(body.content)  # the provider's cost, apart


async def test_no_revoke_beyond_the_balance(pilot: Pilot[None]) -> None:
    await pilot.press("3")
    await settle(pilot)
    pane = main(pilot).query_one(AccountsPane)
    table = main(pilot).query_one("#accounts-table", DataTable)
    empty = next(k for k, a in pane.rows.items() if not a.get("credits"))
    table.move_cursor(row=table.get_row_index(empty))
    await pilot.pause()
    assert pane.check_action("revoke", ()) is None and pane.check_action("grant", ()) is True
    await pilot.press("v")
    await settle(pilot)
    assert isinstance(pilot.app.screen, MainScreen)  # no form, nothing asked
    assert not any(p.endswith(f"/accounts/{empty}/") for _, p, _ in pilot.app.sent)  # type: ignore[attr-defined]
    table.move_cursor(row=table.get_row_index("2"))  # 18,240 credits
    await pilot.press("v")
    await until(pilot, lambda: isinstance(pilot.app.screen, CreditsDialog), "the form")
    for key in ("1", "8", "2", "4", "1", "enter", "x", "enter"):
        await pilot.press(key)
    assert isinstance(pilot.app.screen, CreditsDialog)
    assert "The balance is 18,240" in str(pilot.app.screen.query_one("#dialog-error",
                                                                    Static).content)
    assert not posts(pilot)


async def test_request_ids_are_shown_whole(pilot: Pilot[None]) -> None:
    await pilot.press("5")
    await settle(pilot)
    table = main(pilot).query_one("#requests-table", DataTable)
    assert table.row_count
    assert [str(c) for c in table.get_row(RID)][1] == RID
    columns = list(table.columns.values())
    assert str(columns[1].label) == "request id"
    right_edge = sum(c.get_render_width(table) for c in columns[:2])
    assert columns[1].get_render_width(table) >= len(RID) + 1
    assert right_edge <= table.scrollable_content_region.width  # on screen, not scrolled off


class Table(App[None]):
    def compose(self) -> ComposeResult:
        table: DataTable[Any] = DataTable()
        table.add_columns("id", "path")
        yield table


async def test_columns_fit_the_rows_after_a_reload() -> None:
    async with Table().run_test(size=(80, 10)) as pilot:
        table = pilot.app.query_one(DataTable)
        fill(table, [("1", ["1", "/api/v1/" + "x" * 50])])
        await pilot.pause()
        wide = list(table.columns.values())[1].content_width
        fill(table, [("2", ["2", "/api/v1/"])])
        await pilot.pause()
        narrow = list(table.columns.values())[1].content_width
        assert wide >= 58 and narrow == len("/api/v1/")
        fill(table, [])
        assert list(table.columns.values())[1].content_width == len("path")
