"""Fixtures of the AI operations' tests (over HTTP, with job workers running).

- `jobs_app`: `app` with two job workers that look for work every 0.2 s at most
  (`helpers.app.start_jobs_app`), on each store.
- `client`: the envelope-checking client bound to `jobs_app` (instead of `app`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.helpers.app import RunningApp, start_jobs_app, stop_app
from tests.helpers.client import Client


@pytest.fixture
async def jobs_app(tmp_path: Path, db_url: str) -> AsyncIterator[RunningApp]:
    running = await start_jobs_app(tmp_path, db_url)
    yield running
    await stop_app(running)


@pytest.fixture
async def client(jobs_app: RunningApp) -> AsyncIterator[Client]:
    c = jobs_app.client()
    yield c
    c.close()
