"""Other processes a test starts: the igny8d command line in a clean environment, a free
port for a server, and the one-line refusals the command line prints."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
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
