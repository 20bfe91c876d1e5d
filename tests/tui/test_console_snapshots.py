"""Snapshots of the console's main screens (pytest-textual-snapshot), so a layout change shows
up in review as a changed SVG under tests/tui/__snapshots__/.

The screens are fed by the real AdminClient over an httpx.MockTransport that replays answers
recorded from the admin API with their times, ids and numbers frozen
(tests/helpers/console_replay.py): a live server's uptime, request ids and latencies would
change every run. The same replay makes the README's screenshots
(docs/console/make_screens.py). Update after an intended change with
`pytest tests/tui/test_console_snapshots.py --snapshot-update` and look at the SVGs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from textual.pilot import Pilot

from tests.helpers.console import SIZE
from tests.helpers.console_replay import log_in, recorded_app, settle

pytestmark = pytest.mark.slow


def then(*keys: str) -> Callable[[Pilot[None]], Awaitable[None]]:
    """Log in, press `keys` (waiting for the loads each starts), settle."""

    async def run(pilot: Pilot[None]) -> None:
        await log_in(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)

    return run


def test_login_screen(snap_compare: Any) -> None:
    assert snap_compare(recorded_app(), terminal_size=SIZE)


def test_login_wrong_password(snap_compare: Any) -> None:
    async def wrong(pilot: Pilot[None]) -> None:
        await pilot.pause()
        pilot.app.screen.query_one("#password").value = "not-the-password"  # type: ignore[attr-defined]
        await pilot.press("enter")
        await settle(pilot)

    assert snap_compare(recorded_app(), terminal_size=SIZE, run_before=wrong)


def test_overview(snap_compare: Any) -> None:
    assert snap_compare(recorded_app(), terminal_size=SIZE, run_before=then())


def test_jobs(snap_compare: Any) -> None:
    assert snap_compare(recorded_app(), terminal_size=SIZE, run_before=then("2"))


def test_job_detail(snap_compare: Any) -> None:
    assert snap_compare(recorded_app(), terminal_size=SIZE, run_before=then("2", "enter"))


def test_accounts(snap_compare: Any) -> None:
    assert snap_compare(recorded_app(), terminal_size=SIZE, run_before=then("3"))


def test_account_detail(snap_compare: Any) -> None:
    assert snap_compare(recorded_app(), terminal_size=SIZE,
                        run_before=then("3", "down", "enter"))


def test_grant_credits_form(snap_compare: Any) -> None:
    assert snap_compare(recorded_app(), terminal_size=SIZE,
                        run_before=then("3", "down", "g", "5", "0", "0"))


def test_users(snap_compare: Any) -> None:
    assert snap_compare(recorded_app(), terminal_size=SIZE, run_before=then("4"))


def test_request_lookup(snap_compare: Any) -> None:
    assert snap_compare(recorded_app(), terminal_size=SIZE, run_before=then("5", "enter"))


def test_audit(snap_compare: Any) -> None:
    assert snap_compare(recorded_app(), terminal_size=SIZE, run_before=then("6"))


def test_help(snap_compare: Any) -> None:
    assert snap_compare(recorded_app(), terminal_size=SIZE, run_before=then("question_mark"))


@pytest.mark.parametrize("theme", ["textual-light"])
def test_overview_in_another_theme(snap_compare: Any, theme: str) -> None:
    """The stylesheet uses theme variables only: switching themes recolours every screen."""

    async def switch(pilot: Pilot[None]) -> None:
        await log_in(pilot)
        pilot.app.theme = theme
        await settle(pilot)

    assert snap_compare(recorded_app(), terminal_size=SIZE, run_before=switch)
