"""Auth endpoints: register, login, refresh, change-password, me."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.errors import AuthRequired, InvalidCredentials, ValidationFailed
from igny8d.handlers.auth_models import (
    ChangePasswordBody,
    LoginBody,
    LogoutBody,
    MeEnvelope,
    RefreshBody,
    RegisterBody,
    TokenPair,
    UserEnvelope,
)
from igny8d.handlers.authn import SESSION_COOKIE
from igny8d.handlers.base import APIHandler, endpoint
from igny8d.security import IssuedToken, TokenError
from igny8d.store import accounts as store

TAG = "auth"


class TokenIssuer(APIHandler):
    """Handlers that answer with a fresh token pair (login, refresh, change-password)."""

    async def issue_pair(
        self, conn: AsyncConnection, *, user_id: int, account_id: int, version: int,
        family: str | None = None, refresh: IssuedToken | None = None,
    ) -> dict[str, Any]:
        """Access + refresh; a new session (family, recorded on `conn`) unless one continues."""
        tokens = self.ctx.tokens
        access = tokens.issue("access", user_id=user_id, account_id=account_id, version=version)
        if refresh is None:
            refresh = tokens.issue("refresh", user_id=user_id, account_id=account_id,
                                   version=version)
            family = uuid.uuid4().hex
            await store.record_refresh(conn, jti=refresh.jti, family=family, user_id=user_id,
                                       expires_at=refresh.expires_at)
        if self.ctx.settings.auth_session and family is not None:
            self.set_signed_cookie(
                SESSION_COOKIE, f"{user_id}:{version}:{family}",
                expires_days=self.ctx.settings.refresh_days, httponly=True,
                samesite="Strict", secure=self.request.protocol == "https", path="/api/",
            )
        return {
            "access": access.token,
            "refresh": refresh.token,
            "access_expires_at": access.expires_at,
            "refresh_expires_at": refresh.expires_at,
        }

    async def answer(self, user_id: int, pair: dict[str, Any], message: str) -> None:
        """The user object is read after the write transaction: the write lock stays short."""
        async with self.ctx.store.read() as conn:
            user = await store.user_with_account(conn, user_id)
        self.ok({"user": user, **pair}, message)


class RegisterHandler(APIHandler):
    @endpoint(public=True, throttle="auth", summary="Register an account and its owner",
              body=RegisterBody, response=UserEnvelope, status=201, tags=(TAG,))
    async def post(self) -> None:
        body: RegisterBody = self.parse(RegisterBody)
        password_hash = await self.ctx.hasher.hash(body.password)
        async with self.ctx.store.begin() as conn:
            plan = await store.plan_by_slug(conn, "free")
            name = body.account_name or f"{(body.username or body.email.split('@')[0])}'s account"
            account = await store.create_account(conn, name=name, plan=plan)
            user = await store.create_user(
                conn, account_id=account["id"], email=body.email, username=body.username,
                password_hash=password_hash, role="owner",
            )
            data = {"user": await store.user_with_account(conn, user["id"])}
        self.created(data, "Registration successful")


class LoginHandler(TokenIssuer):
    @endpoint(public=True, throttle="auth", summary="Log in with email and password",
              body=LoginBody, response=TokenPair, tags=(TAG,))
    async def post(self) -> None:
        body: LoginBody = self.parse(LoginBody)
        async with self.ctx.store.read() as conn:
            user = await store.find_user_by_email(conn, body.email)
        ok = await self.ctx.hasher.verify(body.password, user.password_hash if user else None)
        if not ok or user is None:
            raise InvalidCredentials()
        if not user.is_active:
            raise AuthRequired("User account is disabled")
        async with self.ctx.store.read() as conn:
            principal = await store.load_principal(conn, user.id)
        if principal is None:
            raise AuthRequired("Account is not active")
        async with self.ctx.store.begin() as conn:
            await store.touch_login(conn, user.id)
            pair = await self.issue_pair(conn, user_id=user.id, account_id=user.account_id,
                                         version=principal.token_version)
        self.principal = principal
        await self.answer(user.id, pair, "Login successful")


class RefreshHandler(TokenIssuer):
    @endpoint(public=True, throttle="auth", summary="Exchange a refresh token for a new pair",
              body=RefreshBody, response=TokenPair, tags=(TAG,))
    async def post(self) -> None:
        body: RefreshBody = self.parse(RefreshBody)
        try:
            claims = self.ctx.tokens.verify(body.refresh, "refresh")
        except TokenError as exc:
            raise AuthRequired(str(exc)) from None
        async with self.ctx.store.begin() as conn:
            principal = await store.load_principal(conn, claims.user_id)
            if principal is None or principal.token_version != claims.version:
                raise AuthRequired("Token has been revoked")
            fresh = self.ctx.tokens.issue(
                "refresh", user_id=principal.user_id, account_id=principal.account_id,
                version=principal.token_version,
            )
            family = await store.rotate_refresh(
                conn, old_jti=claims.jti, new_jti=fresh.jti, user_id=principal.user_id,
                expires_at=fresh.expires_at,
            )
            if family is None and await store.was_rotated(conn, claims.jti):
                # An already exchanged token came back: assume it was stolen, end every session.
                await store.revoke_all_refresh(conn, principal.user_id)
        if family is None:
            raise AuthRequired("Token has been revoked")
        async with self.ctx.store.read() as conn:  # nothing left to write
            pair = await self.issue_pair(
                conn, user_id=principal.user_id, account_id=principal.account_id,
                version=principal.token_version, family=family, refresh=fresh,
            )
        self.principal = principal
        await self.answer(principal.user_id, pair, "Token refreshed")


class ChangePasswordHandler(TokenIssuer):
    @endpoint(throttle="auth_strict", summary="Change your password (ends other sessions)",
              body=ChangePasswordBody, response=TokenPair, tags=(TAG,))
    async def post(self) -> None:
        assert self.principal is not None
        body: ChangePasswordBody = self.parse(ChangePasswordBody)
        async with self.ctx.store.read() as conn:
            user = await store.get_user(conn, self.principal.user_id)
        assert user is not None
        if not await self.ctx.hasher.verify(body.old_password, user.password_hash):
            raise ValidationFailed(errors={"old_password": ["Old password is incorrect."]})
        new_hash = await self.ctx.hasher.hash(body.new_password)
        async with self.ctx.store.begin() as conn:
            version = await store.set_password(conn, user.id, new_hash)
            pair = await self.issue_pair(conn, user_id=user.id, account_id=user.account_id,
                                         version=version)
        await self.answer(user.id, pair, "Password changed successfully")


class MeHandler(APIHandler):
    @endpoint(summary="The current user, their account and the sites they can access",
              response=MeEnvelope, tags=(TAG,))
    async def get(self) -> None:
        assert self.principal is not None
        async with self.ctx.store.read() as conn:
            user = await store.user_with_account(conn, self.principal.user_id)
            user["accessible_sites"] = await store.accessible_sites(conn, self.principal)
        self.ok({"user": user})


class LogoutHandler(APIHandler):
    @endpoint(summary="End this session: its refresh token and its session cookie",
              body=LogoutBody, tags=(TAG,))
    async def post(self) -> None:
        assert self.principal is not None
        body: LogoutBody = self.parse(LogoutBody)
        families = {self.session_family} if self.session_family else set()
        async with self.ctx.store.begin() as conn:
            if body.refresh:
                try:
                    claims = self.ctx.tokens.verify(body.refresh, "refresh")
                except TokenError:
                    claims = None
                if claims is not None and claims.user_id == self.principal.user_id:
                    family = await store.refresh_family(conn, claims.jti, claims.user_id)
                    if family:
                        families.add(family)
            for family in families:
                await store.revoke_family(conn, family)
        self.clear_cookie(SESSION_COOKIE, path="/api/")
        self.ok(None, "Logged out")


default_handlers = [
    (r"/api/v1/auth/register/", RegisterHandler),
    (r"/api/v1/auth/login/", LoginHandler),
    (r"/api/v1/auth/refresh/", RefreshHandler),
    (r"/api/v1/auth/change-password/", ChangePasswordHandler),
    (r"/api/v1/auth/me/", MeHandler),
    (r"/api/v1/auth/logout/", LogoutHandler),
]
