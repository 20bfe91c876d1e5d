"""Real `igny8d serve` processes on one database, driven from outside the way the kill -9
drill does it (tests/ops: the drill, the takeover figures, the graceful stop): a server
process on a free port with a 3 s job lease (`Server`, its blocking `Api`), the database
read and written on a short-lived store of the test's own (`db`), an owner with the drill's
few thousand keywords (`prepare`), and a job submitted, followed, killed and read back."""

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

from sqlalchemy import select, update

from igny8d.services import billing
from igny8d.store.engine import Store
from igny8d.store.schema import accounts, jobs, keywords, plans
from tests.helpers.client import PASSWORD
from tests.helpers.process import clean_env, free_port

KEYWORDS = 3000
"""How many keywords `prepare` imports (every modifier of every head)."""
LEASE_S = 3
"""A `Server`'s job lease unless its `IGNY8_JOB_LEASE_S` says otherwise."""
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
             content_type: str = "application/json",
             headers: dict[str, str] | None = None) -> tuple[int, Any]:
        data = raw if raw is not None else (json.dumps(body).encode()
                                            if body is not None else None)
        headers = {"Content-Type": content_type, **(headers or {})}
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

    def __init__(self, tmp: Path, db_url: str, name: str, *, module: str = "igny8d",
                 **env: str) -> None:
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
                [sys.executable, "-m", module, "serve", "--port", str(self.port),
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
    return {**env, "site_id": int(site["data"]["id"]), "sector_id": sector_id,
            "ids": db(db_url, ids)}


def submit(api: Api, env: dict[str, Any]) -> str:
    status, body = api.call("POST", "/api/v1/planner/keywords/auto_cluster/",
                            {"ids": env["ids"], "sector_id": env["sector_id"]})
    assert status == 202, body
    return str(body["data"]["task_id"])


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


def job_row(db_url: str, task_id: str) -> dict[str, Any]:
    async def read(conn: Any) -> dict[str, Any]:
        return dict((await conn.execute(select(jobs).where(jobs.c.task_id == task_id))
                     ).one()._mapping)
    return dict(db(db_url, read))
