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

import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from igny8d.store.schema import (
    accounts,
    clusters,
    credit_transactions,
    credit_usage,
    jobs,
    keywords,
)
from tests.helpers.drill import (
    HEADS,
    KEYWORDS,
    LEASE_S,
    MODIFIERS,
    Server,
    db,
    import_csv,
    job_row,
    kill_while_running,
    prepare,
    prepare_account,
    submit,
    wait_finished,
)

pytestmark = [pytest.mark.slow, pytest.mark.subprocess]


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


def test_a_job_killed_mid_run_is_run_again_to_success(tmp_path: Path, db_url: str) -> None:
    t0 = time.monotonic()
    # its save holds the transaction open 30 s once written (the save itself is too quick
    # to be caught by polling)
    first = Server(tmp_path, db_url, "first", module="tests.helpers.slow_save_server",
                   DRILL_SAVE_HOLD_S="30")
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
