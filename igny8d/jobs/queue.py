"""Queueing a job: the row a submit inserts, in the caller's transaction, and the progress meta
a job shows before and after a worker takes it."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.store import jobs as job_store

#: What a job shows before a worker took it.
QUEUED_META: dict[str, Any] = {
    "phase": "QUEUED", "percentage": 0, "message": "Waiting for a worker.",
    "request_steps": [], "response_steps": [], "cost": 0, "tokens": 0,
}

#: What a job shows once a worker took it (a re-run after a lost worker starts afresh).
STARTED_META: dict[str, Any] = {**QUEUED_META, "phase": "STARTED", "message": "Started."}


async def enqueue(
    conn: AsyncConnection, *, account_id: int, user_id: int | None, kind: str,
    payload: dict[str, Any], max_attempts: int = 3,
) -> dict[str, Any]:
    """Insert a PENDING job in the caller's transaction, so an AI action can charge credits
    and queue its job atomically (both or neither); returns the row.

    The workers are not told here (the row is not committed yet): `Executor.submit` wraps
    this and wakes them; if they woke before the commit they look again shortly.
    """
    json.dumps(payload)  # a payload that cannot be stored is a programming error: fail here
    return await job_store.insert_job(
        conn, task_id=str(uuid.uuid4()), account_id=account_id, user_id=user_id or None,
        kind=kind, payload=payload, meta=dict(QUEUED_META), max_attempts=max_attempts)
