"""Idempotency keys: the row a client's key claims, and the answer it keeps for replays."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.store.schema import idempotency_keys as keys
from igny8d.store.writes import now


@dataclass(frozen=True)
class KeyRow:
    id: int
    fingerprint: str
    status: int | None
    response: dict[str, Any] | None
    expires_at: dt.datetime


class KeyTaken(Exception):
    """Another request holds this key (committed while we waited on its row lock)."""


async def find(conn: AsyncConnection, account_id: int, user_id: int, key: str) -> KeyRow | None:
    row = (await conn.execute(
        select(keys.c.id, keys.c.fingerprint, keys.c.status, keys.c.response,
               keys.c.expires_at)
        .where(keys.c.account_id == account_id, keys.c.user_id == user_id, keys.c.key == key)
    )).first()
    return KeyRow(*row) if row is not None else None


async def claim(conn: AsyncConnection, *, account_id: int, user_id: int, key: str,
                fingerprint: str, ttl: dt.timedelta) -> int:
    """Insert the key's row (no answer yet) inside the caller's transaction; its id.

    An expired row of the same key is deleted first. When another transaction holds or
    has committed the key, raises KeyTaken (the caller's transaction must roll back): on
    Postgres the insert waits on the other's uncommitted row until it commits, on SQLite
    the write lock already serialises the two.
    """
    stamp = now()
    await conn.execute(delete(keys).where(
        keys.c.account_id == account_id, keys.c.user_id == user_id, keys.c.key == key,
        keys.c.expires_at <= stamp))
    try:
        return int((await conn.execute(insert(keys).values(
            account_id=account_id, user_id=user_id, key=key, fingerprint=fingerprint,
            created_at=stamp, expires_at=stamp + ttl,
        ).returning(keys.c.id))).scalar_one())
    except IntegrityError:
        raise KeyTaken() from None


async def answer(conn: AsyncConnection, row_id: int, status: int,
                 response: dict[str, Any]) -> None:
    """Keep the first answer on the claimed row (same transaction as the claim)."""
    await conn.execute(update(keys).where(keys.c.id == row_id)
                       .values(status=status, response=response))


async def purge_expired(conn: AsyncConnection) -> int:
    result = await conn.execute(delete(keys).where(keys.c.expires_at <= now()))
    return int(result.rowcount or 0)
