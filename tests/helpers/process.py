"""Other processes a test starts: the igny8d command line in a clean environment, a free
port for a server, and the one-line refusals the command line prints."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from tests.helpers.paths import ROOT

GOOD_SECRET = "s" * 40
"""A secret key long enough for `serve` outside debug."""


def clean_env(**extra: str) -> dict[str, str]:
    """The test's environment without any IGNY8_* variable, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IGNY8_")}
    env.pop("DEBUG", None)
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def run_cli(*args: str, cwd: Path, timeout: float = 60, **env: str) -> subprocess.CompletedProcess:
    """`python -m igny8d *args` in `cwd` with `clean_env(**env)`; stdin is no terminal."""
    return subprocess.run([sys.executable, "-m", "igny8d", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=cwd, env=clean_env(**env))


def free_port() -> int:
    """A loopback port free right now (another process may take it before it is bound)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def one_line(stderr: str) -> str:
    """The command line's refusal: exactly one line, `igny8d: ...`, no traceback."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("igny8d: "), lines[0]
    assert "Traceback" not in stderr
    return lines[0]


@contextlib.contextmanager
def serving(cwd: Path, **env: str) -> Iterator[str]:
    """A real `igny8d serve` on a free port and the embedded database in `cwd`, stopped with
    SIGTERM at the end; yields its API base URL (`http://127.0.0.1:PORT/api/v1`)."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "igny8d", "--port", str(port), "--data-dir", str(cwd / "data")],
        cwd=cwd, env=clean_env(IGNY8_BCRYPT_ROUNDS="4", **env),
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, "the server exited"
            try:
                urllib.request.urlopen(f"{base}/system/ping/", timeout=2).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the server did not come up"
                time.sleep(0.2)
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
