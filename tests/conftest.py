"""Fixtures for every test (a folder's own fixtures are in its conftest.py; the functions
the tests share are in tests/helpers/).

- `sqlite_template`: one migrated SQLite file per session, copied for each test.
- `postgres_ready`: this session's throwaway Postgres database (igny8d_test_<pid>_<hex>),
  created and migrated on the server named by IGNY8_TEST_PG_URL (whose database part is only
  the admin database the CREATE/DROP DATABASE runs in) and dropped at the end, so two suites on
  one machine never share a schema. Skipped when the server is unreachable unless
  IGNY8_REQUIRE_POSTGRES=1 (CI), where it fails instead.
- `db_url`: a migrated database, once per store (sqlite, postgres). Tests that use it (or `app`)
  run on both: a copy of `sqlite_template`, or `postgres_ready` with its tenant tables emptied.
- `app`: a running igny8d on a free port over that database, throttling off, job workers not
  started (`start_app(settings, executor=True)` starts them).
- `throttled_app`: the same with the reference's rate limits on.
- `client`: an HTTP client bound to `app` whose every response is checked for the envelope.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.helpers.app import (
    PG_URL,
    REQUIRE_PG,
    RunningApp,
    create_throwaway_database,
    drop_throwaway_database,
    make_settings,
    migrate,
    start_app,
    stop_app,
    truncate,
)
from tests.helpers.client import Client


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file; each test gets a copy (migrating per test would be slow)."""
    path = tmp_path_factory.mktemp("template") / "igny8d.db"
    asyncio.run(migrate(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def postgres_ready() -> Iterator[str]:
    try:
        url = asyncio.run(create_throwaway_database(PG_URL))
    except Exception as exc:
        message = f"PostgreSQL at {PG_URL} not usable: {exc!r}"
        if REQUIRE_PG:
            pytest.fail(message)
        pytest.skip(message)
    try:
        yield url
    finally:
        asyncio.run(drop_throwaway_database(PG_URL, url))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.db)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated database with reference data and no tenant data, on each store."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / "igny8d.db"
        shutil.copy(template, target)
        yield f"sqlite+aiosqlite:///{target}"
    else:
        url = request.getfixturevalue("postgres_ready")
        asyncio.run(truncate(url))
        yield url


@pytest.fixture
async def app(tmp_path: Path, db_url: str) -> AsyncIterator[RunningApp]:
    running = await start_app(make_settings(tmp_path, db_url))
    yield running
    await stop_app(running)


@pytest.fixture
async def throttled_app(tmp_path: Path, db_url: str) -> AsyncIterator[RunningApp]:
    running = await start_app(make_settings(tmp_path, db_url, debug_throttle=False))
    yield running
    await stop_app(running)


@pytest.fixture
async def client(app: RunningApp) -> AsyncIterator[Client]:
    c = app.client()
    yield c
    c.close()
