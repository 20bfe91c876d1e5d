"""Auth endpoints: register, login, refresh, change-password, me, logout, password reset and
invitation acceptance (rules in services/sessions.py, accounts.py and auth_links.py)."""

from __future__ import annotations

from igny8d.handlers.authn import SESSION_COOKIE
from igny8d.handlers.base import APIHandler, endpoint
from igny8d.permissions import Principal
from igny8d.schemas.auth import (
    ChangePasswordBody,
    InvitationAcceptBody,
    LoginBody,
    LogoutBody,
    MeEnvelope,
    PasswordResetBody,
    PasswordResetConfirmBody,
    RefreshBody,
    RegisterBody,
    TokenPair,
    UserEnvelope,
)
from igny8d.services import accounts, auth_links, sessions

TAG = "auth"


class TokenIssuer(APIHandler):
    """Handlers that answer with a fresh token pair (login, refresh, change-password)."""

    def set_session_cookie(self, session: sessions.Session) -> None:
        """The admin-panel fallback: only when the login asked for it."""
        self.set_signed_cookie(
            SESSION_COOKIE, f"{session.user_id}:{session.version}:{session.family}",
            expires_days=self.ctx.settings.refresh_days, httponly=True,
            samesite="Strict", secure=self.request.protocol == "https", path="/api/",
        )

    async def answer(self, principal: Principal | None, session: sessions.Session,
                     message: str) -> None:
        if principal is not None:
            self.principal = principal  # the access log names who logged in
        user = await sessions.user_object(self.ctx, session.user_id)
        self.ok({"user": user, **session.pair()}, message)


class RegisterHandler(APIHandler):
    @endpoint(public=True, throttle="auth", summary="Register an account and its owner",
              body=RegisterBody, response=UserEnvelope, status=201, tags=(TAG,),
              errors=(409,))
    async def post(self) -> None:
        body: RegisterBody = self.parse(RegisterBody)
        user_id = await accounts.register(
            self.ctx, email=body.email, password=body.password, username=body.username,
            account_name=body.account_name,
        )
        self.created({"user": await sessions.user_object(self.ctx, user_id)},
                     "Registration successful")


class LoginHandler(TokenIssuer):
    @endpoint(public=True, throttle="auth", summary="Log in with email and password",
              body=LoginBody, response=TokenPair, tags=(TAG,), errors=(401,))
    async def post(self) -> None:
        body: LoginBody = self.parse(LoginBody)
        principal, session = await sessions.login(self.ctx, email=body.email,
                                                  password=body.password)
        if body.session and self.ctx.settings.auth_session:
            self.set_session_cookie(session)
        await self.answer(principal, session, "Login successful")


class RefreshHandler(TokenIssuer):
    @endpoint(public=True, throttle="auth", summary="Exchange a refresh token for a new pair",
              body=RefreshBody, response=TokenPair, tags=(TAG,), errors=(401,))
    async def post(self) -> None:
        body: RefreshBody = self.parse(RefreshBody)
        principal, session = await sessions.refresh(self.ctx, token=body.refresh)
        await self.answer(principal, session, "Token refreshed")


class ChangePasswordHandler(TokenIssuer):
    @endpoint(throttle="auth_strict", summary="Change your password (ends other sessions)",
              body=ChangePasswordBody, response=TokenPair, tags=(TAG,))
    async def post(self) -> None:
        body: ChangePasswordBody = self.parse(ChangePasswordBody)
        session = await sessions.change_password(
            self.ctx, self.actor, old_password=body.old_password,
            new_password=body.new_password,
        )
        if self.session_family is not None:
            self.set_session_cookie(session)  # the cookie session continues in the new one
        await self.answer(None, session, "Password changed successfully")


class MeHandler(APIHandler):
    @endpoint(summary="The current user, their account and the sites they can access",
              response=MeEnvelope, tags=(TAG,))
    async def get(self) -> None:
        async with self.ctx.store.read() as conn:
            user = await sessions.me(conn, self.actor)
        self.ok({"user": user})


class LogoutHandler(APIHandler):
    @endpoint(public=True, throttle="auth",
              summary="End a session: the given refresh token's (no access token needed) "
                      "and the session cookie's", body=LogoutBody, tags=(TAG,), errors=(401,))
    async def post(self) -> None:
        body: LogoutBody = self.parse(LogoutBody)
        await sessions.logout(self.ctx, self.principal, refresh_token=body.refresh,
                              session_family=self.session_family)
        self.clear_cookie(SESSION_COOKIE, path="/api/")
        self.ok(None, "Logged out")


RESET_SENT = ("If an active account uses this email, a link to reset its password is on its "
              "way.")


class PasswordResetHandler(APIHandler):
    # auth_strict: each request may mail someone, so a client gets few of them.
    @endpoint(public=True, throttle="auth_strict",
              summary="Ask for a password-reset link by email (the same answer whether or not "
                      "the email has an account)", body=PasswordResetBody, tags=(TAG,))
    async def post(self) -> None:
        body: PasswordResetBody = self.parse(PasswordResetBody)
        await auth_links.request_reset(self.ctx, body.email)
        self.ok(None, RESET_SENT)


class PasswordResetConfirmHandler(APIHandler):
    @endpoint(public=True, throttle="auth",
              summary="Set a new password with a reset link's token (ends every session)",
              body=PasswordResetConfirmBody, tags=(TAG,))
    async def post(self) -> None:
        body: PasswordResetConfirmBody = self.parse(PasswordResetConfirmBody)
        await auth_links.confirm_reset(self.ctx, token=body.token,
                                       new_password=body.new_password)
        self.ok(None, "Password has been reset")


class InvitationAcceptHandler(APIHandler):
    @endpoint(public=True, throttle="auth",
              summary="Accept an invitation: set your password, which activates your user",
              body=InvitationAcceptBody, response=UserEnvelope, tags=(TAG,))
    async def post(self) -> None:
        body: InvitationAcceptBody = self.parse(InvitationAcceptBody)
        user_id = await auth_links.accept_invitation(self.ctx, token=body.token,
                                                     password=body.password)
        self.ok({"user": await sessions.user_object(self.ctx, user_id)},
                "Invitation accepted")


default_handlers = [
    (r"/api/v1/auth/register/", RegisterHandler),
    (r"/api/v1/auth/login/", LoginHandler),
    (r"/api/v1/auth/refresh/", RefreshHandler),
    (r"/api/v1/auth/change-password/", ChangePasswordHandler),
    (r"/api/v1/auth/me/", MeHandler),
    (r"/api/v1/auth/logout/", LogoutHandler),
    (r"/api/v1/auth/password_reset/", PasswordResetHandler),
    (r"/api/v1/auth/password_reset/confirm/", PasswordResetConfirmHandler),
    (r"/api/v1/auth/invitations/accept/", InvitationAcceptHandler),
]
