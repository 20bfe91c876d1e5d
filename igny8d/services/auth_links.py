"""Password resets and invitations: one-time links whose secret only the recipient holds.

The database keeps the secret's sha256 (a leaked table opens no account). A link is mailed
when SMTP is configured; otherwise it is logged as pending (without the secret, which the log
must not carry) and a superuser hands it over: the admin API lists pending links and
reissues one, answering with the fresh link (`reissue`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d import mail
from igny8d.errors import NotFound, ValidationFailed
from igny8d.services.base import Deps
from igny8d.settings import Settings
from igny8d.store import auth_tokens as store
from igny8d.store import users as user_store
from igny8d.store.writes import now

log = logging.getLogger("igny8d.auth")

RESET = "password_reset"
INVITATION = "invitation"
PURPOSES = (RESET, INVITATION)
#: the page of the web app (at public_url) that takes each kind of link
_PAGES = {RESET: "/reset-password", INVITATION: "/accept-invitation"}
_SUBJECTS = {RESET: "Reset your igny8 password", INVITATION: "You are invited to igny8"}
_TEXT = {
    RESET: "Someone asked to reset the password of {email}. To choose a new one, open\n\n"
           "{link}\n\nwithin {ttl}. If it was not you, ignore this message.\n",
    INVITATION: "You have been invited to igny8 as {email}. To set your password and start, "
                "open\n\n{link}\n\nwithin {ttl}.\n",
}
BAD_TOKEN = "Invalid or expired token."


@dataclass(frozen=True, slots=True)
class Issued:
    """A link just made: the secret exists only here, never in the database."""

    token_id: int
    user_id: int
    email: str
    purpose: str
    link: str
    ttl: str


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def link_for(settings: Settings, purpose: str, secret: str) -> str:
    base = (settings.public_url or f"http://{settings.host}:{settings.port}").rstrip("/")
    return f"{base}{_PAGES[purpose]}?token={secret}"


def _ttl(settings: Settings, purpose: str) -> dt.timedelta:
    if purpose == RESET:
        return dt.timedelta(minutes=settings.reset_token_minutes)
    return dt.timedelta(days=settings.invite_token_days)


def _ttl_text(delta: dt.timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes % 1440 == 0:
        return f"{minutes // 1440} day(s)"
    return f"{minutes} minutes"


async def issue(conn: AsyncConnection, settings: Settings, *, user_id: int, email: str,
                purpose: str) -> Issued:
    """A new link in the caller's transaction; the user's earlier one of this kind is void."""
    secret = secrets.token_urlsafe(32)
    ttl = _ttl(settings, purpose)
    token_id = await store.issue(conn, user_id=user_id, purpose=purpose,
                                 token_hash=digest(secret), expires_at=now() + ttl)
    return Issued(token_id, user_id, email, purpose, link_for(settings, purpose, secret),
                  _ttl_text(ttl))


async def deliver(deps: Deps, issued: Issued) -> bool:
    """Mail the link when SMTP is configured; else log it as pending for the operators."""
    if not mail.configured(deps.settings):
        log.info("%s link %s for user %s pending: SMTP is not configured (a superuser "
                 "reissues it at /api/v1/admin/auth_links/)", issued.purpose, issued.token_id,
                 issued.user_id)
        return False
    sent = await mail.send(
        deps.settings, to=issued.email, subject=_SUBJECTS[issued.purpose],
        body=_TEXT[issued.purpose].format(email=issued.email, link=issued.link,
                                          ttl=issued.ttl))
    if sent:
        async with deps.store.begin() as conn:
            await store.mark_mailed(conn, issued.token_id)
    return sent


def deliver_later(deps: Deps, issued: Issued) -> None:
    mail.in_background(deliver(deps, issued))


async def request_reset(deps: Deps, email: str) -> None:
    """Issue and mail a reset link to an active user. The caller learns nothing: an unknown
    or inactive address does the same reads and hashing and answers the same; the mail goes
    out after the answer."""
    async with deps.store.read() as conn:
        user = await user_store.find_user_by_email(conn, email)
    if user is None or not user.is_active:
        digest(secrets.token_urlsafe(32))  # the work a real link costs, for similar timing
        return
    async with deps.store.begin() as conn:
        issued = await issue(conn, deps.settings, user_id=user.id, email=user.email,
                             purpose=RESET)
    deliver_later(deps, issued)


def _bad_token() -> ValidationFailed:
    return ValidationFailed(errors={"token": [BAD_TOKEN]})


async def confirm_reset(deps: Deps, *, token: str, new_password: str) -> int:
    """Spend the link and set the password; every session of the user ends (as with
    change-password). Hashing comes first: no transaction waits on bcrypt."""
    new_hash = await deps.hasher.hash(new_password)
    async with deps.store.begin() as conn:
        user_id = await store.spend(conn, purpose=RESET, token_hash=digest(token))
        if user_id is None:
            raise _bad_token()
        user = await user_store.get_user(conn, user_id)
        if user is None or not user.is_active:
            raise _bad_token()  # deactivated since: the link dies with the rollback
        await user_store.set_password(conn, user_id, new_hash)
    return user_id


async def accept_invitation(deps: Deps, *, token: str, password: str) -> int:
    """Spend the invitation, set the invitee's password and activate them."""
    new_hash = await deps.hasher.hash(password)
    async with deps.store.begin() as conn:
        user_id = await store.spend(conn, purpose=INVITATION, token_hash=digest(token))
        if user_id is None:
            raise _bad_token()
        await user_store.set_password(conn, user_id, new_hash)
        await user_store.touch_user(conn, user_id, is_active=True, updated_at=now())
    return user_id


# -- operators ------------------------------------------------------------------------------


def _pending(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "mailed": row["mailed_at"] is not None}


async def list_pending(conn: AsyncConnection, *, purpose: str | None, offset: int = 0,
                       limit: int = 10) -> tuple[int, list[dict[str, Any]]]:
    count, rows = await store.pending(conn, purpose=purpose, offset=offset, limit=limit)
    return count, [_pending(r) for r in rows]


async def get_pending(conn: AsyncConnection, token_id: int) -> dict[str, Any]:
    """One live link as `list_pending` shows it; 404 when it is not live."""
    row = await store.get_pending(conn, token_id)
    if row is None:
        raise NotFound("No pending link with this id.")
    return _pending(row)


async def reissue(conn: AsyncConnection, settings: Settings, token_id: int) -> Issued:
    """A pending link's replacement, for an operator to hand over (the old one is void):
    the only way to see a secret again, since none is stored."""
    row = await get_pending(conn, token_id)
    return await issue(conn, settings, user_id=int(row["user_id"]), email=str(row["email"]),
                       purpose=str(row["purpose"]))
