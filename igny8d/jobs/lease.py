"""Leases and the reaper: who holds a running job, and taking back the jobs of workers that
are gone — by their lease running out (any host), or at once when the holder was a process
of this host whose pid is not alive (a restart after kill -9)."""

from __future__ import annotations

import logging
import os
import secrets
import socket
from dataclasses import dataclass
from typing import Any

from igny8d.jobs.registry import Job, JobRegistry
from igny8d.store import jobs as job_store
from igny8d.store.engine import Store
from igny8d.store.writes import now

log = logging.getLogger("igny8d.jobs")

#: The error of a job whose worker stopped renewing its lease too many times.
WORKER_LOST = "worker lost"


def host_key() -> str:
    """This host as lease owners name it: the hostname and, where there is one, the pid
    namespace (two containers sharing a hostname do not see each other's pids)."""
    host = socket.gethostname()[:50].replace(":", "-") or "host"
    try:
        return f"{host}~{os.stat('/proc/self/ns/pid').st_ino}"
    except OSError:
        return host


def owner_id() -> str:
    """Who holds a lease: host key, pid and a random part (two executors in one process
    differ)."""
    return f"{host_key()}:{os.getpid()}:{secrets.token_hex(4)}"


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def dead_local_owner(owner: str, key: str | None = None) -> bool:
    """Whether a lease owner id names a process of this host that no longer runs."""
    parts = owner.rsplit(":", 2)
    if len(parts) != 3 or parts[0] != (key or host_key()) or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    return pid != os.getpid() and not pid_alive(pid)


@dataclass
class ReapReport:
    requeued: int = 0
    failed: int = 0
    #: running jobs of this host's dead processes whose lease was ended early
    dead: int = 0


async def reap(store: Store, registry: JobRegistry) -> ReapReport:
    """Expired leases: back to PENDING with attempts left, else FAILURE ("worker lost")
    with the kind's `on_failed` hook in the same transaction. Safe to run anywhere at
    any time: every change is a conditional UPDATE."""
    at = now()
    report = ReapReport()
    report.dead = await expire_dead_owners(store, at)
    async with store.read() as conn:
        found = await job_store.expired_requeueable(conn, at=at)
        exhausted = await job_store.expired_exhausted(conn, at=at)
    if found:
        async with store.begin() as conn:
            report.requeued = await job_store.requeue_expired(conn, found, at=at)
    for job_id in exhausted:
        if await _fail_lost(store, registry, job_id, at):
            report.failed += 1
    if report.requeued or report.failed:
        log.warning("reaped jobs whose worker was lost",
                    extra={"requeued": report.requeued, "failed": report.failed,
                           "dead_local": report.dead})
    return report


async def expire_dead_owners(store: Store, at: Any) -> int:
    """End now the leases held by processes of this host that are gone (a restart after
    kill -9 takes its predecessor's jobs at once, not after the lease)."""
    key = host_key()
    async with store.read() as conn:
        owners = await job_store.running_owners(conn, prefix=f"{key}:")
    dead = [o for o in owners if dead_local_owner(o, key)]
    if not dead:
        return 0
    expired = 0
    async with store.begin() as conn:
        for owner in dead:
            expired += await job_store.expire_owner(conn, owner, at=at)
    return expired


async def _fail_lost(store: Store, registry: JobRegistry, job_id: int, at: Any) -> bool:
    try:
        async with store.begin() as conn:
            row = await job_store.fail_expired(conn, job_id, at=at, error=WORKER_LOST)
            if row is None:
                return False
            kind = registry.get(row["kind"])
            if kind is not None and kind.on_failed is not None:
                await kind.on_failed(conn, Job.from_row(row), WORKER_LOST)
            return True
    except Exception:
        log.exception("on_failed hook failed while reaping; the task is marked failed "
                      "without it", extra={"job_id": job_id})
    async with store.begin() as conn:
        return await job_store.fail_expired(conn, job_id, at=at, error=WORKER_LOST) is not None
