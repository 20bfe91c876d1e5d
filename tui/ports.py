"""What a screen may reach of the app it runs in: the admin client and the live-refresh state.

Screens read the app through the `Console` protocol, never through `ConsoleApp` (`tui/app.py`
imports the screens, not the reverse), and tell it things with `tell_app`, as the events of
`tui/messages.py`.
"""

from __future__ import annotations

from typing import Protocol, cast

from textual.dom import DOMNode
from textual.message import Message

from tui.client import AdminClient


class Console(Protocol):
    """The app as a screen sees it (`ConsoleApp` implements it)."""

    @property
    def api(self) -> AdminClient:
        """The operator's client; raises `tui.errors.SessionEnded` when no one is logged in."""

    @property
    def offline(self) -> bool:
        """The server stopped answering: loads wait until the reconnect loop gets through."""

    @property
    def paused(self) -> bool:
        """The server throttled this operator: live refreshes wait for its Retry-After."""


def console(node: DOMNode) -> Console:
    """The app `node` runs in, seen through the `Console` protocol."""
    return cast("Console", node.app)


def tell_app(node: DOMNode, message: Message) -> None:
    """Post a `tui.messages` event straight to the app's queue rather than up the DOM.

    Bubbling takes one hop per ancestor, so a tab's event could arrive after a dialog's later
    one; straight to the app they are handled in the order they happened (the first reason a
    session ended is the one the login screen shows).
    """
    node.app.post_message(message)
