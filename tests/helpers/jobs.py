"""Jobs as a client sees them: an AI action posted and followed through task_progress to its
end; and, below the API, a paid job queued the way an AI action queues one."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import func, select

from igny8d.jobs.registry import Job
from igny8d.permissions import Actor
from igny8d.services import billing
from igny8d.store.schema import jobs
from tests.helpers.app import RunningApp
from tests.helpers.client import Client, Response
from tests.helpers.paths import PROGRESS

META_KEYS = {"phase", "percentage", "message", "request_steps", "response_steps", "cost",
             "tokens"}
"""What task_progress's `meta` always holds (DESIGN.md)."""
FINISHED = ("SUCCESS", "FAILURE", "REVOKED")
KIND = "admin.test"
"""The job kind `paid_job` queues."""


async def poll(client: Client, token: str, task_id: str,
               *states: str) -> dict[str, Any]:
    """Follow task_progress until one of `states` (default: a finished state); the answer
    with `phases_seen`, every phase it went through."""
    states = states or FINISHED
    seen: list[str] = []
    for _ in range(3000):
        resp = await client.get(PROGRESS.format(task_id), token=token)
        assert resp.status == 200, resp.json
        data = resp.data
        assert set(data["meta"]) >= META_KEYS, data
        seen.append(data["meta"]["phase"])
        if data["state"] in states:
            data["phases_seen"] = seen
            return dict(data)
        await asyncio.sleep(0.02)
    raise AssertionError(f"task never reached {states}: phases {seen[-20:]}")


def accepted(resp: Response) -> str:
    """An AI action's 202: `{task_id, progress_url}` and a `Location` naming the same
    task_progress URL (issue 16, item 8); returns the task id."""
    assert resp.status == 202, resp.json
    assert set(resp.data) == {"task_id", "progress_url"}, resp.data
    url = f"/api/v1/system/settings/task_progress/{resp.data['task_id']}/"
    assert resp.data["progress_url"] == url
    assert resp.headers.get("Location") == url
    return str(resp.data["task_id"])


async def run(client: Client, token: str, path: str, ids: list[int]) -> dict[str, Any]:
    """POST an AI action, expect the 202 (`accepted`), and wait for the job to finish."""
    resp = await client.post(path, {"ids": ids}, token=token)
    accepted(resp)
    done = await poll(client, token, resp.data["task_id"])
    done["task_id"] = resp.data["task_id"]
    return done


async def job_count(app: RunningApp) -> int:
    """How many jobs the store holds (queued, running or finished)."""
    async with app.ctx.store.read() as conn:
        return int((await conn.execute(select(func.count()).select_from(jobs))).scalar_one())


async def _never_runs(job: Job, progress: Any) -> dict[str, Any]:
    raise AssertionError("no worker runs in these tests")


def job_kind(app: RunningApp, fn: Any = _never_runs, kind: str = KIND) -> None:
    """A kind paid like the AI functions: refunded when it fails or is cancelled."""
    if kind not in app.ctx.jobs:
        app.ctx.jobs.register(kind, fn, on_failed=billing.refund_job,
                              on_revoked=billing.refund_job, max_attempts=2)


async def paid_job(app: RunningApp, owner: dict[str, Any], price: int = 3,
                   kind: str = KIND) -> str:
    """What an AI action does: queue the job and charge its price in one transaction (the
    charge's reference is the task id). PENDING while no worker runs. `owner` is a
    `factories.tenant`."""
    job_kind(app, kind=kind)
    actor = Actor(user_id=owner["user_id"], account_id=owner["account_id"], role="owner")
    async with app.ctx.store.begin() as conn:
        task = await app.ctx.executor.submit(conn, actor, kind=kind, payload={"price": price})
        await billing.charge(conn, actor, amount=price, operation_type="clustering",
                             units=price, description=f"Test job of {price}",
                             reference=task["task_id"])
    return str(task["task_id"])
