"""Postgres goes away under load: stopped (clean and killed) and started again on a throwaway
server of our own, and backends terminated on the shared one. Every request answers 200 or
503 with Retry-After (never 500), the outage is logged once each way, and the server comes
back by itself within a second of the database."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import exc, text

from igny8d.store.engine import Store
from igny8d.store.errors import StoreUnreachable
from tests.helpers.app import RunningApp, make_settings, start_app, stop_app
from tests.helpers.client import Client
from tests.helpers.paths import KEYWORDS, ME
from tests.helpers.pg_server import PgServer, migrated_pg

pytestmark = [pytest.mark.slow, pytest.mark.subprocess]

PING = "/api/v1/system/ping/"
STATUS = "/api/v1/system/status/"


@pytest.fixture
def pg() -> Iterator[PgServer]:
    with migrated_pg() as server:
        yield server


@pytest.fixture
async def pg_app(tmp_path: Path, pg: PgServer) -> AsyncIterator[RunningApp]:
    running = await start_app(make_settings(tmp_path, pg.url))
    yield running
    await stop_app(running)


class Load:
    """Clients asking the store without pause; counts answers by status, and whether each
    503 carried Retry-After."""

    def __init__(self, client: Client, token: str, workers: int = 4) -> None:
        self.client, self.token = client, token
        self.statuses: Counter[int] = Counter()
        self.bare_503 = 0
        self._stop = False
        self._tasks = [asyncio.ensure_future(self._run(i)) for i in range(workers)]

    async def _run(self, i: int) -> None:
        paths = (ME, KEYWORDS)
        while not self._stop:
            resp = await self.client.get(paths[i % 2], token=self.token)
            self.statuses[resp.status] += 1
            if resp.status == 503 and "Retry-After" not in resp.headers:
                self.bare_503 += 1
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        self._stop = True
        await asyncio.gather(*self._tasks)


async def _until_ok(client: Client, token: str, limit: float) -> float:
    """Seconds until an authenticated read answers 200 again."""
    start = time.monotonic()
    while time.monotonic() - start < limit:
        if (await client.get(ME, token=token)).status == 200:
            return time.monotonic() - start
        await asyncio.sleep(0.02)
    raise AssertionError(f"not back within {limit} s")


@pytest.mark.parametrize("mode", ["fast", "immediate"])
async def test_stopped_postgres_answers_503_then_recovers_by_itself(
        pg: PgServer, pg_app: RunningApp, mode: str, caplog: pytest.LogCaptureFixture) -> None:
    """`fast`: a clean shutdown (clients disconnected); `immediate`: as a killed server."""
    client = pg_app.client()
    token = await client.owner("ann@example.com")
    caplog.set_level(logging.INFO)
    load = Load(client, token)
    await asyncio.sleep(0.3)
    await asyncio.to_thread(pg.stop, mode)
    await asyncio.sleep(1.5)  # the outage, under load
    down = [await client.get(ME, token=token), await client.post(KEYWORDS, {"keyword": "k"},
                                                                 token=token)]
    ping = await client.get(PING, token=token)
    status = await client.get(STATUS, token=token)
    await asyncio.to_thread(pg.start)
    recovered_in = await _until_ok(client, token, limit=5.0)
    await asyncio.sleep(0.3)
    await load.stop()

    for resp in down:
        assert resp.status == 503, resp.json
        assert resp.headers["Retry-After"] == "2"
        assert resp.error == "The database is not reachable; retry shortly."
    assert ping.status == 200
    assert status.status == 503 and status.errors == {
        "database": ["The database is not reachable."]}
    assert set(load.statuses) <= {200, 503}, load.statuses
    assert load.statuses[503] > 0 and load.statuses[200] > 0, load.statuses
    assert load.bare_503 == 0
    assert recovered_in < 1.0, recovered_in
    store_lines = [(r.levelno, r.getMessage()) for r in caplog.records
                   if r.name == "igny8d.store" and r.levelno >= logging.WARNING]
    assert [level for level, _ in store_lines] == [logging.ERROR, logging.WARNING], store_lines
    assert "unreachable" in store_lines[0][1] and "reachable again" in store_lines[1][1]
    assert not any(r.exc_info for r in caplog.records)
    print(f"\n[{mode}] answers {dict(load.statuses)}; back {recovered_in * 1000:.0f} ms "
          "after the server accepted connections")


async def _terminate_others(admin: Store, database: str) -> int:
    async with admin.begin() as conn:
        rows = await conn.execute(text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = :db AND pid <> pg_backend_pid()"), {"db": database})
        return len(rows.all())


@pytest.mark.db
async def test_terminated_backends_never_answer_500(app: RunningApp, client: Client,
                                                   db_url: str) -> None:
    """The shared server: every backend of the test's database terminated again and again
    under load. A read on a dropped pooled connection is retried (pre-ping, one retry); what
    was mid-statement answers 503, never 500."""
    if not db_url.startswith("postgresql"):
        pytest.skip("Postgres backends")
    token = await client.owner("ann@example.com")
    admin = Store.from_url(db_url)
    database = db_url.rsplit("/", 1)[1]
    load = Load(client, token)
    try:
        terminated = 0
        for _ in range(15):
            await asyncio.sleep(0.1)
            terminated += await _terminate_others(admin, database)
        await load.stop()
    finally:
        await admin.close()
    assert terminated > 0
    assert set(load.statuses) <= {200, 503}, load.statuses
    assert load.bare_503 == 0
    assert (await client.get(ME, token=token)).status == 200
    print(f"\n[terminate x15] {terminated} backends; answers {dict(load.statuses)}")


@pytest.mark.db
async def test_dropped_mid_transaction_raises_the_first_error(db_url: str) -> None:
    """The cleanup of begin() on a dropped connection used to reach for the connection's
    info, reconnect outside the greenlet and raise MissingGreenlet, hiding the cause."""
    if not db_url.startswith("postgresql"):
        pytest.skip("Postgres backends")
    store, admin = Store.from_url(db_url), Store.from_url(db_url)
    try:
        with pytest.raises(StoreUnreachable) as caught:
            async with store.begin() as conn:
                pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar()
                async with admin.begin() as other:
                    await other.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
                await conn.execute(text("SELECT 1"))
        # the driver's own error (closed connection, or the termination racing the
        # statement), not MissingGreenlet from the cleanup
        assert isinstance(caught.value.__cause__, exc.DBAPIError), caught.value.__cause__
        async with store.begin() as conn:  # the next unit gets a live connection
            assert (await conn.execute(text("SELECT 1"))).scalar() == 1
        assert store.outage is None
    finally:
        await store.close()
        await admin.close()
