"""Settings validation and the command line: one-line errors, migrate, createsuperuser,
the kept secret, and a real server process that stops cleanly on SIGTERM."""

from __future__ import annotations

import ipaddress
import json
import signal
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from igny8d.context import AppContext
from igny8d.settings import Settings, SettingsError, load_settings
from tests.helpers.app import make_settings, start_app, stop_app
from tests.helpers.process import GOOD_SECRET, clean_env, free_port, run_cli


def one_line_error(env: dict[str, str] | None = None, path: Path | None = None) -> str:
    with pytest.raises(SettingsError) as info:
        load_settings(path, env=env or {})
    message = str(info.value)
    assert message and "\n" not in message, message
    return message


def http_json(method: str, url: str, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


# -- load_settings -----------------------------------------------------------------------------


@pytest.mark.parametrize(("env", "names"), [
    ({"IGNY8_PORT": "abc"}, "port"),
    ({"IGNY8_PORT": "-1"}, "port"),
    ({"IGNY8_PORT": "70000"}, "port"),
    ({"IGNY8_PORT": ""}, "port"),
    ({"IGNY8_DEBUG": "maybe"}, "IGNY8_DEBUG"),
    ({"IGNY8_DEBUG_THROTTLE": "2"}, "IGNY8_DEBUG_THROTTLE"),
    ({"DEBUG": "perhaps"}, "DEBUG"),
    ({"IGNY8_DATABASE_URL": "mysql://x"}, "database_url"),
    ({"IGNY8_DATABASE_URL": "sqlite:///plain.db"}, "database_url"),
    ({"IGNY8_SECRET_KEY": "too-short"}, "secret_key"),
    ({"IGNY8_WORKERS": "0"}, "workers"),
    ({"IGNY8_MAX_BODY_MB": "0"}, "max_body_mb"),
    ({"IGNY8_BCRYPT_ROUNDS": "3"}, "bcrypt_rounds"),
    ({"IGNY8_LOG_LEVEL": "LOUD"}, "log_level"),
    ({"IGNY8_RATELIMIT_STORAGE": "ftp://x"}, "ratelimit_storage"),
])
def test_bad_environment_values(env, names):
    assert names in one_line_error(env)


def test_bad_values_in_a_toml_file(tmp_path):
    path = tmp_path / "igny8d.toml"
    cases = {
        "[nope]\nx = 1\n": "[nope]",
        "[server]\nnope = 1\n": "server.nope",
        "[server]\ndatabase_url = 'sqlite+aiosqlite:///x'\n": "server.database_url",
        "[server\nport = 1\n": "not valid TOML",
        "[server]\nport = 'abc'\n": "port",
        "[server]\nport = 1\nport = 2\n": "not valid TOML",
        "[auth]\nsecret_key = 'short'\n": "secret_key",
        "server = 1\n": "server",
    }
    for text, needle in cases.items():
        path.write_text(text)
        message = one_line_error(path=path)
        assert needle in message, (text, message)
    assert "not found" in one_line_error(path=tmp_path / "missing.toml")
    assert "not found" in one_line_error(env={"IGNY8_CONFIG": str(tmp_path / "gone.toml")})


def test_precedence_file_env_flags(tmp_path):
    path = tmp_path / "igny8d.toml"
    path.write_text("[server]\nport = 9000\nhost = '0.0.0.0'\n[general]\ndebug = true\n")
    s = load_settings(path, env={})
    assert (s.port, s.host, s.debug) == (9000, "0.0.0.0", True)
    s = load_settings(path, env={"IGNY8_PORT": "9001", "IGNY8_DEBUG": "off"})
    assert (s.port, s.host, s.debug) == (9001, "0.0.0.0", False)
    assert load_settings(path, env={"IGNY8_PORT": "9001"}, port=9002).port == 9002
    assert load_settings(env={"IGNY8_CONFIG": str(path)}).port == 9000


def test_good_values(tmp_path):
    s = load_settings(env={
        "IGNY8_CORS_ORIGINS": "https://a.example, https://b.example,",
        "IGNY8_DEBUG_THROTTLE": "True", "IGNY8_DATABASE_URL": "postgresql://u@h/db",
        "IGNY8_SECRET_KEY": GOOD_SECRET, "IGNY8_DATA_DIR": str(tmp_path),
    })
    assert s.cors_origins == ("https://a.example", "https://b.example")
    assert s.throttle_enabled is False
    assert s.database_url == "postgresql+asyncpg://u@h/db"
    assert s.secret_key == GOOD_SECRET
    assert load_settings(env={"DEBUG": "True"}).throttle_enabled is False
    assert load_settings(env={}).throttle_enabled is True
    assert load_settings(env={}).is_embedded


# -- the generated secret -------------------------------------------------------------------------


async def test_generated_secret_is_kept_and_reused(tmp_path):
    settings = load_settings(env={"IGNY8_DATA_DIR": str(tmp_path)})
    assert settings.secret_key is None
    first = AppContext.build(settings)
    second = AppContext.build(settings)
    try:
        key = first.settings.secret_key
        assert key and len(key) >= 32
        assert second.settings.secret_key == key
        path = tmp_path / "secret_key"
        assert path.read_text().strip() == key
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        token = first.tokens.issue("access", user_id=1, account_id=1, version=0,
                                    key="k").token
        assert second.tokens.verify(token, "access").user_id == 1
    finally:
        await first.close()
        await second.close()
    # A configured secret is used as is and nothing is written.
    other = tmp_path / "other"
    configured = Settings(data_dir=other, secret_key=GOOD_SECRET).with_secret()
    assert configured.secret_key == GOOD_SECRET
    assert not (other / "secret_key").exists()


def test_generated_secrets_differ_per_data_dir(tmp_path):
    a = Settings(data_dir=tmp_path / "a").with_secret().secret_key
    b = Settings(data_dir=tmp_path / "b").with_secret().secret_key
    assert a != b


# -- the command line ----------------------------------------------------------------------------


@pytest.mark.parametrize(("command", "env", "needle"), [
    ("serve", {"IGNY8_PORT": "abc"}, "port"),
    ("migrate", {"IGNY8_DATABASE_URL": "mysql://x"}, "database_url"),
    ("serve", {"IGNY8_DEBUG": "maybe"}, "IGNY8_DEBUG"),
    ("createsuperuser", {"IGNY8_SECRET_KEY": "short"}, "secret_key"),
])
@pytest.mark.subprocess
def test_cli_bad_setting_is_one_line(tmp_path, command, env, needle):
    proc = run_cli(command, cwd=tmp_path, IGNY8_DATA_DIR=str(tmp_path / "data"), **env)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("igny8d: ")
    assert needle in lines[0]
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "data").exists()


@pytest.mark.subprocess
def test_cli_bad_config_file_is_one_line(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[server]\nprot = 1\n")
    proc = run_cli("serve", "--config", str(path), cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"igny8d: config file {path}: unknown setting server.prot; did you mean server.port?"]


@pytest.mark.subprocess
def test_migrate_fresh_data_dir_is_idempotent(tmp_path):
    data = tmp_path / "data"
    first = run_cli("migrate", cwd=tmp_path, IGNY8_DATA_DIR=str(data))
    assert first.returncode == 0, first.stderr
    assert "empty ->" in first.stdout
    assert (data / "igny8d.db").is_file()
    head = first.stdout.strip().split("-> ")[-1]
    second = run_cli("migrate", cwd=tmp_path, IGNY8_DATA_DIR=str(data))
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == f"database migrated: {head} -> {head}"
    assert not (tmp_path / "var").exists()  # the data dir setting was honoured


@pytest.mark.subprocess
async def test_createsuperuser_can_log_in(tmp_path, db_url):
    data = tmp_path / "data"
    proc = run_cli("createsuperuser", "--email", "Op@Example.com", "--password",
                   "operator-pass-1", "--database-url", db_url, cwd=tmp_path,
                   IGNY8_DATA_DIR=str(data), IGNY8_BCRYPT_ROUNDS="4")
    assert proc.returncode == 0, proc.stderr
    assert "superuser" in proc.stdout
    again = run_cli("createsuperuser", "--email", "op@example.com", "--password",
                    "operator-pass-1", "--database-url", db_url, cwd=tmp_path,
                    IGNY8_DATA_DIR=str(data), IGNY8_BCRYPT_ROUNDS="4")
    assert again.returncode != 0
    assert len(again.stderr.strip().splitlines()) == 1, again.stderr
    short = run_cli("createsuperuser", "--email", "x@example.com", "--password", "short",
                    "--database-url", db_url, cwd=tmp_path, IGNY8_DATA_DIR=str(data))
    assert short.returncode != 0
    assert "8 characters" in short.stderr

    running = await start_app(make_settings(tmp_path, db_url))
    client = running.client()
    try:
        data_ = await client.login("op@example.com", "operator-pass-1")
        assert data_["user"]["is_superuser"] is True
        me = await client.get("/api/v1/auth/me/", token=data_["access"])
        assert me.status == 200
        assert me.data["user"]["email"] == "op@example.com"
        bad = await client.post("/api/v1/auth/login/",
                                {"email": "op@example.com", "password": "wrong-pass-1"})
        assert bad.status == 401
    finally:
        client.close()
        await stop_app(running)


@pytest.mark.subprocess
def test_serve_fresh_dir_then_sigterm_exits_zero(tmp_path):
    port = free_port()
    data = tmp_path / "data"
    proc = subprocess.Popen(
        [sys.executable, "-m", "igny8d", "--port", str(port), "--data-dir", str(data)],
        cwd=tmp_path, env=clean_env(IGNY8_BCRYPT_ROUNDS="4"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, proc.communicate()[1]
            try:
                status, body = http_json("GET", f"{base}/system/ping/")
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, "server did not come up"
                time.sleep(0.1)
        assert status == 200 and body["data"] == {"status": "ok"}
        # The embedded database was migrated by serve itself.
        status, body = http_json("GET", f"{base}/system/status/")
        assert status == 200 and body["data"]["database"]["reachable"] is True
        status, body = http_json("POST", f"{base}/auth/register/", {
            "email": "ann@example.com", "password": "ann-password-1",
            "password_confirm": "ann-password-1"})
        assert status == 201, body
        assert (data / "secret_key").is_file()
        assert (data / "igny8d.db").is_file()

        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=10)
        assert proc.returncode == 0, stderr
        assert time.monotonic() - started < 5
        assert "Traceback" not in stderr
        with pytest.raises((urllib.error.URLError, ConnectionError)):
            http_json("GET", f"{base}/system/ping/")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()



# -- trusted proxies (item 10: X-Forwarded-For only from configured proxies) ------------------


def test_trusted_proxies_from_env_and_file(tmp_path):
    s = load_settings(env={"IGNY8_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8,,::1"})
    assert s.trusted_proxies == ("127.0.0.1/32", "10.0.0.0/8", "::1/128")
    assert [str(n) for n in s.trusted_networks] == ["127.0.0.1/32", "10.0.0.0/8", "::1/128"]
    assert any(ipaddress.ip_address("10.1.2.3") in n for n in s.trusted_networks)
    path = tmp_path / "igny8d.toml"
    path.write_text("[server]\ntrusted_proxies = ['192.168.0.0/16']\n")
    assert load_settings(path, env={}).trusted_proxies == ("192.168.0.0/16",)
    assert load_settings(env={}).trusted_networks == ()


@pytest.mark.parametrize("value", ["10.0.0.0/33", "proxy.local", "300.1.1.1", "10.0.0.1,nope"])
def test_bad_trusted_proxies_are_one_line(value):
    message = one_line_error({"IGNY8_TRUSTED_PROXIES": value})
    assert "trusted_proxies (IGNY8_TRUSTED_PROXIES)" in message


def test_forwarded_headers_need_trusted_proxies(tmp_path):
    """public_url alone no longer turns on X-Forwarded-* (a client could pick its address)."""
    from igny8d.app import server_for

    def xheaders(**values: Any) -> bool:
        server = server_for(None, Settings(data_dir=tmp_path, **values))  # type: ignore[arg-type]
        return bool(server.xheaders)

    assert xheaders(public_url="https://api.example.com") is False
    assert xheaders(trusted_proxies=("127.0.0.1",)) is True
