"""The Accounts tab: credits, plans, status; grant/revoke credits, change plan, suspend."""

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
from tui.screens.base import Pane, cursor_key, fill, guarded, kv, styled, when
from tui.screens.dialogs import ConfirmDialog, CreditsDialog, DetailScreen, PlanDialog

STATUSES: list[tuple[str, str]] = [("any status", ""), ("active", "active"),
                                   ("suspended", "suspended")]


def plan_slug(account: dict[str, Any]) -> str:
    plan = account.get("plan")
    return str(plan.get("slug", "")) if isinstance(plan, dict) else str(plan or "")


def _row(a: dict[str, Any]) -> list[Any]:
    return [str(a.get("id", "")), a.get("name", ""), a.get("slug", ""), styled(a.get("status")),
            plan_slug(a), Text(f"{a.get('credits', 0):,}", justify="right"),
            str(a.get("users_count", "")), when(a.get("created_at"))[:10]]


def offered(action: str, account: dict[str, Any] | None) -> bool | None:
    """What the server would refuse is shown disabled (None): a revoke with no credits left
    (400), suspending a suspended account or reactivating an active one (409)."""
    if account is None:
        return True if action not in ("revoke", "suspend", "reactivate") else None
    if action == "revoke":
        return True if int(account.get("credits") or 0) > 0 else None
    if action in ("suspend", "reactivate"):
        return True if (account.get("status") == "active") == (action == "suspend") else None
    return True


class AccountsPane(Pane):
    BINDINGS = [
        Binding("g", "grant", "Grant credits"),
        Binding("v", "revoke", "Revoke credits"),
        Binding("p", "plan", "Change plan"),
        Binding("s", "suspend", "Suspend"),
        Binding("a", "reactivate", "Reactivate"),
        Binding("slash", "filter", "Search", show=False),
    ]

    def __init__(self) -> None:
        super().__init__(id="accounts")
        self.rows: dict[str, dict[str, Any]] = {}

    def compose(self) -> ComposeResult:
        with Horizontal(classes="filters"):
            yield Input(placeholder="search name or slug", id="account-search")
            yield Select(STATUSES, value="", allow_blank=False, id="account-status")
            yield Input(placeholder="plan slug", id="account-plan")
        yield Static("", id="accounts-count", classes="count")
        table: DataTable[Any] = DataTable(id="accounts-table", cursor_type="row",
                                          zebra_stripes=True)
        table.add_columns("id", "name", "slug", "status", "plan", "credits", "users", "created")
        yield table

    def action_filter(self) -> None:
        self.query_one("#account-search", Input).focus()

    @on(Select.Changed, "#account-status")
    @on(Input.Submitted, ".filters Input")
    def _filters_changed(self) -> None:
        self.load()

    @guarded("load")
    async def load(self) -> None:
        status = self.query_one("#account-status", Select).value
        page = await self.client.accounts(
            search=self.query_one("#account-search", Input).value.strip(),
            status=status if isinstance(status, str) else "",
            plan=self.query_one("#account-plan", Input).value.strip())
        self.rows = {str(a["id"]): a for a in page.results}
        shown = len(page.results)
        self.query_one("#accounts-count", Static).update(
            f"{page.count} accounts" + (f" (first {shown} shown)" if page.count > shown else ""))
        fill(self.query_one("#accounts-table", DataTable),
             [(str(a["id"]), _row(a)) for a in page.results])
        self.refresh_bindings()

    def put(self, account: dict[str, Any]) -> None:
        """Show an action's answer in its row at once (the server's account, not a guess)."""
        key = str(account.get("id"))
        table: DataTable[Any] = self.query_one("#accounts-table", DataTable)
        if key not in self.rows:
            return
        self.rows[key] = {**self.rows[key], **account}
        for column, value in zip(table.columns, _row(self.rows[key]), strict=False):
            table.update_cell(key, column, value)
        self.refresh_bindings()

    def selected(self) -> dict[str, Any] | None:
        key = cursor_key(self.query_one("#accounts-table", DataTable))
        return self.rows.get(key) if key else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return offered(action, self.selected())

    @on(DataTable.RowHighlighted, "#accounts-table")
    def _moved(self) -> None:
        self.refresh_bindings()

    @on(DataTable.RowSelected, "#accounts-table")
    def _open(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.app.push_screen(AccountDetail(self, int(event.row_key.value)))

    def _with_selected(self, action: str) -> None:
        account = self.selected()
        if account:
            getattr(self, action)(int(account["id"]))

    def action_grant(self) -> None:
        self._with_selected("grant")

    def action_revoke(self) -> None:
        account = self.selected()
        if account:
            self.grant(int(account["id"]), revoke=True)

    def action_plan(self) -> None:
        self._with_selected("change_plan")

    def action_suspend(self) -> None:
        self._with_selected("suspend")

    def action_reactivate(self) -> None:
        self._with_selected("reactivate")

    async def _account(self, account_id: int) -> dict[str, Any]:
        """The account as the server has it now (the balance a confirmation quotes)."""
        return await self.client.account(account_id)

    @guarded("action", exclusive=False)
    async def grant(self, account_id: int, revoke: bool = False) -> None:
        account = await self._account(account_id)
        if revoke and not offered("revoke", account):
            self.notify(f"{account.get('name')} has no credits to revoke.",
                        title="Nothing to revoke", severity="warning")
            return
        form = await self.app.push_screen_wait(CreditsDialog(account, revoke=revoke))
        if form is None:
            return
        amount, reason = form
        verb = "Revoke" if amount < 0 else "Grant"
        balance = int(account.get("credits") or 0)
        confirmed = await self.app.push_screen_wait(ConfirmDialog(
            f"{verb} credits?",
            f"{verb} {abs(amount):,} credits {'from' if amount < 0 else 'to'} "
            f"{account.get('name')} (#{account_id})? Balance {balance:,} → "
            f"{balance + amount:,}.\nReason: {reason}",
            confirm=f"{verb} credits", danger=amount < 0, reason=reason))
        if confirmed is None:
            return
        try:
            out = await self.client.grant_credits(account_id, amount, confirmed or reason)
        except ApiError as exc:
            if exc.status != 400:
                raise
            self.notify(exc.describe(), title="Not changed", severity="warning", timeout=8)
            return
        self.put({"id": account_id, "credits": out.get("credits")})
        self.notify(f"{account.get('name')}: balance {int(out.get('credits') or 0):,}.",
                    title="Credits granted" if amount > 0 else "Credits revoked")
        self._refresh_detail(account_id)

    @guarded("action", exclusive=False)
    async def change_plan(self, account_id: int) -> None:
        account = await self._account(account_id)
        plans = await self.client.plans()
        form = await self.app.push_screen_wait(PlanDialog(account, plans))
        if form is None:
            return
        slug, reason = form
        confirmed = await self.app.push_screen_wait(ConfirmDialog(
            "Change plan?", f"Move {account.get('name')} (#{account_id}) from "
            f"{plan_slug(account)} to {slug}?", confirm="Change plan", danger=False,
            reason=reason))
        if confirmed is None:
            return
        try:
            out = await self.client.change_plan(account_id, slug, confirmed)
        except ApiError as exc:
            if exc.status not in (400, 409):
                raise
            self.notify(exc.describe(), title="Not changed", severity="warning", timeout=8)
            return
        self.put(out)
        self.notify(f"{account.get('name')} is on {plan_slug(out)}.", title="Plan changed")
        self._refresh_detail(account_id)

    @guarded("action", exclusive=False)
    async def suspend(self, account_id: int) -> None:
        await self._status(account_id, suspend=True)

    @guarded("action", exclusive=False)
    async def reactivate(self, account_id: int) -> None:
        await self._status(account_id, suspend=False)

    async def _status(self, account_id: int, *, suspend: bool) -> None:
        account = await self._account(account_id)
        verb = "Suspend" if suspend else "Reactivate"
        if not offered("suspend" if suspend else "reactivate", account):
            self.notify(f"{account.get('name')} is {account.get('status')} already.",
                        title="Nothing to change", severity="warning")
            return
        effect = ("Its users are logged out at once and cannot log in until it is "
                  "reactivated." if suspend else "Its users can log in again.")
        reason = await self.app.push_screen_wait(ConfirmDialog(
            f"{verb} account?", f"{verb} {account.get('name')} (#{account_id}, "
            f"{account.get('status')})? {effect}", confirm=f"{verb} account", danger=suspend))
        if reason is None:
            return
        call = self.client.suspend if suspend else self.client.reactivate
        try:
            out = await call(account_id, reason)
        except ApiError as exc:
            if exc.status != 409:
                raise
            self.notify(exc.describe(), title="Not changed", severity="warning", timeout=8)
            return
        self.put(out)
        self.notify(f"{account.get('name')} is {out.get('status')}.",
                    title="Suspended" if suspend else "Reactivated")
        self._refresh_detail(account_id)

    def _refresh_detail(self, account_id: int) -> None:
        screen = self.app.screen_stack[-1]
        if isinstance(screen, AccountDetail) and screen.account_id == account_id:
            screen.load()


class AccountDetail(DetailScreen):
    """One account; its keys are offered as the pane's are (from the account shown)."""

    BINDINGS = [
        Binding("g", "grant", "Grant credits"), Binding("v", "revoke", "Revoke credits"),
        Binding("p", "plan", "Change plan"), Binding("s", "suspend", "Suspend"),
        Binding("a", "reactivate", "Reactivate"),
    ]

    def __init__(self, pane: AccountsPane, account_id: int) -> None:
        super().__init__(f"Account #{account_id}")
        self.pane = pane
        self.account_id = account_id
        self.account: dict[str, Any] | None = None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return offered(action, self.account)

    def hint(self) -> str:
        return "g grant · v revoke · p plan · s suspend · a reactivate · esc close"

    def on_mount(self) -> None:
        self.load()

    @guarded("load")
    async def load(self) -> None:
        a = await console(self).api.account(self.account_id)
        self.account = a
        self.refresh_bindings()
        plan: dict[str, Any] = a["plan"] if isinstance(a.get("plan"), dict) else {}
        usage = a.get("usage_this_month") or {}
        by_op = usage.get("by_operation") or {}
        self.query_one("#detail-title", Static).update(
            f"Account #{self.account_id} — {a.get('name')}")
        text = kv([
            ("name / slug", f"{a.get('name')} / {a.get('slug')}"),
            ("status", styled(a.get("status"))),
            ("credits", f"{int(a.get('credits') or 0):,}"),
            ("plan", f"{plan.get('name')} ({plan.get('slug')}) · "
                     f"{plan.get('monthly_credits', '?')} credits/month"),
            ("plan limits", f"sites {plan.get('max_sites', '?')} · users "
                            f"{plan.get('max_users', '?')} · keywords "
                            f"{plan.get('max_keywords', '?')} · clusters "
                            f"{plan.get('max_clusters', '?')}"),
            ("in use", f"users {a.get('users_count', 0)} · sites {a.get('sites_count', 0)} · "
                       f"keywords {a.get('keywords_count', 0)}"),
            ("this month", f"{usage.get('credits_used', 0)} used · "
                           f"{usage.get('credits_refunded', 0)} refunded"),
            ("by operation", " · ".join(f"{k} {v}" for k, v in sorted(by_op.items())) or "—"),
            ("created", when(a.get("created_at"))),
        ])
        txs = list(a.get("recent_transactions") or [])
        text.append("\n\nrecent transactions\n", style="bold")
        for t in txs:
            amount = int(t.get("amount") or 0)
            text.append(f"{when(t.get('created_at'))}  ")
            text.append(f"{t.get('transaction_type', ''):<11}", style="dim")
            text.append(f"{amount:>+8,}", style="green" if amount > 0 else "red")
            text.append(f"  → {int(t.get('balance_after') or 0):>8,}  {t.get('description', '')}\n")
        if not txs:
            text.append("none", style="dim")
        self.query_one("#detail-body", Static).update(text)

    def action_grant(self) -> None:
        self.pane.grant(self.account_id)

    def action_revoke(self) -> None:
        self.pane.grant(self.account_id, revoke=True)

    def action_plan(self) -> None:
        self.pane.change_plan(self.account_id)

    def action_suspend(self) -> None:
        self.pane.suspend(self.account_id)

    def action_reactivate(self) -> None:
        self.pane.reactivate(self.account_id)
