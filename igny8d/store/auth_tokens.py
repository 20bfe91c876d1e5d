"""Password-reset and invitation links: issued, voided, spent (by their secret's sha256)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.store.schema import auth_tokens, users
from igny8d.store.writes import now


def _live(stamp: dt.datetime) -> Any:
    return (auth_tokens.c.used_at.is_(None), auth_tokens.c.voided_at.is_(None),
            auth_tokens.c.expires_at > stamp)


async def issue(conn: AsyncConnection, *, user_id: int, purpose: str, token_hash: str,
                expires_at: dt.datetime) -> int:
    """A new link; the user's earlier live links of the same purpose stop working."""
    stamp = now()
    await conn.execute(
        update(auth_tokens)
        .where(auth_tokens.c.user_id == user_id, auth_tokens.c.purpose == purpose,
               *_live(stamp))
        .values(voided_at=stamp)
    )
    return int((await conn.execute(
        insert(auth_tokens).values(user_id=user_id, purpose=purpose, token_hash=token_hash,
                                   expires_at=expires_at, created_at=stamp)
        .returning(auth_tokens.c.id)
    )).scalar_one())


async def spend(conn: AsyncConnection, *, purpose: str, token_hash: str) -> int | None:
    """Mark a live link used and return its user; None when unknown, spent, void or expired.

    One conditional UPDATE: of two concurrent uses, the second finds `used_at` set (Postgres
    re-checks the WHERE after the first commits; SQLite writers are serialized)."""
    stamp = now()
    user_id = (await conn.execute(
        update(auth_tokens)
        .where(auth_tokens.c.token_hash == token_hash, auth_tokens.c.purpose == purpose,
               *_live(stamp))
        .values(used_at=stamp)
        .returning(auth_tokens.c.user_id)
    )).scalar_one_or_none()
    return None if user_id is None else int(user_id)


async def mark_mailed(conn: AsyncConnection, token_id: int) -> None:
    await conn.execute(update(auth_tokens).where(auth_tokens.c.id == token_id)
                       .values(mailed_at=now()))


async def void_user(conn: AsyncConnection, user_id: int) -> None:
    """Void every live link of a user (deactivated: no link may bring them back)."""
    stamp = now()
    await conn.execute(update(auth_tokens)
                       .where(auth_tokens.c.user_id == user_id, *_live(stamp))
                       .values(voided_at=stamp))


_PENDING_COLUMNS = (auth_tokens.c.id, auth_tokens.c.user_id, users.c.email,
                    users.c.account_id, auth_tokens.c.purpose, auth_tokens.c.created_at,
                    auth_tokens.c.expires_at, auth_tokens.c.mailed_at)


async def pending(conn: AsyncConnection, *, purpose: str | None, offset: int = 0,
                  limit: int = 10) -> tuple[int, list[dict[str, Any]]]:
    """Live links, newest first, with their user's email (never a secret: none is kept)."""
    where = [*_live(now())]
    if purpose:
        where.append(auth_tokens.c.purpose == purpose)
    count = int((await conn.execute(
        select(func.count()).select_from(auth_tokens).where(*where))).scalar_one())
    rows = (await conn.execute(
        select(*_PENDING_COLUMNS).join(users, users.c.id == auth_tokens.c.user_id)
        .where(*where).order_by(auth_tokens.c.id.desc()).offset(offset).limit(limit)
    )).mappings().all()
    return count, [dict(r) for r in rows]


async def get_pending(conn: AsyncConnection, token_id: int) -> dict[str, Any] | None:
    """One live link as `pending` lists it; None when it is unknown, spent, void or expired."""
    row = (await conn.execute(
        select(*_PENDING_COLUMNS).join(users, users.c.id == auth_tokens.c.user_id)
        .where(auth_tokens.c.id == token_id, *_live(now()))
    )).mappings().first()
    return dict(row) if row else None
