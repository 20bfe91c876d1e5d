"""Writer tasks: their table spec, and inserting many at once (ideas queued to the writer)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.store.schema import tasks
from igny8d.store.specs import TableSpec
from igny8d.store.writes import now, touch_accounts

TASKS = TableSpec(tasks, "sector", "Task")


async def insert_tasks(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert writer tasks in one statement per 1000 rows; their ids in the rows' order."""
    if not rows:
        return []
    await touch_accounts(conn, TASKS, {r["account_id"] for r in rows},
                         sectors={r["sector_id"] for r in rows})
    stamp = now()
    values = [{"created_at": stamp, "updated_at": stamp, **r} for r in rows]
    out: list[int] = []
    stmt = insert(tasks).returning(tasks.c.id, sort_by_parameter_order=True)
    for start in range(0, len(values), 1000):
        result = await conn.execute(stmt, values[start:start + 1000])
        out.extend(int(i) for i in result.scalars())
    return out
