"""What every screen shares: guarded workers, the pane base class, table and value helpers."""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Callable, Coroutine, Iterable, Sequence
from typing import Any, ClassVar, Concatenate, ParamSpec, TypeVar, cast

from rich.text import Text
from textual import work
from textual.containers import Vertical
from textual.dom import DOMNode
from textual.widget import Widget
from textual.widgets import DataTable
from textual.worker import Worker, WorkerCancelled, WorkerState

from tui import messages
from tui.client import AdminClient
from tui.errors import ApiError, SessionEnded, Throttled, Unreachable
from tui.ports import console, tell_app

P = ParamSpec("P")
N = TypeVar("N", bound=Widget)
Body = Callable[Concatenate[N, P], Coroutine[Any, Any, None]]


def guarded(
    group: str, *, exclusive: bool = True
) -> Callable[[Body[N, P]], Callable[Concatenate[N, P], Worker[None]]]:
    """A Textual worker whose failures become messages, never a crash.

    No answer → a `ServerUnreachable` message (the app's banner and reconnect loop); a
    session the server ended → `SessionEnded` (the login screen); a 429 → `Throttled` (live
    refresh pauses), each posted to the app (`tell_app`), which handles them.
    An error answer → a notification with the server's sentence (a 409's "Task already
    finished." for instance); anything else → a notification too, so one malformed field
    cannot take the console down while an operator is using it.
    """

    def decorate(fn: Body[N, P]) -> Callable[Concatenate[N, P], Worker[None]]:
        @functools.wraps(fn)
        async def run(node: N, /, *args: P.args, **kwargs: P.kwargs) -> None:
            try:
                await fn(node, *args, **kwargs)
            except (asyncio.CancelledError, WorkerCancelled):
                raise
            except Unreachable as exc:
                tell_app(node, messages.ServerUnreachable(exc.message))
            except SessionEnded as exc:
                tell_app(node, messages.SessionEnded(exc.message))
            except Throttled as exc:
                tell_app(node, messages.Throttled(exc.retry_after))
            except ApiError as exc:
                node.notify(exc.describe(), title=f"Server answered {exc.status}",
                            severity="error", timeout=8)
            except Exception as exc:
                node.log.error(f"console bug in {fn.__qualname__}: {exc!r}")
                node.notify(f"{type(exc).__name__}: {exc}", title="Console error",
                            severity="error", timeout=8)

        return cast("Callable[Concatenate[N, P], Worker[None]]",
                    work(run, group=group, exclusive=exclusive, exit_on_error=False))

    return decorate


def busy(node: DOMNode, group: str) -> bool:
    """Whether `node` already has a worker of `group` in flight (then a poll tick skips)."""
    return any(w.node is node and w.group == group
               and w.state in (WorkerState.PENDING, WorkerState.RUNNING)
               for w in node.app.workers)


class Pane(Vertical):
    """One tab of the main screen: loads its data in a worker, never on the UI's path."""

    #: reloaded on every poll tick while its tab is shown (jobs move on their own)
    LIVE: ClassVar[bool] = False

    @property
    def client(self) -> AdminClient:
        return console(self).api

    def reload(self) -> None:
        """Start a load unless one is running (a slow server is not asked twice)."""
        if not busy(self, "load") and not console(self).offline:
            self.load()

    def load(self) -> Worker[None]:  # pragma: no cover - every pane overrides it
        raise NotImplementedError

    def focus_main(self) -> None:
        """Focus the pane's main widget (its table) when its tab is opened."""
        tables = self.query(DataTable)
        if tables:
            tables.first().focus()


# -- tables ----------------------------------------------------------------------------------

def fill(table: DataTable[Any], rows: Iterable[tuple[str, Sequence[Any]]]) -> None:
    """Replace a table's rows, keeping the cursor on the same row (by key) when it is still
    there, so a live refresh does not throw the operator back to the top. Column widths fit
    the new rows (DataTable's `clear` keeps the widest cell ever seen)."""
    keep: str | None = None
    if table.row_count and table.cursor_row >= 0:
        try:
            keep = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except Exception:
            keep = None
    table.clear()
    for column in table.columns.values():
        if column.auto_width:  # widths only grow in DataTable: measure this load's cells again
            column.content_width = column.label.cell_len
    index = 0
    for i, (key, cells) in enumerate(rows):
        table.add_row(*cells, key=key)
        if key == keep:
            index = i
    if table.row_count:
        table.move_cursor(row=index, animate=False)


def cursor_key(table: DataTable[Any]) -> str | None:
    """The key of the row under the cursor, or None for an empty table."""
    if not table.row_count:
        return None
    try:
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
    except Exception:
        return None


# -- values ----------------------------------------------------------------------------------

STATE_STYLE = {"PENDING": "yellow", "PROGRESS": "bold cyan", "SUCCESS": "green",
               "FAILURE": "bold red", "REVOKED": "magenta", "active": "green",
               "suspended": "bold red"}


def styled(value: Any) -> Text:
    text = str(value)
    return Text(text, style=STATE_STYLE.get(text, ""))


def when(value: Any) -> str:
    """An ISO time as `2026-12-01 12:00:05` (UTC, as the server gives it); blank for None."""
    if not value:
        return "—"
    return str(value).replace("T", " ").replace("Z", "")[:19]


def uptime(seconds: float) -> str:
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{days}d {clock}" if days else clock


def ms(value: Any) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "—"
    return f"{number:.0f} ms" if number >= 100 else f"{number:.1f} ms"


def bar(percentage: Any, width: int = 12) -> Text:
    """A progress bar for a table cell (DataTable cells are renderables, not widgets)."""
    try:
        pct = max(0.0, min(100.0, float(percentage)))
    except (TypeError, ValueError):
        pct = 0.0
    done = round(width * pct / 100)
    text = Text("━" * done, style="bold cyan")
    text.append("━" * (width - done), style="grey30")
    text.append(f" {pct:3.0f}%")
    return text


def short(task_id: Any) -> str:
    return str(task_id)[:8]


def pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


def kv(pairs: Iterable[tuple[str, Any]]) -> Text:
    """Aligned `name  value` lines for a detail panel."""
    items = list(pairs)
    width = max((len(k) for k, _ in items), default=0)
    text = Text()
    for i, (key, value) in enumerate(items):
        if i:
            text.append("\n")
        text.append(f"{key:<{width}}  ", style="bold")
        text.append(value if isinstance(value, Text) else Text(str(value)))
    return text
