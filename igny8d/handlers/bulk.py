"""Bulk actions for resources: every id is checked against the caller's scope first; each
runs in one transaction and takes an `Idempotency-Key` (`write_once`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.handlers.resource import Action, ResourceHandler
from igny8d.services.idempotency import Answer


class IdsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ids: list[int] = Field(min_length=1, max_length=1000)


class BulkResult(BaseModel):
    deleted_count: int


Write = Callable[[AsyncConnection], Awaitable[dict[str, Any]]]


async def write_once(h: ResourceHandler, write: Write, message: Callable[[dict[str, Any]], str]
                     ) -> None:
    """Run `write` in one transaction and answer 200 with what it returns; with an
    `Idempotency-Key` a retry answers the first answer rather than writing again (a retried
    queue-to-writer would otherwise report 0 queued, a retried import 0 imported)."""
    keyed = h.idempotency_key()

    async def work(conn: AsyncConnection) -> Answer:
        data = await write(conn)
        return Answer(200, data, message(data))

    await h.answer_once(work, keyed)


async def bulk_delete(h: ResourceHandler) -> None:
    body = h.parse(IdsBody)

    async def write(conn: AsyncConnection) -> dict[str, Any]:
        return {"deleted_count": await h.service.bulk_delete(conn, h.actor, body.ids)}

    await write_once(h, write, lambda data: f"{data['deleted_count']} deleted")


def bulk_delete_action(**kw: Any) -> Action:
    return Action("bulk_delete", bulk_delete, body=IdsBody, response=BulkResult,
                  summary="Delete several objects (all ids must be yours)", idempotent=True,
                  **kw)
