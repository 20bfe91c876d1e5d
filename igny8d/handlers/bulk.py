"""Bulk actions for resources: every id is checked against the caller's scope first; each
runs in one transaction and takes an `Idempotency-Key` (`write_action`)."""

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


#: a bulk write: (handler, parsed body, connection) → the answer's data
Write = Callable[[ResourceHandler, Any, AsyncConnection], Awaitable[dict[str, Any]]]


def write_action(name: str, write: Write, message: Callable[[dict[str, Any]], str], *,
                 body: type[BaseModel], **kw: Any) -> Action:
    """A bulk write action: parse `body`, run `write` in one transaction and answer 200 with
    what it returns. It takes an `Idempotency-Key` — documented and honoured here, in one
    place, so an action cannot say it does without doing it: a retry answers the first
    answer rather than writing again (a retried queue-to-writer would otherwise report 0
    queued)."""

    async def run(h: ResourceHandler) -> None:
        parsed = h.parse(body)
        keyed = h.idempotency_key()

        async def work(conn: AsyncConnection) -> Answer:
            data = await write(h, parsed, conn)
            return Answer(200, data, message(data))

        await h.answer_once(work, keyed)

    run.__name__ = name
    return Action(name, run, body=body, idempotent=True, **kw)


async def _delete(h: ResourceHandler, body: IdsBody, conn: AsyncConnection) -> dict[str, Any]:
    return {"deleted_count": await h.service.bulk_delete(conn, h.actor, body.ids)}


def bulk_delete_action(**kw: Any) -> Action:
    return write_action("bulk_delete", _delete, lambda data: f"{data['deleted_count']} deleted",
                        body=IdsBody, response=BulkResult,
                        summary="Delete several objects (all ids must be yours)", **kw)
