"""Jobs as a client sees them: an AI action posted and followed through task_progress to its
end; below the API, a paid job queued the way an AI action queues one; and, for the
executor's own tests, a context's actor, job submitted, row read and condition awaited."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import func, insert, select

from igny8d.context import AppContext
from igny8d.jobs.registry import Job
from igny8d.permissions import Actor
from igny8d.services import billing
from igny8d.store.schema import accounts, jobs, plans, users
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


# -- the executor on a context (no server) -------------------------------------------------

EXECUTOR_KIND = "test.job"
"""The kind the executor's tests register on their own context's registry."""


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 15.0) -> None:
    """Poll `check` every 20 ms until it holds; fail after `timeout` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


async def job_row(ctx: AppContext, task_id: str) -> dict[str, Any]:
    """The job's row in the store, as a dict."""
    async with ctx.store.read() as conn:
        row = (await conn.execute(select(jobs).where(jobs.c.task_id == task_id))).one()
    return dict(row._mapping)


def state_is(ctx: AppContext, task_id: str, *states: str) -> Callable[[], Awaitable[bool]]:
    """A check for `until`: the job is in one of `states`."""
    async def check() -> bool:
        return (await job_row(ctx, task_id))["state"] in states
    return check


async def make_actor(ctx: AppContext, name: str = "acme", role: str = "owner") -> Actor:
    """A new account on the free plan (100 credits) and its user, written to the store."""
    now = dt.datetime.now(dt.UTC)
    async with ctx.store.begin() as conn:
        plan_id = (await conn.execute(select(plans.c.id).where(plans.c.slug == "free"))
                   ).scalar_one()
        account_id = (await conn.execute(insert(accounts).values(
            name=name, slug=f"{name}-{uuid.uuid4().hex[:6]}", plan_id=plan_id, credits=100,
            status="active", data_version=0, created_at=now, updated_at=now,
        ).returning(accounts.c.id))).scalar_one()
        user_id = (await conn.execute(insert(users).values(
            account_id=account_id, email=f"{uuid.uuid4().hex[:8]}@example.com",
            username=uuid.uuid4().hex[:12], role=role, is_active=True, is_superuser=False,
            token_version=0, auth_key=uuid.uuid4().hex, created_at=now, updated_at=now,
        ).returning(users.c.id))).scalar_one()
    return Actor(user_id=user_id, account_id=account_id, role=role)


async def submit(ctx: AppContext, actor: Actor, payload: dict[str, Any] | None = None,
                 kind: str = EXECUTOR_KIND) -> str:
    """Queue a job of `kind` for `actor` (PENDING, QUEUED); its task id."""
    async with ctx.store.begin() as conn:
        out = await ctx.executor.submit(conn, actor, kind=kind, payload=payload or {})
    assert out["state"] == "PENDING" and out["meta"]["phase"] == "QUEUED"
    return str(out["task_id"])


async def start_job(ctx: AppContext, fn: Any, refunds: list[str] | None = None) -> str:
    """Register `fn` as the executor test kind (each failure's reason appended to `refunds`,
    when given), queue one for a fresh owner and start the executor; the task id."""
    async def on_failed(conn: Any, job: Job, reason: str) -> None:
        assert refunds is not None
        refunds.append(reason)

    ctx.jobs.register(EXECUTOR_KIND, fn, on_failed=on_failed if refunds is not None else None)
    task_id = await submit(ctx, await make_actor(ctx))
    await ctx.executor.start()
    return task_id


@asynccontextmanager
async def held(app: RunningApp) -> AsyncIterator[None]:
    """The app's job workers stopped for the block, then started again: what a client reads
    right after a 202 (the admission charge) is read before a job can settle it."""
    running = app.ctx.executor.started
    await app.ctx.executor.stop()
    try:
        yield
    finally:
        if running:
            await app.ctx.executor.start()
