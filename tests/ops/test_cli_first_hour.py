"""Item 13 of issue 16: `--help` shows the serve flags and the README, `openapi | head` ends
without a traceback, createsuperuser asks again after a rejected answer, and an unknown key of
the config file gets "did you mean" like an unknown variable."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from igny8d.settings import SettingsError, load_settings
from tests.helpers.process import clean_env, run_cli


@pytest.mark.parametrize(("text", "expected"), [
    ("[server]\nportt = 9000\n", "unknown setting server.portt; did you mean server.port?"),
    ("[server]\ndebug = true\n", "unknown setting server.debug; it belongs in [general]"),
    ("[servr]\nport = 9000\n", "unknown section [servr]; did you mean [server]?"),
    ("[ai]\nembeding_threshold = 0.5\n", "did you mean ai.embedding_threshold?"),
])
def test_unknown_config_key_gets_did_you_mean(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "igny8d.toml"
    path.write_text(text)
    with pytest.raises(SettingsError) as info:
        load_settings(path, env={})
    assert expected in str(info.value)


def test_far_off_config_key_gets_no_guess(tmp_path: Path) -> None:
    path = tmp_path / "igny8d.toml"
    path.write_text("[server]\nzzzzqqq = 1\n")
    with pytest.raises(SettingsError) as info:
        load_settings(path, env={})
    assert str(info.value).endswith("unknown setting server.zzzzqqq")


@pytest.mark.subprocess
def test_help_shows_the_serve_flags_and_the_readme(tmp_path: Path) -> None:
    proc = run_cli("--help", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    for flag in ("--host", "--port", "--workers", "--data-dir", "--database-url", "--config"):
        assert flag in proc.stdout, flag
    assert "IGNY8_PORT=8001" in proc.stdout
    readme = Path(__file__).resolve().parents[2] / "README.md"
    assert str(readme) in proc.stdout
    assert "/api/docs/" in proc.stdout


@pytest.mark.subprocess
def test_openapi_into_head_ends_without_a_traceback(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c",
         "import subprocess, sys; p = subprocess.Popen([sys.executable, '-m', 'igny8d', "
         "'openapi'], stdout=subprocess.PIPE, stderr=subprocess.PIPE); "
         "print(p.stdout.readline().decode().strip()); p.stdout.close(); "
         "err = p.stderr.read().decode(); print(p.wait()); sys.stderr.write(err)"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path, env=clean_env())
    first, code = proc.stdout.split()
    assert first == "{"
    assert int(code) in (0, 141)  # 0 only when the whole document fitted the pipe's buffer
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr, proc.stderr


class Terminal:
    """A child process on a pseudo-terminal that is its controlling terminal, so getpass
    reads from it as it would from a person's."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.master, slave = pty.openpty()

        def own_terminal() -> None:
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, cwd=cwd,
                                     env=env, start_new_session=True,
                                     preexec_fn=own_terminal)
        os.close(slave)
        self.seen = ""
        self.everything = ""

    def expect(self, text: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while text not in self.seen:
            left = deadline - time.monotonic()
            assert left > 0, f"never saw {text!r}; saw {self.seen!r}"
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.master, 4096).decode(errors="replace")
                except OSError:  # the child closed the terminal
                    chunk = ""
                if not chunk:
                    assert text in self.seen, f"ended before {text!r}; saw {self.seen!r}"
                self.seen += chunk
                self.everything += chunk
        before, _, self.seen = self.seen.partition(text)
        return before

    def send(self, line: str) -> None:
        os.write(self.master, (line + "\n").encode())

    def close(self) -> int:
        code = self.proc.wait(timeout=60)
        os.close(self.master)
        return code


@pytest.mark.subprocess
def test_createsuperuser_asks_again_after_a_rejected_answer(tmp_path: Path) -> None:
    env = clean_env(IGNY8_DATA_DIR=str(tmp_path / "data"), IGNY8_BCRYPT_ROUNDS="4")
    term = Terminal([sys.executable, "-m", "igny8d", "createsuperuser", "--database-url",
                     f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"], tmp_path, env)
    try:
        term.expect("Email: ")
        term.send("not-an-email")
        term.expect("invalid email: Enter a valid email address.")
        term.expect("Email: ")
        term.send("ops@example.com")
        term.expect("Password: ")
        term.send("123456789")
        term.expect("Password (again): ")
        term.send("123456789")
        term.expect("invalid password: Password cannot be entirely numeric.")
        term.expect("Password: ")
        term.send("operator-pass-1")
        term.expect("Password (again): ")
        term.send("operator-pass-2")
        term.expect("the two passwords do not match")
        term.expect("Password: ")
        term.send("operator-pass-1")
        term.expect("Password (again): ")
        term.send("operator-pass-1")
        term.expect("superuser ops@example.com created")
    finally:
        code = term.close()
    assert code == 0
    assert "123456789" not in term.everything  # getpass did not echo
    assert "operator-pass" not in term.everything


@pytest.mark.subprocess
def test_createsuperuser_ctrl_d_at_the_prompt_is_one_line(tmp_path: Path) -> None:
    env = clean_env(IGNY8_DATA_DIR=str(tmp_path / "data"))
    term = Terminal([sys.executable, "-m", "igny8d", "createsuperuser", "--database-url",
                     f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"], tmp_path, env)
    try:
        term.expect("Email: ")
        os.write(term.master, b"\x04")  # Ctrl-D
        term.expect("igny8d: no input")
    finally:
        code = term.close()
    assert code == 2
    assert "Traceback" not in term.seen
