"""Whether the event loop stays free: a ticker on the loop counts its turns meanwhile."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass


@dataclass
class Ticks:
    count: int = 0


@contextlib.asynccontextmanager
async def loop_ticks(interval: float) -> AsyncIterator[Ticks]:
    """Counts the ticker's turns (one each `interval` s while the loop is free) until exit."""
    ticks = Ticks()
    done = asyncio.Event()

    async def ticker() -> None:
        while not done.is_set():
            ticks.count += 1
            await asyncio.sleep(interval)

    task = asyncio.create_task(ticker())
    try:
        yield ticks
    finally:
        done.set()
        await task
