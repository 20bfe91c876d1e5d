"""The prompt library: an account's saved prompts by type, over the shipped defaults.

Defaults are not rows (ai/prompts.py): an account's list holds what it saved, one per type (a
second create of a type is 409; `save` upserts), `by_type` falls back to the default, and
`reset` deletes the saved one so the default applies again. The AI functions read the library
with `prompts_for`.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.ai.prompts import DEFAULT_PROMPTS, PROMPT_TYPES
from igny8d.ai.types import Prompts
from igny8d.errors import NotFound
from igny8d.permissions import Actor
from igny8d.services.base import ResourceService, Row
from igny8d.store import ai_settings as store
from igny8d.store.writes import update_row

PROMPT_FIELDS = ("id", "prompt_type", "prompt_value", "is_default", "created_at", "updated_at")


class PromptService(ResourceService):
    """CRUD of saved prompts (account level), plus the by-type reads and writes."""

    async def present(self, conn: AsyncConnection, actor: Actor | None,
                      rows: list[Row]) -> list[Row]:
        return [{**{k: r.get(k) for k in self.fields}, "is_default": False} for r in rows]

    async def by_type(self, conn: AsyncConnection, actor: Actor, prompt_type: str) -> Row:
        """The account's saved prompt of this type, else the shipped default."""
        check_type(prompt_type)
        row = await store.prompt_of_type(conn, actor.account_id, prompt_type)
        if row is None:
            return default_prompt(prompt_type)
        return await self.present_one(conn, actor, row)

    async def save(self, conn: AsyncConnection, actor: Actor, prompt_type: str,
                   prompt_value: str) -> tuple[Row, bool]:
        """Create or replace the account's prompt of a type; True when it was created."""
        actor.require("editor")
        check_type(prompt_type)
        await store.lock_settings(conn, actor.account_id)
        row = await store.prompt_of_type(conn, actor.account_id, prompt_type)
        if row is None:
            created = await self.create(conn, actor, {"prompt_type": prompt_type,
                                                      "prompt_value": prompt_value})
            return await self.present_one(conn, actor, created), True
        updated = await update_row(conn, self.spec, row["id"],
                                   {"prompt_value": prompt_value}, scope=actor.scope)
        return await self.present_one(conn, actor, updated), False

    async def reset(self, conn: AsyncConnection, actor: Actor, prompt_type: str) -> Row:
        """Delete the account's saved prompt of a type (if any); the default applies again."""
        actor.require("editor")
        check_type(prompt_type)
        await store.delete_prompt_of_type(conn, actor.account_id, prompt_type)
        return default_prompt(prompt_type)


PROMPTS = PromptService(store.PROMPTS, fields=PROMPT_FIELDS, immutable=("prompt_type",))


def check_type(prompt_type: str) -> None:
    """A prompt type named in a path: one of PROMPT_TYPES, else 404 naming them."""
    if prompt_type not in PROMPT_TYPES:
        raise NotFound(f'Unknown prompt type "{prompt_type}"; the types are: '
                       f"{', '.join(PROMPT_TYPES)}.")


def default_prompt(prompt_type: str) -> Row:
    return {"id": None, "prompt_type": prompt_type, "prompt_value": DEFAULT_PROMPTS[prompt_type],
            "is_default": True, "created_at": None, "updated_at": None}


async def prompts_for(conn: AsyncConnection, account_id: int) -> Prompts:
    """The account's prompt library for one AI call: saved prompts by type; `Prompts.get`
    gives the shipped default for the rest."""
    return Prompts(by_type=await store.prompts_by_type(conn, account_id))
