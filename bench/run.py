"""Measure igny8d side by side with the peers (DRF, FastAPI, bare Tornado) in one run.

    make bench                                    # = .venv/bin/python bench/run.py
    .venv/bin/python bench/run.py --duration 10 --workers 2 --connections 32
    .venv/bin/python bench/run.py drf igny8d --endpoints ping,login
    .venv/bin/python bench/run.py --parity        # also compare answers with drf (parity.py)
    .venv/bin/python bench/run.py --setup-only    # copy, set up and seed; no load

Steps: copy ../shared/peers (read-only) to a writable work dir (default /tmp/igny8d-peers)
unless it is already there (changed source files are refreshed; venvs, database and results
are kept); run the peers' setup_all.sh when a venv or peers.sqlite3 is missing (a few
minutes, needs PyPI); check for wrk; rebuild igny8d's database from peers.sqlite3 with
bench/seed_from_peers.py; run the peers' bench.py with igny8d as a --custom target; write
the JSON lines to bench/results/<timestamp>.jsonl (progress log beside it as .log) and print
the peers' report.py table (ratios to --ref, default drf) plus igny8d's ratios to every
other target (saved as .md). Stdlib only. Only 127.0.0.1 is ever contacted.

Without the peers (a fresh clone has no ../shared/peers), igny8d is measured alone: a fresh
data dir, one registered owner, ping and login driven by wrk (or, without wrk, a stdlib
keep-alive client), figures to bench/results/<timestamp>-alone.{jsonl,md}; it then says how
to add the peers for the side-by-side run.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_PEERS = REPO.parent / "shared" / "peers"
DEFAULT_WORK = Path("/tmp/igny8d-peers")
DEFAULT_TARGETS = ["tornado-ceiling", "drf", "fastapi", "igny8d"]
# The keyword list endpoints (keywords, keywords_filtered) belong to the planner issue;
# add them here (or pass --endpoints) once igny8d serves /api/v1/planner/keywords/.
DEFAULT_ENDPOINTS = "ping,login"
IGNY8D = "igny8d"
# Left behind by setup and runs in the work dir; never copied over from the source.
SKIP_NAMES = {".venv", "__pycache__", ".git", IGNY8D + "-data"}
SKIP_SUFFIXES = (".sqlite3", ".sqlite3-wal", ".sqlite3-shm", ".db", ".pyc")
# Rewritten by each peer's setup.sh: copied only when missing, so a refresh keeps the record
# of what this work dir's venvs really hold.
COPY_ONCE = {"installed-versions.txt"}
# Which venv each peer target runs from.
TARGET_VENV = {"drf": "drf", "drf-asgi": "drf", "fastapi": "fastapi",
               "tornado-ceiling": "tornado", "tornado-ceiling-uvloop": "tornado"}


def log(*parts: object) -> None:
    print("[bench]", *parts, file=sys.stderr, flush=True)


def clean_env() -> dict[str, str]:
    """The caller's environment without IGNY8_* (a stray IGNY8_DATABASE_URL or IGNY8_CONFIG
    would point the benchmarked server at another database)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("IGNY8_")}


# -- work dir ------------------------------------------------------------------------------------


def sync_peers(src: Path, work: Path) -> int:
    """Copy the peers' files into `work` (writable copies); only files that differ. Returns
    how many were written. Venvs, databases and the igny8d data dir in `work` are kept."""
    written = 0
    for root, dirs, files in os.walk(src):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_NAMES)
        rel = Path(root).relative_to(src)
        dest_dir = work / rel
        dest_dir.mkdir(parents=True, exist_ok=True)
        for name in sorted(files):
            if name.endswith(SKIP_SUFFIXES):
                continue
            source, dest = Path(root) / name, dest_dir / name
            data = source.read_bytes()
            if dest.is_file() and (name in COPY_ONCE or dest.read_bytes() == data):
                continue
            if dest.exists():
                dest.chmod(0o644)
            dest.write_bytes(data)
            # The source is read-only; the copy must be writable (setup writes beside it).
            dest.chmod((source.stat().st_mode & 0o777) | 0o200)
            written += 1
    return written


def prepare_work_dir(src: Path, work: Path) -> None:
    if not (src / "bench.py").is_file():
        raise SystemExit(f"no peers at {src} (bench.py missing); pass --peers DIR "
                         "or set IGNY8_PEERS_DIR")
    if src.resolve() == work.resolve():
        return  # a writable peers dir used in place
    fresh = not (work / "bench.py").is_file()
    written = sync_peers(src, work)
    if fresh:
        log(f"copied {src} -> {work} ({written} files)")
    elif written:
        log(f"refreshed {written} changed file(s) from {src} in {work}")


def needs_setup(work: Path, targets: list[str]) -> list[str]:
    venvs = {"drf"} | {TARGET_VENV[t] for t in targets if t in TARGET_VENV}
    missing = [f"{v}/.venv" for v in sorted(venvs) if not (work / v / ".venv/bin/python").exists()]
    if not (work / "peers.sqlite3").is_file():
        missing.append("peers.sqlite3")
    return missing


def run_setup(work: Path) -> None:
    log("running setup_all.sh (3 venvs from PyPI + the seeded database; a few minutes)")
    t0 = time.monotonic()
    rc = subprocess.run(["bash", "setup_all.sh"], cwd=work, env=clean_env()).returncode
    if rc != 0:
        raise SystemExit(f"setup_all.sh failed (exit {rc}) in {work}")
    log(f"setup done in {time.monotonic() - t0:.0f} s")


def check_wrk() -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: it is the load generator (a Debian package):\n"
                         "    apt-get update && apt-get install -y wrk")


# -- igny8d --------------------------------------------------------------------------------------


def seed_igny8d(python: Path, work: Path, data_dir: Path) -> None:
    cmd = [str(python), str(HERE / "seed_from_peers.py"),
           "--peers-db", str(work / "peers.sqlite3"), "--data-dir", str(data_dir)]
    rc = subprocess.run(cmd, cwd=REPO, env=clean_env()).returncode
    if rc != 0:
        raise SystemExit(f"seed_from_peers.py failed (exit {rc})")


def igny8d_command(python: Path, data_dir: Path) -> str:
    """The --custom command bench.py starts ({port} and {workers} are filled in by it)."""

    def q(path: Path) -> str:
        # bench.py str.format()s the command: braces in a path must not be read as fields.
        return shlex.quote(str(path)).replace("{", "{{").replace("}", "}}")

    return (f"env IGNY8_DATA_DIR={q(data_dir)} IGNY8_DEBUG_THROTTLE=true "
            f"IGNY8_LOG_TO_FILE=false IGNY8_LOG_LEVEL=WARNING "
            f"{q(python)} -m igny8d --host 127.0.0.1 --port {{port}} --workers {{workers}}")


# -- running the peers' tools ----------------------------------------------------------------------


def run_teed(cmd: list[str], cwd: Path, log_path: Path) -> int:
    """Run cmd; its stderr goes to ours and to log_path; its stdout is discarded (bench.py
    writes the same JSON lines to --out)."""
    with open(log_path, "a", encoding="utf-8") as logf:
        logf.write("$ " + shlex.join(cmd) + "\n")
        proc = subprocess.Popen(cmd, cwd=cwd, env=clean_env(), stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True, bufsize=1)
        assert proc.stderr is not None
        try:
            for line in proc.stderr:
                sys.stderr.write(line)
                sys.stderr.flush()
                logf.write(line)
                logf.flush()
            return proc.wait()
        except KeyboardInterrupt:
            # bench.py got the same SIGINT; let it stop its server group, then give up.
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
            raise


def cpu_ms_per_request(row: dict[str, Any]) -> float | None:
    """Server CPU per request: steadier than req/s when other work shares the cores."""
    if not row.get("requests") or row.get("server_cpu_s") is None:
        return None
    return 1000 * float(row["server_cpu_s"]) / float(row["requests"])


def igny8d_summary(rows: list[dict[str, Any]], ref: str) -> str:
    """igny8d's throughput relative to every other target of the same run, per endpoint, and
    every target's server CPU per request."""
    others = sorted({r["target"] for r in rows} - {IGNY8D})
    by = {(r["target"], r["endpoint"]): r for r in rows}
    endpoints = list(dict.fromkeys(r["endpoint"] for r in rows))
    out = ["", "igny8d relative to each target of this run (req/s ratio; >1 = igny8d faster; "
           f"the table above uses {ref})", "",
           "| endpoint | igny8d req/s | p50 / p99 ms | " + " | ".join(f"× {t}" for t in others)
           + " | igny8d worker CPU s (min/max) |",
           "| --- | ---: | ---: | " + " | ".join("---:" for _ in others) + " | --- |"]
    for ep in endpoints:
        me = by.get((IGNY8D, ep))
        if me is None:
            continue
        cells = []
        for t in others:
            peer = by.get((t, ep))
            cells.append(f"{me['rps'] / peer['rps']:.2f}" if peer and peer["rps"] else "–")
        cpu = me.get("worker_cpu_s") or []
        balance = f"{min(cpu) / max(cpu):.2f}" if len(cpu) > 1 and max(cpu) > 0 else "–"
        flags = []
        if not me.get("probe_ok", True):
            flags.append("PROBE FAILED: figures invalid")
        if me.get("non_2xx") or me.get("socket_errors"):
            flags.append(f"non-2xx {me.get('non_2xx')}, {me.get('socket_errors')}")
        note = f" ({'; '.join(flags)})" if flags else ""
        out.append(f"| {ep} | {me['rps']:,.1f}{note} | {me['p50_ms']:.2f} / {me['p99_ms']:.2f} | "
                   + " | ".join(cells) + f" | {cpu} ({balance}) |")
    targets = [*others, IGNY8D]
    out += ["", "server CPU per request, ms (all processes of the target; lower is better)", "",
            "| endpoint | " + " | ".join(targets) + " |",
            "| --- | " + " | ".join("---:" for _ in targets) + " |"]
    for ep in endpoints:
        cells = []
        for t in targets:
            ms = cpu_ms_per_request(by[(t, ep)]) if (t, ep) in by else None
            cells.append("–" if ms is None else f"{ms:.3f}" if ms < 10 else f"{ms:.0f}")
        out.append(f"| {ep} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def render(jsonl: Path, ref: str, work: Path) -> str:
    """The peers' report.py table for one results file, then igny8d's own summary."""
    report = subprocess.run([sys.executable, "report.py", str(jsonl), "--ref", ref],
                            cwd=work, env=clean_env(), capture_output=True, text=True)
    if report.returncode != 0:
        raise SystemExit(f"report.py failed: {report.stderr.strip()}")
    rows = [json.loads(line) for line in jsonl.read_text().splitlines() if line.strip()]
    text = report.stdout.rstrip()
    if any(r["target"] == IGNY8D for r in rows):
        text += "\n" + igny8d_summary(rows, ref)
    return text


def keyword_cases(work: Path) -> set[str]:
    """Names of parity.py's cases that hit /api/v1/planner/keywords/ (read from its CASES)."""
    sys.path.insert(0, str(work))
    try:
        import parity  # type: ignore[import-not-found]  # the peers' parity.py, stdlib only

        return {name for name, _m, path, *_ in parity.CASES if path.startswith(parity.KW)}
    finally:
        sys.path.remove(str(work))


def run_parity(args: argparse.Namespace, work: Path, custom: str, log_path: Path) -> str:
    """parity.py drf vs igny8d. It has no case selection: all its cases run, and the keyword
    ones fail until the planner lands; the summary returned separates them."""
    cmd = [sys.executable, "parity.py", "drf", "--custom", f"{IGNY8D}={custom}",
           "--port", str(args.port)]
    log("parity: " + shlex.join(cmd))
    proc = subprocess.run(cmd, cwd=work, env=clean_env(), capture_output=True, text=True)
    text = proc.stdout + proc.stderr
    with open(log_path, "a", encoding="utf-8") as f:
        f.write("$ " + shlex.join(cmd) + "\n" + text)
    print(text.rstrip())
    kw_cases = keyword_cases(work)

    def is_keyword(line: str) -> bool:
        # "FAIL igny8d: <case>: <problems>"; case names may contain ": " themselves.
        rest = line.removeprefix(f"FAIL {IGNY8D}: ")
        return any(rest.startswith(case + ": ") for case in kw_cases)

    fails = [line for line in proc.stdout.splitlines() if line.startswith("FAIL ")]
    other = [line for line in fails if not is_keyword(line)]
    totals = next((line for line in proc.stdout.splitlines() if " passed, " in line), "?")
    lines = [f"parity.py drf vs igny8d: {totals} (exit {proc.returncode}); "
             f"{len(fails) - len(other)} of the failures are keyword cases "
             f"({len(kw_cases)} cases hit the planner, not implemented yet), "
             f"{len(other)} are not:"]
    lines += [f"    {line}" for line in other]
    summary = "\n".join(lines)
    print("\n" + summary)
    return summary


def fmt_load(load: tuple[float, float, float]) -> str:
    return "/".join(f"{x:.2f}" for x in load)


def git_state() -> str:
    """The igny8d code measured: commit, and whether igny8d/ has uncommitted changes."""
    try:
        head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "igny8d"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head or 'unknown'}{' + uncommitted changes in igny8d/' if dirty else ''}"


def wait_quiet(max_wait: int) -> None:
    """Wait (at most max_wait s) for the 1-minute load average to drop below a quarter of the
    cores; the figures are only as good as the machine is idle. Warn either way."""
    limit = (os.cpu_count() or 1) * 0.25
    deadline = time.monotonic() + max_wait
    while os.getloadavg()[0] > limit and time.monotonic() < deadline:
        time.sleep(5)
    load = os.getloadavg()
    if load[0] > limit:
        log(f"warning: load average {fmt_load(load)} on {os.cpu_count()} cpus: other work is "
            "running, absolute figures will be low and noisy (ratios less so)")


# -- igny8d alone (no peers) --------------------------------------------------------------------

ALONE_ENDPOINTS = {"ping": ("GET", "/api/v1/system/ping/"),
                   "login": ("POST", "/api/v1/auth/login/")}
ALONE_USER = {"email": "owner@acme.example", "password": "password123"}
HOW_TO_ADD_PEERS = (
    "measured igny8d alone: the peers (DRF, FastAPI, bare Tornado) were not found at {peers}. "
    "For the side-by-side run, put the peers folder there (the workspace's ../shared/peers) "
    "or point --peers DIR / IGNY8_PEERS_DIR at it, then run `make bench` again "
    "(bench/README.md)."
)


def peers_present(src: Path) -> bool:
    return (src / "bench.py").is_file()


def _http(method: str, url: str, body: dict[str, Any] | None = None) -> tuple[int, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def start_igny8d(custom: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    """igny8d in its own process group, so stopping it stops every worker."""
    cmd = shlex.split(custom.format(port=port, workers=workers))
    proc = subprocess.Popen(cmd, cwd=REPO, env=clean_env(), start_new_session=True,
                            stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"igny8d exited {proc.returncode} before answering on {base}")
        try:
            if _http("GET", base + ALONE_ENDPOINTS["ping"][1])[0] == 200:
                return proc
        except OSError:
            pass
        if time.monotonic() > deadline:
            stop_igny8d(proc)
            raise SystemExit(f"igny8d did not answer on {base} within 60 s")
        time.sleep(0.2)


def stop_igny8d(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


_WRK_LUA = """wrk.method = "POST"
wrk.body = '{body}'
wrk.headers["Content-Type"] = "application/json"
"""


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def load_wrk(url: str, method: str, seconds: int, connections: int) -> dict[str, Any]:
    """One wrk run; its --latency report parsed into the peers' JSON-line fields."""
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        if method == "POST":
            lua.write(_WRK_LUA.format(body=json.dumps(ALONE_USER)))
    try:
        if method == "POST":
            cmd += ["-s", lua.name]
        out = subprocess.run([*cmd, url], capture_output=True, text=True,
                             timeout=seconds + 60).stdout
    finally:
        os.unlink(lua.name)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    pcts = {p: _ms(v, u) for p, v, u in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$",
                                                     out, re.M)}
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    if not rps or not total:
        raise SystemExit(f"wrk gave no report: {out[-500:]}")
    return {"rps": float(rps.group(1)), "requests": int(total.group(1)),
            "p50_ms": pcts.get("50", 0.0), "p99_ms": pcts.get("99", 0.0),
            "non_2xx": int(non2xx.group(1)) if non2xx else 0,
            "socket_errors": errors.group(1).strip() if errors else None, "driver": "wrk"}


def load_stdlib(url: str, method: str, seconds: int, connections: int) -> dict[str, Any]:
    """A keep-alive client per thread, for machines without wrk. Its own cost in this
    process caps the figures lower than wrk's: compare runs of the same driver only."""
    parsed = urllib.parse.urlsplit(url)
    host = parsed.hostname or "127.0.0.1"
    body = json.dumps(ALONE_USER).encode() if method == "POST" else None
    deadline = time.monotonic() + seconds
    latencies: list[list[float]] = [[] for _ in range(connections)]
    failures = [0] * connections

    def worker(i: int) -> None:
        conn = http.client.HTTPConnection(host, parsed.port, timeout=30)
        while time.monotonic() < deadline:
            start = time.perf_counter()
            try:
                conn.request(method, parsed.path, body=body,
                             headers={"Content-Type": "application/json"})
                resp = conn.getresponse()
                resp.read()
                if resp.status >= 300:
                    failures[i] += 1
            except (OSError, http.client.HTTPException):
                failures[i] += 1
                conn.close()
                conn = http.client.HTTPConnection(host, parsed.port, timeout=30)
                continue
            latencies[i].append(time.perf_counter() - start)
        conn.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    flat = sorted(x for per in latencies for x in per)
    if not flat:
        raise SystemExit(f"no request to {url} succeeded")
    q = statistics.quantiles(flat, n=100) if len(flat) > 1 else [flat[0]] * 99
    return {"rps": len(flat) / elapsed, "requests": len(flat), "p50_ms": q[49] * 1000,
            "p99_ms": q[98] * 1000, "non_2xx": sum(failures), "socket_errors": None,
            "driver": "stdlib"}


def run_alone(args: argparse.Namespace, python: Path, peers: Path) -> int:
    """Measure igny8d by itself (no peers to compare with), and say how to add them."""
    endpoints = [e for e in args.endpoints.split(",") if e in ALONE_ENDPOINTS]
    if not endpoints:
        raise SystemExit(f"without the peers only {', '.join(ALONE_ENDPOINTS)} can be measured")
    driver = load_wrk if shutil.which("wrk") else load_stdlib
    if driver is load_stdlib:
        log("wrk not found (apt-get install -y wrk): using the slower stdlib client")
    with tempfile.TemporaryDirectory(prefix="igny8d-bench-") as tmp:
        data_dir = (args.data_dir or Path(tmp) / "data").resolve()
        custom = igny8d_command(python, data_dir)
        base = f"http://127.0.0.1:{args.port}"
        proc = start_igny8d(custom, args.port, args.workers)
        try:
            status, raw = _http("POST", base + "/api/v1/auth/register/",
                                {**ALONE_USER, "password_confirm": ALONE_USER["password"]})
            if status not in (201, 409):
                raise SystemExit(f"register failed: {status} {raw[:200]!r}")
            rows = []
            for ep in endpoints:
                method, path = ALONE_ENDPOINTS[ep]
                conns = min(args.connections, args.login_connections) if ep == "login" \
                    else args.connections
                log(f"igny8d alone: {ep} ({conns} connections, {args.duration} s)")
                if args.warmup:
                    driver(base + path, method, args.warmup, conns)
                row = driver(base + path, method, args.duration, conns)
                rows.append({"target": IGNY8D, "endpoint": ep, "connections": conns, **row})
        finally:
            stop_igny8d(proc)
    args.results.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    jsonl = args.results / f"{stamp}-alone.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows))
    lines = [f"# bench {stamp} (UTC): igny8d alone", "",
             f"igny8d {git_state()}; workers={args.workers} duration={args.duration}s "
             f"warmup={args.warmup}s cpus={os.cpu_count()}; driver {rows[0]['driver']}", "",
             "| endpoint | connections | req/s | p50 / p99 ms | non-2xx |",
             "| --- | ---: | ---: | ---: | ---: |"]
    lines += [f"| {r['endpoint']} | {r['connections']} | {r['rps']:,.1f} | "
              f"{r['p50_ms']:.2f} / {r['p99_ms']:.2f} | {r['non_2xx']} |" for r in rows]
    text = "\n".join(lines)
    (args.results / f"{stamp}-alone.md").write_text(text + "\n")
    print(text)
    print("\n" + HOW_TO_ADD_PEERS.format(peers=peers))
    return 0


# -- main ----------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("targets", nargs="*", default=None,
                    help=f"peer targets and/or igny8d (default: {' '.join(DEFAULT_TARGETS)})")
    ap.add_argument("--peers", type=Path, default=None,
                    help="the peers' source folder (IGNY8_PEERS_DIR; default "
                         f"{DEFAULT_PEERS}; when that is absent, igny8d is measured alone)")
    ap.add_argument("--work-dir", type=Path,
                    default=Path(os.environ.get("IGNY8_PEERS_WORK_DIR", DEFAULT_WORK)),
                    help="writable copy of the peers (IGNY8_PEERS_WORK_DIR; default %(default)s)")
    ap.add_argument("--data-dir", type=Path,
                    help="igny8d data dir for the bench (default: WORK_DIR/igny8d-data)")
    ap.add_argument("--python", type=Path, default=REPO / ".venv" / "bin" / "python",
                    help="python with igny8d installed (default %(default)s)")
    ap.add_argument("--endpoints", default=DEFAULT_ENDPOINTS,
                    help="comma list of ping, keywords, keywords_filtered, login "
                         "(default %(default)s)")
    ap.add_argument("--duration", type=int, default=10, help="measured seconds per endpoint")
    ap.add_argument("--warmup", type=int, default=2, help="unmeasured seconds first")
    ap.add_argument("--workers", type=int, default=2, help="server processes (default 2)")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--login-connections", type=int, default=4)
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--ref", default="drf", help="reference target for report.py ratios")
    ap.add_argument("--results", type=Path, default=HERE / "results",
                    help="where <timestamp>.jsonl/.log/.md go (default %(default)s)")
    ap.add_argument("--no-seed", action="store_true",
                    help="reuse the igny8d data dir as it is (default: rebuild it)")
    ap.add_argument("--parity", action="store_true",
                    help="also run the peers' parity.py: drf vs igny8d")
    ap.add_argument("--quiet-wait", type=int, default=0, metavar="SECONDS",
                    help="wait up to this long for the machine to be idle before the load")
    ap.add_argument("--setup-only", action="store_true",
                    help="copy, set up and seed, then stop")
    ap.add_argument("--report", type=Path, metavar="JSONL",
                    help="only print the tables for an earlier results file")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    named = args.peers or (Path(os.environ["IGNY8_PEERS_DIR"])
                           if os.environ.get("IGNY8_PEERS_DIR") else None)
    args.peers = named or DEFAULT_PEERS
    if args.report:
        work = args.work_dir.resolve()
        prepare_work_dir(args.peers.resolve(), work)
        print(render(args.report.resolve(), args.ref, work))
        return 0

    targets = args.targets or DEFAULT_TARGETS
    peer_targets = [t for t in targets if t != IGNY8D]
    unknown = [t for t in peer_targets if t not in TARGET_VENV]
    if unknown:
        raise SystemExit(f"unknown targets {unknown}; known: {', '.join(TARGET_VENV)}, {IGNY8D}")
    work = args.work_dir.resolve()
    data_dir = (args.data_dir or work / f"{IGNY8D}-data").resolve()
    python = args.python if args.python.is_absolute() else (Path.cwd() / args.python)
    if not python.exists():
        raise SystemExit(f"{python} not found: run `make install` first")
    if named is None and not peers_present(args.peers) and not args.setup_only:
        # A fresh clone has no ../shared/peers: measure igny8d alone instead of failing.
        if peer_targets and args.targets:
            raise SystemExit(HOW_TO_ADD_PEERS.format(peers=args.peers).replace(
                "measured igny8d alone", f"cannot measure {', '.join(peer_targets)}"))
        return run_alone(args, python, args.peers)

    prepare_work_dir(args.peers.resolve(), work)
    missing = needs_setup(work, peer_targets)
    if missing:
        log(f"missing in {work}: {', '.join(missing)}")
        run_setup(work)
    check_wrk()
    if not args.setup_only:
        wait_quiet(args.quiet_wait)
    # Seed right before the load: the database must match the igny8d code that will serve it
    # (igny8d's migrations are what build it).
    code = git_state()
    if not args.no_seed or not (data_dir / "igny8d.db").is_file():
        seed_igny8d(python, work, data_dir)
    custom = igny8d_command(python, data_dir)
    if args.setup_only:
        log(f"ready: peers in {work}, igny8d data in {data_dir}")
        log(f"igny8d target: --custom '{IGNY8D}={custom}'")
        return 0

    args.results.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    jsonl = args.results / f"{stamp}.jsonl"
    log_path = args.results / f"{stamp}.log"
    cmd = [sys.executable, "bench.py", *peer_targets,
           "--endpoints", args.endpoints, "--duration", str(args.duration),
           "--warmup", str(args.warmup), "--workers", str(args.workers),
           "--connections", str(args.connections),
           "--login-connections", str(args.login_connections),
           "--port", str(args.port), "--out", str(jsonl)]
    if IGNY8D in targets:
        cmd += ["--custom", f"{IGNY8D}={custom}"]
    log(f"load: {' '.join(targets)} on {args.endpoints}; results -> {jsonl}")
    load_before = os.getloadavg()
    rc = run_teed(cmd, work, log_path)
    load_after = os.getloadavg()
    if rc != 0:
        log(f"bench.py exited {rc}; see {log_path}")
    if not jsonl.is_file():
        return rc or 1

    text = render(jsonl, args.ref, work)
    header = (f"# bench {stamp} (UTC)\n\nigny8d {code}; "
              f"workers={args.workers} connections={args.connections} "
              f"duration={args.duration}s warmup={args.warmup}s cpus={os.cpu_count()}; "
              f"loadavg(1/5/15 min) before {fmt_load(load_before)}, after {fmt_load(load_after)}"
              "\n\n")
    (args.results / f"{stamp}.md").write_text(header + text + "\n")
    print(text)

    if args.parity and IGNY8D in targets:
        summary = run_parity(args, work, custom, log_path)
        with open(args.results / f"{stamp}.md", "a", encoding="utf-8") as f:
            f.write("\n" + summary + "\n")
    return rc


if __name__ == "__main__":
    sys.exit(main())
