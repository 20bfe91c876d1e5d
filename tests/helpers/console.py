"""Driving the operator console (tui/) in a test: the operator it logs in as, the terminal
size, and waiting for what its workers show."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from textual.pilot import Pilot

from tui.app import ConsoleApp

OPS = "ops@example.com"
OPS_PASSWORD = "operator-pass-1"
SIZE = (120, 36)
"""The terminal every console test runs in (columns, rows)."""


async def until(pilot: Pilot[None], check: Callable[[], Any], what: str,
                timeout: float = 10.0) -> None:
    """Let the app run until `check()` holds (its workers answer asynchronously)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        try:
            if check():
                return
        except Exception:
            pass
        await pilot.pause(0.05)
    raise AssertionError(f"the console never showed {what}")


def said(app: ConsoleApp, title: str) -> list[str]:
    """The messages the app showed under `title` (its notification log)."""
    return [message for _, t, message in app.messages if t == title]
