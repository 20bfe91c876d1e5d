"""Authentication for APIHandler: JWT bearer, then the session cookie, then HTTP Basic."""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING

import tornado.web

from igny8d.errors import AuthRequired, InvalidCredentials, Throttled
from igny8d.permissions import Principal
from igny8d.security import TokenError
from igny8d.services import sessions

if TYPE_CHECKING:
    from igny8d.context import AppContext

    _Base = tornado.web.RequestHandler
else:
    _Base = object

SESSION_COOKIE = "igny8_session"

#: Basic credentials are guesses like logins: they share the login scope, per address.
BASIC_SCOPE = "auth"


class AuthMixin(_Base):
    """Resolves the caller once per request; each method can be switched off in settings."""

    ctx: AppContext
    session_family: str | None
    client_ip: str

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
        return await sessions.principal_for_token(self.ctx, claims, method="jwt")

    async def _from_session(self, value: str) -> Principal | None:
        """`user:version:family`; the family (login session) must still be live."""
        found = await sessions.session_principal(self.ctx, value)
        if found is None:
            return None
        principal, self.session_family = found
        return principal

    async def _from_basic(self, credentials: str) -> Principal:
        """Email and password on every request; counted in the `auth` scope by address.

        The budget is taken before the user is looked up or the password hashed, so a
        refused guess costs no bcrypt; a right password gives its unit back, so only
        failures (and guesses still being checked) count against a well-behaved client.
        """
        key = f"ip:{self.client_ip}"
        budget = await self.ctx.limiter.hit(BASIC_SCOPE, key)
        if budget is not None and not budget.allowed:
            raise Throttled(headers=budget.headers())
        principal = await self._check_basic(credentials)
        if budget is not None:
            await self.ctx.limiter.refund(BASIC_SCOPE, key)
        return principal

    async def _check_basic(self, credentials: str) -> Principal:
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise InvalidCredentials() from None
        email, sep, password = decoded.partition(":")
        if not sep:
            raise InvalidCredentials()
        return await sessions.basic_principal(self.ctx, email, password)
