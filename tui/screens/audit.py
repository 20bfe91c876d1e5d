"""The Audit tab: every admin action, who did it, and the before/after the server kept."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Input, Select, Static

from tui.screens.base import Pane, fill, guarded, kv, pretty, when
from tui.screens.dialogs import DetailScreen

ACTIONS = ("account.grant_credits", "account.revoke_credits", "account.change_plan",
           "account.suspend", "account.reactivate", "user.deactivate", "user.reactivate",
           "user.end_sessions", "user.reissue_link", "job.cancel", "job.retry")


class AuditPane(Pane):
    BINDINGS = [Binding("slash", "filter", "Filter", show=False)]

    def __init__(self) -> None:
        super().__init__(id="audit")
        self.rows: dict[str, dict[str, Any]] = {}

    def compose(self) -> ComposeResult:
        with Horizontal(classes="filters"):
            yield Select([("any action", ""), *((a, a) for a in ACTIONS)], value="",
                         allow_blank=False, id="audit-action")
            yield Input(placeholder="account id", id="audit-account", type="integer")
        yield Static("", id="audit-count", classes="count")
        table: DataTable[Any] = DataTable(id="audit-table", cursor_type="row",
                                          zebra_stripes=True)
        table.add_columns("when", "operator", "action", "target", "account", "reason")
        yield table

    def action_filter(self) -> None:
        self.query_one("#audit-action", Select).focus()

    @on(Select.Changed, "#audit-action")
    @on(Input.Submitted, ".filters Input")
    def _filters_changed(self) -> None:
        self.load()

    @guarded("load")
    async def load(self) -> None:
        action = self.query_one("#audit-action", Select).value
        page = await self.client.audit(
            action=action if isinstance(action, str) else "",
            account_id=self.query_one("#audit-account", Input).value.strip())
        self.rows = {str(a["id"]): a for a in page.results}
        self.query_one("#audit-count", Static).update(f"{page.count} audited actions")
        fill(self.query_one("#audit-table", DataTable), [
            (str(a["id"]), [
                when(a.get("created_at"))[5:], a.get("actor_email") or a.get("actor_user_id", ""),
                a.get("action", ""), f"{a.get('target_type')} {a.get('target_id')}",
                str(a.get("account_id") or "—"),
                Text(str(a.get("reason") or ""), overflow="ellipsis", no_wrap=True)])
            for a in page.results])

    @on(DataTable.RowSelected, "#audit-table")
    def _open(self, event: DataTable.RowSelected) -> None:
        row = self.rows.get(str(event.row_key.value))
        if row is None:
            return
        body = kv([
            ("when", when(row.get("created_at"))),
            ("operator", f"{row.get('actor_email')} (#{row.get('actor_user_id')})"),
            ("action", row.get("action", "")),
            ("target", f"{row.get('target_type')} {row.get('target_id')}"),
            ("account", str(row.get("account_id") or "—")),
            ("reason", row.get("reason") or "—"),
            ("request id", row.get("request_id") or "—"),
        ])
        body.append("\n\nbefore\n", style="bold")
        body.append(pretty(row.get("before")))
        body.append("\n\nafter\n", style="bold")
        body.append(pretty(row.get("after")))
        self.app.push_screen(DetailScreen(f"Audit #{row.get('id')}", body))
