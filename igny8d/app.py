"""make_app(ctx) builds the Application; serve(settings) runs it until a signal says stop."""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import signal
import socket
from typing import Any

import tornado.web
from tornado import httputil
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.routing import PathMatches, Rule

from igny8d.context import AppContext
from igny8d.handlers import all_routes, api_routes
from igny8d.handlers.base import API404Handler
from igny8d.handlers.docs import AssetHandler
from igny8d.jobs.scheduler import make_scheduler
from igny8d.log import configure_logging, log_request
from igny8d.openapi import build_document
from igny8d.settings import Settings

log = logging.getLogger("igny8d")


class Igny8App(tornado.web.Application):
    """Tornado routes by trying every pattern in order; with a hundred routes that is a
    hundred regex matches per request. Static paths are found in a dict instead, and
    patterns are only tried when the path starts with their literal prefix.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._static: dict[str, Rule] = {}
        self._dynamic: list[tuple[str, Rule]] = []
        for rule in self.wildcard_router.rules:
            matcher = rule.matcher
            if not isinstance(matcher, PathMatches) or not isinstance(rule.target, type):
                continue
            pattern = matcher.regex.pattern.removesuffix("$")
            literal = re.match(r"[\w/.-]*", pattern)
            prefix = literal.group(0) if literal else ""
            if prefix == pattern:
                # First match wins in Tornado: a static path must not be shadowed by an
                # earlier pattern, or the dict would change which handler answers.
                for earlier_prefix, earlier in self._dynamic:
                    if pattern.startswith(earlier_prefix) and earlier.matcher.regex.match(
                            pattern):
                        raise ValueError(f"route {pattern} is shadowed by an earlier pattern")
                self._static.setdefault(pattern, rule)
            else:
                self._dynamic.append((prefix, rule))

    def find_handler(
        self, request: httputil.HTTPServerRequest, **kwargs: Any
    ) -> tornado.web._HandlerDelegate:
        path = request.path
        rule = self._static.get(path)
        if rule is not None:
            return self.get_handler_delegate(request, rule.target, rule.target_kwargs)
        for prefix, rule in self._dynamic:
            if path.startswith(prefix):
                params = rule.matcher.match(request)
                if params is not None:
                    return self.get_handler_delegate(
                        request, rule.target, rule.target_kwargs, **params)
        return super().find_handler(request, **kwargs)


def make_app(ctx: AppContext) -> tornado.web.Application:
    """The testing seam: any number of apps, each on its own context and database."""
    routes = []
    for pattern, handler, kwargs in all_routes():
        extra = kwargs if issubclass(handler, AssetHandler) else {"ctx": ctx, **kwargs}
        routes.append((pattern, handler, extra))
    openapi = functools.cache(lambda: build_document(api_routes(),
                                                     server_url=ctx.settings.public_url))
    return Igny8App(
        routes,
        default_handler_class=API404Handler,
        default_handler_args={"ctx": ctx},
        log_function=log_request,
        cookie_secret=ctx.settings.secret_key,
        openapi=openapi,
        debug=False,
        compress_response=False,
        xsrf_cookies=False,
    )


def server_for(app: tornado.web.Application, settings: Settings) -> HTTPServer:
    # The handler answers 413 itself (streamed bodies); the transport limit is only a backstop.
    return HTTPServer(
        app,
        max_body_size=max(settings.max_body_bytes * 4, 64 * 1024 * 1024),
        idle_connection_timeout=75,
        body_timeout=120,
        xheaders=bool(settings.public_url),
    )


async def prepare_store(ctx: AppContext) -> None:
    """Migrate an embedded database on first serve; a server database must be migrated first."""
    current = await ctx.store.current_revision()
    head = ctx.store.head_revision()
    if current == head:
        return
    if ctx.settings.is_embedded:
        log.info("migrating embedded database", extra={"from": current, "to": head})
        await ctx.store.migrate()
        return
    raise SystemExit(
        f"database is at revision {current or 'none'}, code expects {head}: "
        "run `igny8d migrate` first"
    )


async def run_server(settings: Settings, sockets: list[socket.socket]) -> None:
    """Serve on the given sockets until SIGINT/SIGTERM, then drain and close."""
    ctx = AppContext.build(settings)
    await prepare_store(ctx)
    app = make_app(ctx)
    server = server_for(app, settings)
    server.add_sockets(sockets)
    scheduler = make_scheduler(ctx)
    scheduler.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("igny8d listening", extra={
        "addresses": [s.getsockname()[:2] for s in sockets],
        "database": ctx.store.dialect,
    })
    await stop.wait()
    log.info("shutting down: no new connections, finishing requests in flight")
    server.stop()
    scheduler.shutdown(wait=False)
    await ctx.metrics.drained(grace=30)
    await server.close_all_connections()
    await ctx.close()
    log.info("stopped")


def serve(settings: Settings) -> None:
    """Bind, fork if asked (each process binds its own SO_REUSEPORT socket), and run."""
    settings = settings.with_secret()
    log_dir = settings.data_dir / "log" if settings.log_to_file else None
    configure_logging(level=settings.log_level, log_dir=log_dir,
                      max_bytes=int(settings.log_max_mb * 1024 * 1024),
                      backups=settings.log_backups)
    if settings.is_embedded:
        # Migrate once, before forking, so workers never race on the schema.
        asyncio.run(_migrate_only(settings))
    if settings.workers > 1:
        import tornado.process

        tornado.process.fork_processes(settings.workers, max_restarts=100)
        configure_logging(level=settings.log_level, log_dir=log_dir,
                          max_bytes=int(settings.log_max_mb * 1024 * 1024),
                          backups=settings.log_backups)
    sockets = bind_sockets(settings.port, settings.host, reuse_port=settings.workers > 1)
    asyncio.run(run_server(settings, sockets))


async def _migrate_only(settings: Settings) -> None:
    ctx = AppContext.build(settings)
    try:
        await prepare_store(ctx)
    finally:
        await ctx.close()


__all__: list[Any] = ["make_app", "serve"]
