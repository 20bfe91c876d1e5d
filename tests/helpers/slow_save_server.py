"""`python -m tests.helpers.slow_save_server serve ...`: igny8d whose clustering save, its
writes made, keeps its transaction open for `DRILL_SAVE_HOLD_S` seconds before committing.

A kill drill aimed at "mid-save" polled for the SAVING phase and killed at once; the save
of a few thousand keywords now takes milliseconds, so the kill often came after the
commit. Held open, the kill lands inside the transaction every time, and what it proves
(nothing of an uncommitted save survives; the job runs again to success) stays the same.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from igny8d.cli import main
from igny8d.operations import cluster


def hold_saves(seconds: float) -> None:
    original = cluster.OPERATION.save

    async def save(conn: Any, jc: Any, plan: Any) -> Any:
        saved = await original(conn, jc, plan)
        await asyncio.sleep(seconds)  # the writes made, not committed
        return saved

    object.__setattr__(cluster.OPERATION, "save", save)


if __name__ == "__main__":
    hold_saves(float(os.environ.get("DRILL_SAVE_HOLD_S", "0")))
    main()
