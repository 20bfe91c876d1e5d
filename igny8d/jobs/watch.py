"""Following a job without polling it from the client: wait until its progress changes.

A waiter re-reads the job's row every `POLL_S` seconds (one indexed query per waiter per
interval, no connection held in between), so a change made by any process — another
server, a worker elsewhere, on Postgres or on a shared SQLite file — is seen within that
interval. A change made by this process's executor also wakes its waiters at once
(`notify`, called after the write committed), so a job running here is followed without
the interval's delay. No in-process signal is needed for correctness, only for latency.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Awaitable, Callable
from typing import Any

from igny8d.errors import ValidationFailed
from igny8d.store import jobs as job_store

#: How often a waiter re-reads the job (seconds): the latency of a change made elsewhere.
POLL_S = 0.5
#: The longest a `?wait=` may hold a request (seconds).
MAX_WAIT = 30
#: An SSE stream sends a comment this often when nothing changed (keeps proxies from
#: closing an idle connection).
KEEPALIVE_S = 15.0

#: What a client saw of a job: its state and percentage (`since=STATE:PERCENT`).
Mark = tuple[str, float]

#: `since`: STATE:PERCENT as task_progress shows it
SINCE_PATTERN = rf"^({'|'.join(job_store.STATES)}):(\d{{1,3}}(?:\.\d+)?)$"
_SINCE = re.compile(SINCE_PATTERN)

# task_id → the events of this process's waiters on it
_waiters: dict[str, set[asyncio.Event]] = {}
# set once when the process shuts down: waiting ends, the clients ask another process
_draining = False


def drain() -> None:
    """The process is stopping: every wait ends now with the progress as it is (and later
    ones do not wait), so a shutdown is not held by long-polls and streams, only by work."""
    global _draining
    _draining = True
    for events in list(_waiters.values()):
        for event in events:
            event.set()


def draining() -> bool:
    return _draining


def notify(task_id: str) -> None:
    """Wake this process's waiters on `task_id` (they re-read the row). Call after the
    change committed; a waiter that re-reads too early sees it at its next poll anyway."""
    for event in _waiters.get(task_id, ()):
        event.set()


def waiting() -> int:
    """How many waiters this process holds (for tests and metrics)."""
    return sum(len(events) for events in _waiters.values())


def mark(progress: dict[str, Any]) -> Mark:
    """The mark of a task_progress body (`services.jobs.present`)."""
    return (str(progress["state"]), float((progress.get("meta") or {}).get("percentage") or 0))


def show(m: Mark) -> str:
    """A mark as `since` takes it: `PROGRESS:50`."""
    state, pct = m
    return f"{state}:{int(pct) if pct == int(pct) else pct}"


def parse_wait(raw: str | None) -> int | None:
    """`?wait=N`: whole seconds 0..MAX_WAIT, else a 400 naming `wait`; None when absent."""
    if raw is None:
        return None
    if not raw.isdigit() or int(raw) > MAX_WAIT:
        raise ValidationFailed(errors={"wait": [
            f"Must be a whole number of seconds from 0 to {MAX_WAIT}."]})
    return int(raw)


def parse_since(raw: str | None) -> Mark | None:
    """`?since=STATE:PERCENT` (what the client last saw), else a 400 naming `since`."""
    if raw is None:
        return None
    found = _SINCE.match(raw.strip())
    if found is None:
        raise ValidationFailed(errors={"since": [
            "Must be STATE:PERCENT as the task showed it, e.g. PROGRESS:50."]})
    return found.group(1), float(found.group(2))


async def wait_change(
    task_id: str, read: Callable[[], Awaitable[dict[str, Any]]], *, seconds: float,
    since: Mark | None = None,
) -> dict[str, Any]:
    """The task's progress once its mark differs from `since` (by default: the mark at the
    start), once it is finished, or after `seconds` — whichever comes first.

    `read` answers the task_progress body (and raises NotFound for a foreign id).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    event = asyncio.Event()
    _waiters.setdefault(task_id, set()).add(event)
    try:
        current = await read()
        seen = since if since is not None else mark(current)
        while mark(current) == seen and current["state"] not in job_store.FINISHED:
            left = 0 if _draining else deadline - loop.time()
            if left <= 0:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), min(POLL_S, left))
            event.clear()  # before the read: a change notified after it wakes the next wait
            current = await read()
        return current
    finally:
        events = _waiters.get(task_id)
        if events is not None:
            events.discard(event)
            if not events:
                del _waiters[task_id]
