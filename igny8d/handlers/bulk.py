"""Bulk actions for resources: every id is checked against the caller's scope first."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from igny8d.handlers.resource import Action, ResourceHandler


class IdsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ids: list[int] = Field(min_length=1, max_length=1000)


class BulkResult(BaseModel):
    deleted_count: int


async def bulk_delete(h: ResourceHandler) -> None:
    body = h.parse(IdsBody)
    async with h.ctx.store.begin() as conn:
        count = await h.service.bulk_delete(conn, h.actor, body.ids)
    h.ok({"deleted_count": count}, f"{count} deleted")


def bulk_delete_action(**kw: Any) -> Action:
    return Action("bulk_delete", bulk_delete, body=IdsBody, response=BulkResult,
                  summary="Delete several objects (all ids must be yours)", **kw)
