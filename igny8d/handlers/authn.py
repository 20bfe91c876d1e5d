"""Authentication for APIHandler: JWT bearer, then the session cookie, then HTTP Basic."""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING

import tornado.web

from igny8d.errors import AuthRequired, InvalidCredentials
from igny8d.permissions import Principal
from igny8d.security import TokenError
from igny8d.store import accounts as account_store

if TYPE_CHECKING:
    from igny8d.context import AppContext

    _Base = tornado.web.RequestHandler
else:
    _Base = object

SESSION_COOKIE = "igny8_session"


class AuthMixin(_Base):
    """Resolves the caller once per request; each method can be switched off in settings."""

    ctx: AppContext
    session_family: str | None

    async def _authenticate(self) -> Principal | None:
        settings = self.ctx.settings
        header = self.request.headers.get("Authorization", "")
        scheme, _, credentials = header.partition(" ")
        scheme = scheme.lower()
        if header and scheme == "bearer" and settings.auth_jwt:
            return await self._from_jwt(credentials.strip())
        if settings.auth_session and not header and "Cookie" in self.request.headers:
            cookie = self.get_signed_cookie(SESSION_COOKIE, max_age_days=settings.refresh_days)
            if cookie:
                return await self._from_session(cookie.decode("utf-8", "replace"))
        if header and scheme == "basic" and settings.auth_basic:
            return await self._from_basic(credentials.strip())
        if header:
            raise AuthRequired("Unsupported authorization scheme")
        return None

    async def _from_jwt(self, token: str) -> Principal:
        try:
            claims = self.ctx.tokens.verify(token, "access")
        except TokenError as exc:
            raise AuthRequired(str(exc)) from None
        return await self._load(claims.user_id, claims.version, "jwt")

    async def _from_session(self, value: str) -> Principal | None:
        """`user:version:family`; the family (login session) must still be live."""
        parts = value.split(":")
        if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
            return None
        user_id, family = int(parts[0]), parts[2]
        async with self.ctx.store.read() as conn:
            alive = await account_store.session_alive(conn, user_id, family)
        if not alive:
            raise AuthRequired("Session has ended")
        principal = await self._load(user_id, int(parts[1]), "session")
        self.session_family = family
        return principal

    async def _from_basic(self, credentials: str) -> Principal:
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise InvalidCredentials() from None
        email, sep, password = decoded.partition(":")
        if not sep:
            raise InvalidCredentials()
        async with self.ctx.store.read() as conn:
            user = await account_store.find_user_by_email(conn, email)
        ok = await self.ctx.hasher.verify(password, user.password_hash if user else None)
        if not ok or user is None:
            raise InvalidCredentials()
        return await self._load(user.id, user.token_version, "basic")

    async def _load(self, user_id: int, version: int, method: str) -> Principal:
        async with self.ctx.store.read() as conn:
            principal = await account_store.load_principal(conn, user_id, auth_method=method)
        if principal is None:
            raise AuthRequired("User not found or inactive")
        if principal.token_version != version:
            raise AuthRequired("Token has been revoked")
        return principal
