"""The console's direction: screens post messages the app handles, and never import the app.

An AST check proves `tui/screens/` (and the modules screens share) import nothing of
`tui.app`, not even for type checking, and that the HTTP client imports no UI. Pilot runs
against a small fake server prove that a screen's worker meeting a dead server, an ended
session or a 429 reaches the app as a message (`ServerUnreachable`, `SessionEnded`,
`Throttled`) and that the app reacts to it.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from textual.message import Message
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Static

from tests.helpers.console import OPS_PASSWORD, SIZE, said, until
from tests.helpers.paths import ROOT
from tui.app import ConsoleApp
from tui.client import AdminClient
from tui.messages import LoggedIn, Reconnected, ServerUnreachable, SessionEnded, Throttled
from tui.screens.jobs import JobDetail
from tui.screens.login import LoginScreen
from tui.screens.main import MainScreen
from tui.screens.overview import OverviewPane

TUI = ROOT / "tui"
TASK = "9f3a21c4-3c1d-4e6f-9a0b-1c2d3e4f5a6b"
M = TypeVar("M", bound=Message)


# -- the direction ---------------------------------------------------------------------------

def _imports_of(path: Path) -> set[str]:
    """Every module `path` imports, TYPE_CHECKING blocks included, relative ones resolved."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([base] if base else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


@pytest.mark.parametrize("path", sorted([*(TUI / "screens").glob("*.py"),
                                         TUI / "ports.py", TUI / "messages.py"]),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_screens_never_import_the_app(path: Path) -> None:
    imported = _imports_of(path)
    assert not {m for m in imported if m == "tui.app" or m.startswith("tui.app.")}
    if path.parent.name == "screens":  # not even a cast or a string annotation
        assert "ConsoleApp" not in path.read_text()
    else:  # the modules screens share know no screen either
        assert not {m for m in imported if m.startswith("tui.screens")}


@pytest.mark.parametrize("name", ["errors", "session", "client"])
def test_the_client_imports_no_textual(name: str) -> None:
    """The HTTP side knows no UI: the app and its screens use it, never the reverse."""
    imported = _imports_of(TUI / f"{name}.py")
    assert not {m for m in imported if m.split(".")[0] == "textual"}
    assert not {m for m in imported if m.startswith(("tui.app", "tui.screens", "tui.ports",
                                                      "tui.messages"))}


# -- a fake server ---------------------------------------------------------------------------

class Fake:
    """The login, the admin reads (one job) and the probe; `mode` breaks them on demand."""

    def __init__(self) -> None:
        self.mode = "up"  # "down" (no answer), "ended" (401 to everything), "throttled" (429)

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if self.mode == "down":
            raise httpx.ConnectError("[Errno 111] Connection refused")
        if path == "/api/v1/auth/login/":
            if json.loads(request.content).get("password") != OPS_PASSWORD:
                return httpx.Response(401, json={"success": False, "error": "Invalid"})
            return httpx.Response(200, json={"success": True, "data": {
                "user": {"id": 1, "email": "ops@example.com", "is_superuser": True},
                "access": "a" * 40, "refresh": "r" * 40,
                "access_expires_at": "2099-01-01T00:00:00Z",
                "refresh_expires_at": "2099-01-08T00:00:00Z"}})
        if path in ("/api/v1/auth/logout/", "/api/v1/system/ping/"):
            return httpx.Response(200, json={"success": True, "data": None})
        if self.mode == "ended":
            return httpx.Response(401, json={"success": False, "error": "Token revoked"})
        if self.mode == "throttled":
            return httpx.Response(429, headers={"Retry-After": "30"},
                                  json={"success": False, "error": "Request was throttled."})
        job = {"task_id": TASK, "kind": "auto_cluster", "state": "PROGRESS", "account_id": 2}
        if path == "/api/v1/admin/jobs/":
            return httpx.Response(200, json={"success": True, "count": 1, "results": [job]})
        return httpx.Response(200, json={"success": True, "data": job, "count": 0,
                                         "results": []})

    def app(self) -> ConsoleApp:
        return ConsoleApp("fake.example:8000", "ops@example.com", poll_s=0, retry_delays=(1,),
                          client_factory=lambda url: AdminClient(
                              url, transport=httpx.MockTransport(self.handle)))


@contextlib.asynccontextmanager
async def running(app: ConsoleApp, seen: list[Message]) -> AsyncIterator[Pilot[None]]:
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        try:
            yield pilot
        finally:
            app.workers.cancel_group(app, "reconnect")
            await asyncio.gather(*[w.wait() for w in app.workers if w.group != "action"],
                                 return_exceptions=True)


def on_login(pilot: Pilot[None]) -> bool:
    """The login screen is shown and composed (a switched-to screen composes a bit later)."""
    screen = pilot.app.screen
    return isinstance(screen, LoginScreen) and bool(screen.query("#login-error"))


async def log_in(pilot: Pilot[None]) -> None:
    await until(pilot, lambda: on_login(pilot), "the login screen")
    pilot.app.screen.query_one("#password", Input).value = OPS_PASSWORD
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(pilot.app.screen, MainScreen), "the main screen")


def posted(seen: list[Message], kind: type[M]) -> list[M]:
    """The messages of `kind` that went through the app (each node they bubbled through)."""
    return [m for m in seen if isinstance(m, kind)]


# -- a screen's worker meets a failure: the app reacts to the message ------------------------

async def test_a_dead_server_is_a_message_the_app_answers_with_the_banner() -> None:
    fake, seen = Fake(), list[Message]()
    app = fake.app()
    async with running(app, seen) as pilot:
        await log_in(pilot)
        assert posted(seen, LoggedIn)
        banner = pilot.app.screen.query_one("#banner", Static)
        fake.mode = "down"
        await pilot.press("r")  # the overview pane's load meets no server
        await until(pilot, lambda: "Server unreachable — retrying in" in str(banner.content),
                    "the banner")
        assert app.offline and banner.has_class("shown")
        assert "cannot reach http://fake.example:8000" in posted(
            seen, ServerUnreachable)[0].message

        fake.mode = "up"  # the reconnect loop's probe gets through
        await until(pilot, lambda: not app.offline, "the reconnection")
        assert posted(seen, Reconnected) and said(app, "Back online")
        assert not banner.has_class("shown") and app.banner == ""


async def test_an_ended_session_is_a_message_the_app_answers_with_the_login_screen() -> None:
    fake, seen = Fake(), list[Message]()
    app = fake.app()
    async with running(app, seen) as pilot:
        await log_in(pilot)
        fake.mode = "ended"
        pilot.app.screen.query_one(OverviewPane).load()
        await until(pilot, lambda: on_login(pilot), "the login")
        assert posted(seen, SessionEnded)
        assert "log in again" in str(pilot.app.screen.query_one("#login-error", Static).content)


async def test_a_modal_screens_worker_reaches_the_app_too() -> None:
    """The job detail is a screen of its own: its 401 still ends the session (modal popped)."""
    fake, seen = Fake(), list[Message]()
    app = fake.app()
    async with running(app, seen) as pilot:
        await log_in(pilot)
        await pilot.press("2")
        table = pilot.app.screen.query_one("#jobs-table", DataTable)
        await until(pilot, lambda: table.row_count == 1, "the job")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, JobDetail), "the detail")
        fake.mode = "ended"
        detail = pilot.app.screen
        assert isinstance(detail, JobDetail)
        detail.load()
        await until(pilot, lambda: on_login(pilot), "the login")
        assert posted(seen, SessionEnded) and len(app.screen_stack) == 2  # default + login


async def test_a_429_is_a_message_the_app_answers_with_a_pause() -> None:
    fake, seen = Fake(), list[Message]()
    app = fake.app()
    async with running(app, seen) as pilot:
        await log_in(pilot)
        fake.mode = "throttled"
        await pilot.press("r")
        await until(pilot, lambda: app.paused, "the pause")
        assert [m.retry_after for m in posted(seen, Throttled)][:1] == [30.0]
        assert "live refresh paused for 30 s" in app.banner
        banner = pilot.app.screen.query_one("#banner", Static)
        assert banner.has_class("shown") and "throttling" in str(banner.content)
        assert not said(app, "Server answered 429") and isinstance(app.screen, MainScreen)
