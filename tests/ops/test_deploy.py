"""deploy/ (issue 15 item 7): the nginx configuration, the compose file and the systemd units
as shipped, and a drill of two real igny8d processes behind that nginx on one Postgres and
one Redis: a rate limit is one limit for both, the client address nginx forwards is the one
throttled, and a process killed with SIGKILL under load costs no 500 — GETs are answered by
the other, POSTs retried with their Idempotency-Key create once, and the dead one's running
job is taken over and finishes, charged once.

(Each job running once when several are submitted across two processes:
tests/ops/test_kill9.py, test_two_servers_on_one_database_run_each_job_once.)
"""

from __future__ import annotations

import asyncio
import http.client
import json
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select

from igny8d.ratelimit import SCOPES
from igny8d.settings import unknown_variables
from igny8d.store.schema import credit_usage, keywords
from tests.helpers.app import redis_url_or_skip, truncate
from tests.helpers.drill import (
    KEYWORDS,
    Api,
    Server,
    db,
    job_row,
    prepare,
    prepare_account,
    progress,
    submit,
    wait_finished,
)
from tests.helpers.nginx import DEPLOY, Nginx
from tests.helpers.process import free_port

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
RESET = "/api/v1/auth/password_reset/"
LIMIT = 4
"""auth_strict's limit in the drill (per hour: no window ends during the test)."""


def request(port: int, method: str, path: str, body: bytes | None = None, *,
            source: str = "127.0.0.1", headers: dict[str, str] | None = None,
            ) -> tuple[int, dict[str, str], bytes]:
    """One request from the loopback address `source` (the client address nginx sees)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30,
                                      source_address=(source, 0))
    try:
        conn.request(method, path, body=body, headers={"Content-Type": "application/json",
                                                       **(headers or {})})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


# -- the files as shipped ------------------------------------------------------------------


@pytest.mark.subprocess
def test_the_nginx_config_passes_nginx_t_and_answers_its_own_errors_as_envelopes(
        tmp_path: Path) -> None:
    """No igny8d behind it: nginx's own answers are igny8d's envelope, 503 with Retry-After
    when no process answers, 413 past the body limit; /metrics is not passed through."""
    nginx = Nginx(tmp_path, [free_port(), free_port()])
    checked = nginx.check()
    assert checked.returncode == 0, checked.stderr
    nginx.start()
    try:
        status, headers, raw = request(nginx.port, "GET", "/api/v1/system/ping/")
        assert status == 503, raw
        body = json.loads(raw)
        assert body["success"] is False and "no igny8d process answered" in body["error"]
        assert headers["Retry-After"] == "5"
        assert UUID.match(body["request_id"]) and headers["X-Request-ID"] == body["request_id"]
        mine = str(uuid.uuid4())
        status, _, raw = request(nginx.port, "POST", "/api/v1/auth/login/", b"{}",
                                 headers={"X-Request-ID": mine})
        assert status == 503 and json.loads(raw)["request_id"] == mine
        # anything else a client sends as its id is not written into the JSON
        status, _, raw = request(nginx.port, "GET", "/", headers={"X-Request-ID": 'a"}'})
        assert status == 503 and UUID.match(json.loads(raw)["request_id"])

        status, _, raw = request(nginx.port, "POST", "/api/v1/planner/keywords/",
                                 b"x" * (22 * 1024 * 1024))
        assert status == 413, raw
        assert json.loads(raw)["error"] == "Request body too large (limit 20 MB)"
        assert request(nginx.port, "GET", "/metrics")[0] == 404
    finally:
        nginx.stop()


def directives(text: str) -> list[str]:
    """The configuration's directives, comments dropped, whitespace collapsed."""
    code = re.sub(r"#[^\n]*", "", text)
    return [" ".join(d.split()) for d in re.split(r"[;{}]", code) if d.strip()]


def test_the_nginx_config_says_what_igny8d_needs() -> None:
    """What the drill below cannot catch every time, read from the file against the values
    in igny8d's code: body limits, long-poll and stream timeouts, no retried POST."""
    from igny8d.handlers.planner_keywords import IMPORT_MAX_MB
    from igny8d.jobs import watch
    from igny8d.settings import Settings

    conf = (DEPLOY / "nginx" / "igny8d.conf").read_text()
    found = directives(conf)
    # keep-alive to the processes
    assert "proxy_http_version 1.1" in found and 'proxy_set_header Connection ""' in found
    assert any(d.startswith("keepalive ") for d in found)
    # a request already sent is never sent again for POST/PATCH, nor on an igny8d 5xx
    retry = [d for d in found if d.startswith("proxy_next_upstream ")]
    assert retry == ["proxy_next_upstream error timeout"]
    # the client address as igny8d reads it: appended to, never replaced by the client's
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for" in found
    assert "proxy_set_header X-Forwarded-Proto $scheme" in found
    assert "proxy_set_header X-Scheme $scheme" in found  # Tornado prefers it
    # body limit: above every igny8d cap, so igny8d answers its own 413 envelope
    size = [int(d.split()[1].rstrip("m")) for d in found
            if d.startswith("client_max_body_size ")]
    assert size and size[0] > max(IMPORT_MAX_MB, Settings().max_body_mb)
    assert f"limit {IMPORT_MAX_MB:g} MB" in conf
    # a ?wait= long-poll fits in the read timeout; a stream's keep-alive comments too
    timeouts = [int(d.split()[1].rstrip("s")) for d in found
                if d.startswith("proxy_read_timeout ")]
    assert timeouts[0] > watch.MAX_WAIT
    stream = conf[conf.index("task_progress/[^/]+/stream/"):]
    stream = stream[:stream.index("}")]
    assert "proxy_buffering off;" in stream
    read = re.search(r"proxy_read_timeout (\d+)s;", stream)
    assert read is not None and int(read.group(1)) > 2 * watch.KEEPALIVE_S


def compose() -> dict[str, Any]:
    return dict(yaml.safe_load((DEPLOY / "compose.yaml").read_text()))


def test_the_compose_file_runs_igny8d_behind_nginx_on_one_postgres_and_redis() -> None:
    services = compose()["services"]
    servers = {name: s for name, s in services.items()
               if s.get("command") == ["igny8d", "serve"]}
    assert len(servers) >= 2
    upstreams = (DEPLOY / "nginx" / "upstreams.compose.conf").read_text()
    assert sorted(re.findall(r"^server ([\w-]+):8000 ", upstreams, re.M)) == sorted(servers)
    nginx_ip = services["nginx"]["networks"]["backend"]["ipv4_address"]
    for name, service in servers.items():
        env = service["environment"]
        assert unknown_variables(env) == [], name
        assert env["IGNY8_TRUSTED_PROXIES"] == nginx_ip
        assert env["IGNY8_DATABASE_URL"].startswith("postgresql+asyncpg://")
        assert "@postgres:5432/" in env["IGNY8_DATABASE_URL"]
        assert env["IGNY8_RATELIMIT_STORAGE"].startswith("redis://redis:")
        assert env["IGNY8_SECRET_KEY"].startswith("${IGNY8_SECRET_KEY:?")
        assert "media:/data" in service["volumes"]
        # never several processes migrating at once: one `migrate` service runs first
        assert service["depends_on"]["migrate"]["condition"] == \
            "service_completed_successfully"
    assert services["migrate"]["command"] == ["igny8d", "migrate"]
    mounts = [m.split(":")[0] for m in services["nginx"]["volumes"]]
    assert all((DEPLOY / m).is_file() for m in mounts), mounts
    # every variable the file insists on is in the example env file
    required = set(re.findall(r"\$\{(\w+):\?", (DEPLOY / "compose.yaml").read_text()))
    example = (DEPLOY / "env.example").read_text()
    assert required and all(re.search(rf"^{v}=", example, re.M) for v in required)


@pytest.mark.subprocess
def test_docker_compose_accepts_the_compose_file(tmp_path: Path) -> None:
    """`docker compose config` (or docker-compose's), without a daemon, when a client is
    here; the structure is checked above either way."""
    cmd = None
    if shutil.which("docker") and subprocess.run(
            ["docker", "compose", "version"], capture_output=True).returncode == 0:
        cmd = ["docker", "compose"]
    elif shutil.which("docker-compose"):
        cmd = ["docker-compose"]
    if cmd is None:
        pytest.skip("no docker compose client on this machine")
    shutil.copytree(DEPLOY, tmp_path / "deploy")
    shutil.copy(DEPLOY.parent / "Dockerfile", tmp_path / "Dockerfile")
    (tmp_path / "deploy" / ".env").write_text(f"IGNY8_SECRET_KEY={'k' * 48}\n"
                                              "POSTGRES_PASSWORD=secret\n")
    result = subprocess.run([*cmd, "-f", str(tmp_path / "deploy" / "compose.yaml"), "config"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    rendered = yaml.safe_load(result.stdout)["services"]
    assert rendered["igny8d-1"]["environment"]["IGNY8_DATABASE_URL"] == \
        "postgresql+asyncpg://igny8d:secret@postgres:5432/igny8d"


@pytest.mark.subprocess
def test_the_systemd_units_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("no systemd-analyze on this machine")
    igny8d = Path(sys.executable).parent / "igny8d"
    assert igny8d.exists(), igny8d
    units = []
    for source, name in (("igny8d@.service", "igny8d@8001.service"),
                         ("igny8d-migrate.service", "igny8d-migrate.service")):
        text = (DEPLOY / "systemd" / source).read_text()
        assert "/opt/igny8d/.venv/bin/igny8d" in text
        (tmp_path / name).write_text(text.replace("/opt/igny8d/.venv/bin/igny8d", str(igny8d)))
        units.append(str(tmp_path / name))
    result = subprocess.run([analyze, "verify", "--man=no", *units], capture_output=True,
                            text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    template = (DEPLOY / "systemd" / "igny8d@.service").read_text()
    assert "ExecStart=/opt/igny8d/.venv/bin/igny8d serve --port %i" in template
    # the stop waits for the 30 s the server gives work in flight
    stop = re.search(r"^TimeoutStopSec=(\d+)$", template, re.M)
    assert stop is not None and int(stop.group(1)) > 30
    env = dict(line.split("=", 1) for line in
               (DEPLOY / "systemd" / "igny8d.env.example").read_text().splitlines()
               if line and not line.startswith("#"))
    assert unknown_variables(env) == []
    assert env["IGNY8_TRUSTED_PROXIES"] == "127.0.0.1"


# -- the drill: two processes behind nginx on one Postgres and one Redis ---------------------


class Stack:
    def __init__(self, pg_url: str, a: Server, b: Server, nginx: Nginx) -> None:
        self.pg_url, self.a, self.b, self.nginx = pg_url, a, b, nginx


@pytest.fixture(scope="module")
def stack(postgres_ready: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    redis = redis_url_or_skip()
    tmp = tmp_path_factory.mktemp("deploy")
    asyncio.run(truncate(postgres_ready))
    rates = [f"{scope}=100000/minute" for scope in SCOPES if scope != "auth_strict"]
    env = {"IGNY8_DEBUG_THROTTLE": "false", "IGNY8_RATELIMIT_STORAGE": redis,
           "IGNY8_RATELIMIT_PREFIX": f"deploy{uuid.uuid4().hex[:12]}",
           "IGNY8_TRUSTED_PROXIES": "127.0.0.1",
           "IGNY8_THROTTLE_RATES": ",".join([*rates, f"auth_strict={LIMIT}/hour"])}
    servers: list[Server] = []
    nginx: Nginx | None = None
    try:
        servers = [Server(tmp, postgres_ready, "a", **env), Server(tmp, postgres_ready, "b",
                                                                     **env)]
        for server in servers:
            server.wait_ready()
        nginx = Nginx(tmp, [s.port for s in servers]).start()
        yield Stack(postgres_ready, servers[0], servers[1], nginx)
    finally:
        if nginx is not None:
            nginx.stop()
        for server in servers:
            server.stop()


def reset(port: int, source: str = "127.0.0.1", **headers: str) -> tuple[int, dict[str, str]]:
    status, got, _ = request(port, "POST", RESET, b'{"email": "nobody@example.com"}',
                             source=source, headers=headers)
    return status, got


@pytest.mark.slow
@pytest.mark.subprocess
@pytest.mark.db
@pytest.mark.redis
def test_a_rate_limit_is_one_limit_for_both_processes(stack: Stack) -> None:
    ports = [stack.a.port, stack.b.port]
    seen = [reset(ports[i % 2]) for i in range(2 * LIMIT)]
    assert [s for s, _ in seen] == [200] * LIMIT + [429] * LIMIT
    assert [h["X-Throttle-Remaining"] for _, h in seen[:LIMIT]] == \
        [str(LIMIT - 1 - i) for i in range(LIMIT)]
    assert all(int(h["Retry-After"]) >= 1 for _, h in seen[LIMIT:])

    # through nginx: the client is the address nginx saw; what it writes itself is not
    # believed, so a new X-Forwarded-For per request buys nothing
    via = [reset(stack.nginx.port, "127.0.0.2", **{"X-Forwarded-For": f"203.0.113.{i}"})
           for i in range(LIMIT + 2)]
    assert [s for s, _ in via] == [200] * LIMIT + [429] * 2
    # ... and another client (not nginx's own address) has a budget of its own
    status, headers = reset(stack.nginx.port, "127.0.0.3",
                            **{"X-Forwarded-For": "127.0.0.2"})
    assert status == 200 and headers["X-Throttle-Remaining"] == str(LIMIT - 1)


@pytest.mark.slow
@pytest.mark.subprocess
@pytest.mark.db
@pytest.mark.redis
def test_links_through_nginx_point_back_through_nginx(stack: Stack) -> None:
    """Host (with its port) and scheme as the client used them; a scheme the client claims
    in X-Forwarded-Proto or X-Scheme is overwritten by nginx."""
    prepare_account(stack.a, stack.pg_url)
    token = {"Authorization": f"Bearer {stack.a.api.token}"}
    for forged in ({}, {"X-Forwarded-Proto": "https", "X-Scheme": "https"}):
        status, _, raw = request(stack.nginx.port, "GET",
                                 "/api/v1/planner/seed-keywords/?page_size=1",
                                 headers={**token, **forged})
        assert status == 200, raw
        link = json.loads(raw)["next"]
        assert link.startswith(f"http://127.0.0.1:{stack.nginx.port}/api/v1/planner/"
                               "seed-keywords/?"), link


class Load:
    """Clients through nginx until stopped: two reading a list, one creating keywords with
    an Idempotency-Key and retrying a 503 with the same key, as a client should."""

    def __init__(self, base: str, token: str, env: dict[str, Any]) -> None:
        self.base, self.token, self.env = base, token, env
        self.stop = threading.Event()
        self.reads: list[int] = []
        self.writes: list[int] = []  # every answer, retries included
        self.created: dict[str, int] = {}  # keyword -> final status
        self.failures: list[str] = []
        self.threads = [threading.Thread(target=self._guard, args=(self._read,))
                        for _ in range(2)] + [threading.Thread(target=self._guard,
                                                               args=(self._write,))]

    def api(self) -> Api:
        api = Api(self.base)
        api.token = self.token
        return api

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def finish(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(60)

    def _guard(self, fn: Any) -> None:
        try:
            fn()
        except (OSError, urllib.error.URLError, ValueError) as exc:  # no answer at all
            self.failures.append(repr(exc))

    def _read(self) -> None:
        api = self.api()
        while not self.stop.is_set():
            self.reads.append(api.call("GET", "/api/v1/planner/keywords/?page_size=5")[0])

    def _write(self) -> None:
        api = self.api()
        n = 0
        while not self.stop.is_set():
            name = f"load check {n}"
            key = {"Idempotency-Key": str(uuid.uuid4())}
            body = {"keyword": name, "site_id": self.env["site_id"],
                    "sector_id": self.env["sector_id"]}
            for _ in range(10):
                status, _ = api.call("POST", "/api/v1/planner/keywords/", body, headers=key)
                self.writes.append(status)
                if status != 503:
                    break
                time.sleep(0.2)
            self.created[name] = status
            n += 1


@pytest.mark.slow
@pytest.mark.subprocess
@pytest.mark.db
@pytest.mark.redis
def test_a_process_killed_under_load_costs_no_500_and_its_job_finishes(stack: Stack) -> None:
    env = prepare(stack.a, stack.pg_url)
    token = stack.a.api.token
    assert token is not None
    via = Api(stack.nginx.base)
    via.token = token
    load = Load(stack.nginx.base, token, env)
    load.start()
    try:
        # both processes take their share of the load before the job starts, so that the one
        # killed has served reads whichever it is (nginx balances from the first request, but
        # the job can reach its clustering phase before the load reached both)
        served = "200 GET /api/v1/planner/keywords/?page_size=5"
        deadline = time.monotonic() + 30
        while not all(served in s.log.read_text(errors="replace") for s in (stack.a, stack.b)):
            assert time.monotonic() < deadline, load.failures
            time.sleep(0.05)
        task_id = submit(via, env)
        deadline = time.monotonic() + 30
        while True:
            seen = progress(via, task_id)
            if seen["state"] == "PROGRESS" and seen["meta"]["phase"] == "CLUSTERING":
                break
            assert seen["state"] in ("PENDING", "PROGRESS"), seen
            assert time.monotonic() < deadline
            time.sleep(0.01)
        owner = int(str(job_row(stack.pg_url, task_id)["lease_owner"]).rsplit(":", 2)[1])
        victim, survivor = ((stack.a, stack.b) if owner == stack.a.proc.pid
                            else (stack.b, stack.a))
        reads, writes = len(load.reads), len(load.writes)
        victim.kill9()
        killed = time.monotonic()
        while len(load.reads) < reads + 40 or len(load.writes) < writes + 5:
            assert time.monotonic() < killed + 30, load.failures
            time.sleep(0.05)  # the clients go on a while on the survivor alone
    finally:
        load.finish()
    survivor.api.token = token
    done = wait_finished(survivor, task_id)
    finished = time.monotonic()

    assert load.failures == []
    assert 500 not in load.reads + load.writes
    # a GET in flight on the dead process was sent again to the other one by nginx
    assert set(load.reads) == {200}, Counter(load.reads)
    # a POST is never sent twice by nginx: its client saw 503 and retried with its key
    assert set(load.writes) <= {201, 503}, Counter(load.writes)
    assert set(load.created.values()) == {201}, load.created
    # the dead process had its share of the load before it died
    assert served in victim.log.read_text(errors="replace")

    async def read(conn: Any) -> Any:
        names = dict((await conn.execute(
            select(keywords.c.keyword, func.count()).where(
                keywords.c.keyword.like("load check %")).group_by(keywords.c.keyword))).all())
        usage = (await conn.execute(select(credit_usage.c.credits_used,
                                           credit_usage.c.credits_refunded)
                                    .where(credit_usage.c.reference == task_id))).all()
        return names, [tuple(u) for u in usage]
    names, usage = db(stack.pg_url, read)
    assert names == dict.fromkeys(load.created, 1)  # each create once, retried or not

    row = job_row(stack.pg_url, task_id)
    assert done["state"] == "SUCCESS", (done, survivor.tail())
    assert row["attempts"] == 2 and str(survivor.proc.pid) in str(row["lease_owner"])
    assert usage == [(KEYWORDS, 0)]  # charged once, not refunded
    print(f"\n[two processes behind nginx, Postgres + Redis, kill -9 under load] "
          f"{len(load.reads)} GETs all 200, {len(load.created)} keyword creates "
          f"({load.writes.count(503)} answers 503 then retried with the same key), no 500; "
          f"the dead process's {KEYWORDS}-keyword job finished on the other "
          f"{finished - killed:.1f}s after the kill, charged once")
