"""System endpoints: ping and status (public), request metrics, task progress."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import platform
import shutil
import time
from collections.abc import AsyncIterator
from typing import Any, Literal

from pydantic import BaseModel, Field

from igny8d import __version__
from igny8d.context import RequestMetric
from igny8d.errors import NotFound, Unavailable
from igny8d.handlers.base import APIHandler, endpoint
from igny8d.jobs import watch
from igny8d.ratelimit import UNTHROTTLED
from igny8d.schemas.ai import TaskMeta
from igny8d.services import jobs as job_service
from igny8d.store.jobs import FINISHED

TAG = "system"


class PingOut(BaseModel):
    status: str


class StatusOut(BaseModel):
    status: str
    version: str
    uptime_seconds: float
    database: dict[str, object]
    rate_limit_storage: dict[str, object]
    disk: dict[str, object]
    reasons: list[str] = Field(default_factory=list)
    python: str
    time: dt.datetime


#: Below this much free space in the data dir, status says "degraded": SQLite's journal and
#: the log file need room, and a write that finds none answers 507.
LOW_DISK_BYTES = 1 << 20


def disk_reasons(data_dir: object, disk_full_at: float | None) -> list[str]:
    """Why the data dir's disk makes the server degraded (none: fine). A path that cannot be
    looked at (not created yet, another store) says nothing: the database check covers it."""
    reasons = []
    if disk_full_at is not None:
        ago = max(0, round(time.time() - disk_full_at))
        reasons.append(f"The disk is full: a write was refused {ago} s ago; nothing was saved.")
    try:
        free = shutil.disk_usage(str(data_dir)).free
    except OSError:
        return reasons
    if free < LOW_DISK_BYTES:
        reasons.append(f"The data directory's disk is almost full ({free // 1024} KiB free).")
    return reasons


class PingHandler(APIHandler):
    # Health checks are never throttled: load balancers and container runtimes poll them.
    @endpoint(public=True, anonymous=True, throttle=UNTHROTTLED, summary="Liveness check",
              response=PingOut, tags=(TAG,))
    async def get(self) -> None:
        self.ok({"status": "ok"})


class StatusHandler(APIHandler):
    @endpoint(public=True, anonymous=True, throttle=UNTHROTTLED,
              summary="Health: database reachable (else 503), version, uptime",
              response=StatusOut, tags=(TAG,), errors=(503,))
    async def get(self) -> None:
        db_ok = await self.ctx.store.ping()
        limiter_ok = await self.ctx.limiter.ping()
        if not db_ok:
            # Unhealthy is a failure in the envelope (success false), so load balancers and
            # clients read it the same way.
            raise Unavailable("Service unavailable: database unreachable",
                              errors={"database": ["The database is not reachable."]})
        reasons = disk_reasons(self.ctx.settings.data_dir, self.ctx.store.disk_full_at)
        disk_ok = not reasons
        if not limiter_ok:
            reasons.append("The rate-limit storage is not reachable: throttling fails open.")
        self.ok({
            "status": "ok" if not reasons else "degraded",
            "version": __version__,
            "uptime_seconds": round(self.ctx.metrics.uptime, 3),
            "database": {"reachable": db_ok, "dialect": self.ctx.store.dialect},
            "rate_limit_storage": {"reachable": limiter_ok,
                                   "enabled": self.ctx.limiter.enabled},
            "disk": {"ok": disk_ok},
            "reasons": reasons,
            "python": platform.python_version(),
            "time": dt.datetime.now(dt.UTC),
        })


class RequestMetricsHandler(APIHandler):
    @endpoint(throttle="system", summary="Timing of one recent request of your account "
              "(kept per process, most recent 2,000)", response=RequestMetric, tags=(TAG,))
    async def get(self, request_id: str) -> None:
        assert self.principal is not None
        metric = self.ctx.metrics.find(request_id)
        if metric is None or (metric.account_id != self.principal.account_id
                              and not self.principal.is_superuser):
            raise NotFound("Request not found.")
        self.ok(dataclasses.asdict(metric))


class TaskProgressOut(BaseModel):
    task_id: str
    state: Literal["PENDING", "PROGRESS", "SUCCESS", "FAILURE", "REVOKED"]
    meta: TaskMeta
    result: dict[str, Any] | None = None
    error: str | None = None


class TaskWaitQuery(BaseModel):
    """`?wait=&since=` as `watch.parse_wait`/`parse_since` accept them: types the document."""

    wait: int | None = Field(None, ge=0, le=watch.MAX_WAIT)
    since: str | None = Field(None, pattern=watch.SINCE_PATTERN)


class TaskProgressHandler(APIHandler):
    @endpoint(throttle="system", summary="Progress of a background task (AI function) of "
              "your account; `?wait=N` holds the answer until the progress changes",
              response=TaskProgressOut, tags=(TAG,), errors=(400,),
              query_model=TaskWaitQuery, query={
                  "wait": f"Hold the request up to this many seconds (0..{watch.MAX_WAIT}) "
                          "until the state or percentage differs from `since`, or the task "
                          "is finished; then answer as without it",
                  "since": "With `wait`: the STATE:PERCENT last seen (e.g. PROGRESS:50); "
                           "default: the progress when the request arrives"})
    async def get(self, task_id: str) -> None:
        wait = watch.parse_wait(self.query("wait"))
        since = watch.parse_since(self.query("since"))
        self.ok(await job_service.follow(self.ctx.store, self.actor, task_id=task_id,
                                         wait=wait, since=since))


class TaskStreamHandler(APIHandler):
    """The same progress as Server-Sent Events: one `progress` event now and one at each
    change (state or percentage), a comment every 15 s of quiet, and the end of the stream
    after the finished state. Each event's `id` is its STATE:PERCENT mark."""

    gone = False

    def on_connection_close(self) -> None:
        self.gone = True
        super().on_connection_close()

    @endpoint(throttle="system", summary="Progress of a background task as Server-Sent "
              "Events, ending after SUCCESS, FAILURE or REVOKED", tags=(TAG,),
              content_type="text/event-stream")
    async def get(self, task_id: str) -> None:
        self.set_header("X-Accel-Buffering", "no")  # nginx: pass each event on at once
        await self.stream(self._events(task_id), content_type="text/event-stream")

    async def _events(self, task_id: str) -> AsyncIterator[str]:
        read = job_service.progress_reader(self.ctx.store, self.actor, task_id)
        current = await read()  # a foreign or unknown id is the usual 404, before any header
        tid = str(current["task_id"])
        while True:
            seen = watch.mark(current)
            yield (f"id: {watch.show(seen)}\nevent: progress\n"
                   f"data: {json.dumps(current, default=str)}\n\n")
            if current["state"] in FINISHED:
                return
            quiet = 0.0
            # a client gone is noticed within a second; a stopping server ends the stream
            while not self.gone and not watch.draining():
                current = await watch.wait_change(tid, read, seconds=1.0, since=seen)
                if watch.mark(current) != seen or current["state"] in FINISHED:
                    break
                quiet += 1.0
                if quiet >= watch.KEEPALIVE_S:
                    quiet = 0.0
                    yield ": waiting\n\n"
            if self.gone or watch.draining():
                return


default_handlers = [
    (r"/api/v1/system/ping/", PingHandler),
    (r"/api/v1/system/status/", StatusHandler),
    (r"/api/v1/system/request-metrics/(?P<request_id>[^/]+)/", RequestMetricsHandler),
    (r"/api/v1/system/settings/task_progress/(?P<task_id>[^/]+)/", TaskProgressHandler),
    (r"/api/v1/system/settings/task_progress/(?P<task_id>[^/]+)/stream/", TaskStreamHandler),
]
