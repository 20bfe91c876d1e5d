"""The keyword import alone, as `run.py` step 7 measures it, repeatable and on either store:
rows/s, the server's CPU seconds for the upload (on Postgres also its backends'), its RSS
before and after.

    .venv/bin/python bench/import_cpu.py --data-dir /tmp/igny8d-peers/igny8d-data
    .venv/bin/python bench/import_cpu.py --data-dir DIR --repo /tmp/before --runs 3
    .venv/bin/python bench/import_cpu.py --data-dir DIR \
        --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/igny8d_import

`--data-dir` is a bench database built by `seed_from_peers.py` (`run.py --setup-only` makes
one): the acme account's 50,000 keywords. Every run starts ONE igny8d process on a fresh copy
of it (SQLite: the data dir copied; Postgres: the peers' rows seeded once into
`<database>_tpl` and every run a `CREATE DATABASE ... TEMPLATE` of it), creates a sector of
the acme site and POSTs `run.py`'s deterministic CSV (`import_csv`) as multipart. `--repo`
serves another checkout with this venv's python (its `igny8d` package first on the path), so
the same script measures before and after a change; give several `--repo` to interleave them
(A B A B ...). `--profile FILE` runs the server under cProfile (main thread only) and writes
its stats there; `--py-spy FILE` samples every thread of the server during the upload.
Stdlib only, apart from igny8d itself for the Postgres seeding.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run  # noqa: E402  - bench/run.py: its CSV, multipart body, login and RSS helpers

PING = "/api/v1/system/ping/"


def log(*parts: object) -> None:
    print("[import_cpu]", *parts, file=sys.stderr, flush=True)


def group_cpu_s(pgid: int) -> float:
    """utime + stime of every process in the group, in seconds."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid:
                total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            continue
    return total / ticks


def pg_backends_cpu_s(database: str) -> float:
    """utime + stime of the Postgres backends connected to `database` (a local server):
    on Postgres most of an import's work is the database's, not igny8d's."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            if not cmd.startswith("postgres: ") or f" {database} " not in cmd:
                continue
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            continue
    return total / ticks


def start(repo: Path, env: dict[str, str], port: int,
          profile: Path | None) -> subprocess.Popen[bytes]:
    py = [sys.executable]
    if profile is not None:
        py += ["-m", "cProfile", "-o", str(profile)]
    cmd = [*py, "-m", "igny8d", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    full = {**run.clean_env(), **env, "PYTHONPATH": str(repo)}
    proc = subprocess.Popen(cmd, cwd=repo, env=full, start_new_session=True,
                            stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"igny8d exited {proc.returncode} before answering")
        try:
            if run._request("GET", f"http://127.0.0.1:{port}{PING}")[0] == 200:
                return proc
        except OSError:
            pass
        if time.monotonic() > deadline:
            stop(proc)
            raise SystemExit("igny8d did not answer within 60 s")
        time.sleep(0.2)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGINT first (cProfile writes its file on KeyboardInterrupt-free exits: igny8d stops
    cleanly on SIGINT/SIGTERM), then SIGKILL."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


# -- Postgres: the bench database seeded once, copied per run --------------------------------------


def _pg(url: str, database: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path="/" + database))


async def _admin(url: str, *statements: str) -> None:
    import asyncpg  # igny8d's own driver

    plain = urllib.parse.urlsplit(url)._replace(scheme="postgresql")
    conn = await asyncpg.connect(urllib.parse.urlunsplit(plain._replace(path="/postgres")))
    try:
        for s in statements:
            await conn.execute(s)
    finally:
        await conn.close()


def pg_template(url: str, data_dir: Path, peers_db: Path) -> str:
    """Seed `<db>_tpl` from the peers' database the way seed_from_peers.py builds SQLite."""
    import seed_from_peers as seed
    from sqlalchemy import text

    from igny8d.store.engine import Store

    name = urllib.parse.urlsplit(url).path.lstrip("/")
    tpl = name + "_tpl"
    asyncio.run(_admin(url, f'DROP DATABASE IF EXISTS "{tpl}" WITH (FORCE)',
                       f'CREATE DATABASE "{tpl}"'))
    tpl_url = _pg(url, tpl)
    asyncio.run(seed.build(tpl_url, seed.read_peers(peers_db), "scale", check=False))

    async def sequences() -> None:
        # the seed writes the peers' ids: move every id sequence past them
        db = Store.from_url(tpl_url)
        try:
            async with db.begin() as conn:
                for table in ("accounts", "users", "sites", "sectors", "clusters", "keywords"):
                    await conn.execute(text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))"))
        finally:
            await db.close()

    asyncio.run(sequences())
    log(f"seeded Postgres template {tpl}")
    return tpl


def measure(repo: Path, data_dir: Path, rows: int, port: int, url: str | None, tpl: str | None,
            profile: Path | None, py_spy: Path | None = None) -> dict[str, Any]:
    data = run.import_csv(rows)
    with tempfile.TemporaryDirectory(prefix="igny8d-import-") as tmp:
        copy = Path(tmp) / "data"
        shutil.copytree(data_dir, copy)
        env = {"IGNY8_DATA_DIR": str(copy), "IGNY8_DEBUG_THROTTLE": "true",
               "IGNY8_LOG_TO_FILE": "false", "IGNY8_LOG_LEVEL": "WARNING"}
        database = None
        if url and tpl:
            database = name = urllib.parse.urlsplit(url).path.lstrip("/")
            asyncio.run(_admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
                               f'CREATE DATABASE "{name}" TEMPLATE "{tpl}"'))
            env["IGNY8_DATABASE_URL"] = url
            env["IGNY8_SECRET_KEY"] = "import-bench-" + "k" * 40  # required with a URL
        proc = start(repo, env, port, profile)
        try:
            base = f"http://127.0.0.1:{port}"
            token = run._login(base)
            status, doc = run._request("POST", base + "/api/v1/auth/sectors/", json.dumps(
                {"name": "Bench import", "site_id": 1}).encode(), token=token)
            if status != 201:
                raise SystemExit(f"creating the import sector failed: {status} {doc}")
            body, ctype = run.multipart({"site_id": "1", "sector_id": str(doc["data"]["id"])},
                                        "keywords.csv", data)
            spy = None
            if py_spy is not None:  # sampled during the upload only
                spy = subprocess.Popen([os.environ.get("PY_SPY", "py-spy"), "record", "-p",
                                        str(proc.pid), "-o", str(py_spy), "-f", "raw", "-r",
                                        "250", "--threads", "--nonblocking"],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(1.0)
            rss0, cpu0 = run.group_rss_mb(proc.pid), group_cpu_s(proc.pid)
            db0 = pg_backends_cpu_s(database) if database else 0.0
            t0 = time.perf_counter()
            status, doc = run._request("POST", base + run.IMPORT_PATH, body, token=token,
                                       content_type=ctype, timeout=900)
            seconds = time.perf_counter() - t0
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                spy.wait(timeout=60)
            cpu = group_cpu_s(proc.pid) - cpu0
            db_cpu = pg_backends_cpu_s(database) - db0 if database else None
            rss = run.group_rss_mb(proc.pid)
        finally:
            stop(proc)
    return {"repo": str(repo), "store": "postgres" if url else "sqlite", "rows": rows,
            "status": status, "answer": doc.get("data", doc), "seconds": round(seconds, 2),
            "rows_per_s": round(rows / seconds), "server_cpu_s": round(cpu, 2),
            "rows_per_cpu_s": round(rows / cpu) if cpu else 0,
            "db_backend_cpu_s": None if db_cpu is None else round(db_cpu, 2),
            "rss_mb_before": rss0, "rss_mb_after": rss}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, required=True,
                    help="a bench data dir built by seed_from_peers.py")
    ap.add_argument("--repo", type=Path, action="append",
                    help="checkout to serve (repeat to interleave; default this one)")
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=1, help="rounds over the --repo list")
    ap.add_argument("--port", type=int, default=8795)
    ap.add_argument("--database-url", help="Postgres URL of a scratch database (dropped!)")
    ap.add_argument("--peers-db", type=Path, default=Path("/tmp/igny8d-peers/peers.sqlite3"),
                    help="the peers' database, for seeding Postgres")
    ap.add_argument("--profile", type=Path, help="cProfile stats file of the (last) server")
    ap.add_argument("--py-spy", type=Path, help="py-spy samples (raw, all threads) of the "
                    "(last) upload; the binary is $PY_SPY or py-spy on the PATH")
    a = ap.parse_args()
    repos = [r.resolve() for r in (a.repo or [run.REPO])]
    tpl = pg_template(a.database_url, a.data_dir, a.peers_db) if a.database_url else None
    for _ in range(a.runs):
        for repo in repos:
            out = measure(repo, a.data_dir, a.rows, a.port, a.database_url, tpl, a.profile,
                          a.py_spy)
            print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
