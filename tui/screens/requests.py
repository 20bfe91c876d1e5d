"""The Requests tab: the answering process's recent requests, and one request with its log lines.

A request is found by its id (X-Request-ID). The admin API's own calls (the console's polling,
every operator's) are left out unless `a` shows them.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Input, Select, Static

from tui.errors import ApiError
from tui.screens.base import Pane, cursor_key, fill, guarded, kv, ms, when
from tui.session import ADMIN_PREFIX

METHODS: list[tuple[str, str]] = [("any method", "")] + [
    (m, m) for m in ("GET", "POST", "PUT", "PATCH", "DELETE")]
LEVEL_STYLE = {"ERROR": "bold red", "CRITICAL": "bold red", "WARNING": "yellow",
               "INFO": "cyan", "DEBUG": "dim"}
RECORD_KEYS = {"request_id", "method", "path", "route", "status", "duration_ms", "user_id",
               "account_id", "at", "throttled", "log"}
LOG_KEYS = {"at", "level", "logger", "message"}


def status_text(status: Any) -> Text:
    code = int(status or 0)
    style = "bold red" if code >= 500 else "yellow" if code >= 400 else "green"
    return Text(str(code), style=style)


class RequestsPane(Pane):
    BINDINGS = [Binding("slash", "lookup", "Look up id"),
                Binding("a", "toggle_admin", "Admin calls")]

    def __init__(self) -> None:
        super().__init__(id="requests")
        #: list the admin API's calls too (off: the console's own polling would fill the list)
        self.show_admin = False

    def compose(self) -> ComposeResult:
        yield Input(placeholder="request id (X-Request-ID) — enter to look it up", id="rid")
        with Horizontal(classes="filters"):
            yield Input(placeholder="status: 404, 4xx, 5xx", id="req-status")
            yield Input(placeholder="path contains", id="req-path")
            yield Select(METHODS, value="", allow_blank=False, id="req-method")
            yield Input(placeholder="account id", id="req-account", type="integer")
        yield Static("", id="requests-count", classes="count")
        table: DataTable[Any] = DataTable(id="requests-table", cursor_type="row",
                                          zebra_stripes=True)
        # The id before the path: a long path must not push it off the screen (ids are
        # looked up whole, so they are shown whole); the path, last, takes what is left.
        table.add_columns("at", "request id", "method", "status", "time", "user", "account",
                          "path")
        yield table
        with VerticalScroll(id="request-detail"):
            yield Static("Pick a request (enter) or look one up by its id (/).",
                         id="request-record")

    def action_lookup(self) -> None:
        self.query_one("#rid", Input).focus()

    def action_toggle_admin(self) -> None:
        self.show_admin = not self.show_admin
        self.load()

    @on(Input.Submitted, "#rid")
    def _lookup(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.show(event.value.strip())

    @on(Select.Changed, "#req-method")
    @on(Input.Submitted, ".filters Input")
    def _filters_changed(self) -> None:
        self.load()

    @guarded("load")
    async def load(self) -> None:
        method = self.query_one("#req-method", Select).value
        page = await self.client.requests(
            status=self.query_one("#req-status", Input).value.strip(),
            path=self.query_one("#req-path", Input).value.strip(),
            method=method if isinstance(method, str) else "",
            account_id=self.query_one("#req-account", Input).value.strip(),
            exclude_path="" if self.show_admin else ADMIN_PREFIX)
        shown = len(page.results)
        self.query_one("#requests-count", Static).update(
            f"{page.count} recent requests in the answering process"
            + (f" (newest {shown} shown)" if page.count > shown else "")
            + ("" if self.show_admin else " · admin API calls hidden (a shows them)"))
        fill(self.query_one("#requests-table", DataTable), [
            (str(r["request_id"]), [
                when(r.get("at"))[11:], str(r["request_id"]), r.get("method", ""),
                status_text(r.get("status")), ms(r.get("duration_ms")),
                str(r.get("user_id") or "—"), str(r.get("account_id") or "—"),
                Text(str(r.get("path", "")), overflow="ellipsis", no_wrap=True)])
            for r in page.results])

    @on(DataTable.RowSelected, "#requests-table")
    def _open(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.show(str(event.row_key.value))

    def selected(self) -> str | None:
        return cursor_key(self.query_one("#requests-table", DataTable))

    @guarded("detail")
    async def show(self, request_id: str) -> None:
        record = self.query_one("#request-record", Static)
        try:
            r = await self.client.request_detail(request_id)
        except ApiError as exc:
            if exc.status != 404:
                raise
            record.update(Text(f"No request {request_id} among the answering process's recent "
                               "requests (each process keeps its own, and only the latest).",
                               style="yellow"))
            return
        text = kv([
            ("request", str(r.get("request_id", request_id))),
            ("at", when(r.get("at"))),
            ("call", f"{r.get('method')} {r.get('path')}"),
            ("route", r.get("route") or "—"),
            ("status", Text.assemble(status_text(r.get("status")),
                                     "  throttled" if r.get("throttled") else "")),
            ("time", ms(r.get("duration_ms"))),
            ("user / account", f"{r.get('user_id') or '—'} / {r.get('account_id') or '—'}"),
            *[(k, str(v)) for k, v in sorted(r.items()) if k not in RECORD_KEYS],
        ])
        lines = [x for x in (r.get("log") or []) if isinstance(x, dict)]
        text.append(f"\n\nlog lines ({len(lines)})\n", style="bold")
        for line in lines:
            level = str(line.get("level", ""))
            text.append(f"{when(line.get('at'))[11:]} ")
            text.append(f"{level:<7} ", style=LEVEL_STYLE.get(level.upper(), ""))
            text.append(f"{line.get('logger', '')}: ", style="dim")
            text.append(str(line.get("message", "")))
            extra = {k: v for k, v in line.items() if k not in LOG_KEYS}
            if extra:
                text.append("  " + " ".join(f"{k}={v}" for k, v in sorted(extra.items())),
                            style="dim")
            text.append("\n")
        if not lines:
            text.append("none kept for this request", style="dim")
        record.update(text)
