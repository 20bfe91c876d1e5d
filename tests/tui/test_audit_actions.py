"""The console's audit filter offers exactly the actions the server records: the console may
not import the server (it reaches it over HTTP only), so it keeps its own copy of the list, and
this test keeps that copy from drifting."""

from __future__ import annotations

from igny8d.services.audit import ACTIONS as SERVER_ACTIONS
from tui.screens.audit import ACTIONS as CONSOLE_ACTIONS


def test_console_audit_actions_match_the_server() -> None:
    assert tuple(CONSOLE_ACTIONS) == tuple(SERVER_ACTIONS)
