"""A running igny8d for a test: its settings, the server on a free port, and the throwaway
Postgres databases the `db_url` fixture hands out."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import create_async_engine
from tornado.httpserver import HTTPServer
from tornado.testing import bind_unused_port

from igny8d.app import make_app, server_for
from igny8d.context import AppContext
from igny8d.settings import Settings
from igny8d.store.engine import Store
from igny8d.store.schema import REFERENCE_TABLES, metadata
from tests.helpers.client import Client

PG_URL = os.environ.get("IGNY8_TEST_PG_URL",
                        "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
REQUIRE_PG = os.environ.get("IGNY8_REQUIRE_POSTGRES") == "1"


def redis_url_or_skip() -> str:
    """The test Redis (IGNY8_TEST_REDIS_URL), or skip; fail when IGNY8_REQUIRE_REDIS=1."""
    url = os.environ.get("IGNY8_TEST_REDIS_URL", "").strip()
    if not url:
        if os.environ.get("IGNY8_REQUIRE_REDIS") == "1":
            pytest.fail("IGNY8_REQUIRE_REDIS=1 but IGNY8_TEST_REDIS_URL is not set")
        pytest.skip("IGNY8_TEST_REDIS_URL is not set")
    return worker_redis_url(url)


def worker_redis_url(url: str) -> str:
    """Under pytest-xdist each worker counts down from the given database (gw0 keeps it, gw1
    takes the one below, never 0), so two workers' rate-limit windows never share keys."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw"):
        return url
    parts = urlsplit(url)
    given = parts.path.strip("/") or "0"
    if not given.isdigit():
        pytest.fail(f"IGNY8_TEST_REDIS_URL {url!r}: name a numbered database (…/15) for xdist")
    base, index = int(given), int(worker[2:])
    if index >= base:  # database 0 is left alone: a real install's rate limits may live there
        pytest.fail(f"Redis database {base} leaves no room for xdist worker {worker}")
    return urlunsplit(parts._replace(path=f"/{base - index}"))


TENANT_TABLES = [t.name for t in reversed(metadata.sorted_tables)
                 if t.name not in REFERENCE_TABLES]


# -- databases -------------------------------------------------------------------------------


async def migrate(url: str) -> None:
    store = Store.from_url(url)
    try:
        await store.migrate()
    finally:
        await store.close()


def throwaway_database_name() -> str:
    """Unique per session: the pid tells a leftover's owner, the hex keeps reruns apart."""
    return f"igny8d_test_{os.getpid()}_{secrets.token_hex(4)}"


async def _admin(admin_url: URL, sql: str) -> None:
    """Run CREATE/DROP DATABASE (which refuse a transaction) in the admin database.

    The URL's own database may not exist on a fresh server (CI names `test`), so `postgres`
    is tried next: any database on the server will do for these statements.
    """
    candidates = [admin_url.database or "postgres"]
    candidates += [name for name in ("postgres", "template1") if name not in candidates]
    last: Exception | None = None
    for name in candidates:
        engine = create_async_engine(admin_url.set(database=name), isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                await conn.execute(text(sql))
            return
        except Exception as exc:
            if "does not exist" not in str(exc) or "database" not in str(exc):
                raise
            last = exc
        finally:
            await engine.dispose()
    assert last is not None
    raise last


async def create_throwaway_database(admin_url: str) -> str:
    """Create and migrate a fresh database next to `admin_url`'s; return its URL."""
    admin = make_url(admin_url)
    name = throwaway_database_name()
    await _admin(admin, f'CREATE DATABASE "{name}"')
    url = admin.set(database=name).render_as_string(hide_password=False)
    try:
        await migrate(url)
    except BaseException:
        await drop_throwaway_database(admin_url, url)
        raise
    return url


async def drop_throwaway_database(admin_url: str, url: str) -> None:
    """WITH (FORCE) ends connections a failed test left open, so the drop never hangs."""
    name = make_url(url).database
    await _admin(make_url(admin_url), f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def truncate(url: str) -> None:
    """Empty every tenant table (the reference data stays)."""
    store = Store.from_url(url)
    try:
        async with store.begin() as conn:
            await conn.execute(text(
                f"TRUNCATE {', '.join(TENANT_TABLES)} RESTART IDENTITY CASCADE"))
    finally:
        await store.close()


# -- the server ------------------------------------------------------------------------------


def make_settings(tmp_path: Path, db_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": db_url, "data_dir": tmp_path, "secret_key": "t" * 48,
        "bcrypt_rounds": 4, "debug_throttle": True, "log_to_file": False,
    }
    values.update(overrides)
    return Settings(**values)


class RunningApp:
    """An igny8d served on a free loopback port, with its context for direct store access."""

    def __init__(self, ctx: AppContext, server: HTTPServer, port: int) -> None:
        self.ctx = ctx
        self.server = server
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"

    def client(self) -> Client:
        return Client(self.base_url)


async def start_app(settings: Settings, *, executor: bool = False) -> RunningApp:
    """`executor=True` also starts the job workers (off by default: most tests queue
    nothing, and a test that does registers its kinds on `ctx.jobs` first)."""
    ctx = AppContext.build(settings)
    sock, port = bind_unused_port()
    server = server_for(make_app(ctx), settings)
    server.add_sockets([sock])
    if executor:
        await ctx.executor.start()
    return RunningApp(ctx, server, port)


async def stop_app(running: RunningApp) -> None:
    running.server.stop()
    await running.server.close_all_connections()
    await running.ctx.close()


async def start_jobs_app(tmp_path: Path, db_url: str, *, poll_max: float = 0.2,
                         **settings: Any) -> RunningApp:
    """An app with two job workers that look for work often (every `poll_max` s at most)."""
    running = await start_app(make_settings(tmp_path, db_url, job_workers=2, **settings),
                              executor=True)
    running.ctx.executor.poll_max = poll_max
    return running
