"""igny8d serve | migrate | createsuperuser | openapi | console — settings are loaded and checked
here (the console needs none: it is a client of a server's HTTP API)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from igny8d import __version__
from igny8d.settings import Settings, SettingsError, load_settings, unknown_variables


class UsageError(SettingsError):
    """A command's input is missing or wrong: one line and exit code 2, like a bad setting."""


def _readme() -> str:
    """Where `--help` sends a reader for everything a screen cannot hold: the clone's
    README.md by its path when there is one (an editable install), else its name."""
    path = Path(__file__).resolve().parent.parent / "README.md"
    return str(path) if path.is_file() else "README.md in the igny8d source"


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, help="TOML settings file (or IGNY8_CONFIG)")
    common.add_argument("--host", help="address to listen on (IGNY8_HOST)")
    common.add_argument("--port", type=int, help="port (IGNY8_PORT)")
    common.add_argument("--workers", type=int, help="processes (IGNY8_WORKERS)")
    common.add_argument("--data-dir", type=Path, help="data directory (IGNY8_DATA_DIR)")
    common.add_argument("--database-url", help="SQLAlchemy URL (IGNY8_DATABASE_URL)")
    common.add_argument("--db", help="shorthand: a SQLite file path or a database URL")
    common.add_argument("--debug", action="store_true", default=None, help="debug mode")
    parser = argparse.ArgumentParser(
        prog="igny8d", description="IGNY8 API v1 server. With no command, `serve`.",
        epilog=_serve_flags(common), formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"igny8d {__version__}")
    parser.add_argument("--config", type=Path, help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve", parents=[common], help="run the HTTP server (default)")
    sub.add_parser("migrate", parents=[common], help="apply database migrations")
    su = sub.add_parser("createsuperuser", parents=[common], help="create an operator")
    su.add_argument("--email", required=False)
    su.add_argument("--username")
    su.add_argument("--password", help="or IGNY8_SUPERUSER_PASSWORD, else prompted")
    sub.add_parser("openapi", parents=[common], help="print the OpenAPI document")
    console = sub.add_parser("console", help="open the operator console (a Textual app)")
    console.add_argument("--url", default="http://127.0.0.1:8000",
                         help="the server's base URL (default http://127.0.0.1:8000)")
    console.add_argument("--email", default="", help="the operator's email (asked otherwise)")
    return parser


def _serve_flags(common: argparse.ArgumentParser) -> str:
    """The top-level help's epilog: the serve flags (the command a new user runs first, and
    the default), then where the rest is written down."""
    serve = argparse.ArgumentParser(prog="igny8d serve", parents=[common], add_help=False,
                                    usage=argparse.SUPPRESS)
    flags = serve.format_help().strip().splitlines()
    flags = [line for line in flags if not line.rstrip().endswith(":")]
    return ("serve flags (every command takes them; each has an IGNY8_* variable):\n"
            + "\n".join(flags)
            + "\n\nexamples:\n"
            "  igny8d --port 8001              serve on 127.0.0.1:8001\n"
            "  IGNY8_PORT=8001 make run        the same, from a clone\n"
            "  igny8d createsuperuser --email ops@example.com\n"
            "  igny8d <command> --help         one command's flags\n\n"
            f"Settings, the config file, throttles, the AI pipeline: {_readme()}\n"
            "The API itself, once serving: http://127.0.0.1:8000/api/docs/")


def _settings(args: argparse.Namespace) -> Settings:
    db = getattr(args, "db", None)
    url = getattr(args, "database_url", None)
    if db and not url:
        url = db if "://" in db else f"sqlite+aiosqlite:///{Path(db).resolve()}"
    return load_settings(
        getattr(args, "config", None),
        host=getattr(args, "host", None), port=getattr(args, "port", None),
        workers=getattr(args, "workers", None), data_dir=getattr(args, "data_dir", None),
        database_url=url, debug=getattr(args, "debug", None),
    )


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    known = {"serve", "migrate", "createsuperuser", "openapi", "console"}
    if not any(a in known for a in argv) and not {"-h", "--help", "--version"} & set(argv):
        argv = ["serve", *argv]  # `igny8d --port 8000` means serve
    args = _parser().parse_args(argv)
    if args.command == "console":
        _console(args.url, args.email)
        return
    for warning in unknown_variables():
        print(f"igny8d: warning: {warning}", file=sys.stderr)
    try:
        settings = _settings(args)
        if args.command == "migrate":
            asyncio.run(_migrate(settings))
        elif args.command == "createsuperuser":
            email, password = _superuser_credentials(args)
            asyncio.run(_createsuperuser(settings, email, password, args.username))
        elif args.command == "openapi":
            from igny8d.handlers import api_routes
            from igny8d.openapi import build_document

            _print_to_pipe(json.dumps(build_document(
                api_routes(), server_url=settings.public_url,
                rates=settings.rate_overrides(), max_body_mb=settings.max_body_mb), indent=2))
        else:
            from igny8d.app import serve

            serve(settings)
    except SettingsError as exc:
        print(f"igny8d: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None


def _print_to_pipe(text: str) -> None:
    """Print `text`; a reader that stops early (`igny8d openapi | head`) ends the command
    quietly, as it would any Unix filter, with SIGPIPE's exit status and no traceback."""
    try:
        print(text)
        sys.stdout.flush()
    except BrokenPipeError:
        # Python's documented recipe: point stdout at devnull so the flush at exit does not
        # raise again, then leave.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise SystemExit(128 + signal.SIGPIPE) from None


def _console(url: str, email: str) -> None:
    """The console talks to a server over HTTP only: it needs no settings, and it is
    imported here, late, so the server itself never loads Textual."""
    try:
        from tui.app import run
    except ImportError as exc:  # pragma: no cover - textual is an install requirement
        print(f"igny8d: the console needs textual and httpx: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    run(url, email)


async def _migrate(settings: Settings) -> None:
    from igny8d.context import AppContext

    ctx = AppContext.build(settings)
    try:
        before = await ctx.store.current_revision()
        await ctx.store.migrate()
        after = await ctx.store.current_revision()
        print(f"database migrated: {before or 'empty'} -> {after}")
    finally:
        await ctx.close()


def _superuser_credentials(args: argparse.Namespace) -> tuple[str, str]:
    """Email and password from flags, environment, or a prompt when there is a terminal.

    Both are checked by register's own rules, so an operator cannot get an address or a
    password that the API would refuse.
    """
    from igny8d.schemas.auth import _email, _password

    interactive = sys.stdin.isatty()
    email = args.email or os.environ.get("IGNY8_SUPERUSER_EMAIL")
    if not email:
        if not interactive:
            raise UsageError("createsuperuser needs an email: pass --email or set "
                             "IGNY8_SUPERUSER_EMAIL (no terminal to ask on)")
        email = _prompt_until_valid(lambda: _ask(input, "Email: "), _email, "invalid email")
    try:
        email = _email(email)
    except ValueError as exc:
        raise UsageError(f"invalid email {email!r}: {exc}") from None
    password = args.password or os.environ.get("IGNY8_SUPERUSER_PASSWORD")
    if not password:
        if not interactive:
            raise UsageError("createsuperuser needs a password: pass --password or set "
                             "IGNY8_SUPERUSER_PASSWORD (no terminal to ask on)")
        return email, _prompt_until_valid(_ask_password, _password, "invalid password")
    try:
        password = _password(password)
    except ValueError as exc:
        raise UsageError(f"invalid password: {exc}") from None
    return email, password


def _ask_password() -> str:
    password = _ask(getpass.getpass, "Password: ")
    if password != _ask(getpass.getpass, "Password (again): "):
        raise ValueError("the two passwords do not match")
    return password


def _prompt_until_valid(ask: Callable[[], str], check: Callable[[str], str], what: str) -> str:
    """Ask until the answer passes register's rule, saying each time why it did not (as
    Django's createsuperuser does): a typo at a prompt should not mean starting over. Ctrl-D
    ends it (`_ask`)."""
    while True:
        try:
            return check(ask())
        except ValueError as exc:
            print(f"{what}: {exc}; try again (Ctrl-D to stop)", file=sys.stderr)


def _ask(prompt: Callable[[str], str], text: str) -> str:
    """A prompt whose end of input (Ctrl-D, closed stdin) is a sentence, not an EOFError."""
    try:
        return prompt(text)
    except EOFError:
        raise UsageError("no input: pass --email and --password instead") from None


async def _createsuperuser(
    settings: Settings, email: str, password: str, username: str | None
) -> None:
    from igny8d.app import prepare_store
    from igny8d.context import AppContext
    from igny8d.services.operators import create_superuser
    from igny8d.store.errors import UniqueViolation

    ctx = AppContext.build(settings)
    try:
        await prepare_store(ctx)
        password_hash = await ctx.hasher.hash(password)
        async with ctx.store.begin() as conn:
            made = await create_superuser(conn, email=email, username=username,
                                          password_hash=password_hash)
    except UniqueViolation as exc:
        sentences = [m for messages in (exc.errors or {}).values() for m in messages]
        raise UsageError("cannot create superuser: "
                         + " ".join(sentences or [exc.error])) from None
    finally:
        await ctx.close()
    user, account = made["user"], made["account"]
    how = "new account" if made["account_created"] else "existing account"
    print(f"superuser {user['email']} created (id {user['id']}; {how} "
          f"{account['name']!r}, id {account['id']})")
