"""Server CPU per request of the keyword list, the figure that says whether a change to the
list path cost speed (steadier than req/s when other work shares the cores).

    .venv/bin/python bench/list_cpu.py                     # 50,000 keywords, 3 runs, 10 s each
    .venv/bin/python bench/list_cpu.py --repo /tmp/main    # measure another checkout's server
    .venv/bin/python bench/list_cpu.py --keywords 20000 --runs 1 --duration 5

Seeds a throwaway data dir through the API only (so the same script measures any checkout):
`igny8d migrate`, an operator by `igny8d createsuperuser`, a registered owner whose account
the operator moves to the `scale` plan, one site with two sectors, and the keywords imported
as CSV (deterministic: the peers' word pool and seed). Then it starts ONE `igny8d serve`
process (throttling off, logs at WARNING), and per run and endpoint: a 2 s warm-up, then
`wrk -t1 -c32 -d10s` with the owner's Bearer token, reading the server's CPU time
(utime + stime of its process group, /proc/<pid>/stat) before and after. Prints ms of
server CPU per request for each run and the median per endpoint. Stdlib only.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
KEYWORDS = "/api/v1/planner/keywords/"
ENDPOINTS = {
    "keywords": KEYWORDS + "?page_size=25",
    "keywords_filtered": KEYWORDS + "?page_size=25&ordering=-volume&status=active&search=shoes",
}
OWNER = {"email": "owner@listcpu.example", "password": "Bench-passw0rd!"}
OPERATOR = {"email": "op@listcpu.example", "password": "Bench-0perator!"}
STATUSES = ("active", "pending", "archived")
INTENTS = ("informational", "commercial", "transactional", "navigational")
# the peers' word pool (../shared/peers/seed.py): phrases of 2-4 words, "shoes" among them
WORDS = " ".join((
    "best cheap buy online near me review reviews price prices top guide how to what is",
    "vs for sale free fast easy small large new used organic local shoes running trail",
    "boots hiking jacket winter summer coffee beans grinder espresso machine tea green",
    "laptop gaming desk chair standing monitor keyboard mouse wireless headphones noise",
    "cancelling camera lens tripod drone phone case charger battery solar panel roof",
    "garden tools lawn mower seeds plants indoor outdoor furniture sofa bed mattress",
    "pillow kitchen knife pan cast iron recipe easy dinner vegan keto diet protein",
    "powder yoga mat fitness tracker watch smart home security alarm lock door window",
    "paint wall art print poster frame book novel audiobook course online learning",
    "python javascript seo marketing email software crm accounting tax insurance car",
    "electric bike scooter travel hotel flight cheap deals london paris tokyo berlin",
    "dog cat food toys bed puppy training wedding dress ring gift ideas birthday",
)).split()


def log(*parts: object) -> None:
    print("[list_cpu]", *parts, file=sys.stderr, flush=True)


# -- HTTP ---------------------------------------------------------------------------------------


def request(base: str, method: str, path: str, body: Any = None, token: str | None = None,
            raw: bytes | None = None, content_type: str = "application/json",
            ) -> tuple[int, dict[str, Any]]:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None
                                        else None)
    headers = {"Content-Type": content_type} if data is not None else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=300) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def must(status: int, doc: dict[str, Any], *ok: int) -> dict[str, Any]:
    if status not in ok:
        raise SystemExit(f"unexpected answer {status}: {json.dumps(doc)[:400]}")
    return doc


def login(base: str, who: dict[str, str]) -> tuple[str, dict[str, Any]]:
    doc = must(*request(base, "POST", "/api/v1/auth/login/", who), 200)
    return doc["data"]["access"], doc["data"]["user"]


# -- seeding through the API ----------------------------------------------------------------------


def keyword_csv(n: int, seed: int, part: int, parts: int) -> bytes:
    """Rows `part` of `parts` of n distinct deterministic keywords, as an import file."""
    rng = random.Random(seed)
    seen: set[str] = set()
    rows: list[str] = []
    while len(seen) < n:
        phrase = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 4)))
        volume, difficulty = rng.randint(10, 100_000), rng.randint(0, 100)
        intent, status = rng.choice(INTENTS), rng.choice(STATUSES)
        if phrase in seen:
            continue
        seen.add(phrase)
        if len(seen) % parts == part:
            rows.append(f"{phrase},{volume},{difficulty},{intent},{status}")
    return ("keyword,volume,difficulty,intent,status\r\n" + "\r\n".join(rows) + "\r\n").encode()


def multipart(fields: dict[str, str], data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    out = b""
    for name, value in fields.items():
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n"
                f"{value}\r\n").encode()
    out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"keywords.csv\"\r\nContent-Type: text/csv\r\n\r\n").encode()
    out += data + f"\r\n--{boundary}--\r\n".encode()
    return out, f"multipart/form-data; boundary={boundary}"


def seed(base: str, n: int) -> None:
    must(*request(base, "POST", "/api/v1/auth/register/",
                  {**OWNER, "password_confirm": OWNER["password"]}), 201)
    owner, user = login(base, OWNER)
    operator, _ = login(base, OPERATOR)
    plans = must(*request(base, "GET", "/api/v1/auth/plans/?page_size=100", token=operator),
                 200)["results"]
    scale = next(p["id"] for p in plans if p["slug"] == "scale")
    must(*request(base, "PATCH", f"/api/v1/auth/accounts/{user['account_id']}/",
                  {"plan_id": scale}, token=operator), 200)
    site = must(*request(base, "POST", "/api/v1/auth/sites/", {"name": "Bench site"},
                         token=owner), 201)["data"]
    for j in range(2):
        sector = must(*request(base, "POST", "/api/v1/auth/sectors/",
                               {"name": f"Sector {j + 1}", "site_id": site["id"]},
                               token=owner), 201)["data"]
        body, ctype = multipart({"site_id": str(site["id"]), "sector_id": str(sector["id"])},
                                keyword_csv(n, 8, j, 2))
        doc = must(*request(base, "POST", KEYWORDS + "import_keywords/", raw=body,
                            token=owner, content_type=ctype), 200)
        log(f"imported into sector {j + 1}: {doc['data']}")
    count = must(*request(base, "GET", KEYWORDS + "?page_size=1", token=owner), 200)["count"]
    if count != n:
        raise SystemExit(f"seeded {count} keywords, wanted {n}")


# -- the server -----------------------------------------------------------------------------------


def server_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IGNY8_")}
    return {**env, "IGNY8_DATA_DIR": str(data_dir), "IGNY8_DEBUG_THROTTLE": "true",
            "IGNY8_LOG_TO_FILE": "false", "IGNY8_LOG_LEVEL": "WARNING",
            "IGNY8_BCRYPT_ROUNDS": "4"}


def cli(python: Path, repo: Path, env: dict[str, str], *args: str) -> None:
    subprocess.run([str(python), "-m", "igny8d", *args], cwd=repo, env=env, check=True,
                   stdout=subprocess.DEVNULL)


def start(python: Path, repo: Path, env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([str(python), "-m", "igny8d", "serve", "--host", "127.0.0.1",
                             "--port", str(port)], cwd=repo, env=env,
                            start_new_session=True, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"igny8d exited {proc.returncode} before answering")
        try:
            if request(base, "GET", "/api/v1/system/ping/")[0] == 200:
                return proc
        except OSError:
            pass
        time.sleep(0.2)
    stop(proc)
    raise SystemExit("igny8d did not answer within 60 s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def group_cpu_s(pgid: int) -> float:
    """utime + stime of every process in the group (the server and any child), seconds."""
    ticks = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # fields after the name: state ppid pgrp ... (5th: pgrp)
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def wrk(url: str, token: str, seconds: int, connections: int) -> dict[str, Any]:
    out = subprocess.run([WRK, "-t1", f"-c{connections}", f"-d{seconds}s", "--latency",
                          "-H", f"Authorization: Bearer {token}", url],
                         capture_output=True, text=True, timeout=seconds + 60).stdout
    total = re.search(r"(\d+) requests in", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if not total or not rps:
        raise SystemExit(f"wrk gave no report: {out[-400:]}")
    if non2xx:
        raise SystemExit(f"{non2xx.group(1)} answers were not 2xx for {url}")
    return {"requests": int(total.group(1)), "rps": float(rps.group(1))}


WRK = shutil.which("wrk") or "/usr/bin/wrk"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repo", type=Path, default=HERE.parent,
                    help="the checkout whose server is measured (default: this one)")
    ap.add_argument("--python", type=Path, default=None,
                    help="its interpreter (default: <repo>/.venv/bin/python)")
    ap.add_argument("--keywords", type=int, default=50_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--port", type=int, default=8931)
    ap.add_argument("--data-dir", type=Path, default=None,
                    help="keep the seeded data here (reused when it has the database)")
    a = ap.parse_args()
    repo = a.repo.resolve()
    python = (a.python or repo / ".venv" / "bin" / "python").absolute()
    if not Path(WRK).exists():
        raise SystemExit("wrk is needed (apt-get install -y wrk)")
    with tempfile.TemporaryDirectory(prefix="igny8d-listcpu-") as tmp:
        data_dir = (a.data_dir or Path(tmp) / "data").resolve()
        env = server_env(data_dir)
        fresh = not (data_dir / "igny8d.db").exists()
        where = subprocess.run([str(python), "-c", "import igny8d; print(igny8d.__file__)"],
                               cwd=repo, env=env, capture_output=True, text=True, check=True)
        log(f"server code: {where.stdout.strip()}; data: {data_dir}")
        if fresh:
            cli(python, repo, env, "migrate")
            cli(python, repo, {**env, "IGNY8_SUPERUSER_PASSWORD": OPERATOR["password"]},
                "createsuperuser", "--email", OPERATOR["email"])
        base = f"http://127.0.0.1:{a.port}"
        proc = start(python, repo, env, a.port)
        try:
            if fresh:
                log(f"seeding {a.keywords} keywords through the API")
                seed(base, a.keywords)
            figures: dict[str, list[float]] = {name: [] for name in ENDPOINTS}
            for run in range(1, a.runs + 1):
                token, _ = login(base, OWNER)
                for name, path in ENDPOINTS.items():
                    wrk(base + path, token, 2, a.connections)  # caches and statements warm
                    before = group_cpu_s(proc.pid)
                    got = wrk(base + path, token, a.duration, a.connections)
                    cpu = group_cpu_s(proc.pid) - before
                    ms = 1000 * cpu / got["requests"]
                    figures[name].append(ms)
                    log(f"run {run} {name}: {got['requests']} requests, {got['rps']:.0f} req/s,"
                        f" {cpu:.2f} s CPU -> {ms:.3f} ms CPU/request")
        finally:
            stop(proc)
    print(f"server CPU per request (ms), median of {a.runs}, {a.keywords} keywords, "
          f"wrk -t1 -c{a.connections} -d{a.duration}s")
    for name, path in ENDPOINTS.items():
        runs = ", ".join(f"{v:.3f}" for v in figures[name])
        print(f"  {name:18} {statistics.median(figures[name]):.3f}   ({runs})   GET {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
