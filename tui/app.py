"""The igny8d operator console: a Textual app over the server's admin HTTP API.

Run it as `igny8d console [--url URL] [--email E]` or `igny8d-console`. It imports nothing of
the server package: everything it shows or does goes through HTTP (tui/client.py), so it works
against a remote box as well as against `make run`'s.

The app owns the session and the connection's state. Screens reach it only through the
`tui.ports.Console` protocol and tell it things by posting `tui.messages` events, which it
handles here (`on_logged_in`, `on_server_unreachable`, …); it imports the screens, never the
reverse.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.notifications import SeverityLevel
from textual.screen import ModalScreen
from textual.theme import Theme

from tui import messages
from tui.client import AdminClient
from tui.errors import SessionEnded, Unreachable
from tui.screens.dialogs import HelpScreen
from tui.screens.login import LoginScreen
from tui.screens.main import MainScreen
from tui.session import DEFAULT_URL, normalize_url

#: Seconds between reconnect attempts while the server is unreachable (the last repeats).
RETRY_DELAYS = (1, 2, 4, 8, 15, 30)

THEME = Theme(
    name="igny8d", dark=True,
    primary="#4EA8DE", secondary="#7F8CFF", accent="#F2A65A", warning="#F2C14E",
    error="#E5534B", success="#57AB5A", foreground="#D7DEE7", background="#0F141A",
    surface="#161D26", panel="#1E2733",
)


class ConsoleApp(App[None]):
    CSS_PATH = "console.tcss"
    TITLE = "igny8d console"
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark,f1", "help", "Help"),
        Binding("ctrl+l", "logout", "Log out", show=False),
        Binding("ctrl+t", "change_theme", "Theme", show=False),
    ]

    def __init__(
        self, url: str = DEFAULT_URL, email: str = "", *,
        client_factory: Callable[[str], AdminClient] | None = None,
        poll_s: float = 5.0, retry_delays: Sequence[int] = RETRY_DELAYS,
    ) -> None:
        super().__init__()
        self.url = normalize_url(url)
        self.email = email
        self.client_factory: Callable[[str], AdminClient] = client_factory or AdminClient
        self.poll_s = poll_s
        self.retry_delays = tuple(retry_delays) or RETRY_DELAYS
        self.offline = False
        #: monotonic time until which live refreshes pause (the server answered 429)
        self.paused_until = 0.0
        self.banner = ""
        self._api: AdminClient | None = None
        self.main: MainScreen | None = None
        #: what the last notifications said, newest last: (severity, title, message)
        self.messages: deque[tuple[str, str, str]] = deque(maxlen=50)
        self.register_theme(THEME)
        if not os.environ.get("TEXTUAL_THEME"):  # an operator's own choice wins
            self.theme = THEME.name

    def notify(self, message: str, *, title: str = "",
               severity: SeverityLevel = "information", timeout: float | None = None,
               markup: bool = True) -> None:
        """Toasts never parse markup: the server's sentences may hold brackets."""
        self.messages.append((severity, title, message))
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    @property
    def api(self) -> AdminClient:
        if self._api is None:
            raise SessionEnded("Not logged in.")
        return self._api

    def on_mount(self) -> None:
        self.push_screen(self._login_screen())

    def _login_screen(self, message: str = "") -> LoginScreen:
        return LoginScreen(self.url, self.email, message, client_factory=self.client_factory)

    # -- session --------------------------------------------------------------------------

    def on_logged_in(self, event: messages.LoggedIn) -> None:
        """The login screen's operator is in: keep the client, open the main screen."""
        client = event.client
        self._api = client
        self.url = client.base_url
        self.email = str(client.user.get("email") or self.email)
        self.offline = False
        self.main = MainScreen(self.poll_s)
        self.switch_screen(self.main)

    def on_session_ended(self, event: messages.SessionEnded) -> None:
        """Back to the login screen with the reason (the refresh token was refused)."""
        if self._api is None:
            return
        self._drop_client()
        self._to_login(event.message)

    def _to_login(self, message: str) -> None:
        self.workers.cancel_group(self, "reconnect")
        self.offline = False
        self.main = None
        while len(self.screen_stack) > 1 and isinstance(self.screen, ModalScreen):
            self.pop_screen()
        self.switch_screen(self._login_screen(message))

    def _drop_client(self) -> None:
        client, self._api = self._api, None
        if client is not None:
            self.run_worker(client.close(), group="logout", exit_on_error=False)

    async def action_logout(self) -> None:
        if self._api is not None:
            self._drop_client()
            self._to_login("Logged out.")

    async def action_quit(self) -> None:
        client, self._api = self._api, None
        if client is not None:
            await client.close()
        self.exit()

    async def on_unmount(self) -> None:
        if self._api is not None:
            await self._api.http.aclose()

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    # -- connectivity ---------------------------------------------------------------------

    @property
    def paused(self) -> bool:
        return time.monotonic() < self.paused_until

    def on_throttled(self, event: messages.Throttled) -> None:
        """429: the operator's `system_admin` budget (30 requests a minute by default) is
        spent. Live refreshes pause until the server's Retry-After; nothing is retried."""
        retry_after = event.retry_after
        until = time.monotonic() + retry_after
        if until <= self.paused_until:
            return
        self.paused_until = until
        self.show_banner(f"The server is throttling this operator: live refresh paused for "
                         f"{retry_after:.0f} s (raise IGNY8_THROTTLE_RATES system_admin on "
                         f"the server for a faster console).")
        self.set_timer(retry_after, self._end_pause)

    def _end_pause(self) -> None:
        if not self.paused and not self.offline:
            self.show_banner("")

    def on_server_unreachable(self, event: messages.ServerUnreachable) -> None:
        """A call found no server: show the banner and start the reconnect loop (once)."""
        if self._api is None or self.offline:
            return
        self.offline = True
        self.reconnect(event.message)

    def show_banner(self, text: str) -> None:
        self.banner = text
        if self.main is not None and self.main.is_mounted:
            self.main.show_banner(text)

    @work(exclusive=True, group="reconnect", exit_on_error=False)
    async def reconnect(self, message: str) -> None:
        """Retry with backoff until the server answers again, then post `Reconnected`."""
        attempt = 0
        while self._api is not None:
            delay = self.retry_delays[min(attempt, len(self.retry_delays) - 1)]
            for left in range(delay, 0, -1):
                self.show_banner(f"Server unreachable — retrying in {left}s · {message}")
                await asyncio.sleep(1)
            self.show_banner(f"Server unreachable — retrying now · {message}")
            try:
                if await self.api.ping():
                    break
            except Unreachable as exc:
                message = exc.message
            except SessionEnded:
                return
            attempt += 1
        self.post_message(messages.Reconnected(self.url))

    def on_reconnected(self, event: messages.Reconnected) -> None:
        """The server answers again: clear the banner and reload every tab."""
        self.offline = False
        self.show_banner("")
        if self.main is not None:
            self.notify(f"Reconnected to {event.url}.", title="Back online", timeout=4)
            self.main.reload_all()


if TYPE_CHECKING:
    from tui.ports import Console

    #: mypy proves here that the app is what screens see through `tui.ports.Console`.
    _AS_SCREENS_SEE_IT: type[Console] = ConsoleApp


def main(argv: Sequence[str] | None = None) -> None:
    """`igny8d-console [--url URL] [--email E]` (the same as `igny8d console`)."""
    parser = argparse.ArgumentParser(prog="igny8d-console",
                                     description="igny8d operator console")
    add_arguments(parser)
    args = parser.parse_args(argv)
    run(args.url, args.email)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", default=DEFAULT_URL,
                        help=f"the server's base URL (default {DEFAULT_URL})")
    parser.add_argument("--email", default="", help="the operator's email (asked otherwise)")


def run(url: str, email: str) -> None:
    ConsoleApp(url, email).run()


if __name__ == "__main__":  # pragma: no cover
    main()
