"""GET /api/v1/system/settings/task_progress/{task_id}/ over HTTP, on both stores: the
DESIGN.md shape while pending, running, done, failed and cancelled; only for the job's
account (404 for other accounts, unknown and malformed ids)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from igny8d.jobs.executor import Progress
from igny8d.jobs.queue import QUEUED_META
from igny8d.jobs.registry import Job, JobFailed
from igny8d.permissions import Actor
from igny8d.services import jobs as job_service
from tests.helpers.app import RunningApp, make_settings, start_app, stop_app
from tests.helpers.client import Client
from tests.helpers.factories import actor_for
from tests.helpers.jobs import META_KEYS
from tests.helpers.paths import PROGRESS as URL


@pytest.fixture
async def jobs_app(tmp_path: Path, db_url: str) -> AsyncIterator[RunningApp]:
    running = await start_app(make_settings(tmp_path, db_url, job_workers=2))
    running.ctx.executor.poll_max = 0.2
    gate = asyncio.Event()
    running.ctx.gate = gate  # type: ignore[attr-defined]

    async def gated(job: Job, progress: Progress) -> dict[str, Any]:
        await progress.update(phase="AI_CALL", percentage=50, message="Clustering",
                              request_step={"n": len(job.payload["ids"])}, tokens=12)
        await gate.wait()
        if job.payload.get("fail"):
            raise JobFailed("The provider answered something that is not JSON.")
        return {"clusters_created": 2, "ids": job.payload["ids"]}

    running.ctx.jobs.register("test.gated", gated)
    await running.ctx.executor.start()
    yield running
    gate.set()  # a job still waiting would hold the shutdown for its grace period
    await stop_app(running)


async def queue(app: RunningApp, actor: Actor, **payload: Any) -> str:
    async with app.ctx.store.begin() as conn:
        out = await app.ctx.executor.submit(conn, actor, kind="test.gated",
                                            payload={"ids": [1, 2, 3], **payload})
    return str(out["task_id"])


async def poll(client: Client, task_id: str, token: str, *states: str,
               phase: str | None = None) -> dict[str, Any]:
    for _ in range(500):
        resp = await client.get(URL.format(task_id), token=token)
        assert resp.status == 200, resp.json
        if resp.data["state"] in states and phase in (None, resp.data["meta"]["phase"]):
            return dict(resp.data)
        await asyncio.sleep(0.02)
    raise AssertionError(f"task never reached {states}")


async def test_own_task_progress_has_the_design_shape(jobs_app):
    client = jobs_app.client()
    try:
        token = await client.owner("ann@example.com")
        actor = await actor_for(jobs_app, "ann@example.com")
        task_id = await queue(jobs_app, actor)

        running = await poll(client, task_id, token, "PROGRESS", phase="AI_CALL")
        assert set(running) == {"task_id", "state", "meta"}
        assert running["task_id"] == task_id
        assert running["meta"] == {
            "phase": "AI_CALL", "percentage": 50, "message": "Clustering",
            "request_steps": [{"n": 3}], "response_steps": [], "cost": 0, "tokens": 12}
        assert set(running["meta"]) == META_KEYS

        jobs_app.ctx.gate.set()
        done = await poll(client, task_id, token, "SUCCESS")
        assert set(done) == {"task_id", "state", "meta", "result"}
        assert done["result"] == {"clusters_created": 2, "ids": [1, 2, 3]}
        assert done["meta"]["percentage"] == 100 and done["meta"]["tokens"] == 12
        assert done["meta"]["request_steps"] == [{"n": 3}]

        # another user of the same account sees it too (jobs are the account's)
        viewer = await client.member(token, "vic@example.com", "viewer")
        assert (await client.get(URL.format(task_id), token=viewer)).status == 200
    finally:
        client.close()


async def test_other_accounts_unknown_and_malformed_ids_are_404(jobs_app):
    client = jobs_app.client()
    try:
        await client.owner("ann@example.com")
        task_id = await queue(jobs_app, await actor_for(jobs_app, "ann@example.com"))
        intruder = await client.owner("bob@example.com")
        for path_id in (task_id, task_id.upper(), str(uuid.uuid4()), "abc", "1",
                        "%20" + task_id):
            resp = await client.get(URL.format(path_id), token=intruder)
            assert resp.status == 404, (path_id, resp.json)
            assert resp.error == "Task not found."
        assert (await client.get(URL.format(task_id))).status == 401
    finally:
        client.close()


async def test_failed_pending_and_cancelled_tasks(jobs_app):
    client = jobs_app.client()
    try:
        token = await client.owner("ann@example.com")
        actor = await actor_for(jobs_app, "ann@example.com")
        await jobs_app.ctx.executor.stop()  # nobody runs jobs: they stay PENDING
        pending = await queue(jobs_app, actor)
        resp = await client.get(URL.format(pending), token=token)
        assert resp.data == {"task_id": pending, "state": "PENDING",
                             "meta": QUEUED_META}
        async with jobs_app.ctx.store.begin() as conn:
            await job_service.cancel(conn, actor, task_id=pending)
        resp = await client.get(URL.format(pending), token=token)
        assert resp.data["state"] == "REVOKED"
        assert resp.data["error"] == "The task was cancelled." and "result" not in resp.data

        failing = await queue(jobs_app, actor, fail=True)
        jobs_app.ctx.gate.set()
        await jobs_app.ctx.executor.start()
        failed = await poll(client, failing, token, "FAILURE")
        assert failed["error"] == "The provider answered something that is not JSON."
        assert set(failed) == {"task_id", "state", "meta", "error"}
    finally:
        client.close()
