"""Fixtures of the operator console's tests (tui/, driven by Textual's pilot).

- `box`: igny8d on SQLite (a copy of `sqlite_template`) with one job worker, a superuser
  (`helpers.console.OPS`) and a job kind, `test.gated`, that stops half way (40 %) until the
  test ends, so there is a running job to watch and cancel.
- `snap_compare` (pytest-textual-snapshot's): compares a screen with its SVG under
  tests/tui/__snapshots__/.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from igny8d.jobs.executor import Progress
from igny8d.jobs.registry import Job
from tests.helpers.app import RunningApp, make_settings, start_app, stop_app
from tests.helpers.console import OPS, OPS_PASSWORD
from tests.helpers.factories import superuser


@pytest.fixture
async def box(tmp_path: Path, sqlite_template: Path) -> AsyncIterator[RunningApp]:
    db = tmp_path / "igny8d.db"
    shutil.copy(sqlite_template, db)
    running = await start_app(make_settings(tmp_path, f"sqlite+aiosqlite:///{db}",
                                            job_workers=1))
    running.ctx.executor.poll_max = 0.2
    gate = asyncio.Event()

    async def gated(job: Job, progress: Progress) -> dict[str, Any]:
        await progress.update(phase="AI_CALL", percentage=40, message="Clustering 3 keywords")
        await gate.wait()
        return {"clusters_created": 1}

    running.ctx.jobs.register("test.gated", gated)
    await running.ctx.executor.start()
    await superuser(running, OPS, OPS_PASSWORD)
    yield running
    gate.set()
    await stop_app(running)
