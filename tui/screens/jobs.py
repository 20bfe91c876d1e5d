"""The Jobs tab: every account's jobs with their progress; detail, cancel, retry."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Input, ProgressBar, Select, Static

from tui.client import AdminClient
from tui.errors import ApiError
from tui.ports import console
from tui.screens.base import Pane, bar, cursor_key, fill, guarded, kv, pretty, short, styled, when
from tui.screens.dialogs import ConfirmDialog, DetailScreen

STATES: list[tuple[str, str]] = [
    ("all states", ""), ("active (pending, running)", "PENDING,PROGRESS"),
    ("PENDING", "PENDING"), ("PROGRESS", "PROGRESS"), ("SUCCESS", "SUCCESS"),
    ("FAILURE", "FAILURE"), ("REVOKED", "REVOKED"),
]
FINISHED = {"SUCCESS", "FAILURE", "REVOKED"}
CANCELLABLE = {"PENDING", "PROGRESS"}
RETRYABLE = {"FAILURE"}


def offered(action: str, job: dict[str, Any] | None) -> bool | None:
    """Whether a job action is offered for `job`: the server refuses to cancel a finished job
    and to retry anything but a failed one (409), so those keys are shown disabled (None)."""
    if action not in ("cancel", "retry"):
        return True
    if job is None:
        return None
    return True if job.get("state") in (CANCELLABLE if action == "cancel" else RETRYABLE) \
        else None


def credits_of(job: dict[str, Any]) -> str:
    """The credits the job was charged up front: its payload's `credits` (the operation's
    price, written when it was queued). `meta.cost` is the AI provider's cost, not credits."""
    payload = job.get("payload")
    charged = payload.get("credits") if isinstance(payload, dict) else None
    return f"{int(charged):,} charged" if isinstance(charged, int | float) else "—"


def _meta(job: dict[str, Any]) -> dict[str, Any]:
    meta = job.get("meta")
    return meta if isinstance(meta, dict) else {}


def _progress(job: dict[str, Any]) -> Text:
    if job.get("state") == "SUCCESS":
        return bar(100)
    if job.get("state") in ("PENDING", "PROGRESS"):
        return bar(_meta(job).get("percentage") or 0)
    return Text("—", style="dim")


class JobsPane(Pane):
    LIVE = True
    BINDINGS = [
        Binding("c", "cancel", "Cancel job"),
        Binding("t", "retry", "Retry job"),
        Binding("s", "cycle_state", "State filter"),
        Binding("slash", "filter", "Filter", show=False),
    ]

    def __init__(self) -> None:
        super().__init__(id="jobs")
        self.rows: dict[str, dict[str, Any]] = {}

    def compose(self) -> ComposeResult:
        with Horizontal(classes="filters"):
            yield Select(STATES, value="", allow_blank=False, id="job-state")
            yield Input(placeholder="kind, e.g. auto_cluster", id="job-kind")
            yield Input(placeholder="account id", id="job-account", type="integer")
        yield Static("", id="jobs-count", classes="count")
        table: DataTable[Any] = DataTable(id="jobs-table", cursor_type="row", zebra_stripes=True)
        table.add_columns("task", "kind", "state", "account", "progress", "phase",
                          "message", "tries", "created")
        yield table

    def action_filter(self) -> None:
        self.query_one("#job-kind", Input).focus()

    def action_cycle_state(self) -> None:
        select: Select[str] = self.query_one("#job-state", Select)
        values = [v for _, v in STATES]
        current = select.value if isinstance(select.value, str) else ""
        select.value = values[(values.index(current) + 1) % len(values)]

    @on(Select.Changed, "#job-state")
    @on(Input.Submitted, ".filters Input")
    def _filters_changed(self) -> None:
        self.load()

    @guarded("load")
    async def load(self) -> None:
        state = self.query_one("#job-state", Select).value
        page = await self.client.jobs(
            state=state if isinstance(state, str) else "",
            kind=self.query_one("#job-kind", Input).value.strip(),
            account_id=self.query_one("#job-account", Input).value.strip())
        self.rows = {str(j["task_id"]): j for j in page.results}
        running = sum(1 for j in page.results if j.get("state") == "PROGRESS")
        shown = len(page.results)
        self.query_one("#jobs-count", Static).update(
            f"{page.count} jobs" + (f" (newest {shown} shown)" if page.count > shown else "")
            + f" · {running} running")
        self.refresh_bindings()
        fill(self.query_one("#jobs-table", DataTable), [
            (str(j["task_id"]), [
                short(j["task_id"]), j.get("kind", ""), styled(j.get("state", "")),
                str(j.get("account_id", "")), _progress(j), _meta(j).get("phase", ""),
                Text(str(_meta(j).get("message") or j.get("error") or ""), overflow="ellipsis",
                     no_wrap=True),
                f"{j.get('attempts', 0)}/{j.get('max_attempts', 0)}",
                when(j.get("created_at"))[5:16],
            ]) for j in page.results])

    def selected(self) -> dict[str, Any] | None:
        key = cursor_key(self.query_one("#jobs-table", DataTable))
        return self.rows.get(key) if key else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return offered(action, self.selected())

    @on(DataTable.RowHighlighted, "#jobs-table")
    def _moved(self) -> None:
        self.refresh_bindings()

    @on(DataTable.RowSelected, "#jobs-table")
    def _open(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.app.push_screen(JobDetail(self, str(event.row_key.value)))

    def action_cancel(self) -> None:
        job = self.selected()
        if job:
            self.cancel(str(job["task_id"]))

    def action_retry(self) -> None:
        job = self.selected()
        if job:
            self.retry(str(job["task_id"]))

    @guarded("action", exclusive=False)
    async def cancel(self, task_id: str) -> None:
        job = await self.client.job(task_id)  # its state now, not the last poll's
        if not offered("cancel", job):
            self.notify(f"Job {short(task_id)} is {job.get('state')}: only a pending or "
                        "running job can be cancelled.", title="Nothing to cancel",
                        severity="warning")
            return
        reason = await self.app.push_screen_wait(ConfirmDialog(
            "Cancel job?",
            f"Cancel {job.get('kind')} job {task_id} ({job.get('state')}) of account "
            f"{job.get('account_id')}? Its credits are refunded by its kind.",
            confirm="Cancel job"))
        if reason is None:
            return
        try:
            done = await self.client.cancel_job(task_id, reason)
        except ApiError as exc:
            if exc.status != 409:
                raise
            self.notify(exc.describe(), title="Not cancelled", severity="warning", timeout=8)
        else:
            self.notify(f"Job {short(task_id)} is {done.get('state')}.", title="Cancelled")
        self.load()

    @guarded("action", exclusive=False)
    async def retry(self, task_id: str) -> None:
        job = await self.client.job(task_id)
        if not offered("retry", job):
            self.notify(f"Job {short(task_id)} is {job.get('state')}: only a failed job can "
                        "be retried.", title="Nothing to retry", severity="warning")
            return
        reason = await self.app.push_screen_wait(ConfirmDialog(
            "Retry job?",
            f"Queue {job.get('kind')} job {task_id} ({job.get('state')}) again? Its credits "
            "are charged to the account again.", confirm="Retry job", danger=False))
        if reason is None:
            return
        try:
            done = await self.client.retry_job(task_id, reason)
        except ApiError as exc:
            if exc.status not in (402, 409):
                raise
            self.notify(exc.describe(), title="Not retried", severity="warning", timeout=8)
        else:
            self.notify(f"Job {short(task_id)} is {done.get('state')} again.", title="Retried")
        self.load()


class JobDetail(DetailScreen):
    """One job, reloaded every two seconds while open (its progress moves)."""

    BINDINGS = [Binding("c", "cancel", "Cancel job"), Binding("t", "retry", "Retry job")]

    def __init__(self, pane: JobsPane, task_id: str) -> None:
        super().__init__(f"Job {task_id}")
        self.pane = pane
        self.task_id = task_id
        self.job: dict[str, Any] | None = None

    @property
    def client(self) -> AdminClient:
        return console(self).api

    def compose_body(self) -> Any:
        yield ProgressBar(total=100, show_eta=False, id="job-progress")
        yield Static("loading…", id="detail-body")
        yield Static("", id="job-json", classes="json")

    def hint(self) -> str:
        return "c cancel · t retry · esc close"

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return offered(action, self.job)

    def on_mount(self) -> None:
        self.load()
        self.set_interval(5.0, self._tick)

    def _tick(self) -> None:
        app = console(self)
        if not app.offline and not app.paused:
            self.load()

    @guarded("load")
    async def load(self) -> None:
        try:
            job = await self.client.job(self.task_id)
        except ApiError as exc:
            if exc.status != 404:
                raise
            self.query_one("#detail-body", Static).update("This job no longer exists.")
            return
        self.job = job
        self.refresh_bindings()
        meta = _meta(job)
        progress = self.query_one("#job-progress", ProgressBar)
        progress.update(progress=100 if job.get("state") == "SUCCESS"
                        else float(meta.get("percentage") or 0))
        self.query_one("#detail-body", Static).update(kv([
            ("kind", job.get("kind", "")), ("state", styled(job.get("state", ""))),
            ("phase", meta.get("phase", "")), ("message", meta.get("message", "")),
            ("account / user", f"{job.get('account_id')} / {job.get('user_id')}"),
            ("attempts", f"{job.get('attempts', 0)} of {job.get('max_attempts', 0)}"),
            ("credits", credits_of(job)),
            ("AI cost / tokens", f"${float(meta.get('cost') or 0):.4f} / "
                                 f"{int(meta.get('tokens') or 0):,} tokens"),
            ("created", when(job.get("created_at"))), ("started", when(job.get("started_at"))),
            ("finished", when(job.get("finished_at"))), ("updated", when(job.get("updated_at"))),
            ("error", Text(str(job.get("error") or "—"),
                           style="red" if job.get("error") else "")),
        ]))
        self.query_one("#job-json", Static).update(Text.assemble(
            ("payload\n", "bold"), pretty(job.get("payload")),
            ("\n\nresult\n", "bold"), pretty(job.get("result")),
            ("\n\nmeta\n", "bold"), pretty(meta)))

    def action_cancel(self) -> None:
        self.pane.cancel(self.task_id)

    def action_retry(self) -> None:
        self.pane.retry(self.task_id)
