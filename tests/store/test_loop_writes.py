"""The embedded store's writes run on the event loop's thread (store/loopsqlite.py): a writer
waiting for another process's lock leaves the loop free, writers of one process take turns,
and a count under the lock runs off the loop's thread."""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3

import pytest
from sqlalchemy import func, insert, select

from igny8d.store.engine import Store
from igny8d.store.schema import accounts, plans
from tests.helpers.loop import loop_ticks


async def _add_account(store: Store, slug: str, *, pause: float = 0.0) -> None:
    async with store.begin() as conn:
        plan_id = (await conn.execute(select(func.min(plans.c.id)))).scalar()
        now = dt.datetime.now(dt.UTC)
        await conn.execute(insert(accounts).values(name=slug, slug=slug, plan_id=plan_id,
                                                   created_at=now, updated_at=now))
        await asyncio.sleep(pause)  # other writers of this process arrive meanwhile


async def _accounts(store: Store) -> set[str]:
    async with store.read() as conn:
        return set((await conn.execute(select(accounts.c.slug))).scalars())


async def test_a_writer_waiting_for_another_process_leaves_the_loop_free(db_url: str) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("SQLite's write lock")
    store = Store.from_url(db_url)
    other = sqlite3.connect(db_url.split(":///", 1)[1], isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another process's writer holds the lock
        write = asyncio.create_task(_add_account(store, "waiting"))
        async with loop_ticks(0.01) as ticks:
            await asyncio.sleep(0.3)
        assert not write.done()
        assert ticks.count >= 3  # the loop went on while the writer waited
        other.execute("COMMIT")
        await write
        assert await _accounts(store) == {"waiting"}
    finally:
        other.close()
        await store.close()


async def test_writers_of_one_process_take_turns(db_url: str) -> None:
    store = Store.from_url(db_url)
    try:
        await asyncio.gather(*(_add_account(store, f"w{i}", pause=0.01) for i in range(5)))
        assert await _accounts(store) == {f"w{i}" for i in range(5)}
    finally:
        await store.close()


async def test_a_failed_write_rolls_back_and_the_next_one_runs(db_url: str) -> None:
    store = Store.from_url(db_url)
    try:
        with pytest.raises(RuntimeError):
            async with store.begin() as conn:
                plan_id = (await conn.execute(select(func.min(plans.c.id)))).scalar()
                now = dt.datetime.now(dt.UTC)
                await conn.execute(insert(accounts).values(
                    name="gone", slug="gone", plan_id=plan_id, created_at=now, updated_at=now))
                raise RuntimeError("boom")
        await _add_account(store, "kept")
        assert await _accounts(store) == {"kept"}
    finally:
        await store.close()
