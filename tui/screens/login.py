"""The login screen: server URL, an operator's email and password."""

from __future__ import annotations

from collections.abc import Callable

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Center, Vertical
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Label, Static

from tui.client import AdminClient
from tui.errors import ConsoleError, LoginFailed, Unreachable
from tui.messages import LoggedIn
from tui.ports import tell_app
from tui.screens.base import guarded
from tui.session import normalize_url


class LoginScreen(Screen[None]):
    """Logs an operator in with a client from `client_factory`, then posts `LoggedIn`."""

    BINDINGS = [Binding("escape", "app.quit", "Quit")]

    def __init__(self, url: str, email: str = "", message: str = "", *,
                 client_factory: Callable[[str], AdminClient] = AdminClient) -> None:
        super().__init__(id="login")
        self.url = url
        self.email = email
        self.message = message
        self.client_factory = client_factory

    def compose(self) -> ComposeResult:
        with Center(), Vertical(id="login-box"):
            yield Label("igny8d console", id="login-title")
            yield Static("Log in with an operator (superuser) account.", id="login-intro")
            yield Input(self.url, placeholder="server URL", id="url")
            yield Input(self.email, placeholder="email", id="email")
            yield Input(placeholder="password", password=True, id="password")
            yield Button("Log in", id="login-button", variant="primary")
            yield Static(self.message, id="login-error")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#email" if not self.email else "#password", Input).focus()

    @on(Input.Submitted, "#url")
    @on(Input.Submitted, "#email")
    def _next(self, event: Input.Submitted) -> None:
        self.focus_next()

    @on(Input.Submitted, "#password")
    @on(Button.Pressed, "#login-button")
    def _submit(self) -> None:
        email = self.query_one("#email", Input).value.strip()
        password = self.query_one("#password", Input).value
        if not email or not password:
            self.say("Enter your email and password.")
            return
        self.say("Logging in…", error=False)
        self.query_one("#login-button", Button).disabled = True
        self.login(normalize_url(self.query_one("#url", Input).value), email, password)

    def say(self, message: str, *, error: bool = True) -> None:
        status = self.query_one("#login-error", Static)
        status.update(message)
        status.set_class(error, "error")

    @guarded("login")
    async def login(self, url: str, email: str, password: str) -> None:
        client = self.client_factory(url)
        try:
            await client.login(email, password)
        except (LoginFailed, Unreachable) as exc:
            await client.close()
            self.say(exc.message)
            self.query_one("#password", Input).value = ""
            self.query_one("#password", Input).focus()
            return
        except ConsoleError as exc:
            await client.close()
            self.say(exc.message)
            return
        finally:
            self.query_one("#login-button", Button).disabled = False
        tell_app(self, LoggedIn(client))
