"""Bulk actions for resources: every id is checked against the caller's scope first."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from igny8d.handlers.resource import Action, ResourceHandler
from igny8d.store import crud


class IdsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ids: list[int] = Field(min_length=1, max_length=1000)


class BulkResult(BaseModel):
    deleted_count: int | None = None
    updated_count: int | None = None


async def bulk_delete(h: ResourceHandler) -> None:
    body = h.parse(IdsBody)
    async with h.ctx.store.begin() as conn:
        ids = await h.visible_or_404(conn, body.ids)
        count = await crud.delete_many(conn, h.resource.spec, h.scope, ids)
    h.ok({"deleted_count": count}, f"{count} deleted")


def bulk_status_action(name: str, choices: tuple[str, ...], **kw: Any) -> Action:
    """`{ids, status}` → every listed row gets the status (all ids checked first)."""
    # Named by the choices: equal choice sets share one schema, different ones never clash.
    model = create_model(
        "Bulk" + "".join(c.title().replace("_", "") for c in choices) + "Body",
        __base__=IdsBody,
        status=(Literal[choices], ...),  # type: ignore[valid-type]
    )

    async def run(h: ResourceHandler) -> None:
        body = h.parse(model)
        async with h.ctx.store.begin() as conn:
            ids = await h.visible_or_404(conn, body.ids)
            count = await crud.update_many(
                conn, h.resource.spec, h.scope, ids, {"status": body.status}
            )
        h.ok({"updated_count": count}, f"{count} updated")

    return Action(name, run, body=model, response=BulkResult,
                  summary="Set the status of several objects", **kw)


def bulk_delete_action(**kw: Any) -> Action:
    return Action("bulk_delete", bulk_delete, body=IdsBody, response=BulkResult,
                  summary="Delete several objects (all ids must be yours)", **kw)
