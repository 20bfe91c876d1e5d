"""A small Tornado server on a free local port, for the test stand-ins of outside services
(a subclass gives its routes in `_app`)."""

from __future__ import annotations

from typing import Self

from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.web import Application


class LocalServer:
    def __init__(self) -> None:
        self.port = 0
        self._server: HTTPServer | None = None

    def _app(self) -> Application:
        raise NotImplementedError

    async def start(self) -> Self:
        sockets = bind_sockets(0, "127.0.0.1")
        self.port = sockets[0].getsockname()[1]
        self._server = HTTPServer(self._app())
        self._server.add_sockets(sockets)
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            await self._server.close_all_connections()
            self._server = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"
