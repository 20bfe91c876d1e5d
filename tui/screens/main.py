"""The main screen: a tab per subject, the unreachable banner, and the poll timer."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Static, TabbedContent, TabPane

from tui.ports import console
from tui.screens.accounts import AccountsPane
from tui.screens.audit import AuditPane
from tui.screens.base import Pane
from tui.screens.jobs import JobsPane
from tui.screens.overview import OverviewPane
from tui.screens.requests import RequestsPane
from tui.screens.users import UsersPane

TABS = (("Overview", "tab-overview", OverviewPane), ("Jobs", "tab-jobs", JobsPane),
        ("Accounts", "tab-accounts", AccountsPane), ("Users", "tab-users", UsersPane),
        ("Requests", "tab-requests", RequestsPane), ("Audit", "tab-audit", AuditPane))


class MainScreen(Screen[None]):
    BINDINGS = [
        *(Binding(str(i), f"tab('{tab_id}')", title, show=False)
          for i, (title, tab_id, _) in enumerate(TABS, start=1)),
        Binding("r,f5", "reload", "Reload"),
        Binding("w", "window", "Window"),
        Binding("escape", "leave_field", show=False),
    ]

    def __init__(self, poll_s: float = 5.0) -> None:
        super().__init__(id="main")
        self.poll_s = poll_s

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="◆")
        yield Static("", id="banner")
        with TabbedContent(id="tabs"):
            for title, tab_id, pane in TABS:
                with TabPane(title, id=tab_id):
                    yield pane()
        yield Footer()

    def on_mount(self) -> None:
        app = console(self)
        self.sub_title = f"{app.api.user.get('email', '')} @ {app.api.base_url}"
        for pane in self.query(Pane):
            pane.reload()
        if self.poll_s > 0:
            self.set_interval(self.poll_s, self.tick)

    def active_pane(self) -> Pane | None:
        tabs = self.query_one(TabbedContent)
        if not tabs.active:
            return None
        panes = tabs.get_pane(tabs.active).query(Pane)
        return panes.first() if panes else None

    def tick(self) -> None:
        """Every few seconds: the shown tab when its data moves by itself (overview, jobs);
        each load skips while one runs. One request per tick keeps the console within the
        server's `system_admin` budget (30 a minute by default)."""
        app = console(self)
        if app.offline or app.paused:
            return
        pane = self.active_pane()
        if pane is not None and pane.LIVE:
            pane.reload()

    def reload_all(self) -> None:
        for pane in self.query(Pane):
            pane.reload()

    def action_reload(self) -> None:
        pane = self.active_pane()
        if pane is not None:
            pane.load()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """`w` only on the Overview (elsewhere it is neither shown nor run)."""
        if action == "window":
            return isinstance(self.active_pane(), OverviewPane)
        return True

    def action_window(self) -> None:
        pane = self.active_pane()
        if isinstance(pane, OverviewPane):
            pane.action_window()

    def action_leave_field(self) -> None:
        """Esc in a filter or search field: back to the tab's table, so its keys work again."""
        if isinstance(self.focused, Input):
            pane = self.active_pane()
            if pane is not None:
                pane.focus_main()
            if isinstance(self.focused, Input):
                self.set_focus(None)

    def action_tab(self, tab_id: str) -> None:
        self.query_one(TabbedContent).active = tab_id

    @on(TabbedContent.TabActivated)
    def _tab_opened(self, event: TabbedContent.TabActivated) -> None:
        self.refresh_bindings()
        pane = self.active_pane()
        if pane is not None:
            pane.focus_main()
            pane.reload()

    def show_banner(self, text: str) -> None:
        banner = self.query_one("#banner", Static)
        banner.update(text)
        banner.set_class(bool(text), "shown")
