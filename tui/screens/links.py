"""Pending password-reset and invitation links (`l` on the Users tab): the links no mail
carried (no SMTP configured), for an operator to hand over. The server keeps no secret, so a
link is seen only by reissuing it: the old one stops working and the new one is shown whole."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Label, Static

from tui.errors import ApiError
from tui.ports import console
from tui.screens.base import cursor_key, fill, guarded, kv, when
from tui.screens.dialogs import ConfirmDialog, DetailScreen

KINDS = {"password_reset": "reset", "invitation": "invitation"}


def kind(link: dict[str, Any]) -> str:
    purpose = str(link.get("purpose", ""))
    return KINDS.get(purpose, purpose)


def _row(link: dict[str, Any]) -> list[Any]:
    return [str(link.get("id", "")), link.get("email", ""), kind(link),
            when(link.get("created_at")), when(link.get("expires_at")),
            Text("yes", style="green") if link.get("mailed") else Text("no", style="yellow")]


class AuthLinksScreen(DetailScreen):
    """The pending links, newest first; `i` (or enter) reissues the one under the cursor."""

    BINDINGS = [Binding("i", "reissue", "Reissue link"),
                Binding("r,f5", "reload", "Reload")]

    def __init__(self) -> None:
        super().__init__("Pending password-reset and invitation links")
        self.rows: dict[str, dict[str, Any]] = {}

    def compose(self) -> ComposeResult:
        with Vertical(id="detail"):
            yield Label(self.title_text, id="detail-title")
            yield Static("", id="links-count", classes="count")
            table: DataTable[Any] = DataTable(id="links-table", cursor_type="row",
                                              zebra_stripes=True)
            table.add_columns("id", "email", "kind", "created", "expires", "mailed")
            yield table
            yield Static(self.hint(), id="detail-hint")

    def hint(self) -> str:
        return "i / enter reissue (shows the new link; the old one stops working) · " \
               "r reload · esc close"

    def on_mount(self) -> None:
        self.query_one("#links-table", DataTable).focus()
        self.load()

    @guarded("load")
    async def load(self) -> None:
        page = await console(self).api.auth_links()
        self.rows = {str(link["id"]): link for link in page.results}
        shown = len(page.results)
        self.query_one("#links-count", Static).update(
            (f"{page.count} pending links" if page.count else "No pending links")
            + (f" (first {shown} shown)" if page.count > shown else ""))
        fill(self.query_one("#links-table", DataTable),
             [(str(link["id"]), _row(link)) for link in page.results])
        self.refresh_bindings()

    def selected(self) -> dict[str, Any] | None:
        key = cursor_key(self.query_one("#links-table", DataTable))
        return self.rows.get(key) if key else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "reissue":
            return True if self.selected() else None
        return True

    def action_reload(self) -> None:
        self.load()

    def action_reissue(self) -> None:
        link = self.selected()
        if link:
            self.reissue(link)

    @on(DataTable.RowSelected, "#links-table")
    def _selected(self, event: DataTable.RowSelected) -> None:
        link = self.rows.get(str(event.row_key.value))
        if link:
            self.reissue(link)

    @guarded("action", exclusive=False)
    async def reissue(self, link: dict[str, Any]) -> None:
        reason = await self.app.push_screen_wait(ConfirmDialog(
            "Reissue link?", f"Make a new {kind(link)} link for {link.get('email')} "
            f"(link #{link.get('id')})? The current one stops working; the new one is shown "
            "here for you to hand over, and whoever holds it can act as that user.",
            confirm="Reissue link", danger=False))
        if reason is None:
            return
        try:
            out = await console(self).api.reissue_link(int(link["id"]), reason)
        except ApiError as exc:
            if exc.status != 404:
                raise
            self.notify(f"{exc.describe()} It was used, replaced or has expired.",
                        title="Not reissued", severity="warning", timeout=8)
            self.load()
            return
        self.load()
        await self.app.push_screen(LinkDetail(out))


class LinkDetail(DetailScreen):
    """A reissued link, shown whole on a line of its own (`c` copies it)."""

    BINDINGS = [Binding("c", "copy", "Copy link")]

    def __init__(self, issued: dict[str, Any]) -> None:
        link = str(issued.get("link", ""))
        body = kv([("user", f"{issued.get('email')} (#{issued.get('user_id')})"),
                   ("kind", kind(issued)), ("link id", str(issued.get("id", ""))),
                   ("expires", when(issued.get("expires_at")))])
        body.append("\n\nHand this link over (it works once):\n\n", style="bold")
        body.append(link, style="bold green")
        super().__init__(f"New {kind(issued)} link for {issued.get('email')}", body)
        self.link = link

    def hint(self) -> str:
        return "c copy the link · esc close"

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.link)
        self.notify("The link is on the clipboard (if your terminal takes OSC 52).",
                    title="Copied")
