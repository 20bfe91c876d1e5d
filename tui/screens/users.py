"""The Users tab: search across accounts; deactivate or reactivate a user, end a user's
sessions; the pending password-reset and invitation links (`l`, tui/screens/links.py)."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Input, Select, Static

from tui.errors import ApiError
from tui.ports import console
from tui.screens.base import Pane, cursor_key, fill, guarded, kv, when
from tui.screens.dialogs import ConfirmDialog, DetailScreen
from tui.screens.links import AuthLinksScreen

ACTIVE: list[tuple[str, str]] = [("active and inactive", ""), ("active", "true"),
                                 ("inactive", "false")]


def _yes(value: Any, style: str = "green") -> Text:
    return Text("yes", style=style) if value else Text("no", style="dim")


def _row(u: dict[str, Any]) -> list[Any]:
    return [str(u.get("id", "")), u.get("email", ""), u.get("username", ""),
            f"{u.get('account_name', '')} (#{u.get('account_id', '')})", u.get("role", ""),
            _yes(u.get("is_active")) if u.get("is_active") else Text("no", style="bold red"),
            _yes(u.get("is_superuser"), "bold magenta"), when(u.get("last_login"))[:16]]


def offered(action: str, user: dict[str, Any] | None) -> bool | None:
    """Deactivate is offered for an active user, reactivate for an inactive one (the server
    answers 409 otherwise); shown disabled (None) when it does not apply."""
    if action not in ("deactivate", "reactivate"):
        return True
    if user is None:
        return None
    return True if bool(user.get("is_active")) == (action == "deactivate") else None


class UsersPane(Pane):
    BINDINGS = [
        Binding("d", "deactivate", "Deactivate"),
        Binding("a", "reactivate", "Reactivate"),
        Binding("e", "end_sessions", "End sessions"),
        Binding("l", "links", "Pending links"),
        Binding("slash", "filter", "Search", show=False),
    ]

    def __init__(self) -> None:
        super().__init__(id="users")
        self.rows: dict[str, dict[str, Any]] = {}

    def compose(self) -> ComposeResult:
        with Horizontal(classes="filters"):
            yield Input(placeholder="search email or username", id="user-search")
            yield Input(placeholder="account id", id="user-account", type="integer")
            yield Select(ACTIVE, value="", allow_blank=False, id="user-active")
        yield Static("", id="users-count", classes="count")
        table: DataTable[Any] = DataTable(id="users-table", cursor_type="row",
                                          zebra_stripes=True)
        table.add_columns("id", "email", "username", "account", "role", "active", "superuser",
                          "last login")
        yield table

    def action_filter(self) -> None:
        self.query_one("#user-search", Input).focus()

    def action_links(self) -> None:
        """The password-reset and invitation links no mail carried, to hand over."""
        self.app.push_screen(AuthLinksScreen())

    @on(Select.Changed, "#user-active")
    @on(Input.Submitted, ".filters Input")
    def _filters_changed(self) -> None:
        self.load()

    @guarded("load")
    async def load(self) -> None:
        active = self.query_one("#user-active", Select).value
        page = await self.client.users(
            search=self.query_one("#user-search", Input).value.strip(),
            account_id=self.query_one("#user-account", Input).value.strip(),
            is_active=None if active in ("", Select.NULL) else active == "true")
        self.rows = {str(u["id"]): u for u in page.results}
        shown = len(page.results)
        self.query_one("#users-count", Static).update(
            f"{page.count} users" + (f" (first {shown} shown)" if page.count > shown else ""))
        fill(self.query_one("#users-table", DataTable),
             [(str(u["id"]), _row(u)) for u in page.results])
        self.refresh_bindings()

    def selected(self) -> dict[str, Any] | None:
        key = cursor_key(self.query_one("#users-table", DataTable))
        return self.rows.get(key) if key else None

    @on(DataTable.RowSelected, "#users-table")
    def _open(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.app.push_screen(UserDetail(self, int(event.row_key.value)))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return offered(action, self.selected())

    @on(DataTable.RowHighlighted, "#users-table")
    def _moved(self) -> None:
        self.refresh_bindings()

    def action_deactivate(self) -> None:
        user = self.selected()
        if user:
            self.deactivate(int(user["id"]))

    def action_reactivate(self) -> None:
        user = self.selected()
        if user:
            self.reactivate(int(user["id"]))

    def action_end_sessions(self) -> None:
        user = self.selected()
        if user:
            self.end_sessions(int(user["id"]))

    @guarded("action", exclusive=False)
    async def deactivate(self, user_id: int) -> None:
        await self._set_active(user_id, active=False)

    @guarded("action", exclusive=False)
    async def reactivate(self, user_id: int) -> None:
        await self._set_active(user_id, active=True)

    async def _set_active(self, user_id: int, *, active: bool) -> None:
        user = await self.client.user_detail(user_id)  # as the server has it now
        verb = "Reactivate" if active else "Deactivate"
        if bool(user.get("is_active")) == active:
            self.notify(f"{user.get('email')} is {'active' if active else 'inactive'} "
                        "already.", title="Nothing to change", severity="warning")
            return
        effect = ("They can log in again (their old sessions stay ended)." if active
                  else "Every session ends and they cannot log in.")
        reason = await self.app.push_screen_wait(ConfirmDialog(
            f"{verb} user?", f"{verb} {user.get('email')} (#{user_id}) of "
            f"{user.get('account_name')}? {effect}", confirm=f"{verb} user",
            danger=not active))
        if reason is None:
            return
        call = self.client.reactivate_user if active else self.client.deactivate_user
        try:
            out = await call(user_id, reason)
        except ApiError as exc:
            if exc.status != 409:
                raise
            self.notify(exc.describe(), title="Not changed", severity="warning", timeout=8)
            return
        self.notify(f"{out.get('email', user.get('email'))} is "
                    f"{'reactivated' if active else 'deactivated'}.",
                    title="Reactivated" if active else "Deactivated")
        self.load()
        self._refresh_detail(user_id)

    @guarded("action", exclusive=False)
    async def end_sessions(self, user_id: int) -> None:
        user = self.rows.get(str(user_id)) or await self.client.user_detail(user_id)
        reason = await self.app.push_screen_wait(ConfirmDialog(
            "End sessions?", f"Log {user.get('email')} (#{user_id}) out everywhere? Their "
            "tokens stop working at once; they can log in again.", confirm="End sessions"))
        if reason is None:
            return
        out = await self.client.end_sessions(user_id, reason)
        self.notify(f"{out.get('sessions_ended', 0)} sessions of {user.get('email')} ended.",
                    title="Sessions ended")
        self._refresh_detail(user_id)

    def _refresh_detail(self, user_id: int) -> None:
        screen = self.app.screen_stack[-1]
        if isinstance(screen, UserDetail) and screen.user_id == user_id:
            screen.load()


class UserDetail(DetailScreen):
    BINDINGS = [Binding("d", "deactivate", "Deactivate"),
                Binding("a", "reactivate", "Reactivate"),
                Binding("e", "end_sessions", "End sessions")]

    def __init__(self, pane: UsersPane, user_id: int) -> None:
        super().__init__(f"User #{user_id}")
        self.pane = pane
        self.user_id = user_id
        self.user: dict[str, Any] | None = None

    def hint(self) -> str:
        return "d deactivate · a reactivate · e end sessions · esc close"

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return offered(action, self.user)

    def on_mount(self) -> None:
        self.load()

    @guarded("load")
    async def load(self) -> None:
        u = await console(self).api.user_detail(self.user_id)
        self.user = u
        self.refresh_bindings()
        self.query_one("#detail-body", Static).update(kv([
            ("email", u.get("email", "")), ("username", u.get("username", "")),
            ("account", f"{u.get('account_name')} (#{u.get('account_id')})"),
            ("role", u.get("role", "")), ("active", _yes(u.get("is_active"))),
            ("superuser", _yes(u.get("is_superuser"), "bold magenta")),
            ("live sessions", str(u.get("sessions", "?"))),
            ("last login", when(u.get("last_login"))), ("created", when(u.get("created_at"))),
        ]))

    def action_deactivate(self) -> None:
        self.pane.deactivate(self.user_id)

    def action_reactivate(self) -> None:
        self.pane.reactivate(self.user_id)

    def action_end_sessions(self) -> None:
        self.pane.end_sessions(self.user_id)
