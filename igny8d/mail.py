"""Mail out over SMTP with the standard library (smtplib in a worker thread).

Only what the auth flows need: one plain-text message to one address. A failure is logged
and reported to the caller, never raised into a request: the link stays pending and an
operator can still hand it over (`GET /api/v1/admin/auth_links/`).
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from collections.abc import Coroutine
from email.message import EmailMessage
from typing import Any

from igny8d.settings import Settings

log = logging.getLogger("igny8d.mail")

#: sends still under way (a task nobody holds may be collected before it runs)
_pending: set[asyncio.Task[Any]] = set()


def configured(settings: Settings) -> bool:
    return bool(settings.smtp_host)


def _send_sync(settings: Settings, message: EmailMessage) -> None:
    assert settings.smtp_host
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=30) as smtp:
        if settings.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context())
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password or "")
        smtp.send_message(message)


async def send(settings: Settings, *, to: str, subject: str, body: str) -> bool:
    """Send one message; False (and a log line) when SMTP is not configured or refused it."""
    if not configured(settings):
        return False
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    try:
        await asyncio.to_thread(_send_sync, settings, message)
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("mail to %s not sent: %s", to, exc)
        return False
    return True


def in_background(work: Coroutine[Any, Any, Any]) -> None:
    """Run a send after the answer: a request never waits on the mail server (and an
    unknown address answers as fast as a known one)."""
    task = asyncio.get_running_loop().create_task(work)
    _pending.add(task)
    task.add_done_callback(_pending.discard)


async def drain() -> None:
    """Wait for the sends under way (tests; a graceful stop)."""
    while _pending:
        await asyncio.gather(*list(_pending), return_exceptions=True)
