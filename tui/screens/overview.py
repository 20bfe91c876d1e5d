"""The Overview tab: the box at a glance, and the traffic of the last minutes as charts."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Sparkline, Static

from tui.screens.base import Pane, guarded, kv, ms, styled, uptime

WINDOWS = (60, 300, 900, 3600)
JOB_STATES = ("PENDING", "PROGRESS", "SUCCESS", "FAILURE", "REVOKED")


def window_label(seconds: int) -> str:
    return f"{seconds // 60} min" if seconds >= 60 else f"{seconds} s"


class Chart(Vertical):
    """A titled sparkline with its latest and largest values (the numbers a glance needs)."""

    def __init__(self, title: str, unit: str, *, id: str) -> None:
        super().__init__(id=id, classes="chart")
        self.border_title = title
        self.unit = unit

    def compose(self) -> ComposeResult:
        yield Sparkline([], id=f"{self.id}-line")
        yield Static("", classes="chart-legend")

    def show(self, values: list[float]) -> None:
        self.query_one(Sparkline).data = values or [0.0]
        if values:
            legend = (f"now {values[-1]:.1f} {self.unit} · max {max(values):.1f} {self.unit}"
                      f" · min {min(values):.1f} {self.unit}")
        else:
            legend = "no traffic in this window"
        self.query_one(".chart-legend", Static).update(legend)


class OverviewPane(Pane):
    """No bindings of its own: the pane never holds the focus (a container), so `w` is the
    main screen's, which calls `action_window` while this tab is shown."""

    LIVE = True

    def __init__(self) -> None:
        super().__init__(id="overview")
        self.window_s = 300
        self.data: dict[str, Any] = {}

    def compose(self) -> ComposeResult:
        with Horizontal(id="tiles"):
            yield Static("loading…", id="tile-server", classes="tile")
            yield Static("", id="tile-database", classes="tile")
            yield Static("", id="tile-jobs", classes="tile")
        yield Static("", id="tile-traffic", classes="tile wide")
        with Horizontal(id="charts-top"):
            yield Chart("Requests / s", "req/s", id="chart-rps")
            yield Chart("Errors (5xx) per bucket", "", id="chart-errors")
        with Horizontal(id="charts-bottom"):
            yield Chart("Latency p50 (ms)", "ms", id="chart-p50")
            yield Chart("Latency p99 (ms)", "ms", id="chart-p99")

    def on_mount(self) -> None:
        self.query_one("#tile-server").border_title = "Server"
        self.query_one("#tile-database").border_title = "Store"
        self.query_one("#tile-jobs").border_title = "Job queue (all accounts)"
        self._title_traffic()

    def _title_traffic(self) -> None:
        self.query_one("#tile-traffic").border_title = (
            f"Traffic — last {window_label(self.window_s)}, this process")

    def focus_main(self) -> None:
        """Nothing here takes the focus; the screen's keys (w, r, 1…6) work from anywhere."""
        self.screen.set_focus(None)

    def action_window(self) -> None:
        self.window_s = WINDOWS[(WINDOWS.index(self.window_s) + 1) % len(WINDOWS)
                                if self.window_s in WINDOWS else 1]
        self._title_traffic()
        self.notify(f"Traffic window: {window_label(self.window_s)}", timeout=2)
        self.load()

    @guarded("load")
    async def load(self) -> None:
        self.data = await self.client.overview(window_s=self.window_s)
        self.show(self.data)

    def show(self, d: dict[str, Any]) -> None:
        db = d.get("database") or {}
        jobs = d.get("jobs") or {}
        traffic = d.get("traffic") or {}
        self.query_one("#tile-server", Static).update(kv([
            ("version", f"igny8d {d.get('version', '?')} (API {d.get('api_version', '?')})"),
            ("uptime", uptime(float(d.get("uptime_s") or 0))),
            ("process", f"pid {d.get('pid', '?')} · {float(d.get('rss_mb') or 0):.0f} MB RSS"),
        ]))
        ok = Text("ok", style="bold green") if db.get("ok") else Text("DOWN", style="bold red")
        self.query_one("#tile-database", Static).update(kv([
            ("database", Text.assemble(f"{db.get('dialect', '?')} ", ok)),
            ("latency", ms(db.get("latency_ms"))),
            ("accounts", f"{d.get('accounts', 0)} · users {d.get('users', 0)}"),
        ]))
        line = Text()
        for i, state in enumerate(JOB_STATES):
            if i:
                line.append("\n" if i % 2 == 0 else "   ")
            line.append(styled(state))
            line.append(f"{' ' * (9 - len(state))}{int(jobs.get(state) or 0):>6,}")
        self.query_one("#tile-jobs", Static).update(line)
        classes = traffic.get("by_class") or {}
        rate = float(traffic.get("error_rate") or 0)
        err_style = "bold red" if rate >= 0.01 else ("yellow" if rate > 0 else "green")
        self.query_one("#tile-traffic", Static).update(Text.assemble(
            ("req/s ", "bold"), f"{float(traffic.get('requests_per_s') or 0):.2f}   ",
            ("requests ", "bold"), f"{traffic.get('requests', 0)}   ",
            ("5xx rate ", "bold"), (f"{rate * 100:.2f}%", err_style), "   ",
            ("p50 ", "bold"), ms(traffic.get("p50_ms")), "   ",
            ("p99 ", "bold"), ms(traffic.get("p99_ms")), "   ",
            ("throttled ", "bold"), f"{traffic.get('throttled', 0)}\n",
            *[part for cls in ("2xx", "3xx", "4xx", "5xx")
              for part in ((f"{cls} ", "bold"), f"{classes.get(cls, 0)}   ")],
            ("(each server process counts its own)", "italic dim")
            if d.get("per_process", True) else "",
        ))
        series = list(d.get("series") or [])
        bucket = 10.0
        if len(series) > 1:
            bucket = max(1.0, float(series[1].get("t", 0)) - float(series[0].get("t", 0)))
        self.query_one("#chart-rps", Chart).show(
            [float(s.get("requests") or 0) / bucket for s in series])
        self.query_one("#chart-errors", Chart).show(
            [float(s.get("errors") or 0) for s in series])
        self.query_one("#chart-p50", Chart).show([float(s.get("p50_ms") or 0) for s in series])
        self.query_one("#chart-p99", Chart).show([float(s.get("p99_ms") or 0) for s in series])
