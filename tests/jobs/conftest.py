"""Tests of the job executor, the scheduler and task progress: `make_ctx` builds contexts
on the test's database (tests/conftest.py's and tests/helpers/ serve the rest)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from igny8d.context import AppContext
from tests.helpers.app import make_settings


@pytest.fixture
async def make_ctx(tmp_path: Path, db_url: str) -> AsyncIterator[Callable[..., AppContext]]:
    """Contexts on the test's database (each its own Store, registry and executor)."""
    made: list[AppContext] = []

    def build(**overrides: Any) -> AppContext:
        values: dict[str, Any] = {"job_workers": 2, "job_lease_s": 5.0}
        values.update(overrides)
        ctx = AppContext.build(make_settings(tmp_path, db_url, **values))
        ctx.executor.poll_max = 0.2
        made.append(ctx)
        return ctx

    yield build
    for ctx in made:
        await ctx.close()
