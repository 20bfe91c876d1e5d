"""A keyword create's latency on an idle server and under read load (issue 14, item 3).

    .venv/bin/python bench/write_latency.py --data-dir /tmp/wl-sqlite
    .venv/bin/python bench/write_latency.py --data-dir /tmp/wl-pg \\
        --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/igny8d_wl

Seeds like `list_cpu.py` (through the API, reused when the data dir or database has it),
starts ONE `igny8d serve`, then: N keyword creates one after another on the idle server, and
N more at `--rate` per second while `wrk -c32` reads the keyword list with varied search
words and pages (1-3, page_size 25). Prints each phase's create latency (p50 / p90 / max,
ms), the readers' req/s and the server's CPU per read. Stdlib only.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from list_cpu import (
    KEYWORDS,
    OPERATOR,
    OWNER,
    WRK,
    cli,
    group_cpu_s,
    login,
    request,
    seed,
    server_env,
    start,
    stop,
)

HERE = Path(__file__).resolve().parent
SEARCH = ("shoes", "running", "coffee", "boots", "laptop", "garden", "yoga", "dog", "travel",
          "camera", "kitchen", "online", "cheap", "best", "smart", "book", "electric", "winter",
          "organic", "python", "wireless", "solar", "protein", "wedding", "hotel", "bike")
LUA = """
local words = {%s}
local n = 0
request = function()
  n = n + 1
  local w = words[(n %% #words) + 1]
  local page = (math.floor(n / #words) %% 3) + 1
  return wrk.format("GET", "%s?page_size=25&search=" .. w .. "&page=" .. page)
end
"""


def creates(base: str, token: str, sector: dict[str, Any], n: int, rate: float,
            tag: str) -> list[float]:
    """n keyword creates, `rate` per second at most; each one's latency in ms."""
    out: list[float] = []
    gap = 1.0 / rate
    for i in range(n):
        began = time.perf_counter()
        status, doc = request(base, "POST", KEYWORDS,
                              {"keyword": f"zz {tag} {i} {time.time_ns()}", "volume": i,
                               "site_id": sector["site_id"], "sector_id": sector["id"]},
                              token=token)
        took = time.perf_counter() - began
        if status != 201:
            raise SystemExit(f"create answered {status}: {doc}")
        out.append(took * 1000)
        time.sleep(max(0.0, gap - took))
    return out


def summary(ms: list[float]) -> str:
    q = statistics.quantiles(ms, n=10)
    return f"p50 {statistics.median(ms):6.1f}  p90 {q[8]:6.1f}  max {max(ms):6.1f} ms"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repo", type=Path, default=HERE.parent)
    ap.add_argument("--python", type=Path, default=None,
                    help="the interpreter (default: <repo>/.venv/bin/python)")
    ap.add_argument("--keywords", type=int, default=100_000)
    ap.add_argument("--writes", type=int, default=60)
    ap.add_argument("--rate", type=float, default=10.0)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--port", type=int, default=8932)
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--database-url", default=None)
    ap.add_argument("--seed-only", action="store_true", help="seed, measure nothing")
    a = ap.parse_args()
    repo = a.repo.resolve()
    python = (a.python or repo / ".venv" / "bin" / "python").absolute()
    data_dir = a.data_dir.resolve()
    env = server_env(data_dir)
    marker = data_dir / "seeded"
    if a.database_url:
        env.update(IGNY8_DATABASE_URL=a.database_url, IGNY8_SECRET_KEY="w" * 48)
    data_dir.mkdir(parents=True, exist_ok=True)
    fresh = not marker.exists()
    if fresh:
        cli(python, repo, env, "migrate")
        cli(python, repo, {**env, "IGNY8_SUPERUSER_PASSWORD": OPERATOR["password"]},
            "createsuperuser", "--email", OPERATOR["email"])
    base = f"http://127.0.0.1:{a.port}"
    proc = start(python, repo, env, a.port)
    try:
        if fresh:
            seed(base, a.keywords)
            marker.write_text("yes")
        if a.seed_only:
            return 0
        token, _ = login(base, OWNER)
        sector = request(base, "GET", "/api/v1/auth/sectors/?page_size=1",
                         token=token)[1]["results"][0]
        creates(base, token, sector, 5, a.rate, "warm")
        idle = creates(base, token, sector, a.writes, a.rate, "idle")
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
            lua.write(LUA % (", ".join(f'"{w}"' for w in SEARCH), KEYWORDS))
        seconds = int(a.writes / a.rate) + 6
        before = group_cpu_s(proc.pid)
        load = subprocess.Popen(
            [WRK, "-t1", f"-c{a.connections}", f"-d{seconds}s", "-s", lua.name,
             "-H", f"Authorization: Bearer {token}", base + KEYWORDS],
            stdout=subprocess.PIPE, text=True)
        loaded: list[float] = []
        writer = threading.Thread(target=lambda: (time.sleep(3), loaded.extend(
            creates(base, token, sector, a.writes, a.rate, "load"))))
        writer.start()
        writer.join()
        out, _ = load.communicate(timeout=seconds + 60)
        cpu = group_cpu_s(proc.pid) - before
    finally:
        stop(proc)
    total = int(out.split(" requests in")[0].split()[-1])
    rps = float(out.split("Requests/sec:")[1].split()[0])
    result = {"store": "postgres" if a.database_url else "sqlite", "idle": summary(idle),
              "loaded": summary(loaded), "reads_per_s": rps,
              "cpu_ms_per_request": round(1000 * cpu / (total + a.writes), 3)}
    print(json.dumps(result))
    print(f"create, idle:        {summary(idle)}")
    print(f"create, under reads: {summary(loaded)}   "
          f"(reads {rps:.0f}/s, {result['cpu_ms_per_request']} ms CPU per request)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
