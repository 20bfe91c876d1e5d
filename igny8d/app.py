"""make_app(ctx) builds the Application; serve(settings) runs it until a signal says stop."""

from __future__ import annotations

import asyncio
import errno
import functools
import logging
import re
import signal
import socket
import sys
import tempfile
from typing import Any, TextIO

import tornado.process
import tornado.web
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from tornado import httputil
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.routing import PathMatches, Rule

from igny8d import __version__, mail
from igny8d.context import AppContext
from igny8d.handlers import all_routes, api_routes
from igny8d.handlers import metrics as metrics_handlers
from igny8d.handlers.base import API404Handler
from igny8d.handlers.docs import AssetHandler
from igny8d.handlers.fallback import FallbackHandler, fallback_target
from igny8d.jobs import watch
from igny8d.log import configure_logging, log_request
from igny8d.metrics import ROUTE_ATTR
from igny8d.openapi import build_document, path_template
from igny8d.scheduler import make_scheduler, stop_scheduler
from igny8d.sentry import close_sentry, init_sentry
from igny8d.settings import Settings, StartupError

log = logging.getLogger("igny8d")


class Igny8App(tornado.web.Application):
    """Tornado routes by trying every pattern in order; with a hundred routes that is a
    hundred regex matches per request. Static paths are found in a dict instead, and
    patterns are only tried when the path starts with their literal prefix.

    The matched route's template (`/api/v1/planner/keywords/{id}/`, as the OpenAPI document
    names it) is left on the request for the request metrics; a request no route matched
    has none (`<unmatched>`).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._static: dict[str, Rule] = {}
        self._dynamic: list[tuple[str, Rule]] = []
        self._templates: dict[int, str] = {}
        for rule in self.wildcard_router.rules:
            matcher = rule.matcher
            if not isinstance(matcher, PathMatches) or not isinstance(rule.target, type):
                continue
            pattern = matcher.regex.pattern.removesuffix("$")
            self._templates[id(rule)] = path_template(pattern)
            literal = re.match(r"[\w/.-]*", pattern)
            prefix = literal.group(0) if literal else ""
            if prefix == pattern:
                # First match wins in Tornado: a static path must not be shadowed by an
                # earlier pattern, or the dict would change which handler answers.
                for earlier_prefix, earlier in self._dynamic:
                    earlier_matcher = earlier.matcher
                    assert isinstance(earlier_matcher, PathMatches)
                    if pattern.startswith(earlier_prefix) and earlier_matcher.regex.match(
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
            setattr(request, ROUTE_ATTR, self._templates[id(rule)])
            return self.get_handler_delegate(request, rule.target, rule.target_kwargs)
        for prefix, rule in self._dynamic:
            if path.startswith(prefix):
                params = rule.matcher.match(request)
                if params is not None:
                    setattr(request, ROUTE_ATTR, self._templates[id(rule)])
                    return self.get_handler_delegate(
                        request, rule.target, rule.target_kwargs, **params)
        target = fallback_target(path, self.routes)
        if target is not None:
            redirect_to, permanent = target
            return self.get_handler_delegate(request, FallbackHandler, {
                **self.settings.get("default_handler_args", {}),
                "redirect_to": redirect_to, "permanent": permanent})
        return super().find_handler(request, **kwargs)

    def routes(self, path: str) -> bool:
        """Whether a request for `path` would reach a route (any method)."""
        if path in self._static:
            return True
        for prefix, rule in self._dynamic:
            matcher = rule.matcher
            assert isinstance(matcher, PathMatches)
            if path.startswith(prefix) and matcher.regex.match(path):
                return True
        return False


def make_app(ctx: AppContext) -> tornado.web.Application:
    """The testing seam: any number of apps, each on its own context and database."""
    routes = []
    for pattern, handler, kwargs in all_routes():
        extra = kwargs if issubclass(handler, AssetHandler) else {"ctx": ctx, **kwargs}
        routes.append((pattern, handler, extra))
    # Not an API endpoint (no envelope, not in the document): see handlers/metrics.py.
    for pattern, handler in metrics_handlers.default_handlers:
        routes.append((pattern, handler, {"ctx": ctx}))
    openapi = functools.cache(lambda: build_document(
        api_routes(), server_url=ctx.settings.public_url,
        rates=ctx.settings.rate_overrides(), max_body_mb=ctx.settings.max_body_mb))
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
        # X-Forwarded-* only from configured proxies: public_url alone let any client name
        # its own address and dodge the throttles. The handler base checks the peer is one.
        xheaders=bool(settings.trusted_proxies),
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
    raise StartupError(
        f"database is at revision {current or 'none'}, code expects {head}: "
        "run `igny8d migrate` first"
    )


async def run_server(settings: Settings, sockets: list[socket.socket]) -> None:
    """Serve on the given sockets until SIGINT/SIGTERM, then drain and close."""
    ctx = AppContext.build(settings)
    await prepare_store(ctx)
    if init_sentry(settings):
        log.info("sentry error reporting on", extra={"environment": settings.sentry_environment})
    # A signal is a graceful stop from the first request on: handlers before listening.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    app = make_app(ctx)
    server = server_for(app, settings)
    server.add_sockets(sockets)
    scheduler = make_scheduler(ctx)
    scheduler.start()
    # Reaps what a killed predecessor left (expired leases, dead local owners), then starts
    # the workers.
    await ctx.executor.start()
    log.info("igny8d listening", extra={
        "addresses": [s.getsockname()[:2] for s in sockets],
        "database": ctx.store.dialect,
    })
    say_where(settings, sockets)
    await stop.wait()
    log.info("shutting down: no new connections, finishing requests and job steps in flight")
    server.stop()
    scheduler.pause()
    await drain(ctx, server)
    await stop_scheduler(scheduler)  # housekeeping in flight ends before the store closes
    await ctx.close()
    close_sentry()
    log.info("stopped")


#: What the README promises a stop waits for requests in flight.
SHUTDOWN_GRACE_S = 30.0
#: Of that, what running jobs get before they are given back to the queue (the rest is for
#: giving them back: a write each).
JOB_GRACE_S = 25.0


#: How long a stop waits for mails still being sent (an SMTP server may be slow).
MAIL_GRACE_S = 10.0


async def drain(ctx: AppContext, server: HTTPServer, grace: float = SHUTDOWN_GRACE_S) -> None:
    """Let every handler (also those whose client has gone) and every running job step end,
    side by side, within `grace`; only then may the store close under them. Jobs still
    running after their share go back to PENDING for the next process."""
    watch.drain()  # long-polls and event streams answer now: they wait, they do not work
    jobs = asyncio.create_task(ctx.executor.stop(grace=min(JOB_GRACE_S, grace)))
    if not await ctx.metrics.drained(grace=grace):
        log.warning("requests still running after the shutdown grace",
                    extra={"inflight": ctx.metrics.inflight, "grace_s": grace})
    await jobs
    await server.close_all_connections()
    # a request that came in on a kept-alive connection meanwhile ends before the store does
    await ctx.metrics.drained(grace=2)
    # mails queued after their answers (reset and invitation links) go out, or are logged
    try:
        await asyncio.wait_for(mail.drain(), timeout=MAIL_GRACE_S)
    except TimeoutError:
        log.warning("mails still sending after the shutdown grace",
                    extra={"grace_s": MAIL_GRACE_S})


def say_where(settings: Settings, sockets: list[socket.socket],
              stream: TextIO | None = None) -> None:
    """One line for a person at a terminal (the JSON log lines are for machines): where the
    server listens and where its docs are. Not written when stderr is a file or a pipe, and
    only by the first of several workers."""
    stream = stream or sys.stderr
    if not stream.isatty() or tornado.process.task_id() not in (None, 0):
        return
    stream.write(startup_line(settings, sockets) + "\n")
    stream.flush()


#: Wildcard listening addresses, and the loopback a browser on this machine opens instead.
_WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "[::1]"}  # noqa: S104 - names them, binds nothing


def startup_line(settings: Settings, sockets: list[socket.socket]) -> str:
    """`igny8d 0.1.0 listening on http://127.0.0.1:8000 — docs: …/api/docs/ (Swagger UI),
    …/api/redoc/ (ReDoc); Ctrl-C stops it`. A wildcard address is shown as the loopback a
    browser on this machine can open; public_url, when set, is where the docs are."""
    host, port = sockets[0].getsockname()[:2] if sockets else (settings.host, settings.port)
    shown = _WILDCARDS.get(host, f"[{host}]" if ":" in host else host)
    base = f"http://{shown}:{port}"
    docs = (settings.public_url or base).rstrip("/")
    everywhere = " (all addresses)" if host in _WILDCARDS else ""
    return (f"igny8d {__version__} listening on {base}{everywhere} — docs: {docs}/api/docs/ "
            f"(Swagger UI), {docs}/api/redoc/ (ReDoc); Ctrl-C stops it")


def serve(settings: Settings) -> None:
    """Bind, fork if asked (each process binds its own SO_REUSEPORT socket), and run.

    Everything that can refuse to start is checked here, before forking, so it surfaces as
    one StartupError line (exit 2) instead of a traceback in each worker.
    """
    settings.require_shared_secret()
    check_data_dir(settings)
    # A taken port is the commonest refusal: find out before migrating or forking anything.
    sockets = bind(settings)
    if settings.workers > 1:
        for sock in sockets:  # each worker binds its own SO_REUSEPORT socket after the fork
            sock.close()
    settings = settings.with_secret()
    log_dir = settings.data_dir / "log" if settings.log_to_file else None
    configure_logging(level=settings.log_level, log_dir=log_dir,
                      max_bytes=int(settings.log_max_mb * 1024 * 1024),
                      backups=settings.log_backups)
    # Migrate an embedded database once, before forking, so workers never race on the schema;
    # a server database must already be at head.
    asyncio.run(_migrate_only(settings))
    if settings.workers > 1:
        tornado.process.fork_processes(settings.workers, max_restarts=100)
        configure_logging(level=settings.log_level, log_dir=log_dir,
                          max_bytes=int(settings.log_max_mb * 1024 * 1024),
                          backups=settings.log_backups)
        sockets = bind(settings)
    use_event_loop(settings.event_loop)
    asyncio.run(run_server(settings, sockets))


def use_event_loop(choice: str) -> str:
    """uvloop when asked or, with `auto`, when installed: its C event loop takes a share of
    the per-request cost off a Python HTTP stack. Returns the loop that will run."""
    if choice == "asyncio":
        return "asyncio"
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise StartupError("event_loop is uvloop but uvloop is not installed: "
                               "pip install uvloop, or set IGNY8_EVENT_LOOP=auto") from None
        return "asyncio"
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return "uvloop"


def check_data_dir(settings: Settings) -> None:
    """The data dir must be a writable directory when anything lives in it."""
    if not (settings.is_embedded or not settings.secret_key or settings.log_to_file):
        return
    path = settings.data_dir
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        reason = exc.strerror or exc.__class__.__name__
        raise StartupError(
            f"data dir {path} is not usable ({reason}): choose a writable directory with "
            "--data-dir or IGNY8_DATA_DIR") from None


def bind(settings: Settings) -> list[socket.socket]:
    """Listening sockets for host:port, with the usual refusals said in one line."""
    where = f"{settings.host}:{settings.port}"
    try:
        return bind_sockets(settings.port, settings.host, reuse_port=settings.workers > 1)
    except socket.gaierror as exc:
        raise StartupError(f"cannot listen on {where}: {settings.host!r} is not a known host "
                           f"({exc.strerror}); fix --host or IGNY8_HOST") from None
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            hint = ("the port is already in use (another igny8d?): stop that program or "
                    "choose another --port / IGNY8_PORT")
        elif exc.errno == errno.EADDRNOTAVAIL:
            hint = (f"{settings.host} is not an address of this machine: use 127.0.0.1, "
                    "0.0.0.0 (all addresses) or one of its own with --host / IGNY8_HOST")
        elif exc.errno == errno.EACCES:
            hint = ("permission denied (ports below 1024 need privileges): choose a port "
                    "above 1023 with --port / IGNY8_PORT")
        else:
            hint = f"{exc.strerror or exc}; check --host and --port"
        raise StartupError(f"cannot listen on {where}: {hint}") from None


async def _migrate_only(settings: Settings) -> None:
    ctx = AppContext.build(settings)
    try:
        await prepare_store(ctx)
    except (OSError, SQLAlchemyError) as exc:
        if settings.is_embedded:
            raise
        raise StartupError(f"cannot use the database {_safe_url(settings)}: "
                           f"{_first_line(exc)}; check IGNY8_DATABASE_URL and that the "
                           "server is running") from None
    finally:
        await ctx.close()


def _safe_url(settings: Settings) -> str:
    return make_url(settings.effective_database_url).render_as_string(hide_password=True)


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip() or exc.__class__.__name__
    return text.splitlines()[0]


__all__: list[Any] = ["make_app", "serve"]
