"""Start-up refusals are one line and exit code 2 (items 11 and 15 of issue 5)."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from igny8d.cli import main
from igny8d.settings import Settings, SettingsError, unknown_variables
from tests.helpers.process import GOOD_SECRET, one_line, run_cli

PG_DOWN = "postgresql+asyncpg://postgres@127.0.0.1:1/igny8d"


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


# -- item 15: the machine refuses the settings --------------------------------------------------


@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.subprocess
def test_busy_port_is_one_line(tmp_path: Path, busy_port: int, workers: str) -> None:
    proc = run_cli("serve", "--port", str(busy_port), "--workers", workers, cwd=tmp_path,
                   IGNY8_DATA_DIR=str(tmp_path / "data"))
    assert proc.returncode == 2
    line = one_line(proc.stderr)
    assert f"127.0.0.1:{busy_port}" in line and "already in use" in line and "--port" in line


@pytest.mark.subprocess
def test_address_not_on_this_machine_is_one_line(tmp_path: Path) -> None:
    proc = run_cli("serve", "--host", "192.0.2.1", "--port", "0", cwd=tmp_path,
                   IGNY8_DATA_DIR=str(tmp_path / "data"))
    assert proc.returncode == 2
    line = one_line(proc.stderr)
    assert "192.0.2.1" in line and "not an address of this machine" in line


@pytest.mark.subprocess
def test_unknown_host_is_one_line(tmp_path: Path) -> None:
    proc = run_cli("serve", "--host", "no-such-host.invalid", "--port", "0", cwd=tmp_path,
                   IGNY8_DATA_DIR=str(tmp_path / "data"))
    assert proc.returncode == 2
    assert "--host" in one_line(proc.stderr)


@pytest.mark.subprocess
def test_unusable_data_dir_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    proc = run_cli("serve", "--port", "0", "--data-dir", str(blocker / "data"), cwd=tmp_path)
    assert proc.returncode == 2
    line = one_line(proc.stderr)
    assert "data dir" in line and str(blocker / "data") in line and "--data-dir" in line


@pytest.mark.subprocess
def test_unreachable_database_is_one_line(tmp_path: Path) -> None:
    proc = run_cli("serve", "--port", "0", "--database-url", PG_DOWN, cwd=tmp_path,
                   IGNY8_SECRET_KEY=GOOD_SECRET, IGNY8_LOG_TO_FILE="false")
    assert proc.returncode == 2
    line = one_line(proc.stderr)
    assert "127.0.0.1:1" in line and "IGNY8_DATABASE_URL" in line


# -- item 15: unknown IGNY8_* variables ----------------------------------------------------------


def test_unknown_variable_warns_with_the_close_match(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for key in [k for k in os.environ if k.startswith("IGNY8_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("IGNY8_PORTT", "9000")
    monkeypatch.setenv("IGNY8_TEST_PG_URL", "postgresql://x")  # the suite's own: no warning
    main(["openapi", "--data-dir", str(tmp_path)])
    out, err = capsys.readouterr()
    assert json.loads(out)["openapi"].startswith("3.")
    assert err.strip().splitlines() == [
        "igny8d: warning: ignoring unknown environment variable IGNY8_PORTT; "
        "did you mean IGNY8_PORT?"]


def test_variables_of_tools_and_settings_are_not_unknown() -> None:
    env = {f"IGNY8_{name.upper()}": "x" for name in Settings.model_fields}
    env |= {"IGNY8_CONFIG": "x", "IGNY8_TEST_REDIS_URL": "x", "IGNY8_REQUIRE_POSTGRES": "1",
            "IGNY8_SUPERUSER_PASSWORD": "x", "IGNY8_SUPERUSER_EMAIL": "x",
            "IGNY8_PEERS_DIR": "x", "IGNY8_DEBUG_THROTTLE": "1", "OTHER": "x"}
    assert unknown_variables(env) == []
    assert unknown_variables({"IGNY8_NOPE": "1"}) == [
        "ignoring unknown environment variable IGNY8_NOPE"]


@pytest.mark.subprocess
def test_unknown_variable_warning_in_a_real_process(tmp_path: Path) -> None:
    proc = run_cli("openapi", cwd=tmp_path, IGNY8_SECRETKEY="x")
    assert proc.returncode == 0, proc.stderr
    assert "did you mean IGNY8_SECRET_KEY?" in one_line(proc.stderr)


# -- item 11: one signing secret for every process on a server database ------------------------


def test_server_database_needs_a_configured_secret() -> None:
    with pytest.raises(SettingsError, match="IGNY8_SECRET_KEY"):
        Settings(database_url=PG_DOWN).require_shared_secret()
    Settings(database_url=PG_DOWN, secret_key=GOOD_SECRET).require_shared_secret()
    Settings().require_shared_secret()  # embedded: generated into data_dir instead


@pytest.mark.subprocess
def test_serve_on_postgres_without_secret_refuses(tmp_path: Path) -> None:
    data = tmp_path / "data"
    proc = run_cli("serve", "--port", "0", "--database-url", PG_DOWN, "--data-dir", str(data),
                   cwd=tmp_path)
    assert proc.returncode == 2
    line = one_line(proc.stderr)
    assert "set IGNY8_SECRET_KEY (at least 32 characters)" in line
    assert not data.exists()  # no per-box secret was generated


@pytest.mark.db
@pytest.mark.subprocess
def test_migrate_and_openapi_on_postgres_need_no_secret(
    tmp_path: Path, postgres_ready: str
) -> None:
    migrated = run_cli("migrate", "--database-url", postgres_ready, cwd=tmp_path,
                       IGNY8_DATA_DIR=str(tmp_path / "data"))
    assert migrated.returncode == 0, migrated.stderr
    doc = run_cli("openapi", "--database-url", postgres_ready, cwd=tmp_path)
    assert doc.returncode == 0, doc.stderr
