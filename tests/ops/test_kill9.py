"""The kill -9 drill (issue 7), on both stores, with real `igny8d serve` processes.

A server with a 3 s job lease clusters a few thousand keywords (`auto_cluster`, about 1.3 s
of work here); while the job is in PROGRESS — writing its results, or clustering in a
thread — the process is killed with SIGKILL (no shutdown code runs: no lease given back, the
open transaction never committed). A new server on the same database must find the job by its
expired lease and run it again to SUCCESS, the credits charged once; with no attempts left it
must fail it with a readable error and refund it. Never stuck, never run twice at once: the
job's rows are written by one run only (one usage row, one set of clusters).

Each drill prints its timeline (pytest -s shows it): what the lead's note reports.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from igny8d.services import billing
from igny8d.store.engine import Store
from igny8d.store.schema import (
    accounts,
    clusters,
    credit_transactions,
    credit_usage,
    jobs,
    keywords,
    plans,
)
from tests.helpers.client import PASSWORD
from tests.helpers.process import clean_env, free_port

pytestmark = [pytest.mark.slow, pytest.mark.subprocess]

KEYWORDS = 3000
LEASE_S = 3
SECRET = "k" * 48

HEADS = [
    "espresso machine", "hiking boots", "sourdough starter", "standing desk", "air fryer",
    "running shoes", "yoga mat", "electric bike", "coffee grinder", "dog food",
    "baby stroller", "gaming chair", "office chair", "water filter", "rice cooker",
    "robot vacuum", "mechanical keyboard", "noise cancelling headphones", "road bike",
    "camping tent", "sleeping bag", "trail camera", "pressure cooker", "stand mixer",
    "cast iron skillet", "chef knife", "cutting board", "blender", "juicer", "toaster oven",
    "space heater", "air purifier", "dehumidifier", "humidifier", "ceiling fan",
    "electric toothbrush", "hair dryer", "beard trimmer", "smart watch", "fitness tracker",
    "tablet stand", "laptop bag", "backpack", "rain jacket", "winter coat", "snow boots",
    "ski goggles", "fishing rod", "kayak paddle", "golf clubs", "tennis racket",
    "basketball shoes", "soccer cleats", "skateboard", "scooter", "dash cam",
    "car seat", "bike helmet", "garden hose", "lawn mower",
]
MODIFIERS = [
    "best {}", "cheap {}", "{} reviews", "{} for beginners", "how to clean a {}",
    "{} vs", "buy {} online", "{} sale", "{} deals", "{} price", "top rated {}",
    "{} for women", "{} for men", "{} for kids", "lightweight {}", "waterproof {}",
    "{} near me", "{} brands", "what is the best {}", "how to choose a {}", "{} guide",
    "{} comparison", "{} accessories", "used {}", "{} repair", "{} parts", "portable {}",
    "{} under 100", "{} under 500", "professional {}", "{} for small spaces", "quiet {}",
    "{} with warranty", "{} set", "{} kit", "{} tips", "{} problems", "{} alternatives",
    "{} coupon", "{} discount code", "{} amazon", "{} black friday", "compact {}",
    "{} for travel", "{} 2024", "{} ratings", "{} how it works", "eco friendly {}",
    "premium {}", "budget {}",
]


def keyword_csv() -> bytes:
    rows = ["keyword,volume"]
    n = 0
    for head in HEADS:
        for i, modifier in enumerate(MODIFIERS):
            rows.append(f"{modifier.format(head)},{(len(head) * 37 + i * 11) % 5000 + 10}")
            n += 1
    assert n == KEYWORDS
    return ("\n".join(rows) + "\n").encode()


class Api:
    """A tiny blocking client (the servers are other processes: nothing here needs a loop)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.token: str | None = None

    def call(self, method: str, path: str, body: Any = None, *, raw: bytes | None = None,
             content_type: str = "application/json") -> tuple[int, Any]:
        data = raw if raw is not None else (json.dumps(body).encode()
                                            if body is not None else None)
        headers = {"Content-Type": content_type}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())


class Server:
    """One `python -m igny8d serve` process on its own port, logging to a file."""

    def __init__(self, tmp: Path, db_url: str, name: str, **env: str) -> None:
        self.port = free_port()
        self.log = tmp / f"{name}.log"
        self.api = Api(f"http://127.0.0.1:{self.port}")
        variables = {
            "IGNY8_DATABASE_URL": db_url, "IGNY8_SECRET_KEY": SECRET,
            "IGNY8_JOB_LEASE_S": str(LEASE_S), "IGNY8_JOB_WORKERS": "2",
            "IGNY8_BCRYPT_ROUNDS": "4", "IGNY8_LOG_TO_FILE": "false",
            "IGNY8_DEBUG_THROTTLE": "true", "IGNY8_MONTHLY_GRANT": "false", **env}
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "igny8d", "serve", "--port", str(self.port),
                 "--data-dir", str(tmp / "data")],
                cwd=tmp, env=clean_env(**variables), stdout=out, stderr=subprocess.STDOUT)
        self.started = time.monotonic()

    def wait_ready(self, timeout: float = 30) -> float:
        deadline = time.monotonic() + timeout
        while True:
            assert self.proc.poll() is None, self.tail()
            try:
                if self.api.call("GET", "/api/v1/system/ping/")[0] == 200:
                    return time.monotonic() - self.started
            except (urllib.error.URLError, ConnectionError):
                pass
            assert time.monotonic() < deadline, "server did not come up\n" + self.tail()
            time.sleep(0.05)

    def kill9(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        assert self.proc.wait(10) == -signal.SIGKILL

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def db(url: str, fn: Any) -> Any:
    """Run `fn(conn)` in a transaction on its own short-lived store."""
    async def go() -> Any:
        store = Store.from_url(url)
        try:
            async with store.begin() as conn:
                return await fn(conn)
        finally:
            await store.close()
    return asyncio.run(go())


def prepare_account(server: Server, db_url: str) -> dict[str, Any]:
    """An owner (logged in on `server.api`) on the growth plan, granted 5,000 credits."""
    api = server.api
    email = f"drill-{uuid.uuid4().hex[:8]}@example.com"
    status, body = api.call("POST", "/api/v1/auth/register/", {
        "email": email, "password": PASSWORD, "password_confirm": PASSWORD})
    assert status == 201, body
    status, body = api.call("POST", "/api/v1/auth/login/", {"email": email,
                                                           "password": PASSWORD})
    assert status == 200, body
    api.token = body["data"]["access"]
    account_id = int(body["data"]["user"]["account_id"])
    start_credits = int(api.call("GET", "/api/v1/billing/credits/balance/balance/")[1]
                        ["data"]["credits"])

    async def upgrade(conn: Any) -> None:
        growth = (await conn.execute(select(plans.c.id).where(plans.c.slug == "growth"))
                  ).scalar_one()
        await conn.execute(update(accounts).where(accounts.c.id == account_id)
                           .values(plan_id=growth))
        await billing.grant(conn, account_id, amount=5000, description="kill -9 drill")
    db(db_url, upgrade)
    return {"account_id": account_id, "credits": start_credits + 5000}


def import_csv(api: Api, site_id: int, sector_id: int, data: bytes, expected: int) -> None:
    boundary = "drill" + uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
             f"{value}\r\n".encode()
             for name, value in (("site_id", site_id), ("sector_id", sector_id))]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                 f'filename="k.csv"\r\nContent-Type: text/csv\r\n\r\n'.encode()
                 + data + b"\r\n")
    status, body = api.call("POST", "/api/v1/planner/keywords/import_keywords/",
                            raw=b"".join(parts) + f"--{boundary}--\r\n".encode(),
                            content_type=f"multipart/form-data; boundary={boundary}")
    assert status == 200 and body["data"]["created"] == expected, body


def prepare(server: Server, db_url: str) -> dict[str, Any]:
    """The drill's account, a sector and its KEYWORDS keywords (one CSV import)."""
    env = prepare_account(server, db_url)
    api = server.api
    status, site = api.call("POST", "/api/v1/auth/sites/", {"name": "Drill site"})
    assert status == 201, site
    status, sector = api.call("POST", "/api/v1/auth/sectors/",
                              {"name": "Drill sector", "site_id": site["data"]["id"]})
    assert status == 201, sector
    sector_id = int(sector["data"]["id"])
    import_csv(api, int(site["data"]["id"]), sector_id, keyword_csv(), KEYWORDS)

    async def ids(conn: Any) -> list[int]:
        return list((await conn.execute(select(keywords.c.id).where(
            keywords.c.sector_id == sector_id).order_by(keywords.c.id))).scalars())
    return {**env, "sector_id": sector_id, "ids": db(db_url, ids)}


def progress(api: Api, task_id: str) -> dict[str, Any]:
    status, body = api.call("GET", f"/api/v1/system/settings/task_progress/{task_id}/")
    assert status == 200, body
    return dict(body["data"])


def kill_while_running(server: Server, task_id: str, phase: str) -> dict[str, Any]:
    """Poll until the job is in PROGRESS at `phase`, then SIGKILL the server at once."""
    deadline = time.monotonic() + 30
    while True:
        seen = progress(server.api, task_id)
        if seen["state"] == "PROGRESS" and seen["meta"]["phase"] == phase:
            server.kill9()
            return seen
        # finishing first would void the drill
        assert seen["state"] in ("PENDING", "PROGRESS"), seen
        assert time.monotonic() < deadline, server.tail()
        time.sleep(0.01)


def job_row(db_url: str, task_id: str) -> dict[str, Any]:
    async def read(conn: Any) -> dict[str, Any]:
        return dict((await conn.execute(select(jobs).where(jobs.c.task_id == task_id))
                     ).one()._mapping)
    return dict(db(db_url, read))


def wait_finished(server: Server, task_id: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    states = []
    while True:
        seen = progress(server.api, task_id)
        states.append(seen["state"])
        if seen["state"] in ("SUCCESS", "FAILURE", "REVOKED"):
            return seen
        assert time.monotonic() < deadline, (f"stuck in {states[-1]}", server.tail())
        time.sleep(0.05)


def ledger(db_url: str, account_id: int, task_id: str) -> dict[str, Any]:
    async def read(conn: Any) -> dict[str, Any]:
        balance = (await conn.execute(select(accounts.c.credits).where(
            accounts.c.id == account_id))).scalar_one()
        moves = (await conn.execute(select(credit_transactions.c.transaction_type,
                                           credit_transactions.c.amount,
                                           credit_transactions.c.balance_after)
                                    .where(credit_transactions.c.account_id == account_id)
                                    .order_by(credit_transactions.c.id))).all()
        usage = (await conn.execute(select(credit_usage.c.credits_used,
                                           credit_usage.c.credits_refunded)
                                    .where(credit_usage.c.reference == task_id))).all()
        n_clusters = (await conn.execute(select(func.count()).select_from(clusters).where(
            clusters.c.account_id == account_id))).scalar_one()
        names = (await conn.execute(select(clusters.c.name).where(
            clusters.c.account_id == account_id))).scalars().all()
        clustered = (await conn.execute(select(func.count()).select_from(keywords).where(
            keywords.c.account_id == account_id, keywords.c.cluster_id.is_not(None)))
        ).scalar_one()
        return {"balance": int(balance), "moves": [tuple(m) for m in moves],
                "usage": [tuple(u) for u in usage], "clusters": int(n_clusters),
                "names": list(names), "clustered": int(clustered)}
    return dict(db(db_url, read))


def check_ledger_adds_up(book: dict[str, Any], start: int) -> None:
    """Every balance change is a transaction; the last balance_after is the balance."""
    assert start - 5000 + sum(m[1] for m in book["moves"]) == book["balance"], book["moves"]
    assert book["moves"][-1][2] == book["balance"]


def submit(api: Api, env: dict[str, Any]) -> str:
    status, body = api.call("POST", "/api/v1/planner/keywords/auto_cluster/",
                            {"ids": env["ids"], "sector_id": env["sector_id"]})
    assert status == 202, body
    return str(body["data"]["task_id"])


def test_a_job_killed_mid_run_is_run_again_to_success(tmp_path: Path, db_url: str) -> None:
    t0 = time.monotonic()
    first = Server(tmp_path, db_url, "first")
    second: Server | None = None
    try:
        boot = first.wait_ready()
        env = prepare(first, db_url)
        task_id = submit(first.api, env)
        submitted = time.monotonic()
        # SAVING: the job's one write transaction (clusters, placements, SUCCESS) is open
        seen = kill_while_running(first, task_id, "SAVING")
        killed = time.monotonic()
        row = job_row(db_url, task_id)
        assert row["state"] == "PROGRESS" and row["attempts"] == 1, row
        assert str(first.proc.pid) in str(row["lease_owner"])
        book = ledger(db_url, env["account_id"], task_id)
        assert book["usage"] == [(KEYWORDS, 0)]  # charged once, at submit
        assert book["balance"] == env["credits"] - KEYWORDS

        second = Server(tmp_path, db_url, "second")
        reboot = second.wait_ready()
        second.api.token = first.api.token  # same secret: the token is still good
        done = wait_finished(second, task_id)
        finished = time.monotonic()
        row = job_row(db_url, task_id)
        assert done["state"] == "SUCCESS", (done, second.tail())
        assert row["attempts"] == 2, row
        assert str(second.proc.pid) in str(row["lease_owner"])
        result = done["result"]
        book = ledger(db_url, env["account_id"], task_id)
        # written once: the clusters and placements are exactly the one run's result
        assert book["clusters"] == result["clusters_created"] > 0
        assert len(set(book["names"])) == len(book["names"])
        assert book["clustered"] == result["keywords_clustered"]
        # charged once, no refund after a success, and the ledger adds up
        assert book["usage"] == [(KEYWORDS, 0)]
        assert book["balance"] == env["credits"] - KEYWORDS
        assert [m[0] for m in book["moves"]] == ["grant", "charge"]
        check_ledger_adds_up(book, env["credits"])
        print(f"\n[kill -9 drill, {db_url.split(':')[0]}] {KEYWORDS} keywords, lease "
              f"{LEASE_S}s: first server up in {boot:.1f}s; killed "
              f"{killed - submitted:.2f}s after submit at phase {seen['meta']['phase']} "
              f"{seen['meta']['percentage']}%; second server up in {reboot:.1f}s; job "
              f"SUCCESS (attempt 2) {finished - killed:.1f}s after the kill; "
              f"{result['clusters_created']} clusters, {result['keywords_clustered']} "
              f"keywords clustered; charged {KEYWORDS} once; total {finished - t0:.1f}s")
    finally:
        first.stop()
        if second is not None:
            second.stop()


def test_a_job_killed_with_no_attempts_left_fails_and_is_refunded(
        tmp_path: Path, db_url: str) -> None:
    t0 = time.monotonic()
    first = Server(tmp_path, db_url, "first", IGNY8_JOB_MAX_ATTEMPTS="1")
    second: Server | None = None
    try:
        first.wait_ready()
        env = prepare(first, db_url)
        task_id = submit(first.api, env)
        kill_while_running(first, task_id, "CLUSTERING")  # off the event loop, in a thread
        killed = time.monotonic()
        second = Server(tmp_path, db_url, "second", IGNY8_JOB_MAX_ATTEMPTS="1")
        second.wait_ready()
        second.api.token = first.api.token
        done = wait_finished(second, task_id)
        finished = time.monotonic()
        assert done["state"] == "FAILURE", done
        assert done["error"] == "worker lost"
        row = job_row(db_url, task_id)
        assert row["attempts"] == 1, row
        book = ledger(db_url, env["account_id"], task_id)
        assert book["usage"] == [(KEYWORDS, KEYWORDS)]  # refunded once, in full
        assert book["balance"] == env["credits"]
        assert [m[0] for m in book["moves"]] == ["grant", "charge", "refund"]
        check_ledger_adds_up(book, env["credits"])
        assert book["clusters"] == 0 and book["clustered"] == 0  # nothing half-written
        print(f"\n[kill -9 drill, no attempts left, {db_url.split(':')[0]}] FAILURE "
              f"'worker lost' and refunded {finished - killed:.1f}s after the kill; "
              f"total {finished - t0:.1f}s")
    finally:
        first.stop()
        if second is not None:
            second.stop()


def test_two_servers_on_one_database_run_each_job_once(tmp_path: Path, db_url: str) -> None:
    """Two processes (two event loops, two connection pools) claiming one queue at once:
    every job runs once (one claim, one charge, one set of clusters), both take a share,
    and their runs overlap in time (the claims really raced)."""
    a = Server(tmp_path, db_url, "a")
    b = Server(tmp_path, db_url, "b")
    try:
        a.wait_ready()
        b.wait_ready()
        env = prepare_sectors(a, db_url, count=24)
        b.api.token = a.api.token
        task_ids = []
        for i, (sector_id, ids) in enumerate(env["sectors"]):
            api = (a, b)[i % 2].api
            task_ids.append(submit(api, {"ids": ids, "sector_id": sector_id}))
        for task_id in task_ids:
            assert wait_finished(a, task_id)["state"] == "SUCCESS"

        async def read(conn: Any) -> Any:
            rows = (await conn.execute(select(
                jobs.c.task_id, jobs.c.attempts, jobs.c.lease_owner, jobs.c.started_at,
                jobs.c.finished_at, jobs.c.result).where(jobs.c.task_id.in_(task_ids)))).all()
            usage = (await conn.execute(select(credit_usage.c.reference,
                                               credit_usage.c.credits_used,
                                               credit_usage.c.credits_refunded))).all()
            per_sector = dict((await conn.execute(
                select(clusters.c.sector_id, func.count()).group_by(clusters.c.sector_id)
            )).all())
            return rows, usage, per_sector
        rows, usage, per_sector = db(db_url, read)
        assert len(rows) == len(task_ids) and {r.attempts for r in rows} == {1}
        owners = {r.task_id: str(r.lease_owner).split(":")[1] for r in rows}
        pids = {str(a.proc.pid), str(b.proc.pid)}
        assert set(owners.values()) == pids, owners
        assert sorted(u.reference for u in usage) == sorted(task_ids)
        assert {(u.credits_used, u.credits_refunded) for u in usage} == {(50, 0)}
        sector_of = {task: sector for task, (sector, _) in zip(task_ids, env["sectors"],
                                                               strict=True)}
        for r in rows:
            assert per_sector[sector_of[r.task_id]] == r.result["clusters_created"]
        overlap = any(x.started_at < y.finished_at and y.started_at < x.finished_at
                      for x in rows for y in rows if owners[x.task_id] != owners[y.task_id])
        assert overlap, [(owners[r.task_id], r.started_at, r.finished_at) for r in rows]
        shares = {pid: list(owners.values()).count(pid) for pid in pids}
        print(f"\n[two servers, {db_url.split(':')[0]}] {len(task_ids)} jobs, each run once "
              f"(attempts 1, one charge); shares by process {sorted(shares.values())}")
    finally:
        a.stop()
        b.stop()


def prepare_sectors(server: Server, db_url: str, count: int) -> dict[str, Any]:
    """An owner on the growth plan with `count` sectors of 50 keywords each (one head)."""
    env = prepare_account(server, db_url)
    api = server.api
    status, site = api.call("POST", "/api/v1/auth/sites/", {"name": "Two servers"})
    assert status == 201, site
    sectors = []
    for n in range(count):
        status, sector = api.call("POST", "/api/v1/auth/sectors/",
                                  {"name": f"Sector {n}", "site_id": site["data"]["id"]})
        assert status == 201, sector
        sector_id = int(sector["data"]["id"])
        rows = "keyword\n" + "\n".join(m.format(HEADS[n]) for m in MODIFIERS) + "\n"
        import_csv(api, int(site["data"]["id"]), sector_id, rows.encode(), len(MODIFIERS))

        async def ids(conn: Any, sector_id: int = sector_id) -> list[int]:
            return list((await conn.execute(select(keywords.c.id).where(
                keywords.c.sector_id == sector_id))).scalars())
        sectors.append((sector_id, db(db_url, ids)))
    return {**env, "sectors": sectors}
