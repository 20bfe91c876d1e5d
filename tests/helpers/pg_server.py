"""A throwaway PostgreSQL server a test may stop, kill and start again: `initdb` into a
temporary folder as an unprivileged user (the server refuses to run as root), `pg_ctl` on a
free port. Skips with the reason where the machine has no PostgreSQL binaries.
`migrated_pg` is the fixtures' whole life of one: started, migrated, destroyed."""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.app import migrate
from tests.helpers.process import free_port


def _bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _user() -> str | None:
    """Whom to run the server as: ourselves unless root, else the `postgres` system user."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("running as root and no `postgres` user to run a throwaway server as")
    return "postgres"


class PgServer:
    """One server in its own data folder; `url` is its `postgres` database over asyncpg."""

    def __init__(self) -> None:
        bindir = _bindir()
        if bindir is None:
            pytest.skip("no PostgreSQL binaries (initdb) on this machine")
        self.bindir = bindir
        self.user = _user()
        self.root = Path(tempfile.mkdtemp(prefix="igny8d-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        if self.user is not None:
            shutil.chown(self.root, self.user)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres",
                  "--no-sync", "-E", "UTF8")
        self.url = f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        cmd = [str(self.bindir / tool), *args]
        if self.user is not None:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=60, cwd=self.root)

    def start(self) -> None:
        opts = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                "-c fsync=off -c full_page_writes=off")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-o", opts,
                  "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        """`fast`: clients are disconnected, the server shuts down cleanly; `immediate`:
        as a killed server (no shutdown checkpoint)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def migrated_pg() -> Iterator[PgServer]:
    """A throwaway server, started and migrated to the head; destroyed at the end (a test's
    `pg` fixture yields from it)."""
    server = PgServer()
    try:  # a start or a migration that fails must not leave the server running either
        server.start()
        asyncio.run(migrate(server.url))
        yield server
    finally:
        server.destroy()
