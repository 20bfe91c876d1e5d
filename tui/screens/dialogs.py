"""Modal dialogs: the confirmation every action asks for, the credits and plan forms, help."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Input, Label, Select, Static

REASON_MAX = 500


def leave_field(screen: Screen[Any]) -> bool:
    """Esc in a text field: move the focus out of it (True), so the keys are the screen's
    again; a second Esc then does what Esc does there (close the dialog)."""
    if isinstance(screen.focused, Input):
        screen.set_focus(None)
        return True
    return False


class ConfirmDialog(ModalScreen[str | None]):
    """Ask before an action; dismisses with the (optional) reason, or None when declined.

    Opens on the reason field, and Enter there only moves on to the action's button: a
    typed reason is kept and no keystroke confirms by accident. The button names the action
    ("Suspend account"), not "OK". The reason goes into the server's audit row beside the
    before/after snapshots.
    """

    BINDINGS = [Binding("escape", "decline", "Back"),
                Binding("ctrl+y", "accept", "Confirm")]

    def __init__(self, title: str, message: str | Text, *, confirm: str,
                 danger: bool = True, reason: str = "") -> None:
        super().__init__(classes="dialog")
        self.title_text = title
        self.message = message
        self.confirm_label = confirm
        self.danger = danger
        self.reason = reason

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(self.title_text, id="dialog-title")
            yield Static(self.message, id="dialog-message")
            yield Input(self.reason, placeholder="Reason (optional, kept in the audit log)",
                        id="reason", max_length=REASON_MAX)
            with Horizontal(id="dialog-buttons"):
                yield Button(self.confirm_label, id="confirm",
                             variant="error" if self.danger else "primary")
                yield Button("Back", id="decline")

    def on_mount(self) -> None:
        self.query_one("#reason", Input).focus()

    @on(Input.Submitted, "#reason")
    def _to_button(self) -> None:
        self.query_one("#confirm", Button).focus()

    @on(Button.Pressed, "#confirm")
    def action_accept(self) -> None:
        self.dismiss(self.query_one("#reason", Input).value.strip())

    @on(Button.Pressed, "#decline")
    def _declined(self) -> None:
        self.dismiss(None)

    def action_decline(self) -> None:
        if not leave_field(self):
            self.dismiss(None)


class CreditsDialog(ModalScreen[tuple[int, str] | None]):
    """Amount and reason of a grant or a revoke (the reason is required: it is the ledger's
    description and the audit's reason)."""

    BINDINGS = [Binding("escape", "decline", "Back")]

    def __init__(self, account: dict[str, Any], *, revoke: bool = False) -> None:
        super().__init__(classes="dialog")
        self.account = account
        self.revoke = revoke

    def compose(self) -> ComposeResult:
        verb = "Revoke" if self.revoke else "Grant"
        with Vertical(id="dialog"):
            yield Label(f"{verb} credits — {self.account.get('name')} "
                        f"(balance {self.account.get('credits')})", id="dialog-title")
            yield Input(placeholder="Amount (a positive whole number)", id="amount",
                        type="integer", restrict=r"[0-9]*", max_length=9)
            yield Input(placeholder="Reason (required)", id="reason", max_length=REASON_MAX)
            yield Static("", id="dialog-error")
            with Horizontal(id="dialog-buttons"):
                yield Button(f"{verb} credits", id="confirm",
                             variant="error" if self.revoke else "primary")
                yield Button("Back", id="decline")

    def on_mount(self) -> None:
        self.query_one("#amount", Input).focus()

    @on(Input.Submitted, "#amount")
    def _next(self) -> None:
        self.query_one("#reason", Input).focus()

    @on(Button.Pressed, "#confirm")
    @on(Input.Submitted, "#reason")
    def action_accept(self) -> None:
        raw = self.query_one("#amount", Input).value.strip()
        reason = self.query_one("#reason", Input).value.strip()
        error = self.query_one("#dialog-error", Static)
        if not raw.isdigit() or int(raw) <= 0:
            error.update("Enter an amount greater than zero.")
            self.query_one("#amount", Input).focus()
            return
        balance = int(self.account.get("credits") or 0)
        if self.revoke and int(raw) > balance:
            error.update(f"The balance is {balance:,}: revoke at most that.")
            self.query_one("#amount", Input).focus()
            return
        if not reason:
            error.update("A reason is required.")
            self.query_one("#reason", Input).focus()
            return
        amount = int(raw)
        self.dismiss((-amount if self.revoke else amount, reason))

    @on(Button.Pressed, "#decline")
    def _declined(self) -> None:
        self.dismiss(None)

    def action_decline(self) -> None:
        if not leave_field(self):
            self.dismiss(None)


class PlanDialog(ModalScreen[tuple[str, str] | None]):
    """Pick a plan (slug) and an optional reason."""

    BINDINGS = [Binding("escape", "decline", "Back")]

    def __init__(self, account: dict[str, Any], plans: list[dict[str, Any]]) -> None:
        super().__init__(classes="dialog")
        self.account = account
        self.plans = plans

    def compose(self) -> ComposeResult:
        current = (self.account.get("plan") or {}).get("slug")
        options = [(f"{p.get('name')} ({p.get('slug')}) — {p.get('monthly_credits', '?')} "
                    "credits/month", str(p.get("slug"))) for p in self.plans]
        with Vertical(id="dialog"):
            yield Label(f"Change plan — {self.account.get('name')} (now {current})",
                        id="dialog-title")
            yield Select(options, prompt="Plan", id="plan", allow_blank=True)
            yield Input(placeholder="Reason (optional, kept in the audit log)", id="reason",
                        max_length=REASON_MAX)
            yield Static("", id="dialog-error")
            with Horizontal(id="dialog-buttons"):
                yield Button("Change plan", id="confirm", variant="primary")
                yield Button("Back", id="decline")

    def on_mount(self) -> None:
        self.query_one("#plan", Select).focus()

    @on(Button.Pressed, "#confirm")
    @on(Input.Submitted, "#reason")
    def action_accept(self) -> None:
        value = self.query_one("#plan", Select).value
        if not isinstance(value, str):
            self.query_one("#dialog-error", Static).update("Pick a plan.")
            return
        self.dismiss((value, self.query_one("#reason", Input).value.strip()))

    @on(Button.Pressed, "#decline")
    def _declined(self) -> None:
        self.dismiss(None)

    def action_decline(self) -> None:
        if not leave_field(self):
            self.dismiss(None)


class DetailScreen(ModalScreen[None]):
    """A read-only record: a title, aligned fields, and free sections (JSON, log lines)."""

    BINDINGS = [Binding("escape,q", "close", "Close")]

    def __init__(self, title: str, body: Text | str = "") -> None:
        super().__init__(classes="detail")
        self.title_text = title
        self.body = body

    def compose(self) -> ComposeResult:
        with Vertical(id="detail"):
            yield Label(self.title_text, id="detail-title")
            with VerticalScroll(id="detail-scroll"):
                yield from self.compose_body()
            yield Static(self.hint(), id="detail-hint")

    def compose_body(self) -> ComposeResult:
        yield Static(self.body, id="detail-body")

    def hint(self) -> str:
        return "esc close"

    def action_close(self) -> None:
        self.dismiss(None)


HELP = """\
[b]Everywhere[/b]
  1 … 6        Overview · Jobs · Accounts · Users · Requests · Audit
  r / F5       reload the tab now (the overview and jobs also reload every few seconds)
  /            focus the tab's search or filter field (enter applies it)
  ?  F1        this help          ctrl+t  pick a theme (ctrl+p: command palette)
  ctrl+l       log out            q       quit (logs the session out)
  enter        open the row under the cursor
  esc          leave a text field; again: close the dialog

[b]Overview[/b]
  w            change the traffic window (1, 5, 15, 60 minutes)

[b]Jobs[/b]
  enter        detail: payload, progress meta, result, error (live)
  c            cancel a pending or running job (credits refunded by its kind)
  t            retry a failed job (charges its credits again)
  s            cycle the state filter (all · active · each state)

[b]Accounts[/b]
  g / v        grant / revoke credits (amount and a required reason)
  p            change the plan
  s / a        suspend / reactivate (suspending logs its users out at once)

[b]Users[/b]
  d            deactivate (ends every session)
  a            reactivate a deactivated user (they can log in again)
  e            end sessions (the user stays active)
  l            pending password-reset and invitation links (no mail went out):
               i or enter reissues one and shows the new link to hand over

[b]Requests[/b]
  enter        show the record and log lines of the request under the cursor
  /            look up a request id (from an X-Request-ID header or an error body)
  a            show or hide the admin API's own calls (the console's polling)

Every action asks for confirmation and takes an optional reason (the dialog
opens on it; enter moves to the action's button, which confirms); the server
writes an audit row for it (the Audit tab). Actions the server would refuse
(cancel a finished job, revoke more than the balance) are not offered.
Traffic numbers are those of the process that answered (each server process
keeps its own).
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark,f1", "close", "Close")]

    def __init__(self) -> None:
        super().__init__(classes="detail")

    def compose(self) -> ComposeResult:
        with Vertical(id="detail"):
            yield Label("igny8d console — keys", id="detail-title")
            with VerticalScroll(id="detail-scroll"):
                yield Static(HELP, id="help-body")
            yield Static("esc close", id="detail-hint")

    def action_close(self) -> None:
        self.dismiss(None)
