"""What a path no route matched gets: `/` leads a browser to the docs, and a path typed
without its trailing slash is sent to the slashed one (Django's APPEND_SLASH) when that path
exists. Everything else stays the enveloped 404."""

from __future__ import annotations

import uuid
from typing import Any

from igny8d.context import AppContext
from igny8d.errors import NotFound
from igny8d.handlers.base import API404Handler
from igny8d.log import request_id_var

#: Where `GET /` leads: the Swagger UI page served by this process.
DOCS_PATH = "/api/docs/"


class FallbackHandler(API404Handler):
    """`redirect_to` is a path the app does route. GET and HEAD are redirected there, the
    query string kept; other methods get the 404 naming that path, since clients turn a
    redirected POST into a GET (301/302) or would resend a body to a path they never meant."""

    def initialize(self, ctx: AppContext, redirect_to: str = "", permanent: bool = True,
                   **kwargs: Any) -> None:
        super().initialize(ctx, **kwargs)
        self.redirect_to = redirect_to
        self.permanent = permanent

    async def prepare(self) -> None:
        self.request_id = self._incoming_request_id() or str(uuid.uuid4())
        request_id_var.set(self.request_id)
        self.set_header("X-Request-ID", self.request_id)
        if self.request.method in ("GET", "HEAD"):
            query = self.request.query
            self.clear_header("Content-Type")  # no body: not a JSON answer
            self.redirect(self.redirect_to + (f"?{query}" if query else ""),
                          permanent=self.permanent)
            return
        self._refuse(NotFound(f"Not found: did you mean {self.redirect_to} "
                              "(with the trailing slash)?"))


def fallback_target(path: str, routes: Any) -> tuple[str, bool] | None:
    """Where an unmatched `path` should lead, and whether permanently; None: a plain 404.

    `routes(path)` says whether the app routes a path.
    """
    if path == "/":
        return DOCS_PATH, False
    if not path.endswith("/") and routes(path + "/"):
        return path + "/", True
    return None
