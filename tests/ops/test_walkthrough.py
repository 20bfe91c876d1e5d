"""Item 1 of issue 16: docs/pipeline-walkthrough.sh runs twice in a row against one server (the
second run used to poll task_progress/null/ forever), and stops with a message on a non-2xx."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.paths import ROOT
from tests.helpers.process import clean_env, free_port, serving

SCRIPT = ROOT / "docs" / "pipeline-walkthrough.sh"

pytestmark = [
    pytest.mark.subprocess,
    pytest.mark.skipif(not (shutil.which("curl") and shutil.which("jq") and shutil.which("bash")),
                       reason="the walkthrough needs bash, curl and jq on the PATH"),
]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """A real server; the AI throttle raised so two runs' twelve idea calls do not wait out a
    minute (the script's 429 handling would, see the script)."""
    with serving(tmp_path, IGNY8_THROTTLE_RATES="planner_ai=100/minute") as base:
        yield base


def walkthrough(cwd: Path, timeout: float = 240, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT)], cwd=cwd, env=clean_env(**env),
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_runs_twice_in_a_row(server: str, tmp_path: Path) -> None:
    runs = []
    for n in (1, 2):
        out = tmp_path / f"image-{n}.png"
        proc = walkthrough(tmp_path, B=server, EMAIL="me@example.com", OUT=str(out))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert out.read_bytes().startswith(b"\x89PNG"), n
        runs.append(proc.stdout)
    for stdout in runs:
        # auto_cluster, one ideas job per cluster, content, image prompts, images: all done.
        assert stdout.count('"state":"SUCCESS"') >= 5, stdout
        assert "done: log in as me@example.com" in stdout
    sites = [line for stdout in runs for line in stdout.splitlines()
             if line.startswith("site ")]
    assert len(set(sites)) == 2, sites  # the second run made its own site and sector


def test_stops_with_a_message_on_a_non_2xx(server: str, tmp_path: Path) -> None:
    started = time.monotonic()
    proc = walkthrough(tmp_path, timeout=30, B=server.replace("/api/v1", "/api/v9"))
    assert proc.returncode == 1
    assert "walkthrough: POST /auth/register/ answered 404" in proc.stderr, proc.stderr
    assert time.monotonic() - started < 30


def test_stops_when_the_password_is_wrong(server: str, tmp_path: Path) -> None:
    body = json.dumps({"email": "x@example.com", "password": "first-pass-1",
                       "password_confirm": "first-pass-1"}).encode()
    urllib.request.urlopen(urllib.request.Request(
        f"{server}/auth/register/", data=body, headers={"Content-Type": "application/json"}),
        timeout=10).close()
    proc = walkthrough(tmp_path, timeout=30, B=server, EMAIL="x@example.com",
                       PASSWORD="another-pass")
    assert proc.returncode == 1
    assert "x@example.com exists but its login was refused" in proc.stderr, proc.stderr


def test_stops_when_no_server_answers(tmp_path: Path) -> None:
    proc = walkthrough(tmp_path, timeout=30, B=f"http://127.0.0.1:{free_port()}/api/v1")
    assert proc.returncode == 1
    assert "is the server running?" in proc.stderr
