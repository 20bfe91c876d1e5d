"""A local SMTP server (aiosmtpd, in its own thread) that keeps what it receives."""

from __future__ import annotations

import asyncio
import email
import re
import socket
import time
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller

from igny8d import mail


class Inbox:
    """aiosmtpd's handler: every message, parsed."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.original_content))
        return "250 Message accepted for delivery"

    async def wait(self, count: int, timeout: float = 10.0) -> list[Message]:
        """The first `count` messages, once the app's background sends are done."""
        deadline = time.monotonic() + timeout
        await mail.drain()
        while len(self.messages) < count:
            assert time.monotonic() < deadline, f"{len(self.messages)} of {count} mails came"
            await asyncio.sleep(0.02)
        return self.messages[:count]


def start_smtp() -> tuple[Controller, Inbox]:
    """A server on a free loopback port (`controller.port`)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, inbox


TOKEN = re.compile(r"\?token=([A-Za-z0-9_-]+)")


def token_in(message: Message) -> str:
    body = message.get_payload(decode=True)
    assert isinstance(body, bytes)
    found = TOKEN.search(body.decode())
    assert found, body
    return found.group(1)
