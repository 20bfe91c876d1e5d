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

    --set search           more endpoints: search words common, rare, none, two-letter, pages 1-3
    --no-cache             the server keeps no list totals nor ids (CountCache patched to
                           forget), so every request counts and searches: the uncached page
    --database-url URL     serve from this (empty, e.g. Postgres) database instead of SQLite;
                           the CPU of its Postgres backends is counted too (by process title)
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
_F = KEYWORDS + "?page_size=25&ordering=-volume&status=active&search="
#: `--set search`: the filtered page over words that match many rows ("shoes", one of the pool's
#: words; "ing", a substring of many), few ("noise cancelling": both words), none ("zzz") and
#: two-letter words (no trigram: the fallback), pages 1-3, plus the plain list
SEARCH_ENDPOINTS = {
    "plain": KEYWORDS + "?page_size=25",
    "plain_p3": KEYWORDS + "?page_size=25&page=3",
    "shoes_p1": _F + "shoes",
    "shoes_p2": _F + "shoes&page=2",
    "shoes_p3": _F + "shoes&page=3",
    "ing_p1": _F + "ing",
    "ing_p3": _F + "ing&page=3",
    "rare_p1": _F + "noise%20cancelling",
    "none_p1": _F + "zzz",
    "ca_p1": _F + "ca",
    "ca_p3": _F + "ca&page=3",
    "in_shoes_p1": _F + "in%20shoes",
    "shoes_created_p1": KEYWORDS + "?page_size=25&search=shoes",
}
ENDPOINT_SETS = {"default": ENDPOINTS, "search": SEARCH_ENDPOINTS}
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


def seed(base: str, n: int, cpu: Any = None) -> None:
    """The owner, their site and two sectors, and n keywords imported (half in each);
    `cpu()`, when given, is the server's CPU seconds so far: each import's is logged."""
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
        started, cpu_before = time.perf_counter(), cpu() if cpu else 0.0
        doc = must(*request(base, "POST", KEYWORDS + "import_keywords/", raw=body,
                            token=owner, content_type=ctype), 200)
        took = time.perf_counter() - started
        rows = doc["data"].get("created", 0)
        used = f", {cpu() - cpu_before:.2f} s CPU ({1e6 * (cpu() - cpu_before) / rows:.1f} " \
            "us/row)" if cpu and rows else ""
        log(f"imported into sector {j + 1}: {doc['data']} in {took:.2f} s "
            f"({rows / took:.0f} rows/s{used})")
    count = must(*request(base, "GET", KEYWORDS + "?page_size=1", token=owner), 200)["count"]
    if count != n:
        raise SystemExit(f"seeded {count} keywords, wanted {n}")


# -- the server -----------------------------------------------------------------------------------


def server_env(data_dir: Path, database_url: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IGNY8_")}
    env = {**env, "IGNY8_DATA_DIR": str(data_dir), "IGNY8_DEBUG_THROTTLE": "true",
           "IGNY8_LOG_TO_FILE": "false", "IGNY8_LOG_LEVEL": "WARNING",
           "IGNY8_BCRYPT_ROUNDS": "4"}
    if database_url:
        # a pool larger than wrk's connections: no connection is closed during a run, so
        # no backend's CPU leaves the sum (pg_backends_cpu_s reads the living ones)
        env |= {"IGNY8_DATABASE_URL": database_url, "IGNY8_DB_POOL_SIZE": "48",
                "IGNY8_SECRET_KEY": "list-cpu-bench-secret-key-0123456789abcdef"}
    return env


#: run the server with a CountCache that keeps nothing (bench-only: the uncached page)
NO_CACHE = ("import sys\n"
            "from igny8d.context import CountCache\n"
            "CountCache.get = lambda self, key: None\n"
            "CountCache.ids = lambda self, key: None\n"
            "from igny8d.cli import main\n"
            "sys.argv = ['igny8d', *sys.argv[1:]]\n"
            "main()\n")


def cli(python: Path, repo: Path, env: dict[str, str], *args: str) -> None:
    subprocess.run([str(python), "-m", "igny8d", *args], cwd=repo, env=env, check=True,
                   stdout=subprocess.DEVNULL)


def start(python: Path, repo: Path, env: dict[str, str], port: int,
          no_cache: bool = False) -> subprocess.Popen[bytes]:
    entry = ["-c", NO_CACHE] if no_cache else ["-m", "igny8d"]
    proc = subprocess.Popen([str(python), *entry, "serve", "--host", "127.0.0.1",
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


def pg_backends_cpu_s(database: str | None) -> float:
    """utime + stime of the Postgres backends serving `database` (found by their process
    title, `postgres: [cluster:] <user> <database> ...`), seconds; 0 without a database."""
    if not database:
        return 0.0
    ticks = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                title = f.read().replace(b"\0", b" ").decode(errors="replace").split()
            if title[:1] == ["postgres:"] and len(title) > 1 and title[1].endswith(":"):
                title = [title[0], *title[2:]]  # after a cluster name (`15/main:`)
            if len(title) < 3 or title[0] != "postgres:" or title[2] != database:
                continue
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
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
    ap.add_argument("--set", choices=sorted(ENDPOINT_SETS), default="default",
                    help="which endpoints (search: words common, rare, two-letter, pages 1-3)")
    ap.add_argument("--only", default="", help="comma list: only these endpoints of the set")
    ap.add_argument("--no-cache", action="store_true",
                    help="the server keeps no list totals or ids: every page is uncached")
    ap.add_argument("--database-url", default=None,
                    help="an empty database to serve from (seeded unless it has the owner)")
    a = ap.parse_args()
    endpoints = ENDPOINT_SETS[a.set]
    if a.only:
        endpoints = {k: v for k, v in endpoints.items() if k in a.only.split(",")}
    pg_db = (a.database_url.rsplit("/", 1)[1].split("?")[0]
             if a.database_url and a.database_url.startswith("postgres") else None)
    repo = a.repo.resolve()
    python = (a.python or repo / ".venv" / "bin" / "python").absolute()
    if not Path(WRK).exists():
        raise SystemExit("wrk is needed (apt-get install -y wrk)")
    with tempfile.TemporaryDirectory(prefix="igny8d-listcpu-") as tmp:
        data_dir = (a.data_dir or Path(tmp) / "data").resolve()
        env = server_env(data_dir, a.database_url)
        fresh = not (data_dir / ("seeded" if a.database_url else "igny8d.db")).exists()
        where = subprocess.run([str(python), "-c", "import igny8d; print(igny8d.__file__)"],
                               cwd=repo, env=env, capture_output=True, text=True, check=True)
        log(f"server code: {where.stdout.strip()}; data: {data_dir}")
        if fresh:
            cli(python, repo, env, "migrate")
            cli(python, repo, {**env, "IGNY8_SUPERUSER_PASSWORD": OPERATOR["password"]},
                "createsuperuser", "--email", OPERATOR["email"])
        base = f"http://127.0.0.1:{a.port}"
        proc = start(python, repo, env, a.port, a.no_cache)
        try:
            if fresh:
                log(f"seeding {a.keywords} keywords through the API")
                seed(base, a.keywords,
                     lambda: group_cpu_s(proc.pid) + pg_backends_cpu_s(pg_db))
                data_dir.mkdir(parents=True, exist_ok=True)
                (data_dir / "seeded").touch()
            figures: dict[str, list[float]] = {name: [] for name in endpoints}
            for run in range(1, a.runs + 1):
                token, _ = login(base, OWNER)
                for name, path in endpoints.items():
                    wrk(base + path, token, 2, a.connections)  # caches and statements warm
                    before = group_cpu_s(proc.pid) + pg_backends_cpu_s(pg_db)
                    got = wrk(base + path, token, a.duration, a.connections)
                    cpu = group_cpu_s(proc.pid) + pg_backends_cpu_s(pg_db) - before
                    ms = 1000 * cpu / got["requests"]
                    figures[name].append(ms)
                    log(f"run {run} {name}: {got['requests']} requests, {got['rps']:.0f} req/s,"
                        f" {cpu:.2f} s CPU -> {ms:.3f} ms CPU/request")
        finally:
            stop(proc)
    what = "server + Postgres backends" if pg_db else "server"
    print(f"{what} CPU per request (ms), median of {a.runs}, {a.keywords} keywords, "
          f"wrk -t1 -c{a.connections} -d{a.duration}s"
          + (", no list cache" if a.no_cache else ""))
    for name, path in endpoints.items():
        runs = ", ".join(f"{v:.3f}" for v in figures[name])
        print(f"  {name:18} {statistics.median(figures[name]):.3f}   ({runs})   GET {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
