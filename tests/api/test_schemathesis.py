"""Fuzz the whole API from its own document (schemathesis over /api/schema/).

Every operation the route table declares is fuzzed, authenticated as the owner of a fresh
account, on a throwaway server: so each endpoint a later issue adds is fuzzed by being
declared. The checks:

- not_a_server_error: no 5xx;
- response_schema_conformance: every answer matches the documented schema of its status;
- status_code_conformance: no status the document does not list for that operation;
- content_type_conformance: the documented content type.

The server runs in a subprocess (`igny8d serve` on a free port over a temporary SQLite file,
throttling off), and schemathesis runs as its CLI (`st run`) in another, reading the JSON
report: no event-loop sharing between Tornado, requests and hypothesis. Bounded: a fixed
seed and a few examples per operation (IGNY8_FUZZ_SEED and IGNY8_FUZZ_EXAMPLES change them);
about 10-20 s here.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.client import PASSWORD
from tests.helpers.paths import ROOT
from tests.helpers.process import free_port

# The run itself may take its subprocess timeout (300 s) on a loaded box; the suite's 120 s
# default would cut it first (the document grew with this round's endpoints).
pytestmark = [pytest.mark.slow, pytest.mark.subprocess, pytest.mark.timeout(420)]

pytest.importorskip("schemathesis")


CHECKS = ("not_a_server_error", "response_schema_conformance", "status_code_conformance",
          "content_type_conformance")

#: Operations not fuzzed, and why: each would end the fuzzing session itself.
EXCLUDED = {
    "auth_logout": "revokes the session's refresh family and cookie",
    "auth_change_password": "a new password revokes every token of the fuzzing user",
    "auth_accounts_destroy": "deleting the fuzzing user's own account ends the session",
}

#: The fuzzing user is never the object of a users/{id} operation either: activating itself
#: with a password, or changing its own role or activity, would revoke its token mid-run and
#: leave the rest of the run at 401. Its id is swapped for one no row has (a 404).
HOOKS = '''
import os

import schemathesis

OWN_USER_ID = os.environ["IGNY8_FUZZ_USER_ID"]
NO_SUCH_ID = 2**62


@schemathesis.hook
def before_call(context, case, kwargs):
    params = case.path_parameters
    if (params and case.operation.path.startswith("/api/v1/auth/users/{id}")
            and str(params.get("id")) == OWN_USER_ID):
        params["id"] = NO_SUCH_ID
'''


@dataclass
class Server:
    base_url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def log_tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IGNY8_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(
        os.pathsep)
    env.update(extra)
    return env


def _call(method: str, url: str, body: Any = None, token: str | None = None,
          ) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """`igny8d serve` on a free loopback port over a fresh SQLite file."""
    config = tmp_path / "igny8d.toml"
    config.write_text("")
    log = tmp_path / "server.log"
    last = ""
    for _attempt in range(3):  # a free port can be taken between probe and bind
        port = free_port()
        env = _env(IGNY8_CONFIG=str(config), IGNY8_DEBUG_THROTTLE="1",
                   IGNY8_BCRYPT_ROUNDS="4", IGNY8_SECRET_KEY="f" * 48,
                   IGNY8_LOG_TO_FILE="0")
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "igny8d", "serve", "--host", "127.0.0.1",
                 "--port", str(port), "--data-dir", str(tmp_path / "data")],
                cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT,
            )
        running = Server(f"http://127.0.0.1:{port}", proc, log)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if _call("GET", running.base_url + "/api/v1/system/ping/")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        if proc.poll() is None:
            try:
                yield running
            finally:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            return
        last = running.log_tail()
    pytest.fail(f"igny8d serve did not start:\n{last}")


def _failures_text(output: str) -> str:
    """The FAILURES section of st's output (what was received, what is documented)."""
    match = re.search(r"=+ FAILURES =+\n(.*?)(?:\n=+ (?:WARNINGS|SUMMARY) =+)", output, re.S)
    text = match.group(1) if match else output[-6000:]
    return text[:12000]


def test_schemathesis_finds_no_failures(server: Server, tmp_path: Path) -> None:
    base = server.base_url
    email = "fuzz@example.com"
    status, _ = _call("POST", base + "/api/v1/auth/register/",
                      {"email": email, "password": PASSWORD, "password_confirm": PASSWORD})
    assert status == 201
    status, login = _call("POST", base + "/api/v1/auth/login/",
                          {"email": email, "password": PASSWORD})
    assert status == 200, login
    token = login["data"]["access"]
    user_id = login["data"]["user"]["id"]

    (tmp_path / "igny8d_fuzz_hooks.py").write_text(HOOKS)
    report = tmp_path / "report.json"
    seed = os.environ.get("IGNY8_FUZZ_SEED", "1")
    examples = os.environ.get("IGNY8_FUZZ_EXAMPLES", "8")
    cmd = [sys.executable, "-m", "schemathesis.cli", "run", base + "/api/schema/",
           "--header", f"Authorization: Bearer {token}",
           "--checks", ",".join(CHECKS),
           "--phases", "examples,coverage,fuzzing",
           "--max-examples", examples, "--seed", seed, "--workers", "1",
           "--request-timeout", "30", "--no-color",
           "--report", "json", "--report-json-path", str(report)]
    for op_id in EXCLUDED:
        cmd += ["--exclude-operation-id", op_id]
    started = time.monotonic()
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path,
        env=_env(SCHEMATHESIS_HOOKS="igny8d_fuzz_hooks", IGNY8_FUZZ_USER_ID=str(user_id),
                 PYTHONPATH=str(tmp_path)),
    )
    elapsed = time.monotonic() - started
    assert report.exists(), proc.stdout[-4000:] + proc.stderr[-4000:]
    result = json.loads(report.read_text())

    ops = result["operations"]
    assert ops["selected"] == ops["total"] - len(EXCLUDED), ops
    assert ops["tested"] == ops["selected"], ops
    assert ops["errored"] == 0, (result["errors"], proc.stdout[-4000:])
    assert result["test_cases"]["generated"] > 10 * ops["tested"], result["test_cases"]
    found = [f"{f['code']} {f['title']} ({f['count']}): {', '.join(f['operations'])}"
             for f in result["failures"]]
    assert not found and not result["errors"] and proc.returncode == 0, (
        f"schemathesis found {len(found)} kind(s) of failure in {elapsed:.0f}s "
        f"(seed {seed}; rerun: IGNY8_FUZZ_SEED={seed} pytest {__file__}):\n"
        + "\n".join(found) + "\nerrors: " + json.dumps(result["errors"])[:2000]
        + "\n\n" + _failures_text(proc.stdout)
    )
    # The session lasted the whole run (else later operations were only fuzzed at 401).
    status, me = _call("GET", base + "/api/v1/auth/me/", token=token)
    assert status == 200, me
    assert server.proc.poll() is None, server.log_tail()
