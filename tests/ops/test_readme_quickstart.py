"""Item 2 of issue 16: the README's quick start shows how to get `$TOKEN` (run here, as a
reader would paste it, against a real server), how to change the port, and the throttle
rates a user meets first, as the server has them."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from igny8d.ratelimit import SCOPES
from tests.helpers.paths import ROOT
from tests.helpers.process import clean_env, serving

README = (ROOT / "README.md").read_text()
QUICK_START = README[README.index("## Quick start"):README.index("## The AI pipeline")]


def _token_snippet() -> str:
    blocks = re.findall(r"```bash\n(.*?)```", QUICK_START, re.S)
    return next(block for block in blocks if "TOKEN=$(" in block)


@pytest.mark.subprocess
@pytest.mark.skipif(not (shutil.which("curl") and shutil.which("jq")),
                    reason="the quick start's commands need curl and jq")
def test_token_snippet_works_as_pasted(tmp_path: Path) -> None:
    with serving(tmp_path) as base:
        port = base.split(":")[2].split("/")[0]
        script = _token_snippet().replace("localhost:8000", f"localhost:{port}")
        script += '\necho "TOKEN=$TOKEN"\n'
        proc = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path,
                              env=clean_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    token = proc.stdout.rsplit("TOKEN=", 1)[1].strip()
    assert token.count(".") == 2  # a JWT, not "null"
    assert '"email":"me@example.com"' in proc.stdout  # auth/me/ answered with that token


def test_says_how_to_change_the_port() -> None:
    assert "IGNY8_PORT=8001 make run" in QUICK_START
    assert "--port 8001" in QUICK_START


@pytest.mark.parametrize("scope", ["planner_ai", "writer_ai", "image_gen", "auth",
                                   "auth_strict", "planner", "writer", "billing", "system"])
def test_throttle_table_has_the_servers_rates(scope: str) -> None:
    row = next(line for line in QUICK_START.splitlines()
               if line.startswith("|") and f"`{scope}`" in line.split("|")[1])
    assert f"| {SCOPES[scope]} |" in row, row
