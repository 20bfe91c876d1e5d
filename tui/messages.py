"""The events screens and workers post, and the app handles: the session and the server's state.

A screen never calls the app for these: it posts one of them to the app's queue
(`tui.ports.tell_app`) and `ConsoleApp`, which owns the session, the banner and the
reconnect loop, handles it. Each is a past-tense fact (toolong `messages.py`). Only `Throttled`
collapses a burst (`can_replace`): for the others the first one says why (a session's later
calls only learn "Not logged in."), so none may replace it.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from tui.client import AdminClient


@dataclass
class LoggedIn(Message):
    """An operator logged in: the app keeps the client and opens the main screen."""

    client: AdminClient
    """The logged-in client (its tokens, its user, its server)."""


@dataclass
class ServerUnreachable(Message):
    """A call found no server: the app shows the banner and starts the reconnect loop."""

    message: str
    """Why, in a sentence (`cannot reach http://box: connection refused`)."""


@dataclass
class SessionEnded(Message):
    """The server no longer takes the session's tokens: the app returns to the login screen."""

    message: str
    """The reason the login screen shows (`The server ended this session: log in again.`)."""


@dataclass
class Throttled(Message):
    """The server answered 429: the app pauses live refreshes for `retry_after` seconds."""

    retry_after: float
    """Seconds the server asked us to wait (its Retry-After)."""

    def can_replace(self, message: Message) -> bool:
        # A later 429 that asks for at least as long says all this one says.
        return isinstance(message, Throttled) and message.retry_after >= self.retry_after


@dataclass
class Reconnected(Message):
    """The reconnect loop's probe was answered: the app clears the banner, reloads every tab."""

    url: str
    """The server that answers again."""
