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
# igny8d drops the keyword endpoints by itself (with a message) while it does not serve
# /api/v1/planner/keywords/ yet: see preflight().
DEFAULT_ENDPOINTS = "ping,keywords,keywords_filtered,login,mixed"
KEYWORD_ENDPOINTS = ("keywords", "keywords_filtered")
#: not one of bench.py's endpoints: bench/mixed.py's scenario (issue 14, item 5)
MIXED = "mixed"
IGNY8D = "igny8d"
# The comparison: igny8d in ONE process against DRF and FastAPI with 2 workers each,
# and ping against the one-process bare-Tornado ceiling. Targets not named get --workers.
DEFAULT_WORKERS_FOR = "igny8d=1,tornado-ceiling=1,tornado-ceiling-uvloop=1"
IMPORT_PATH = "/api/v1/planner/keywords/import_keywords/"
KEYWORDS_PATH = "/api/v1/planner/keywords/"
LOGIN = {"email": "owner@acme.example", "password": "password123"}
#: the issue's targets (item 7): (what, ratio or limit) — see targets_table()
RECORD_BEGIN = "<!-- run.py: latest run (rewritten by bench/run.py; edit outside the markers) -->"
RECORD_END = "<!-- /run.py -->"
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


def wrk_path_env(tmp: Path) -> dict[str, str]:
    """Environment for the peers' tools: unchanged when wrk is installed; otherwise PATH
    gets a `wrk` that runs this file's stdlib load generator (wrk_shim) with the same
    options and the same WRKJSON report line, so bench.py works without wrk. Its figures
    are lower than wrk's (a Python client shares the 2 cores): compare runs of one driver."""
    if shutil.which("wrk") is not None:
        return {}
    log("wrk not found (the load generator, a Debian package: apt-get update && "
        "apt-get install -y wrk); using run.py's stdlib client in its place: figures are "
        "lower than with wrk, compare only runs of the same driver")
    shim = tmp / "wrk"
    shim.write_text(f"#!/bin/sh\nexec {shlex.quote(sys.executable)} "
                    f"{shlex.quote(str(Path(__file__).resolve()))} --wrk-shim \"$@\"\n")
    shim.chmod(0o755)
    return {"PATH": f"{tmp}{os.pathsep}{os.environ.get('PATH', '')}"}


def wrk_shim(argv: list[str]) -> int:
    """`wrk -tN -cN -dNs --timeout Ns -s LUA URL` as bench.py calls it, in stdlib asyncio:
    keep-alive connections (a new one after `Connection: close`), the method, Bearer token
    and body from BENCH_METHOD/BENCH_TOKEN/BENCH_BODY (what wrk_report.lua reads), and the
    one `WRKJSON {...}` line wrk_report.lua prints (latencies in microseconds)."""
    import asyncio

    ap = argparse.ArgumentParser(prog="wrk (run.py shim)")
    ap.add_argument("-t", dest="threads", default="1")
    ap.add_argument("-c", dest="connections", type=int, default=10)
    ap.add_argument("-d", dest="duration", default="10s")
    ap.add_argument("--timeout", default="10s")
    ap.add_argument("-s", dest="script")
    ap.add_argument("--latency", action="store_true")
    ap.add_argument("url")
    a = ap.parse_args(argv)

    def secs(v: str) -> float:
        return float(v[:-1]) if v.endswith("s") else float(v)

    u = urllib.parse.urlsplit(a.url)
    host, port = u.hostname or "127.0.0.1", u.port or 80
    method = os.environ.get("BENCH_METHOD") or "GET"
    body = (os.environ.get("BENCH_BODY") or "").encode()
    token = os.environ.get("BENCH_TOKEN") or ""
    head = [f"{method} {u.path}{'?' + u.query if u.query else ''} HTTP/1.1",
            f"Host: {host}:{port}"]
    if token:
        head.append(f"Authorization: Bearer {token}")
    if body:
        head += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    request = ("\r\n".join(head) + "\r\n\r\n").encode() + body
    duration, timeout = secs(a.duration), secs(a.timeout)
    lat: list[float] = []
    err = {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0}
    nbytes = 0

    async def one(deadline: float) -> None:
        nonlocal nbytes
        reader = writer = None
        while time.monotonic() < deadline:
            if writer is None:
                try:
                    reader, writer = await asyncio.open_connection(host, port)
                except OSError:
                    err["connect"] += 1
                    await asyncio.sleep(0.01)
                    continue
            assert reader is not None
            start = time.perf_counter()
            try:
                writer.write(request)
                raw = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
                lines = raw.decode("latin-1").split("\r\n")
                status = int(lines[0].split()[1])
                headers = {k.strip().lower(): v.strip() for k, _, v in
                           (line.partition(":") for line in lines[1:] if line)}
                if "content-length" in headers:
                    data = await asyncio.wait_for(
                        reader.readexactly(int(headers["content-length"])), timeout)
                else:
                    data = await asyncio.wait_for(reader.read(), timeout)
                    headers["connection"] = "close"
            except TimeoutError:
                err["timeout"] += 1
                writer.close()
                writer = None
                continue
            except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
                err["read"] += 1
                writer.close()
                writer = None
                continue
            lat.append((time.perf_counter() - start) * 1e6)
            nbytes += len(raw) + len(data)
            if status > 399:
                err["status"] += 1
            if headers.get("connection", "").lower() == "close":
                writer.close()
                writer = None
        if writer is not None:
            writer.close()

    async def run() -> float:
        t0 = time.monotonic()
        await asyncio.gather(*(one(t0 + duration) for _ in range(a.connections)))
        return time.monotonic() - t0

    elapsed = asyncio.run(run())
    lat.sort()

    def pct(q: float) -> float:
        return lat[min(len(lat) - 1, int(q / 100 * len(lat)))] if lat else 0.0

    report = {"requests": len(lat), "duration_us": int(elapsed * 1e6), "bytes": nbytes,
              "mean_us": statistics.fmean(lat) if lat else 0.0, "p50_us": pct(50),
              "p90_us": pct(90), "p99_us": pct(99), "max_us": lat[-1] if lat else 0.0,
              **{f"err_{k}": v for k, v in err.items()}}
    print(f"{len(lat)} requests in {elapsed:.2f}s (run.py stdlib client)")
    print("WRKJSON " + json.dumps(report))
    return 0


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


def run_teed(cmd: list[str], cwd: Path, log_path: Path, extra_env: dict[str, str]) -> int:
    """Run cmd; its stderr goes to ours and to log_path; its stdout is discarded (bench.py
    writes the same JSON lines to --out)."""
    with open(log_path, "a", encoding="utf-8") as logf:
        logf.write("$ " + shlex.join(cmd) + "\n")
        proc = subprocess.Popen(cmd, cwd=cwd, env={**clean_env(), **extra_env},
                                stdout=subprocess.DEVNULL,
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


def run_parity(args: argparse.Namespace, work: Path, custom: str, log_path: Path,
               extra_env: dict[str, str]) -> str:
    """parity.py drf vs igny8d (it starts each with one process). It has no case selection:
    all its cases run; the summary separates the keyword cases from the others and lists
    each differing case with its first differences."""
    cmd = [sys.executable, "parity.py", "drf", "--custom", f"{IGNY8D}={custom}",
           "--port", str(args.port)]
    log("parity: " + shlex.join(cmd))
    proc = subprocess.run(cmd, cwd=work, env={**clean_env(), **extra_env},
                          capture_output=True, text=True)
    text = proc.stdout + proc.stderr
    with open(log_path, "a", encoding="utf-8") as f:
        f.write("$ " + shlex.join(cmd) + "\n" + text)
    print(text.rstrip())
    kw_cases = keyword_cases(work)

    def case_of(line: str) -> str:
        # "FAIL igny8d: <case>: <problems>"; case names may contain ": " themselves.
        rest = line.removeprefix(f"FAIL {IGNY8D}: ")
        return max((c for c in (*kw_cases, *other_cases) if rest.startswith(c + ": ")),
                   key=len, default=rest.split(": ", 1)[0])

    other_cases = set(all_cases(work)) - kw_cases
    lenient = lenient_parity(work, custom, args.port, extra_env)
    fails = [line for line in proc.stdout.splitlines() if line.startswith("FAIL ")]
    kw_fails = [line for line in fails if case_of(line) in kw_cases]
    other = [line for line in fails if case_of(line) not in kw_cases]
    totals = next((line for line in proc.stdout.splitlines() if " passed, " in line), "?")
    lines = [f"parity.py drf vs igny8d: {totals} (exit {proc.returncode}); keyword cases: "
             f"{len(kw_cases) - len(kw_fails)} of {len(kw_cases)} answer the same, "
             f"{len(kw_fails)} differ; other cases: {len(other)} differ.", ""]
    if fails:
        same = [c for c in lenient if not lenient[c]]
        lines += [
            "parity.py prints only the first 5 differences of a case, and most are fields "
            "only igny8d sends. Compared again with parity.py's own normalise/diff, but "
            "ignoring fields only igny8d has and reading the peers' statuses through the "
            f"seed's mapping ({', '.join(f'{k}→{v}' for k, v in STATUS_MAP.items() if k != v)}"
            f"): {len(same)} of {len(lenient)} cases answer the same"
            + (f"; extra fields of igny8d: {', '.join(sorted(EXTRA_SEEN))}" if EXTRA_SEEN
               else "") + ".", "",
            "| case | kind | parity.py (first differences) | ignoring igny8d's extra fields "
            "and the status mapping |", "| --- | --- | --- | --- |"]
        for line in kw_fails + other:
            case = case_of(line)
            detail = line.removeprefix(f"FAIL {IGNY8D}: ").removeprefix(case + ": ")
            detail = detail[:300].replace("|", "\\|")
            kind = "keywords" if case in kw_cases else "other"
            rest = "; ".join(lenient.get(case, ["?"]))[:400].replace("|", "\\|")
            lines.append(f"| {case} | {kind} | {detail} | {rest or '**same**'} |")
    summary = "\n".join(lines)
    print("\n" + summary)
    return summary


#: the seed's status mapping (bench/seed_from_peers.py STATUS_MAP), for the lenient parity pass
STATUS_MAP = {"active": "active", "archived": "archived", "new": "pending", "mapped": "pending"}
EXTRA_SEEN: set[str] = set()


def _lenient(ref: Any, got: Any, seen: set[str], path: str = "") -> tuple[Any, Any]:
    """(ref, got) with keys only in got dropped (noted in `seen`) and the peers' keyword
    statuses mapped as the seed maps them."""
    if isinstance(ref, dict) and isinstance(got, dict):
        seen.update(f"{path}.{key}".lstrip(".") for key in set(got) - set(ref))
        pairs = {k: _lenient(ref[k], got[k], seen, f"{path}.{k}") for k in ref if k in got}
        r = {k: v[0] for k, v in pairs.items()} | {k: ref[k] for k in ref if k not in got}
        g = {k: v[1] for k, v in pairs.items()}
        if path.endswith("results[]") and isinstance(r.get("status"), str):
            r["status"] = STATUS_MAP.get(r["status"], r["status"])
        return r, g
    if isinstance(ref, list) and isinstance(got, list):
        both = [_lenient(a, b, seen, path + "[]") for a, b in zip(ref, got, strict=False)]
        return ([a for a, _ in both] + ref[len(both):], [b for _, b in both] + got[len(both):])
    return ref, got


def _load_module(name: str, path: Path) -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def lenient_parity(work: Path, custom: str, port: int,
                   extra_env: dict[str, str]) -> dict[str, list[str]]:
    """parity.py's cases collected from drf and igny8d with parity.py's own functions
    (collect/normalise/diff), then diffed leniently (see _lenient): {case: differences}."""
    sys.path.insert(0, str(work))
    saved = dict(os.environ)
    os.environ.update(extra_env)
    try:
        # The peers' bench.py by path (this repo's bench/ folder must not shadow it);
        # parity.py's own `import bench` then finds it in sys.modules.
        bench = _load_module("bench", work / "bench.py")
        parity = _load_module("parity", work / "parity.py")
        answers = {}
        for name, cmd in (("drf", bench.TARGETS["drf"][0]), (IGNY8D, custom)):
            full = cmd.format(here=bench.HERE, port=port, workers=1,
                              db=str(work / "peers.sqlite3"))
            server = bench.Server(name, full, port, str(work / "peers.sqlite3"),
                                  tempfile.mkdtemp(prefix="igny8d-parity-"))
            try:
                server.wait_ready(f"http://127.0.0.1:{port}")
                answers[name] = parity.collect(f"http://127.0.0.1:{port}")
            finally:
                server.stop()
            time.sleep(0.5)
        out = {}
        for case, ref in answers["drf"].items():
            got = answers[IGNY8D][case]
            seen: set[str] = set()
            r, g = _lenient(ref, got, seen)
            out[case] = parity.diff(r, g)
            if not out[case]:  # extra fields of answers that are otherwise the same
                EXTRA_SEEN.update(seen)
        return out
    finally:
        os.environ.clear()
        os.environ.update(saved)
        sys.path.remove(str(work))


def all_cases(work: Path) -> list[str]:
    sys.path.insert(0, str(work))
    try:
        import parity

        return [name for name, *_ in parity.CASES]
    finally:
        sys.path.remove(str(work))


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


# -- per-target workers, igny8d preflight, keyword import ----------------------------------------


def parse_workers_for(spec: str, known: set[str]) -> dict[str, int]:
    """`igny8d=1,drf=2` -> {"igny8d": 1, "drf": 2}."""
    out: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, eq, value = part.partition("=")
        if not eq or not value.isdigit() or int(value) < 1:
            raise SystemExit(f"--workers-for: {part!r} is not TARGET=N (N >= 1)")
        if name not in known:
            raise SystemExit(f"--workers-for: unknown target {name!r}; known: "
                             f"{', '.join(sorted(known))}")
        out[name] = int(value)
    return out


def worker_groups(targets: list[str], workers: dict[str, int]) -> list[tuple[int, list[str]]]:
    """Consecutive targets with the same worker count share one bench.py run (it has a single
    --workers); the order is kept: peers first, igny8d last."""
    groups: list[tuple[int, list[str]]] = []
    for t in targets:
        if groups and groups[-1][0] == workers[t]:
            groups[-1][1].append(t)
        else:
            groups.append((workers[t], [t]))
    return groups


def _request(method: str, url: str, body: bytes | None = None, token: str | None = None,
             content_type: str = "application/json",
             timeout: float = 30) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": content_type} if body is not None else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        doc = json.loads(raw)
    except ValueError:
        doc = {"raw": raw[:300].decode(errors="replace")}
    return status, doc if isinstance(doc, dict) else {"json": doc}


def _login(base: str) -> str:
    status, doc = _request("POST", base + "/api/v1/auth/login/", json.dumps(LOGIN).encode())
    if status != 200:
        raise SystemExit(f"igny8d login failed: {status} {doc}")
    return str(doc["data"]["access"])


def _no_route(status: int, doc: dict[str, Any]) -> bool:
    """igny8d's answer to a path it has no handler for (not a 404 naming a missing object)."""
    return status == 404 and doc.get("error") == "Not found" and not doc.get("errors")


def preflight(custom: str, port: int) -> dict[str, bool]:
    """Start igny8d once (1 process) and ask which keyword endpoints it serves yet."""
    proc = start_igny8d(custom, port, 1)
    try:
        base = f"http://127.0.0.1:{port}"
        token = _login(base)
        status, doc = _request("GET", base + KEYWORDS_PATH + "?page_size=1", token=token)
        listing = not _no_route(status, doc)
        if listing and status != 200:
            log(f"igny8d keyword list answers {status}: {str(doc)[:200]}")
        # A well-formed multipart body without a file: a 400 where the route exists.
        body, ctype = multipart({"site_id": "1"}, "", b"")
        status, doc = _request("POST", base + IMPORT_PATH, body, token=token,
                               content_type=ctype)
        importing = not _no_route(status, doc) and status != 405
    finally:
        stop_igny8d(proc)
    return {"keywords": listing, "import": importing}


_IMPORT_WORDS = (
    "best", "cheap", "buy", "online", "review", "price", "guide", "shoes", "running", "trail",
    "boots", "jacket", "coffee", "laptop", "desk", "chair", "camera", "phone", "garden",
    "kitchen", "yoga", "travel", "hotel", "dog", "cat", "book", "course", "python", "seo",
    "marketing", "bike", "watch", "lamp")


def import_csv(rows: int) -> bytes:
    """A deterministic keyword CSV with unique keywords (the DESIGN.md import columns)."""
    import random

    rng = random.Random(8)
    out = ["keyword,volume,difficulty,intent,status"]
    intents = ("informational", "commercial", "transactional", "navigational")
    statuses = ("active", "pending", "archived")
    for i in range(rows):
        words = " ".join(rng.choice(_IMPORT_WORDS) for _ in range(rng.randint(2, 3)))
        out.append(f"{words} {i},{rng.randint(10, 100_000)},{rng.randint(0, 100)},"
                   f"{rng.choice(intents)},{rng.choice(statuses)}")
    return ("\r\n".join(out) + "\r\n").encode()


def multipart(fields: dict[str, str], filename: str, data: bytes) -> tuple[bytes, str]:
    boundary = "igny8d-bench-" + os.urandom(8).hex()
    parts = [f"--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
             .encode() for k, v in fields.items()]
    parts.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                 f"filename=\"{filename}\"\r\nContent-Type: text/csv\r\n\r\n".encode()
                 + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def group_rss_mb(pgid: int) -> float:
    """RSS of every process in the group (as the peers' bench.py measures it)."""
    total = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                if int(f.read().rsplit(")", 1)[1].split()[2]) != pgid:
                    continue
            with open(f"/proc/{pid}/status") as f:
                total += next((int(line.split()[1]) for line in f
                               if line.startswith("VmRSS:")), 0)
        except (OSError, IndexError, ValueError):
            continue
    return round(total / 1024, 1)


def measure_import(python: Path, data_dir: Path, port: int, rows: int) -> dict[str, Any]:
    """POST a `rows`-row CSV to import_keywords on a copy of the bench database (so the
    keyword figures of the next --no-seed run are not changed), into a new sector of the
    acme site; rows/s, and the server's RSS before and after."""
    with tempfile.TemporaryDirectory(prefix="igny8d-import-") as tmp:
        copy = Path(tmp) / "data"
        shutil.copytree(data_dir, copy)
        custom = igny8d_command(python, copy)
        proc = start_igny8d(custom, port, 1)
        try:
            base = f"http://127.0.0.1:{port}"
            token = _login(base)
            status, doc = _request("POST", base + "/api/v1/auth/sectors/", json.dumps(
                {"name": "Bench import", "site_id": 1}).encode(), token=token)
            if status != 201:
                raise SystemExit(f"creating the import sector failed: {status} {doc}")
            sector_id = doc["data"]["id"]
            data = import_csv(rows)
            body, ctype = multipart({"site_id": "1", "sector_id": str(sector_id)},
                                    "keywords.csv", data)
            rss_before = group_rss_mb(proc.pid)
            t0 = time.perf_counter()
            status, doc = _request("POST", base + IMPORT_PATH, body, token=token,
                                   content_type=ctype, timeout=900)
            seconds = time.perf_counter() - t0
            rss_after = group_rss_mb(proc.pid)
        finally:
            stop_igny8d(proc)
    answer = doc.get("data", doc)
    created = answer.get("created") if isinstance(answer, dict) else None
    return {"endpoint": "import_keywords", "target": IGNY8D, "workers": 1, "rows": rows,
            "csv_bytes": len(data), "status": status, "seconds": round(seconds, 2),
            "rows_per_s": round(rows / seconds, 1) if seconds else 0.0,
            "created": created, "answer": str(answer)[:300],
            "server_rss_mb_before": rss_before, "server_rss_mb": rss_after}


# -- tables --------------------------------------------------------------------------------------

#: the issue's targets: endpoint -> {target: minimum igny8d/target req/s ratio}
RATIO_TARGETS = {"keywords": {"drf": 3.0, "fastapi": 2.0},
                 "keywords_filtered": {"drf": 5.0, "fastapi": 3.0},
                 "ping": {"tornado-ceiling": 0.9}}
IMPORT_TARGET_ROWS_S, RSS_TARGET_MB = 20_000, 150.0


def targets_table(rows: list[dict[str, Any]], imp: dict[str, Any] | None) -> str:
    """Which of the issue's targets this run met."""
    by = {(r["target"], r["endpoint"]): r for r in rows}
    out = ["| target (issue 6, item 7) | needed | this run | met |", "| --- | ---: | ---: | --- |"]

    def add(what: str, need: str, got: str, ok: bool | None) -> None:
        out.append(f"| {what} | {need} | {got} | "
                   f"{'–' if ok is None else 'yes' if ok else '**no**'} |")

    for ep, wants in RATIO_TARGETS.items():
        me = by.get((IGNY8D, ep))
        for peer, need in wants.items():
            other = by.get((peer, ep))
            if me is None or other is None or not other["rps"]:
                continue
            ratio = me["rps"] / other["rps"]
            valid = me.get("probe_ok", True) and not me.get("non_2xx")
            add(f"{ep}: igny8d ({me['workers']} proc) ÷ {peer} ({other['workers']} proc)",
                f"≥ {need:g}×", f"{ratio:.2f}×", ratio >= need if valid else False)
        for peer in ("drf", "fastapi"):
            other = by.get((peer, ep))
            if me is None or other is None or ep == "ping":
                continue
            add(f"{ep}: p99 below {peer}", f"< {other['p99_ms']:.1f} ms",
                f"{me['p99_ms']:.1f} ms", me["p99_ms"] < other["p99_ms"])
    if imp is not None and imp.get("status") is not None:
        ok = imp["status"] in (200, 201)
        add(f"import_keywords, {imp['rows']:,} rows (HTTP {imp['status']})",
            f"≥ {IMPORT_TARGET_ROWS_S:,} rows/s", f"{imp['rows_per_s']:,.0f} rows/s",
            ok and imp["rows_per_s"] >= IMPORT_TARGET_ROWS_S)
        add("server RSS after the import", f"≤ {RSS_TARGET_MB:g} MB",
            f"{imp['server_rss_mb']:g} MB", imp["server_rss_mb"] <= RSS_TARGET_MB)
    me_rss = [r["server_rss_mb"] for r in rows if r["target"] == IGNY8D and "server_rss_mb" in r]
    if me_rss:
        add("server RSS after the load (igny8d, max over endpoints)", f"≤ {RSS_TARGET_MB:g} MB",
            f"{max(me_rss):g} MB", max(me_rss) <= RSS_TARGET_MB)
    return "\n".join(out)


def human_table(rows: list[dict[str, Any]]) -> str:
    """Every target and endpoint: req/s, latency, igny8d's ratio, CPU per request, RSS, and
    whether the keyword pages are the same as drf's."""
    by = {(r["target"], r["endpoint"]): r for r in rows}
    out = ["| endpoint | target | procs | req/s | p50 / p99 ms | igny8d × this | "
           "CPU ms/req | worker CPU s | RSS MB | count / digest |",
           "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- |"]
    for r in rows:
        me = by.get((IGNY8D, r["endpoint"]))
        ratio = ("–" if r["target"] == IGNY8D or me is None or not r["rps"]
                 else f"**{me['rps'] / r['rps']:.2f}**")
        cpu = cpu_ms_per_request(r)
        flags = []
        if not r.get("probe_ok", True):
            flags.append("PROBE FAILED")
        if r.get("non_2xx") or r.get("socket_errors"):
            flags.append(f"non-2xx {r.get('non_2xx')} {r.get('socket_errors') or ''}".strip())
        name = f"**{r['target']}**" if r["target"] == IGNY8D else r["target"]
        digest = (f"{r['count']} / {r['results_digest']}" if "results_digest" in r else "")
        ref = by.get(("drf", r["endpoint"]))
        if digest and ref and r["target"] != "drf" and "results_digest" in ref:
            same = (ref.get("count"), ref["results_digest"]) == (r["count"],
                                                                 r["results_digest"])
            digest += " (= drf)" if same else " (**≠ drf**)"
        out.append(
            f"| {r['endpoint']} | {name} | {r.get('workers', '')} | {r['rps']:,.0f}"
            f"{' (' + '; '.join(flags) + ')' if flags else ''} | "
            f"{r['p50_ms']:.2f} / {r['p99_ms']:.2f} | {ratio} | "
            f"{'–' if cpu is None else f'{cpu:.3f}' if cpu < 10 else f'{cpu:.0f}'} | "
            f"{r.get('worker_cpu_s', '')} | {r.get('server_rss_mb', '')} | {digest} |")
    return "\n".join(out)


def import_line(imp: dict[str, Any] | None) -> str:
    if imp is None:
        return ""
    if imp.get("skipped"):
        return f"import_keywords: skipped ({imp['skipped']})"
    return (f"import_keywords (igny8d, 1 process, copy of the bench database): "
            f"{imp['rows']:,} rows, {imp['csv_bytes'] / 1e6:.1f} MB CSV, HTTP {imp['status']} "
            f"in {imp['seconds']:.2f} s = **{imp['rows_per_s']:,.0f} rows/s**; created "
            f"{imp['created']}; server RSS {imp['server_rss_mb_before']:g} MB before, "
            f"**{imp['server_rss_mb']:g} MB after**" + (
                "" if imp["status"] in (200, 201) else f"; answer {imp['answer']}"))


def record(path: Path, text: str) -> None:
    """Put `text` between the markers of bench/RESULTS.md (created if missing); what is
    outside the markers (notes, analysis, older runs) is kept."""
    block = f"{RECORD_BEGIN}\n{text.rstrip()}\n{RECORD_END}"
    old = path.read_text(encoding="utf-8") if path.is_file() else (
        "# igny8d side by side with the peers\n\nFigures of `bench/run.py` (bench/README.md "
        "says how to read them).\n\n")
    if RECORD_BEGIN in old and RECORD_END in old:
        head, _, rest = old.partition(RECORD_BEGIN)
        _, _, tail = rest.partition(RECORD_END)
        new = head + block + tail
    else:
        new = old.rstrip() + "\n\n" + block + "\n"
    path.write_text(new, encoding="utf-8")


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
                    help="comma list of ping, keywords, keywords_filtered, login, mixed "
                         "(the mixed scenario, bench/mixed.py; `--endpoints mixed` runs "
                         "only it) (default %(default)s)")
    ap.add_argument("--duration", type=int, default=10, help="measured seconds per endpoint")
    ap.add_argument("--warmup", type=int, default=2, help="unmeasured seconds first")
    ap.add_argument("--workers", type=int, default=2,
                    help="server processes of targets not in --workers-for (default 2)")
    ap.add_argument("--workers-for", default=DEFAULT_WORKERS_FOR, metavar="T=N,…",
                    help="per-target processes (default %(default)s: the issue's "
                         "comparison, igny8d and the ceiling in one process)")
    ap.add_argument("--import-rows", type=int, default=100_000, metavar="N",
                    help="rows of the import_keywords measurement (0: skip; default "
                         "%(default)s)")
    ap.add_argument("--no-record", action="store_true",
                    help="do not rewrite the latest-run section of bench/RESULTS.md")
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
    ap.add_argument("--parity-only", action="store_true",
                    help="only seed and run parity.py drf vs igny8d (no load)")
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
        mixed_json = args.report.with_name(args.report.stem + "-mixed.json")
        if mixed_json.is_file():
            mixed = _load_module("bench_mixed", HERE / "mixed.py")
            print("\n" + mixed.render(json.loads(mixed_json.read_text())))
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

    workers = {t: args.workers for t in targets}
    workers.update({t: n for t, n in parse_workers_for(
        args.workers_for, {*TARGET_VENV, IGNY8D}).items() if t in workers})
    endpoints = [e for e in args.endpoints.split(",") if e]

    prepare_work_dir(args.peers.resolve(), work)
    missing = needs_setup(work, peer_targets)
    if missing:
        log(f"missing in {work}: {', '.join(missing)}")
        run_setup(work)
    shim_dir = Path(tempfile.mkdtemp(prefix="igny8d-bench-bin-"))
    try:
        return side_by_side(args, targets, workers, endpoints, work, data_dir, python,
                            wrk_path_env(shim_dir))
    finally:
        shutil.rmtree(shim_dir, ignore_errors=True)


def run_mixed(args: argparse.Namespace, targets: list[str], workers: dict[str, int],
              work: Path, data_dir: Path, python: Path, serves: dict[str, bool],
              stamp: str) -> str:
    """bench/mixed.py's scenario; its rows to results/<stamp>-mixed.json, its Markdown back."""
    if IGNY8D in targets and not serves["keywords"]:
        log(f"igny8d does not serve {KEYWORDS_PATH} yet: the mixed scenario is skipped")
        return ""
    if shutil.which("wrk") is None:
        log("the mixed scenario needs wrk (apt-get install -y wrk): skipped")
        return ""
    mixed = _load_module("bench_mixed", HERE / "mixed.py")
    setup = mixed.Setup(work=work, igny8d_data=data_dir,
                        igny8d_command=lambda d: igny8d_command(python, d), env=clean_env(),
                        workers=workers, port=args.port, duration=args.duration,
                        warmup=args.warmup, connections=args.connections, log=log,
                        log_prefix=args.results / f"{stamp}-mixed")
    res = mixed.run(setup, targets)
    (args.results / f"{stamp}-mixed.json").write_text(json.dumps(res) + "\n")
    log(f"mixed scenario: {res['seconds']:.0f} s; -> results/{stamp}-mixed.json")
    return str(mixed.render(res))


def side_by_side(args: argparse.Namespace, targets: list[str], workers: dict[str, int],
                 endpoints: list[str], work: Path, data_dir: Path, python: Path,
                 extra_env: dict[str, str]) -> int:
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

    if args.parity_only:
        args.results.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        summary = run_parity(args, work, custom, args.results / f"{stamp}.log", extra_env)
        (args.results / f"{stamp}-parity.md").write_text(
            f"# parity {stamp} (UTC)\n\nigny8d {code}\n\n{summary}\n")
        return 0
    serves = {"keywords": True, "import": False}
    if IGNY8D in targets:
        serves = preflight(custom, args.port)
        if not serves["keywords"] and set(endpoints) & set(KEYWORD_ENDPOINTS):
            log(f"igny8d does not serve {KEYWORDS_PATH} yet: its keyword endpoints are "
                "skipped (the peers' are measured)")

    args.results.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    jsonl = args.results / f"{stamp}.jsonl"
    log_path = args.results / f"{stamp}.log"
    load_before = os.getloadavg()
    rc = 0
    mixed_on = MIXED in endpoints
    endpoints = [e for e in endpoints if e != MIXED]
    for n, group in worker_groups(targets, workers):
        eps = endpoints
        if IGNY8D in group and not serves["keywords"]:
            eps = [e for e in endpoints if e not in KEYWORD_ENDPOINTS]
        if not eps:
            continue
        peers_here = [t for t in group if t != IGNY8D]
        cmd = [sys.executable, "bench.py", *peers_here,
               "--endpoints", ",".join(eps), "--duration", str(args.duration),
               "--warmup", str(args.warmup), "--workers", str(n),
               "--connections", str(args.connections),
               "--login-connections", str(args.login_connections),
               "--port", str(args.port), "--out", str(jsonl)]
        if IGNY8D in group:
            cmd += ["--custom", f"{IGNY8D}={custom}"]
        log(f"load: {' '.join(group)} with {n} process(es) on {','.join(eps)}; -> {jsonl}")
        rc = run_teed(cmd, work, log_path, extra_env) or rc
    load_after = os.getloadavg()
    if rc != 0:
        log(f"bench.py exited {rc}; see {log_path}")
    if not jsonl.is_file() and endpoints:
        return rc or 1

    imp: dict[str, Any] | None = None
    if IGNY8D in targets and args.import_rows > 0 and endpoints:  # not with mixed alone
        if serves["import"]:
            log(f"import_keywords: {args.import_rows:,} rows into a copy of the bench database")
            imp = measure_import(python, data_dir, args.port, args.import_rows)
            log(import_line(imp))
        else:
            imp = {"skipped": f"igny8d does not serve {IMPORT_PATH} yet (404)"}
            log(f"import_keywords: {imp['skipped']}; skipped")
        (args.results / f"{stamp}-import.json").write_text(json.dumps(imp) + "\n")

    mixed_md = ""
    if mixed_on:
        mixed_md = run_mixed(args, targets, workers, work, data_dir, python, serves, stamp)
        load_after = os.getloadavg()
    rows = ([json.loads(line) for line in jsonl.read_text().splitlines() if line.strip()]
            if jsonl.is_file() else [])
    header = (f"# bench {stamp} (UTC)\n\nigny8d {code}; processes "
              + ", ".join(f"{t} {workers[t]}" for t in targets)
              + f"; connections={args.connections} duration={args.duration}s "
              f"warmup={args.warmup}s cpus={os.cpu_count()}; driver "
              f"{'run.py stdlib client (no wrk)' if extra_env else 'wrk'}; "
              f"loadavg(1/5/15 min) before {fmt_load(load_before)}, after {fmt_load(load_after)}"
              "\n\n")
    text = render(jsonl, args.ref, work) if rows else "(no bench.py endpoints in this run)"
    ours = ("## Side by side\n\n" + human_table(rows) + "\n\n"
            + (import_line(imp) + "\n\n" if imp else "")
            + "## The issue's targets\n\n" + targets_table(rows, imp if imp and
                                                              not imp.get("skipped") else None)
            if rows else "") + ("\n\n" if rows and mixed_md else "") + mixed_md
    (args.results / f"{stamp}.md").write_text(header + ours + "\n\n## report.py\n\n"
                                              + text + "\n")
    print(text)
    print("\n" + ours)

    parity = ""
    if args.parity and IGNY8D in targets:
        parity = run_parity(args, work, custom, log_path, extra_env)
        with open(args.results / f"{stamp}.md", "a", encoding="utf-8") as f:
            f.write("\n## Parity\n\n" + parity + "\n")
    if not args.no_record and IGNY8D in targets and {"drf", "fastapi"} & set(targets):
        record(HERE / "RESULTS.md", f"## Latest run: `results/{stamp}`\n\n" + header
               .removeprefix(f"# bench {stamp} (UTC)\n\n") + ours
               + ("\n\n### Parity\n\n" + parity if parity else "") + "\n")
        log(f"bench/RESULTS.md: latest-run section rewritten (results/{stamp})")
    return rc


if __name__ == "__main__":
    if sys.argv[1:2] == ["--wrk-shim"]:  # run as `wrk` by bench.py (see wrk_path_env)
        sys.exit(wrk_shim(sys.argv[2:]))
    sys.exit(main())
