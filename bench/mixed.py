"""The mixed scenario of `make bench` (issue 14, item 5): varied keyword searches under wrk
while a second process adds keywords at a steady rate into the account the readers read,
side by side with the peers.

Per target (drf, fastapi, igny8d; each on its own copy of its bench database, so the writes
change no later run): start the server, check that every reader path answers 200 and note
its count and page ids (compared across targets before any write), then for each write rate
(1/s, then 10/s): the writer alone for `duration` s (the idle write latency), a reads-only
warm-up, and `duration` s of wrk (32 connections, 40 search words x pages 1-3) with the
writer running at the same time. Afterwards the page-1 counts again (the same writes went
into every target, so they must still agree).

The writer is a separate process (`python bench/mixed.py --writer`, config on stdin, JSON
summary on stdout): one client, sequential, write i due at start + i/rate, never sent early;
a write whose slot passes while the previous one is still in flight is sent late; none is
started after the window (those count as attempted, not done). igny8d gets its writes
through its API (`POST /api/v1/planner/keywords/`); the peers have no write endpoint (their
README: "Not implemented: writes"), so theirs are the same rows INSERTed into their SQLite
database by the writer: their readers see the same data, their write latency is the
database's alone.

Stdlib only; loaded by run.py (`--endpoints …,mixed`); only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import hashlib
import http.client
import importlib.util
import json
import math
import os
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
LUA = HERE / "mixed.lua"
IGNY8D = "igny8d"
#: targets that serve the keyword list, in the order they are measured (peers first)
MIXED_TARGETS = ("drf", "fastapi", IGNY8D)
RATES = (1, 10)
KEYWORDS_PATH = "/api/v1/planner/keywords/"
LOGIN = {"email": "owner@acme.example", "password": "password123"}
#: where the writes go: the acme account's site 1, sector 1 (the peers' ids; igny8d's
#: seed keeps them), the account the readers read
ACCOUNT_ID, SITE_ID, SECTOR_ID = 1, 1, 1
#: 40 words of the peers' word pool, none a substring of another pool word (so LIKE and
#: igny8d's search agree); each has 203-512 active matches of acme's 50,000 keywords, so
#: pages 1-3 of 25 exist
WORDS = (
    "best", "cheap", "buy", "online", "reviews", "prices", "guide", "free", "shoes",
    "running", "boots", "hiking", "jacket", "winter", "coffee", "espresso", "laptop",
    "gaming", "desk", "chair", "monitor", "keyboard", "wireless", "headphones", "camera",
    "drone", "charger", "garden", "furniture", "mattress", "kitchen", "recipe", "vegan",
    "protein", "yoga", "fitness", "watch", "smart", "travel", "hotel")
PAGES = (1, 2, 3)
#: the fixed query's filters and ordering (bench.py's keywords_filtered), another word
QUERY = "?page_size=25&ordering=-volume&status=active&search={word}"
#: the issue's targets (issue 14, item 5), igny8d in one process
RATIO_TARGET = 5.0
P99_TARGET_MS = {10: 100.0, 1: 60.0}


def reader_paths() -> list[str]:
    """The paths the readers walk, in order: each word's pages 1, 2, 3 (page 1 without
    `page=`, as the fixed query)."""
    out = []
    for word in WORDS:
        for page in PAGES:
            out.append(KEYWORDS_PATH + QUERY.format(word=word)
                       + (f"&page={page}" if page > 1 else ""))
    return out


# -- the writer ------------------------------------------------------------------------------


def keyword_row(tag: str, i: int) -> dict[str, Any]:
    """Write i of a run: an active keyword with two of the readers' words, so it lands in
    the pages they read; `tag` keeps it unique in the sector across runs (igny8d refuses
    the same keyword twice in a sector)."""
    return {"keyword": f"{WORDS[i % len(WORDS)]} {WORDS[(7 * i + 11) % len(WORDS)]} "
                       f"mixed {tag} {i}",
            "volume": 10 + (7919 * i) % 99_991, "difficulty": i % 101,
            "intent": "commercial", "status": "active"}


@dataclass(frozen=True)
class Outcome:
    """One write: when it was due, when it was sent, how long it took, whether it worked."""

    index: int
    due: float
    sent: float
    seconds: float
    ok: bool
    error: str = ""


def pace(write: Callable[[int], tuple[bool, str]], rate: float, duration: float,
         start: float, clock: Callable[[], float] = time.time,
         sleep: Callable[[float], None] = time.sleep) -> list[Outcome]:
    """Write i at start + i/rate for i < rate * duration, one at a time: never before its
    slot, late when the previous write held the client past it; nothing is sent after
    start + duration."""
    outcomes = []
    end = start + duration
    for i in range(round(rate * duration)):
        due = start + i / rate
        now = clock()
        if now < due:
            sleep(due - now)
            now = clock()
        if now >= end:
            break
        ok, error = write(i)
        outcomes.append(Outcome(i, due, now, clock() - now, ok, error))
    return outcomes


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0-100): a value that occurred; p99 of 10 is the max."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1]


def summarize(outcomes: Sequence[Outcome], attempted: int) -> dict[str, Any]:
    """Writes done / attempted, and the latency of every write sent (failed ones too: a
    timeout is a slow write)."""
    ms = [1000 * o.seconds for o in outcomes]

    def r(v: float | None) -> float | None:
        return None if v is None else round(v, 2)

    errors = sorted({o.error for o in outcomes if not o.ok and o.error})
    return {"attempted": attempted, "sent": len(outcomes),
            "done": sum(o.ok for o in outcomes),
            "failed": sum(not o.ok for o in outcomes),
            "p50_ms": r(percentile(ms, 50)), "p99_ms": r(percentile(ms, 99)),
            "max_ms": r(max(ms, default=None)),
            "late_max_ms": r(max((1000 * (o.sent - o.due) for o in outcomes), default=None)),
            "errors": errors[:3]}


def _api_writer(url: str, token: str, tag: str) -> Callable[[int], tuple[bool, str]]:
    host_port = url.split("//", 1)[1].rstrip("/")
    host, _, port = host_port.partition(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}

    def write(i: int) -> tuple[bool, str]:
        nonlocal conn
        body = json.dumps({**keyword_row(tag, i), "site_id": SITE_ID, "sector_id": SECTOR_ID})
        try:
            conn.request("POST", KEYWORDS_PATH, body=body, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            conn = http.client.HTTPConnection(host, int(port), timeout=10)
            return False, type(exc).__name__
        return resp.status == 201, "" if resp.status == 201 else f"{resp.status} {raw[:80]!r}"

    return write


def _sqlite_writer(db: str, tag: str) -> Callable[[int], tuple[bool, str]]:
    con = sqlite3.connect(db, timeout=10, isolation_level=None)

    def write(i: int) -> tuple[bool, str]:
        row = keyword_row(tag, i)
        now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
        try:
            con.execute("BEGIN IMMEDIATE")
            con.execute(
                "INSERT INTO keywords (account_id, site_id, sector_id, cluster_id, keyword, "
                "volume, difficulty, intent, status, created_at, updated_at) "
                "VALUES (?,?,?,NULL,?,?,?,?,?,?,?)",
                (ACCOUNT_ID, SITE_ID, SECTOR_ID, row["keyword"], row["volume"],
                 row["difficulty"], row["intent"], row["status"], now, now))
            con.execute("COMMIT")
        except sqlite3.Error as exc:
            if con.in_transaction:
                con.execute("ROLLBACK")
            return False, str(exc)[:80]
        return True, ""

    return write


def writer_main() -> int:
    """`mixed.py --writer`: the config as JSON on stdin, the summary as JSON on stdout."""
    cfg = json.loads(sys.stdin.read())
    write = (_api_writer(cfg["url"], cfg["token"], cfg["tag"]) if cfg["kind"] == "api"
             else _sqlite_writer(cfg["db"], cfg["tag"]))
    outcomes = pace(write, cfg["rate"], cfg["duration"], cfg["start"])
    print(json.dumps(summarize(outcomes, round(cfg["rate"] * cfg["duration"]))))
    return 0


# -- servers, reads, checks ------------------------------------------------------------------


def _load(name: str, path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _get(base: str, path: str, token: str | None = None, body: dict[str, Any] | None = None
         ) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(base + path, headers=headers,
                                 data=json.dumps(body).encode() if body is not None else None)
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        doc = json.loads(raw)
    except ValueError:
        doc = {"raw": raw[:200].decode(errors="replace")}
    return status, doc if isinstance(doc, dict) else {}


class Server:
    """A target in its own process group, stopped by that group id."""

    def __init__(self, cmd: str, env: dict[str, str], cwd: Path, port: int, log: Path):
        self.base = f"http://127.0.0.1:{port}"
        self.log = log
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(shlex.split(cmd), env=env, cwd=cwd, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while True:
            try:
                if _get(self.base, "/api/v1/system/ping/")[0] == 200:
                    return
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SystemExit(f"mixed: {cmd} did not answer; log tail:\n"
                                 + log.read_text(errors="replace")[-1500:])
            time.sleep(0.2)

    def stop(self) -> None:
        for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            if self.proc.poll() is not None:
                break
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                continue


def page_answers(base: str, token: str, paths: Sequence[str]) -> dict[str, Any]:
    """Each path's status, count and a digest of its page's ids (bench.py's digest)."""
    out: dict[str, Any] = {}
    for path in paths:
        status, doc = _get(base, path, token)
        ids = [r.get("id") for r in doc.get("results", [])]
        out[path] = [status, doc.get("count"),
                     hashlib.sha1(json.dumps(ids).encode()).hexdigest()[:12]]
    return out


def run_wrk(url: str, token: str, paths: Sequence[str], seconds: int,
            connections: int) -> dict[str, Any]:
    env = dict(os.environ, BENCH_TOKEN=token, BENCH_PATHS=" ".join(paths))
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
           "-s", str(LUA), url]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 60)
    for line in out.stdout.splitlines():
        if line.startswith("WRKJSON "):
            return dict(json.loads(line[8:]))
    raise SystemExit(f"mixed: wrk gave no report (rc={out.returncode}): {out.stderr[-300:]}")


def start_writer(cfg: dict[str, Any]) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--writer"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdin is not None
    proc.stdin.write(json.dumps(cfg))
    proc.stdin.close()
    return proc


def writer_result(proc: subprocess.Popen[str]) -> dict[str, Any]:
    assert proc.stdout is not None
    out = proc.stdout.read()
    if proc.wait() != 0 or not out.strip():
        raise SystemExit(f"mixed: the writer failed (exit {proc.returncode})")
    return dict(json.loads(out))


@dataclass
class Setup:
    """What run.py knows: where things are and how to start igny8d."""

    work: Path
    igny8d_data: Path
    igny8d_command: Callable[[Path], str]  # data dir -> command with {port} {workers}
    env: dict[str, str]
    workers: dict[str, int]
    port: int
    duration: int
    warmup: int
    connections: int
    log: Callable[..., None]
    #: each server's output is kept as <prefix>-<target>.log (git-ignored), when given
    log_prefix: Path | None = None


def measure_target(s: Setup, target: str, tmp: Path, peers: Any) -> dict[str, Any]:
    workers = s.workers.get(target, 2)
    env = dict(s.env, PYTHONUNBUFFERED="1")
    if target == IGNY8D:
        data = tmp / "igny8d-data"
        shutil.copytree(s.igny8d_data, data)
        cmd, cwd, db = s.igny8d_command(data).format(port=s.port, workers=workers), REPO, ""
    else:
        db = str(tmp / "peers.sqlite3")
        src, dst = sqlite3.connect(s.work / "peers.sqlite3"), sqlite3.connect(db)
        try:
            src.backup(dst)
        finally:
            src.close()
            dst.close()
        env["PEER_DB"] = db
        cmd = peers.TARGETS[target][0].format(here=s.work, port=s.port, workers=workers, db=db)
        cwd = s.work
    paths = reader_paths()
    server = Server(cmd, env, cwd, s.port, tmp / f"{target}.log")
    try:
        status, doc = _get(server.base, "/api/v1/auth/login/", body=LOGIN)
        if status != 200:
            raise SystemExit(f"mixed: {target} login failed: {status} {doc}")
        token = str(doc["data"]["access"])
        before = page_answers(server.base, token, paths)
        rows = []
        for rate in RATES:
            writer: dict[str, Any] = ({"kind": "api", "url": server.base, "token": token}
                                      if target == IGNY8D else {"kind": "sqlite", "db": db})
            s.log(f"mixed: {target} ({workers} proc), {rate} write(s)/s: idle writes "
                  f"{s.duration} s, warm-up {s.warmup} s, reads + writes {s.duration} s")
            settled = settle(lambda: sum(peers.group_cpu_s(server.proc.pid).values()))
            if not settled:
                s.log(f"  {target}: still busy 30 s after the reads; idle writes anyway")
            c0 = peers.group_cpu_s(server.proc.pid)
            idle = writer_result(start_writer({**writer, "rate": rate, "duration": s.duration,
                                               "start": time.time() + 0.5,
                                               "tag": f"idle{rate}"}))
            idle["server_cpu_s"] = round(cpu_delta(c0, peers.group_cpu_s(server.proc.pid)), 3)
            idle["settled"] = settled
            if s.warmup:
                run_wrk(server.base, token, paths, s.warmup, s.connections)
            start = time.time() + 1.0
            proc = start_writer({**writer, "rate": rate, "duration": s.duration,
                                 "start": start, "tag": f"load{rate}"})
            time.sleep(max(0.0, start - time.time()))
            cpu0 = peers.group_cpu_s(server.proc.pid)
            r = run_wrk(server.base, token, paths, s.duration, s.connections)
            cpu1 = peers.group_cpu_s(server.proc.pid)
            writes = writer_result(proc)
            used = sorted((cpu1[p] - cpu0.get(p, 0.0) for p in cpu1), reverse=True)
            secs = r["duration_us"] / 1e6
            # the writes' share of the window's CPU, at the idle writes' cost per write
            per_write = idle["server_cpu_s"] / idle["sent"] if idle["sent"] else 0.0
            read_cpu = max(0.0, sum(used) - per_write * writes["sent"])
            rows.append({
                "target": target, "workers": workers, "rate": rate,
                "connections": s.connections, "duration_s": round(secs, 2),
                "requests": r["requests"], "rps": round(r["requests"] / secs, 1),
                "p50_ms": round(r["p50_us"] / 1000, 2), "p99_ms": round(r["p99_us"] / 1000, 2),
                "max_ms": round(r["max_us"] / 1000, 2), "non_2xx": r["err_status"],
                "socket_errors": {k[4:]: r[k] for k in ("err_connect", "err_read",
                                                        "err_write", "err_timeout") if r[k]},
                "server_cpu_s": round(sum(used), 2), "read_cpu_s": round(read_cpu, 2),
                "worker_cpu_s": [round(u, 2) for u in used[:workers]],
                "server_rss_mb": peers.group_rss_mb(server.proc.pid),
                "write_path": "api" if target == IGNY8D else "sqlite",
                "writes": writes, "idle_writes": idle})
            w = writes
            s.log(f"  {target:8} {rate:>2}/s  {rows[-1]['rps']:>8.1f} req/s  p50 "
                  f"{rows[-1]['p50_ms']:.1f} p99 {rows[-1]['p99_ms']:.1f} ms  writes "
                  f"{w['done']}/{w['attempted']} p50 {w['p50_ms']} p99 {w['p99_ms']} ms "
                  f"(idle {idle['p50_ms']} / {idle['p99_ms']} ms)")
        after = page_answers(server.base, token, paths[::len(PAGES)])
    finally:
        server.stop()
        if s.log_prefix is not None:
            shutil.copy(server.log, f"{s.log_prefix}-{target}.log")
    return {"target": target, "rows": rows, "before": before,
            "after": {p: a[1] for p, a in after.items()}}


def settle(cpu_s: Callable[[], float], quiet: float = 0.05, step: float = 0.5,
           limit: float = 30.0, clock: Callable[[], float] = time.monotonic,
           sleep: Callable[[float], None] = time.sleep) -> bool:
    """Wait until the server uses under `quiet` of a core over `step` s (the requests wrk
    left queued when its window closed are done), at most `limit` s: the idle writes must
    find it idle. False when it never settled."""
    deadline = clock() + limit
    before = cpu_s()
    while clock() < deadline:
        sleep(step)
        now = cpu_s()
        if now - before < quiet * step:
            return True
        before = now
    return False


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(after[p] - before.get(p, 0.0) for p in after)


def run(s: Setup, targets: Sequence[str]) -> dict[str, Any]:
    """The scenario for the keyword-serving targets among `targets`; rows and checks."""
    peers = _load("bench_peers_for_mixed", s.work / "bench.py")
    chosen = [t for t in MIXED_TARGETS if t in targets]
    load_before = os.getloadavg()
    t0 = time.monotonic()
    per_target = []
    with tempfile.TemporaryDirectory(prefix="igny8d-mixed-") as tmp:
        for target in chosen:
            sub = Path(tmp) / target
            sub.mkdir()
            per_target.append(measure_target(s, target, sub, peers))
            time.sleep(1)
    return {"targets": chosen, "rates": list(RATES), "words": list(WORDS),
            "pages": list(PAGES), "duration": s.duration, "warmup": s.warmup,
            "connections": s.connections, "cpus": os.cpu_count(),
            "rows": [r for t in per_target for r in t["rows"]],
            "checks": answers_check(per_target),
            "loadavg_before": [round(x, 2) for x in load_before],
            "loadavg_after": [round(x, 2) for x in os.getloadavg()],
            "seconds": round(time.monotonic() - t0, 1)}


def answers_check(per_target: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Before the writes: every path 200 on every target, the same counts and the same
    page ids as the first target; after them: the same page-1 counts."""
    if not per_target:
        return {}
    ref = per_target[0]
    out: dict[str, Any] = {"reference": ref["target"], "paths": len(ref["before"]),
                           "targets": {}}
    for t in per_target:
        before = t["before"]
        out["targets"][t["target"]] = {
            "non_200": sorted(p for p, a in before.items() if a[0] != 200),
            "counts_differ": sorted(p for p, a in before.items()
                                    if a[1] != ref["before"][p][1]),
            "pages_differ": sorted(p for p, a in before.items()
                                   if a[2] != ref["before"][p][2]),
            "counts_differ_after": sorted(p for p, c in t["after"].items()
                                          if c != ref["after"].get(p)),
            "writes_done": sum(r[k]["done"] for r in t["rows"]
                               for k in ("writes", "idle_writes")),
            "writes_attempted": sum(r[k]["attempted"] for r in t["rows"]
                                    for k in ("writes", "idle_writes")),
        }
    return out


# -- report ----------------------------------------------------------------------------------


def _ms(v: float | None) -> str:
    return "–" if v is None else f"{v:.1f}"


def read_cpu_s(row: dict[str, Any]) -> float:
    """The server's CPU for the reads: the window's, less the writes' share where measured
    (runs before that field existed give the whole window's)."""
    return float(row.get("read_cpu_s", row["server_cpu_s"]))


def _cpu(row: dict[str, Any]) -> str:
    return f"{1000 * read_cpu_s(row) / row['requests']:.2f}" if row["requests"] else "–"


def _done(c: dict[str, Any], ref: dict[str, Any]) -> str:
    if "writes_done" not in c:
        return ""
    return (f" (writes done, loaded and idle: {c['writes_done']} of {c['writes_attempted']}, "
            f"the reference {ref['writes_done']} of {ref['writes_attempted']})")


def _agree(differing: Sequence[str]) -> str:
    return "equal" if not differing else f"**differ** on {len(differing)}"


def render(res: dict[str, Any]) -> str:
    """The scenario's Markdown: how it ran, the answers check, the table, the targets."""
    checks = res["checks"]
    ref = checks.get("reference", "")
    lines = [
        "## Mixed scenario (issue 14, item 5)", "",
        f"Readers: wrk `-t1 -c{res['connections']}` walking {len(res['words'])} search words "
        f"× pages {res['pages'][0]}–{res['pages'][-1]} of `{KEYWORDS_PATH}{QUERY}` "
        f"(bench/mixed.py), {res['duration']} s measured per write rate after a "
        f"{res['warmup']} s reads-only warm-up. Writer: one process, one write at a time, "
        f"due every 1/rate s, {res['duration']} s per rate, active keywords with two of the "
        f"searched words into acme's site {SITE_ID} / sector {SECTOR_ID}; igny8d through "
        f"`POST {KEYWORDS_PATH}`, the peers (no write endpoint) by the same rows INSERTed "
        "into their SQLite database, so **their write latency is the database's alone**. "
        "Idle write latency: the same writes, no readers. Each target on its own copy of its "
        "bench database. CPU ms/read: the server's CPU over the read window, less the "
        "writes' share (the idle writes' server CPU per write × writes sent), ÷ reads. "
        "Shared 2-core machine: loadavg(1/5/15 min) "
        f"before {'/'.join(f'{x:.2f}' for x in res['loadavg_before'])}, after "
        f"{'/'.join(f'{x:.2f}' for x in res['loadavg_after'])}; {res['seconds']:.0f} s in all.",
        ""]
    for target, c in checks.get("targets", {}).items():
        if target == ref:
            bad = len(c["non_200"])
            lines.append(f"* answers before the writes, {checks['paths']} paths: {target} "
                         f"(reference) {'all 200' if not bad else f'**{bad} not 200**'}")
            continue
        lines.append(
            f"* {target} vs {ref}: counts {_agree(c['counts_differ'])} of {checks['paths']} "
            f"paths, pages (ids) {_agree(c['pages_differ'])}"
            f"{'' if not c['non_200'] else ', **' + str(len(c['non_200'])) + ' not 200**'}; "
            f"page-1 counts after all the writes {_agree(c['counts_differ_after'])}"
            + _done(c, checks["targets"][ref]))
    lines += ["", "| writes/s | target | procs | read req/s | p50 / p99 ms | igny8d × this | "
              "CPU ms/read | writes done / attempted | write p50 / p99 ms | idle write p50 / "
              "p99 ms | worker CPU s |",
              "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    by = {(r["target"], r["rate"]): r for r in res["rows"]}
    for r in res["rows"]:
        me = by.get((IGNY8D, r["rate"]))
        ratio = ("–" if r["target"] == IGNY8D or me is None or not r["rps"]
                 else f"**{me['rps'] / r['rps']:.2f}**")
        flags = []
        if r["non_2xx"] or r["socket_errors"]:
            flags.append(f"non-2xx {r['non_2xx']} {r['socket_errors'] or ''}".strip())
        w, idle = r["writes"], r["idle_writes"]
        name = f"**{r['target']}**" if r["target"] == IGNY8D else r["target"]
        path = "" if r["write_path"] == "api" else " (db)"
        lines.append(
            f"| {r['rate']} | {name} | {r['workers']} | {r['rps']:,.0f}"
            f"{' (' + '; '.join(flags) + ')' if flags else ''} | {r['p50_ms']:.1f} / "
            f"{r['p99_ms']:.1f} | {ratio} | {_cpu(r)} | {w['done']} / {w['attempted']} | "
            f"{_ms(w['p50_ms'])} / {_ms(w['p99_ms'])}{path} | {_ms(idle['p50_ms'])} / "
            f"{_ms(idle['p99_ms'])}{path} | {r['worker_cpu_s']} |")
    lines += ["", "### The issue's targets (issue 14, item 5)", "", mixed_targets_table(res)]
    return "\n".join(lines)


def cpu_capacity_ratio(me: dict[str, Any], other: dict[str, Any] | None,
                       res: dict[str, Any]) -> float | None:
    """igny8d's reads per CPU-second ÷ the other's, each capped at the cores it can use: what
    the req/s ratio would be if each had its cores to itself (its own load not counted)."""
    if other is None or not read_cpu_s(me) or not read_cpu_s(other):
        return None
    cores = res.get("cpus") or os.cpu_count() or 1

    def capacity(row: dict[str, Any]) -> float:
        return min(row["workers"], cores) * row["requests"] / read_cpu_s(row)

    return capacity(me) / capacity(other)


def mixed_targets_table(res: dict[str, Any]) -> str:
    by = {(r["target"], r["rate"]): r for r in res["rows"]}
    out = ["| target | needed | this run | met |", "| --- | ---: | ---: | --- |"]

    def add(what: str, need: str, got: str, ok: bool | None) -> None:
        out.append(f"| {what} | {need} | {got} | "
                   f"{'–' if ok is None else 'yes' if ok else '**no**'} |")

    for rate in sorted(P99_TARGET_MS, reverse=True):
        me = by.get((IGNY8D, rate))
        if me is None:
            continue
        valid = not me["non_2xx"] and not me["socket_errors"]
        label = f"{rate} write{'s' if rate > 1 else ''}/s"
        if rate == 10:
            for peer in ("drf", "fastapi"):
                other = by.get((peer, rate))
                if other is None or not other["rps"]:
                    continue
                ratio = me["rps"] / other["rps"]
                add(f"{label}: igny8d ({me['workers']} proc) ÷ {peer} ({other['workers']} proc)",
                    f"≥ {RATIO_TARGET:g}×", f"{ratio:.2f}×", valid and ratio >= RATIO_TARGET)
        add(f"{label}: igny8d read p99", f"< {P99_TARGET_MS[rate]:g} ms",
            f"{me['p99_ms']:.1f} ms", valid and me["p99_ms"] < P99_TARGET_MS[rate])
        w = me["writes"]
        if rate == 10:
            add(f"{label}: igny8d writes done", f"{w['attempted']} / {w['attempted']}",
                f"{w['done']} / {w['attempted']}", w["done"] == w["attempted"])
        est = [f"÷ {peer} {ratio:.2f}×" for peer in ("drf", "fastapi")
               if (ratio := cpu_capacity_ratio(me, by.get((peer, rate)), res)) is not None]
        if est:
            add(f"{label}: igny8d by CPU per request (estimate: min(procs, cores) ÷ CPU "
                "ms/req; steadier than req/s on a busy machine)", "–", ", ".join(est), None)
        add(f"{label}: igny8d write p99 under reads vs idle (item 3: within a few ms)",
            "idle + a few ms", f"{_ms(w['p99_ms'])} vs {_ms(me['idle_writes']['p99_ms'])} ms",
            None)
    return "\n".join(out)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--writer"]:
        sys.exit(writer_main())
    sys.exit("bench/mixed.py is run by bench/run.py (--endpoints mixed); see bench/README.md")
