"""Refresh tokens and the sessions they make: rotation, revocation, expiry."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.store.schema import refresh_tokens, users
from igny8d.store.writes import now


async def record_refresh(
    conn: AsyncConnection, *, jti: str, family: str, user_id: int, expires_at: dt.datetime
) -> None:
    await conn.execute(insert(refresh_tokens).values(
        jti=jti, family=family, user_id=user_id, expires_at=expires_at, created_at=now(),
    ))


async def rotate_refresh(
    conn: AsyncConnection, *, old_jti: str, new_jti: str, user_id: int,
    expires_at: dt.datetime,
) -> str | None:
    """Revoke the presented token and record its successor in the same family, atomically.

    None means it was revoked, expired or never issued; the family (session) id otherwise.
    """
    stamp = now()
    family = (await conn.execute(
        update(refresh_tokens)
        .where(refresh_tokens.c.jti == old_jti, refresh_tokens.c.user_id == user_id,
               refresh_tokens.c.revoked_at.is_(None), refresh_tokens.c.expires_at > stamp)
        .values(revoked_at=stamp, replaced_by=new_jti)
        .returning(refresh_tokens.c.family)
    )).scalar_one_or_none()
    if family is None:
        return None
    await record_refresh(conn, jti=new_jti, family=family, user_id=user_id,
                         expires_at=expires_at)
    return str(family)


async def rotation_of(
    conn: AsyncConnection, jti: str, user_id: int
) -> tuple[str, dt.datetime] | None:
    """(family, when) if this refresh token was already exchanged for a successor."""
    row = (await conn.execute(
        select(refresh_tokens.c.family, refresh_tokens.c.revoked_at)
        .where(refresh_tokens.c.jti == jti, refresh_tokens.c.user_id == user_id,
               refresh_tokens.c.replaced_by.is_not(None))
    )).first()
    return (str(row.family), row.revoked_at) if row is not None else None


async def family_alive(conn: AsyncConnection, family: str) -> bool:
    """True while the family (a login session) still has a live refresh token."""
    row = (await conn.execute(
        select(refresh_tokens.c.jti).where(
            refresh_tokens.c.family == family, refresh_tokens.c.revoked_at.is_(None),
            refresh_tokens.c.expires_at > now(),
        ).limit(1)
    )).first()
    return row is not None


async def refresh_family(conn: AsyncConnection, jti: str, user_id: int) -> str | None:
    return (await conn.execute(
        select(refresh_tokens.c.family)
        .where(refresh_tokens.c.jti == jti, refresh_tokens.c.user_id == user_id)
    )).scalar_one_or_none()


async def revoke_family(conn: AsyncConnection, family: str) -> None:
    """End one session: its live refresh token and the cookie that names it."""
    await conn.execute(
        update(refresh_tokens)
        .where(refresh_tokens.c.family == family, refresh_tokens.c.revoked_at.is_(None))
        .values(revoked_at=now())
    )


async def session_alive(conn: AsyncConnection, user_id: int, family: str) -> bool:
    """A session cookie is good while its family still has an unrevoked, unexpired token."""
    row = (await conn.execute(
        select(refresh_tokens.c.jti).where(
            refresh_tokens.c.family == family, refresh_tokens.c.user_id == user_id,
            refresh_tokens.c.revoked_at.is_(None), refresh_tokens.c.expires_at > now(),
        ).limit(1)
    )).first()
    return row is not None


async def revoke_all_refresh(conn: AsyncConnection, user_id: int) -> None:
    await conn.execute(
        update(refresh_tokens)
        .where(refresh_tokens.c.user_id == user_id, refresh_tokens.c.revoked_at.is_(None))
        .values(revoked_at=now())
    )


async def revoke_sessions(conn: AsyncConnection, user_id: int) -> int:
    """Refuse every token issued so far: refresh rows revoked, access tokens by version.

    Returns the new token version, for the tokens issued right after (change-password).
    """
    await revoke_all_refresh(conn, user_id)
    return int((await conn.execute(
        update(users).where(users.c.id == user_id)
        .values(token_version=users.c.token_version + 1, updated_at=now())
        .returning(users.c.token_version)
    )).scalar_one())


async def purge_expired_refresh(conn: AsyncConnection) -> int:
    result = await conn.execute(
        delete(refresh_tokens).where(refresh_tokens.c.expires_at < now())
    )
    return int(result.rowcount)
