"""A real nginx running the repository's deploy/nginx/igny8d.conf, under a temporary prefix
on a free loopback port, in front of igny8d processes on given ports: the configuration as
shipped, only its `listen` and its upstream list (deploy/nginx/upstreams.conf's format)
rewritten. Skips without an nginx binary unless IGNY8_REQUIRE_NGINX=1 (CI installs it)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers.paths import ROOT
from tests.helpers.process import free_port

DEPLOY = ROOT / "deploy"
CONF = DEPLOY / "nginx" / "igny8d.conf"
UPSTREAMS = DEPLOY / "nginx" / "upstreams.conf"


def nginx_binary() -> str:
    found = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)),
        None)
    if found is None:
        if os.environ.get("IGNY8_REQUIRE_NGINX") == "1":
            pytest.fail("IGNY8_REQUIRE_NGINX=1 but no nginx binary on this machine")
        pytest.skip("no nginx on this machine (apt-get install nginx; CI installs it)")
    return found


def upstream_lines(ports: list[int]) -> str:
    """deploy/nginx/upstreams.conf with its example ports replaced by `ports`."""
    lines = [line for line in UPSTREAMS.read_text().splitlines()
             if line.startswith("server ")]
    assert len(lines) >= 1, "upstreams.conf lists no server"
    template = lines[0]
    assert "127.0.0.1:8001" in template, template
    return "".join(template.replace("127.0.0.1:8001", f"127.0.0.1:{port}") + "\n"
                   for port in ports)


class Nginx:
    """The prefix holds a minimal nginx.conf (pid, logs, temp paths of its own) that
    includes the shipped igny8d.conf; `check` is `nginx -t`, `start` serves."""

    def __init__(self, tmp: Path, upstream_ports: list[int]) -> None:
        self.binary = nginx_binary()
        self.prefix = tmp / "nginx"
        self.prefix.mkdir(parents=True)
        self.port = free_port()
        site = CONF.read_text()
        assert site.count("listen 80;") == 1
        (self.prefix / "igny8d.conf").write_text(
            site.replace("listen 80;", f"listen 127.0.0.1:{self.port};"))
        (self.prefix / "igny8d-upstreams.conf").write_text(upstream_lines(upstream_ports))
        p = self.prefix
        # as root (CI), the workers would drop to `nobody`, who cannot enter the test's
        # temporary folder to buffer a request body
        user = "user root;\n" if os.geteuid() == 0 else ""
        (p / "nginx.conf").write_text(
            f"{user}pid {p}/nginx.pid;\nerror_log {p}/error.log notice;\ndaemon off;\n"
            "worker_processes 1;\nevents { worker_connections 256; }\n"
            f"http {{\n  access_log {p}/access.log;\n"
            f"  client_body_temp_path {p}/body; proxy_temp_path {p}/proxy;\n"
            f"  fastcgi_temp_path {p}/fastcgi; uwsgi_temp_path {p}/uwsgi;\n"
            f"  scgi_temp_path {p}/scgi;\n  include igny8d.conf;\n}}\n")
        self.proc: subprocess.Popen[bytes] | None = None
        self.base = f"http://127.0.0.1:{self.port}"

    def _cmd(self, *args: str) -> list[str]:
        return [self.binary, "-p", str(self.prefix), "-e", str(self.prefix / "error.log"),
                "-c", str(self.prefix / "nginx.conf"), *args]

    def check(self) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self._cmd("-t"), capture_output=True, text=True, timeout=30)

    def start(self) -> Nginx:
        self.proc = subprocess.Popen(self._cmd(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            assert self.proc.poll() is None, self.errors()
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                assert time.monotonic() < deadline, "nginx did not come up\n" + self.errors()
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # fast shutdown
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def errors(self) -> str:
        log = self.prefix / "error.log"
        return log.read_text(errors="replace")[-4000:] if log.exists() else ""
