"""Who a caller is, and the rules of sessions: login, refresh rotation, revocation, logout.

bcrypt runs before any write transaction opens (with SQLite's BEGIN IMMEDIATE, hashing
inside one would make every other writer wait behind it).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.errors import AuthRequired, InvalidCredentials, ValidationFailed
from igny8d.permissions import Actor, Principal, effective_site_ids, grants_apply
from igny8d.security import IssuedToken, TokenClaims, TokenError
from igny8d.services.base import Deps
from igny8d.store import sites as site_store
from igny8d.store import tokens as token_store
from igny8d.store import users as user_store


@dataclass(frozen=True, slots=True)
class Session:
    """A token pair and the login session (refresh family) it belongs to."""

    user_id: int
    family: str
    version: int
    access: IssuedToken
    refresh: IssuedToken

    def pair(self) -> dict[str, Any]:
        return {
            "access": self.access.token,
            "refresh": self.refresh.token,
            "access_expires_at": self.access.expires_at,
            "refresh_expires_at": self.refresh.expires_at,
        }


def principal_of(conn: Connection, user_id: int, auth_method: str = "jwt") -> Principal | None:
    """The caller, if active and of an active account, with their site grants resolved
    (one statement; synchronous, for `Store.run_read`)."""
    found = user_store.auth_user(conn, user_id, grants_for=grants_apply)
    if found is None or not found.user.is_active or not found.account_active:
        return None
    user = found.user
    grants = found.grants
    return Principal(
        user_id=user.id, account_id=user.account_id, role=user.role,
        is_superuser=user.is_superuser, site_ids=effective_site_ids(user.role, grants),
        email=user.email, username=user.username, token_version=user.token_version,
        auth_key=user.auth_key, auth_method=auth_method, data_version=found.data_version,
    )


async def load_principal(
    conn: AsyncConnection, user_id: int, *, auth_method: str = "jwt"
) -> Principal | None:
    """`principal_of` on an async connection (inside a transaction, say)."""
    return await conn.run_sync(principal_of, user_id, auth_method)


async def principal_for_token(deps: Deps, claims: TokenClaims, *, method: str) -> Principal:
    """The user a verified token names, if the token is still theirs and still valid."""
    principal = await deps.store.read_now(principal_of, claims.user_id, method)
    if principal is None or principal.auth_key != claims.key:
        # Gone, inactive, or an id now held by someone else: the token names nobody.
        raise AuthRequired("User not found or inactive")
    if principal.token_version != claims.version:
        raise AuthRequired("Token has been revoked")
    return principal


def _issue(deps: Deps, p: Principal, version: int) -> tuple[IssuedToken, IssuedToken]:
    return tuple(  # type: ignore[return-value]
        deps.tokens.issue(kind, user_id=p.user_id, account_id=p.account_id, version=version,
                          key=p.auth_key)
        for kind in ("access", "refresh"))


async def _start_session(conn: AsyncConnection, deps: Deps, p: Principal,
                         version: int) -> Session:
    access, refresh = _issue(deps, p, version)
    family = uuid.uuid4().hex
    await token_store.record_refresh(conn, jti=refresh.jti, family=family, user_id=p.user_id,
                                     expires_at=refresh.expires_at)
    return Session(p.user_id, family, version, access, refresh)


async def login(deps: Deps, *, email: str, password: str) -> tuple[Principal, Session]:
    """Check the password (the same answer for an unknown email), then start a session."""
    async with deps.store.read() as conn:
        user = await user_store.find_user_by_email(conn, email)
    ok = await deps.hasher.verify(password, user.password_hash if user else None)
    if not ok or user is None:
        raise InvalidCredentials()
    if not user.is_active:
        raise AuthRequired("User account is disabled")
    async with deps.store.read() as conn:
        principal = await load_principal(conn, user.id)
    if principal is None:
        raise AuthRequired("Account is not active")
    async with deps.store.begin() as conn:
        session = await _start_session(conn, deps, principal, principal.token_version)
        await user_store.touch_login(conn, user.id)  # last: its list version's lock (touch_user)
    return principal, session


async def refresh(deps: Deps, *, token: str) -> tuple[Principal, Session]:
    """Rotate a refresh token: the old one is revoked, its successor joins the family.

    An already exchanged token that comes back within the grace window is a client's
    retry (its answer was lost): it gets another pair of the same session and nothing is
    revoked. Later, it is taken as a replay of a stolen token: every session of the user
    ends.
    """
    try:
        claims = deps.tokens.verify(token, "refresh")
    except TokenError as exc:
        raise AuthRequired(str(exc)) from None
    grace = dt.timedelta(seconds=deps.settings.refresh_reuse_grace_s)
    async with deps.store.begin() as conn:
        principal = await load_principal(conn, claims.user_id)
        if (principal is None or principal.auth_key != claims.key
                or principal.token_version != claims.version):
            raise AuthRequired("Token has been revoked")
        access, fresh = _issue(deps, principal, principal.token_version)
        family = await token_store.rotate_refresh(
            conn, old_jti=claims.jti, new_jti=fresh.jti, user_id=principal.user_id,
            expires_at=fresh.expires_at,
        )
        replay = False
        if family is None:
            rotated = await token_store.rotation_of(conn, claims.jti, principal.user_id)
            if rotated is not None:
                old_family, when = rotated
                retry = (dt.datetime.now(dt.UTC) - when <= grace
                         and await token_store.family_alive(conn, old_family))
                if retry:
                    family = old_family
                    await token_store.record_refresh(conn, jti=fresh.jti, family=family,
                                                     user_id=principal.user_id,
                                                     expires_at=fresh.expires_at)
                else:
                    replay = True
                    await token_store.revoke_all_refresh(conn, principal.user_id)
    if family is None or replay:
        raise AuthRequired("Token has been revoked")
    return principal, Session(principal.user_id, family, principal.token_version, access,
                              fresh)


async def change_password(
    deps: Deps, actor: Actor, *, old_password: str, new_password: str
) -> Session:
    """A new password ends every session; the caller continues in a new one."""
    async with deps.store.read() as conn:
        user = await user_store.get_user(conn, actor.user_id)
        principal = await load_principal(conn, actor.user_id)
    if user is None or principal is None:
        raise AuthRequired("User not found or inactive")
    if not await deps.hasher.verify(old_password, user.password_hash):
        raise ValidationFailed(errors={"old_password": ["Old password is incorrect."]})
    new_hash = await deps.hasher.hash(new_password)
    async with deps.store.begin() as conn:
        version = await user_store.set_password(conn, user.id, new_hash)
        return await _start_session(conn, deps, principal, version)


async def logout(
    deps: Deps, actor: Actor | None, *, refresh_token: str | None, session_family: str | None
) -> None:
    """End the session of the given refresh token and/or the cookie's session.

    The refresh token alone is enough (OAuth token revocation): a client whose access token
    ran out can still log out. An invalid or foreign token changes nothing.
    """
    if actor is None and not refresh_token:
        raise AuthRequired()
    families = {session_family} if session_family else set()
    async with deps.store.begin() as conn:
        if refresh_token:
            try:
                claims: TokenClaims | None = deps.tokens.verify(refresh_token, "refresh")
            except TokenError:
                claims = None
            if claims is not None and (actor is None or claims.user_id == actor.user_id):
                family = await token_store.refresh_family(conn, claims.jti, claims.user_id)
                if family:
                    families.add(family)
            elif actor is None:
                raise AuthRequired("Token is invalid")
        for family in families:
            await token_store.revoke_family(conn, family)


async def session_principal(deps: Deps, value: str) -> tuple[Principal, str] | None:
    """A session cookie `user:version:family`: its principal while the family is live."""
    parts = value.split(":")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
        return None
    user_id, version, family = int(parts[0]), int(parts[1]), parts[2]
    async with deps.store.read() as conn:
        alive = await token_store.session_alive(conn, user_id, family)
        principal = await load_principal(conn, user_id, auth_method="session") if alive \
            else None
    if not alive:
        raise AuthRequired("Session has ended")
    if principal is None:
        raise AuthRequired("User not found or inactive")
    if principal.token_version != version:
        raise AuthRequired("Token has been revoked")
    return principal, family


async def basic_principal(deps: Deps, email: str, password: str) -> Principal:
    """HTTP Basic: every request pays one bcrypt check (the caller throttles first)."""
    async with deps.store.read() as conn:
        user = await user_store.find_user_by_email(conn, email)
    ok = await deps.hasher.verify(password, user.password_hash if user else None)
    if not ok or user is None:
        raise InvalidCredentials()
    async with deps.store.read() as conn:
        principal = await load_principal(conn, user.id, auth_method="basic")
    if principal is None:
        raise AuthRequired("User not found or inactive")
    return principal


async def me(conn: AsyncConnection, actor: Actor) -> dict[str, Any]:
    """The user object of `auth/me/`: the user, their account and the sites they can see."""
    user = await user_store.user_with_account(conn, actor.user_id)
    user["accessible_sites"] = await site_store.accessible_sites(conn, scope=actor.scope)
    return user


async def user_object(deps: Deps, user_id: int) -> dict[str, Any]:
    """The user object login, refresh and register answer with (read after the write)."""
    async with deps.store.read() as conn:
        return await user_store.user_with_account(conn, user_id)
