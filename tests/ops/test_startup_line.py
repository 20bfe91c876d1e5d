"""Item 3 of issue 16: on a terminal the server says, in one human line, where it listens and
where its docs are; on a file or a pipe its stderr stays JSON lines only."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from igny8d.app import startup_line
from igny8d.settings import Settings
from tests.helpers.process import clean_env, free_port


def _listening(host: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.bind((host, 0))
    return sock


@pytest.mark.parametrize(("host", "base"), [("127.0.0.1", "http://127.0.0.1"),
                                            ("0.0.0.0", "http://127.0.0.1")])
def test_line_names_the_address_and_both_docs(tmp_path: Path, host: str, base: str) -> None:
    with _listening(host) as sock:
        port = sock.getsockname()[1]
        line = startup_line(Settings(data_dir=tmp_path), [sock])
    assert f"listening on {base}:{port}" in line
    assert f"{base}:{port}/api/docs/ (Swagger UI)" in line
    assert f"{base}:{port}/api/redoc/ (ReDoc)" in line
    assert ("(all addresses)" in line) is (host == "0.0.0.0")
    assert "\n" not in line


def test_public_url_is_where_the_docs_are(tmp_path: Path) -> None:
    with _listening("127.0.0.1") as sock:
        line = startup_line(Settings(data_dir=tmp_path, public_url="https://seo.example.com/"),
                            [sock])
    assert "docs: https://seo.example.com/api/docs/ (Swagger UI)" in line


def _serve(tmp_path: Path, port: int, stderr: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "igny8d", "--port", str(port), "--data-dir", str(tmp_path / "d")],
        cwd=tmp_path, env=clean_env(IGNY8_BCRYPT_ROUNDS="4"),
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.subprocess
def test_terminal_gets_the_line(tmp_path: Path) -> None:
    port = free_port()
    master, slave = pty.openpty()
    proc = _serve(tmp_path, port, slave)
    os.close(slave)
    seen = ""
    try:
        deadline = time.monotonic() + 30
        while "Ctrl-C stops it" not in seen:
            assert time.monotonic() < deadline and proc.poll() is None, seen
            if select.select([master], [], [], 1)[0]:
                seen += os.read(master, 4096).decode(errors="replace")
    finally:
        _stop(proc)
        os.close(master)
    human = [line for line in seen.splitlines() if not line.startswith("{")]
    assert len(human) == 1, seen
    assert f"listening on http://127.0.0.1:{port}" in human[0]
    assert f"http://127.0.0.1:{port}/api/docs/" in human[0]
    assert any(json.loads(line)["message"] == "igny8d listening"
               for line in seen.splitlines() if line.startswith("{"))


@pytest.mark.subprocess
def test_file_gets_json_lines_only(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "stderr.log"
    with log.open("wb") as out:
        proc = _serve(tmp_path, port, out.fileno())
        try:
            deadline = time.monotonic() + 30
            while "igny8d listening" not in log.read_text():
                assert time.monotonic() < deadline and proc.poll() is None, log.read_text()
                time.sleep(0.1)
        finally:
            _stop(proc)
    lines = log.read_text().splitlines()
    assert lines
    for line in lines:
        json.loads(line)  # every line is a JSON log line
