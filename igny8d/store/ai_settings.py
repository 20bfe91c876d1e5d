"""The AI settings' SQL: an account's prompt library and its integration settings.

Both tables are account level (one row per type / integration id per account); every query
here takes the account id, so nothing reads across accounts.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.scope import Scope
from igny8d.store.schema import ai_prompts, integration_settings
from igny8d.store.specs import TableSpec
from igny8d.store.writes import insert_row, touch_accounts, update_row

PROMPTS = TableSpec(
    ai_prompts, "account", "Prompt",
    unique=((("account_id", "prompt_type"), "prompt_type",
             "This account already has a prompt of this type; update it, or use save/."),),
)
INTEGRATIONS = TableSpec(integration_settings, "account", "Integration settings")

_p = ai_prompts.c
_i = integration_settings.c


async def lock_settings(conn: AsyncConnection, account_id: int) -> None:
    """Take the account row first (every writer's one lock order) before a read-then-write
    of its settings: two saves of one account run one after the other, so neither loses the
    other's fields and two first saves of one type or id are no duplicate."""
    await touch_accounts(conn, INTEGRATIONS, [account_id])


async def prompts_by_type(conn: AsyncConnection, account_id: int) -> dict[str, str]:
    """The account's saved prompts, by type."""
    rows = await conn.execute(select(_p.prompt_type, _p.prompt_value)
                              .where(_p.account_id == account_id))
    return {str(t): str(v) for t, v in rows}


async def prompt_of_type(conn: AsyncConnection, account_id: int,
                         prompt_type: str) -> dict[str, Any] | None:
    row = (await conn.execute(select(ai_prompts).where(
        _p.account_id == account_id, _p.prompt_type == prompt_type))).mappings().first()
    return dict(row) if row is not None else None


async def delete_prompt_of_type(conn: AsyncConnection, account_id: int,
                                prompt_type: str) -> int:
    await touch_accounts(conn, PROMPTS, [account_id])
    result = await conn.execute(delete(ai_prompts).where(
        _p.account_id == account_id, _p.prompt_type == prompt_type))
    return int(result.rowcount)


async def integration(conn: AsyncConnection, account_id: int,
                      integration_id: str) -> dict[str, Any] | None:
    """The account's saved settings of one integration, or None."""
    row = (await conn.execute(select(integration_settings).where(
        _i.account_id == account_id, _i.integration_id == integration_id))).mappings().first()
    return dict(row) if row is not None else None


async def integrations(conn: AsyncConnection, account_id: int,
                       integration_ids: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Several of the account's saved integrations in one query, by id."""
    rows = await conn.execute(select(integration_settings).where(
        _i.account_id == account_id, _i.integration_id.in_(integration_ids)))
    return {str(r["integration_id"]): dict(r) for r in rows.mappings()}


async def save_integration(conn: AsyncConnection, account_id: int, integration_id: str, *,
                           enabled: bool, config: dict[str, Any],
                           api_key_encrypted: str | None) -> dict[str, Any]:
    """Insert or replace the account's settings of one integration (inside a write
    transaction, after `lock_settings`)."""
    values = {"enabled": enabled, "config": config, "api_key_encrypted": api_key_encrypted}
    existing = await integration(conn, account_id, integration_id)
    if existing is None:
        return await insert_row(conn, INTEGRATIONS, {
            "account_id": account_id, "integration_id": integration_id, **values})
    return await update_row(conn, INTEGRATIONS, existing["id"], values,
                            scope=Scope(account_id=account_id))
