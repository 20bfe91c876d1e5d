"""Where an uncached keyword page's time goes: `pages.read_page` called in process, no cache.

    .venv/bin/python bench/page_profile.py --db sqlite:////tmp/listcpu/data/igny8d.db
    .venv/bin/python bench/page_profile.py --db postgresql+asyncpg://postgres@127.0.0.1/db
    .venv/bin/python bench/page_profile.py --db ... --profile shoes_p1   # cProfile of one
    .venv/bin/python bench/page_profile.py --db ... --plan               # the query plans

Reads a database `list_cpu.py` seeded (its owner's account; `--data-dir` keeps it) with the
keyword list's own read unit, exactly as the list handler calls it without a kept total: the
count, then the page (a search matching up to IDS_MAX rows: all its ids in order, then the
page's rows by id). Per query: the mean over `--n` calls of this process's CPU time, of
the Postgres backend's CPU time (from /proc, by its pid: calls one after another reuse one
pooled connection) and of the wall time. `PYTHONPATH=DIR` reads another checkout's code.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import sys
import time
from typing import Any

QUERIES: dict[str, dict[str, Any]] = {
    "plain_p1": {"order": [("created_at", True), ("id", True)]},
    "plain_p3": {"order": [("created_at", True), ("id", True)], "page": 3},
    **{f"{name}_p{page}": {"search": words, "status": "active", "page": page,
                           "order": [("volume", True), ("id", True)]}
       for name, words in (("shoes", ["shoes"]), ("ing", ["ing"]),
                           ("rare", ["noise", "cancelling"]), ("none", ["zzz"]),
                           ("ca", ["ca"]), ("in_shoes", ["in", "shoes"]))
       for page in (1, 2, 3)},
    "shoes_created_p1": {"search": ["shoes"], "order": [("created_at", True), ("id", True)]},
    "status_volume_p1": {"status": "active", "order": [("volume", True), ("id", True)]},
}


def backend_cpu_s(pid: int | None) -> float:
    if pid is None:
        return 0.0
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", required=True, help="SQLAlchemy URL (sqlite:///… or postgresql…)")
    ap.add_argument("--n", type=int, default=200, help="calls per query")
    ap.add_argument("--only", default="", help="comma list of query names")
    ap.add_argument("--profile", default="", help="cProfile this query (name)")
    ap.add_argument("--plan", action="store_true", help="print each statement's plan")
    a = ap.parse_args()

    from sqlalchemy import select

    from igny8d.handlers.planner_keywords import KEYWORDS as RESOURCE
    from igny8d.handlers.resource import IDS_MAX
    from igny8d.scope import Scope
    from igny8d.store.engine import Store
    from igny8d.store.pages import read_page
    from igny8d.store.schema import keywords
    from igny8d.store.specs import Term

    url = a.db.replace("sqlite:///", "sqlite+aiosqlite:///", 1) \
        if a.db.startswith("sqlite:///") else a.db
    store = Store.from_url(url)
    async with store.read() as conn:
        account = (await conn.execute(select(keywords.c.account_id).limit(1))).scalar_one()
    scope = Scope(account_id=account)
    svc = RESOURCE.service
    pg = store.dialect == "postgresql"
    queries = {k: v for k, v in QUERIES.items()
               if not a.only or k in a.only.split(",")}

    profiler: cProfile.Profile | None = None

    def unit(conn: Any, q: dict[str, Any]) -> Any:
        terms = [Term("eq", ("status",), q["status"])] if "status" in q else []
        page = int(q.get("page", 1))
        if profiler:  # the unit runs on a reader thread: profile it there
            profiler.enable()
        try:
            return read_page(conn, svc.spec, scope=scope, terms=terms,
                             search=q.get("search", ()), search_fields=RESOURCE.search_fields,
                             order=q["order"], limit=25, offset=25 * (page - 1),
                             columns=svc.fields, text_times=True,
                             ids_max=IDS_MAX if q.get("search") else 0)
        finally:
            if profiler:
                profiler.disable()

    def backend(conn: Any) -> int | None:
        return int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()) if pg else None

    print(f"{store.dialect}: account {account}, {a.n} calls per query, ms per call "
          f"(client CPU + {'backend CPU' if pg else 'SQLite, in process'}; wall)")
    for name, q in queries.items():
        page = await store.run_read(unit, q)
        for _ in range(3):
            await store.run_read(unit, q)
        pid = await store.run_read(backend)
        c0, b0, w0 = time.process_time(), backend_cpu_s(pid), time.perf_counter()
        profiler = cProfile.Profile() if name == a.profile else None
        for _ in range(a.n):
            await store.run_read(unit, q)
        client = (time.process_time() - c0) * 1000 / a.n
        pid_after = await store.run_read(backend)
        back = (backend_cpu_s(pid) - b0) * 1000 / a.n if pid == pid_after else float("nan")
        wall = (time.perf_counter() - w0) * 1000 / a.n
        print(f"  {name:18} count {page.count:6}  cpu {client + back:7.3f}"
              f" (client {client:.3f} + db {back:.3f})  wall {wall:7.3f}")
        if profiler:
            pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(14)
            profiler = None
    if a.plan:
        await plans(store, queries, unit)
    await store.close()
    return 0


def explained(conn: Any, unit: Any, q: dict[str, Any]) -> list[str]:
    """Run the read unit, catching its statements; then each statement with its plan."""
    from sqlalchemy import event

    seen: list[tuple[str, Any]] = []

    def grab(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
             executemany: bool) -> None:
        seen.append((statement, parameters))

    event.listen(conn.engine, "before_cursor_execute", grab)
    try:
        unit(conn, q)
    finally:
        event.remove(conn.engine, "before_cursor_execute", grab)
    pg = conn.dialect.name == "postgresql"
    out = []
    for statement, parameters in seen:
        prefix = "EXPLAIN (ANALYZE, BUFFERS) " if pg else "EXPLAIN QUERY PLAN "
        rows = conn.exec_driver_sql(prefix + statement, parameters).all()
        out.append(statement.replace("\n", " "))
        out.extend("    " + " | ".join(str(c) for c in r) for r in rows)
    return out


async def plans(store: Any, queries: dict[str, dict[str, Any]], unit: Any) -> None:
    """The statements `read_page` runs for each query, with their plans."""
    for name, q in queries.items():
        lines = await store.run_read(explained, unit, q)
        print(f"\n== {name}")
        print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
