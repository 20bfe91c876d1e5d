"""The in-process job executor: N worker coroutines claiming job rows, with leases.

- **Claiming** is atomic in the database (`store/jobs.claim_next`: `FOR UPDATE SKIP LOCKED`
  on Postgres, a conditional UPDATE under `BEGIN IMMEDIATE` on SQLite), so several workers,
  executors and processes on one database never take the same job.
- **Leases**: a claimed job carries this executor's owner id and a short expiry, renewed
  every quarter of `lease_s` while the job runs (and by every progress write). A process
  that dies stops renewing; the reaper (at start and every quarter lease) puts expired jobs
  back to PENDING or, with no attempts left, fails them ("worker lost") and calls the kind's
  `on_failed` hook in that same transaction. Jobs whose owner was a process of this host
  that is gone (its pid not alive) are reaped at once, without waiting for the lease.
- **Retries** are for lost workers and transient store errors (unreachable, busy): the job
  goes back to PENDING, its attempt counted, its progress saying it will be retried. Any
  other error fails the job at once (FAILURE, a readable error, the traceback logged, the
  hook called): re-running work that failed on its own would fail again and, for paid AI
  calls, pay twice.
- **Progress** (`Progress.update`) is one short transaction per write; no transaction is
  held across the job's own awaits. A write that finds the job no longer this worker's
  raises `Revoked` (cancelled) or `LeaseLost` inside the job; the lease renewal notices the
  same between writes and cancels the job's task.
- **Idle workers** poll with a cheap read and back off (`poll_min` doubling to `poll_max`);
  `wake()` (called by `submit`) makes them look again at once.
- **CPU-heavy steps** go through `run_cpu(fn, *args)`: a thread pool (or, with
  `process=True`, a process pool) off the event loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import functools
import json
import logging
import multiprocessing
import os
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.errors import DomainError
from igny8d.jobs import lease, watch
from igny8d.jobs.lease import WORKER_LOST as WORKER_LOST  # re-exported
from igny8d.jobs.lease import ReapReport, owner_id
from igny8d.jobs.queue import STARTED_META, enqueue
from igny8d.jobs.registry import (
    Job,
    JobFailed,
    JobKind,
    JobRegistry,
    JobStopped,
    LeaseLost,
    Revoked,
)
from igny8d.permissions import Actor
from igny8d.store import jobs as job_store
from igny8d.store.engine import Store
from igny8d.store.errors import StoreBusy, StoreUnreachable

log = logging.getLogger("igny8d.jobs")

T = TypeVar("T")

#: How a run ended when another worker or the reaper had taken the job over (metrics only).
LOST = "LOST"
#: How a run ended when a transient store error put the job back to be retried (metrics only).
INTERRUPTED = "INTERRUPTED"

_CURRENT: contextvars.ContextVar[Executor | None] = contextvars.ContextVar(
    "igny8d_executor", default=None)


#: What a job put back after a transient store error says until a worker takes it again.
STORE_INTERRUPTED = "Interrupted by a database error; it will be retried."
#: How many times an interrupted job's own give-back is tried before its lease decides.
_GIVE_BACK_TRIES = 3


def transient(exc: BaseException) -> bool:
    """A store error that a retry may not meet (the store's own classification)."""
    return isinstance(exc, StoreUnreachable | StoreBusy)


def readable_error(exc: BaseException) -> str:
    """What the client reads in `error`: the message of a JobFailed or domain error, else a
    generic sentence naming the exception class (never a traceback or a repr of data)."""
    if isinstance(exc, JobFailed | DomainError):
        text = str(exc).strip() or exc.__class__.__name__
        return text[:1000]
    return f"The task failed because of an internal error ({exc.__class__.__name__})."


async def run_cpu(fn: Callable[..., T], *args: Any, process: bool = False) -> T:
    """Run a CPU-heavy `fn(*args)` off the event loop.

    Threads by default (fine for code that releases the GIL, and it keeps the loop
    answering in any case); `process=True` uses a process pool (spawned interpreters:
    `fn` and its arguments must pickle, i.e. `fn` is a module-level function). Inside a job
    the running executor's pools are used; elsewhere a thread of the loop's default pool.
    """
    executor = _CURRENT.get()
    if executor is None:
        if process:
            raise RuntimeError("run_cpu(process=True) needs a running executor")
        return await asyncio.to_thread(fn, *args)
    return await executor.run_cpu(fn, *args, process=process)


class Progress:
    """A running job's handle on its own row: progress writes, cooperative stop checks, and
    the final transaction that writes the job's results and marks it done together."""

    def __init__(self, executor: Executor, job: Job, meta: dict[str, Any]) -> None:
        self._executor = executor
        self.job = job
        self.meta = meta
        #: set when the job must stop; raised at the next update/check
        self.stopped: JobStopped | None = None
        #: what `final()` stores as the result (the function's return value wins if not None)
        self.result: dict[str, Any] | None = None
        self.finalized = False

    def check(self) -> None:
        """Raise Revoked / LeaseLost if the job was told to stop (no database round trip)."""
        if self.stopped is not None:
            raise self.stopped

    async def update(
        self, *, phase: str | None = None, percentage: float | None = None,
        message: str | None = None, cost: float | None = None, tokens: int | None = None,
        request_step: Any = None, response_step: Any = None, **extra: Any,
    ) -> None:
        """Merge into the progress meta and write it (its own short transaction; it renews
        the lease too). `cost` and `tokens` are totals so far; steps are appended."""
        self.check()
        meta = dict(self.meta)
        if phase is not None:
            meta["phase"] = phase
        if percentage is not None:
            meta["percentage"] = max(0, min(100, round(float(percentage), 2)))
        if message is not None:
            meta["message"] = message
        if cost is not None:
            meta["cost"] = cost
        if tokens is not None:
            meta["tokens"] = tokens
        if request_step is not None:
            meta["request_steps"] = [*meta.get("request_steps", []), request_step]
        if response_step is not None:
            meta["response_steps"] = [*meta.get("response_steps", []), response_step]
        meta.update(extra)
        json.dumps(meta)  # unstorable progress is the job's bug: raise it in the job
        await self._executor._write_progress(self, meta)
        self.meta = meta

    async def run_cpu(self, fn: Callable[..., T], *args: Any, process: bool = False) -> T:
        self.check()
        return await self._executor.run_cpu(fn, *args, process=process)

    @contextlib.asynccontextmanager
    async def final(self) -> AsyncIterator[AsyncConnection]:
        """One transaction for the job's results and its SUCCESS: both or neither.

        The job row is checked (and locked on Postgres) first, so a cancel or a reap either
        happens before (this raises Revoked / LeaseLost, nothing is written) or waits and
        then finds the job finished. Set `progress.result` inside. No network calls in
        here: the transaction holds a write lock.
        """
        self.check()
        ex = self._executor
        async with ex.store.begin() as conn:
            if not await job_store.lock_owned(conn, self.job.id, owner=ex.owner):
                self.stopped = await ex._why_stopped(conn, self.job.id)
                raise self.stopped
            yield conn
            meta = ex._done_meta(self.meta)
            row = await job_store.finish_owned(conn, self.job.id, owner=ex.owner,
                                               state=job_store.SUCCESS, meta=meta,
                                               result=self.result)
            assert row is not None  # locked and checked above
            self.meta = meta
        self.finalized = True


class Executor:
    """Worker coroutines of one process (or one test app) over one store and registry."""

    def __init__(
        self, store: Store, registry: JobRegistry, *, workers: int = 2,
        lease_s: float = 60.0, max_attempts: int = 3, poll_min: float = 0.05,
        poll_max: float = 2.0, stop_grace: float = 10.0, cpu_threads: int | None = None,
        owner: str | None = None,
    ) -> None:
        if lease_s <= 0 or workers < 0 or max_attempts < 1:
            raise ValueError("lease_s > 0, workers >= 0 and max_attempts >= 1 are required")
        self.store = store
        self.registry = registry
        self.workers = workers
        self.lease_s = float(lease_s)
        self.max_attempts = max_attempts
        self.poll_min = poll_min
        self.poll_max = max(poll_max, poll_min)
        self.stop_grace = stop_grace
        self.owner = owner or owner_id()
        self.stats: dict[str, int] = dict.fromkeys(
            ("claimed", "succeeded", "failed", "revoked", "lost", "released", "interrupted"), 0)
        self._cpu_threads = cpu_threads or max(2, min(8, os.cpu_count() or 2))
        self._threads: concurrent.futures.ThreadPoolExecutor | None = None
        self._processes: concurrent.futures.ProcessPoolExecutor | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._wakes: list[asyncio.Event] = []
        self._running: dict[int, asyncio.Task[Any]] = {}
        self._stopping = False
        #: called with (kind, final state, seconds) when a run of a job ends: SUCCESS,
        #: FAILURE, REVOKED or LOST (not when shutting down gives the job back)
        self.on_finished: Callable[[str, str, float], None] | None = None
        #: called with an unexpected exception that failed a job (not a JobFailed or a
        #: domain error: those are the job's answer), after its traceback is logged; error
        #: reporting (Sentry) plugs in here
        self.on_error: Callable[[BaseException, Job], None] | None = None

    @property
    def started(self) -> bool:
        return bool(self._tasks)

    @property
    def running_jobs(self) -> int:
        return len(self._running)

    # -- life cycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Reap what a previous run left behind, then start the workers."""
        if self._tasks:
            return
        self._stopping = False
        try:
            await self.reap()
        except Exception:
            log.exception("reaping expired jobs at start failed; the scheduler retries")
        for n in range(self.workers):
            wake = asyncio.Event()
            self._wakes.append(wake)
            ctx = contextvars.copy_context()
            ctx.run(_CURRENT.set, self)
            self._tasks.append(asyncio.create_task(self._work(wake), name=f"job-worker-{n}",
                                                   context=ctx))
        log.info("job executor started", extra={"workers": self.workers, "owner": self.owner,
                                                "kinds": list(self.registry.names())})

    async def stop(self, grace: float | None = None) -> None:
        """Stop claiming; let running jobs finish for `grace` seconds, then cancel them and
        give them back to the queue (PENDING, the attempt not counted)."""
        self._stopping = True
        self.wake()
        tasks, self._tasks = self._tasks, []
        self._wakes = []
        if tasks:
            _done, pending = await asyncio.wait(
                tasks, timeout=self.stop_grace if grace is None else grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._threads is not None:
            self._threads.shutdown(wait=False, cancel_futures=True)
            self._threads = None
        if self._processes is not None:
            self._processes.shutdown(wait=False, cancel_futures=True)
            self._processes = None

    def wake(self) -> None:
        """Make idle workers look for work now (in this process; others poll)."""
        for event in self._wakes:
            event.set()

    # -- submitting ---------------------------------------------------------------------------

    async def submit(
        self, conn: AsyncConnection, actor: Actor, *, kind: str, payload: dict[str, Any]
    ) -> dict[str, Any]:
        """Queue a job in the caller's transaction and wake the workers.

        Workers woken before the caller commits find nothing yet and look again after
        `poll_min` (and on SQLite a claim waits for the caller's write lock anyway).
        """
        spec = self.registry.get(kind)
        if spec is None:
            raise ValueError(f"unknown job kind {kind!r}")
        row = await enqueue(conn, account_id=actor.account_id, user_id=actor.user_id,
                            kind=kind, payload=payload,
                            max_attempts=spec.max_attempts or self.max_attempts)
        self.wake()
        return {"task_id": row["task_id"], "state": row["state"], "meta": row["meta"] or {}}

    # -- the worker loop -----------------------------------------------------------------------

    async def _work(self, wake: asyncio.Event) -> None:
        delay = self.poll_min
        while not self._stopping:
            wake.clear()  # before looking: a wake-up after the look is not lost
            try:
                row = await self._claim()
            except StoreUnreachable:  # the store logs the outage once, not once per poll
                row = None
            except Exception as exc:
                log.warning("claiming a job failed: %s", _first_line(exc))
                row = None
            if row is not None:
                delay = self.poll_min
                try:
                    await self._run(row)
                except Exception as exc:  # recording the outcome failed: the lease runs
                    # out, the reaper decides; this worker goes on
                    if transient(exc):
                        log.warning("recording a job's outcome failed: %s", _first_line(exc),
                                    extra={"task_id": row["task_id"]})
                    else:
                        log.exception("recording a job's outcome failed",
                                      extra={"task_id": row["task_id"]})
                continue
            try:
                await asyncio.wait_for(wake.wait(), delay)
            except TimeoutError:
                delay = min(delay * 2, self.poll_max)
            else:
                delay = self.poll_min

    async def _claim(self) -> dict[str, Any] | None:
        kinds = self.registry.names()
        if not kinds:
            return None
        async with self.store.read() as conn:
            if not await job_store.has_pending(conn, kinds):
                return None
        async with self.store.begin() as conn:
            row = await job_store.claim_next(conn, owner=self.owner, lease_s=self.lease_s,
                                             kinds=kinds, meta=dict(STARTED_META))
        if row is not None:
            self.stats["claimed"] += 1
        return row

    async def _run(self, row: dict[str, Any]) -> None:
        job = Job.from_row(row)
        kind = self.registry.get(job.kind)
        assert kind is not None  # claims are limited to registered kinds
        progress = Progress(self, job, dict(row["meta"] or {}))
        extra = {"task_id": job.task_id, "kind": job.kind, "attempt": job.attempts}
        log.info("job started", extra=extra)
        started = time.monotonic()
        final: str | None = None
        inner: asyncio.Task[dict[str, Any] | None] = asyncio.create_task(
            _body(kind, job, progress), name=f"job {job.task_id}")
        self._running[job.id] = inner
        keeper = asyncio.create_task(self._keep_lease(progress, inner))
        try:
            try:
                result = await inner
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise  # this worker is being stopped
                raise progress.stopped or LeaseLost() from None
        except JobStopped as stop:
            outcome = "revoked" if isinstance(stop, Revoked) else "lost"
            self.stats[outcome] += 1
            final = job_store.REVOKED if outcome == "revoked" else LOST
            log.info("job stopped: %s", "cancelled" if outcome == "revoked" else
                     "its lease was lost", extra=extra)
        except asyncio.CancelledError:
            inner.cancel()
            await self._release(job)
            raise
        except Exception as exc:
            if transient(exc):
                final = await self._interrupt(progress, kind, exc, extra)
            else:
                final = await self._fail(progress, kind, exc, extra)
        else:
            final = await self._succeed(progress, kind, result, extra)
        finally:
            keeper.cancel()
            self._running.pop(job.id, None)
            watch.notify(job.task_id)
            if final is not None and self.on_finished is not None:
                self.on_finished(job.kind, final, time.monotonic() - started)

    async def _keep_lease(self, progress: Progress, inner: asyncio.Task[Any]) -> None:
        interval = self.lease_s / 4
        while True:
            await asyncio.sleep(interval)
            try:
                async with self.store.begin() as conn:
                    held = await job_store.renew_lease(conn, progress.job.id, owner=self.owner,
                                                       lease_s=self.lease_s)
                    if not held:
                        progress.stopped = await self._why_stopped(conn, progress.job.id)
            except Exception as exc:  # a busy database: try again next round
                log.warning("renewing a job lease failed: %s", _first_line(exc),
                            extra={"task_id": progress.job.task_id})
                continue
            if not held:
                inner.cancel()
                return

    async def _write_progress(self, progress: Progress, meta: dict[str, Any]) -> None:
        async with self.store.begin() as conn:
            held = await job_store.renew_lease(conn, progress.job.id, owner=self.owner,
                                               lease_s=self.lease_s, meta=meta)
            if not held:
                progress.stopped = await self._why_stopped(conn, progress.job.id)
        if held:
            watch.notify(progress.job.task_id)  # committed: wake this process's waiters
            return
        assert progress.stopped is not None
        raise progress.stopped

    @staticmethod
    async def _why_stopped(conn: AsyncConnection, job_id: int) -> JobStopped:
        state = await job_store.job_state(conn, job_id)
        if state is not None and state[0] == job_store.REVOKED:
            return Revoked("The task was cancelled.")
        return LeaseLost("The task's lease was lost.")

    @staticmethod
    def _done_meta(meta: dict[str, Any]) -> dict[str, Any]:
        out = dict(meta)
        out.update(phase="DONE", percentage=100)
        if out.get("message") in (None, "", "Started.", "Waiting for a worker."):
            out["message"] = "Done."
        return out

    async def _succeed(self, progress: Progress, kind: JobKind, result: Any,
                       extra: dict[str, Any]) -> str:
        if result is not None and not isinstance(result, dict):
            return await self._fail(progress, kind, TypeError(
                f"job {kind.name} returned {type(result).__name__}, not a dict"), extra)
        try:
            json.dumps(result)
        except (TypeError, ValueError) as exc:
            return await self._fail(progress, kind, exc, extra)
        if progress.finalized:
            if result is not None:
                async with self.store.begin() as conn:
                    await job_store.set_result(conn, progress.job.id, owner=self.owner,
                                               result=result)
        else:
            async with self.store.begin() as conn:
                row = await job_store.finish_owned(
                    conn, progress.job.id, owner=self.owner, state=job_store.SUCCESS,
                    meta=self._done_meta(progress.meta), result=result)
            if row is None:
                self.stats["lost"] += 1
                log.info("job finished after it was cancelled or reaped; result dropped",
                         extra=extra)
                return LOST
        self.stats["succeeded"] += 1
        log.info("job succeeded", extra=extra)
        return job_store.SUCCESS

    async def _fail(self, progress: Progress, kind: JobKind, exc: BaseException,
                    extra: dict[str, Any]) -> str:
        error = readable_error(exc)
        if isinstance(exc, JobFailed | DomainError):
            log.warning("job failed: %s", error, extra=extra)
        else:
            log.error("job failed", exc_info=exc, extra=extra)
            if self.on_error is not None:
                try:
                    self.on_error(exc, progress.job)
                except Exception:
                    log.exception("reporting a job's error failed", extra=extra)
        meta = dict(progress.meta)
        meta.update(phase="FAILED", message=error)
        row: dict[str, Any] | None = None
        try:
            async with self.store.begin() as conn:
                row = await job_store.finish_owned(conn, progress.job.id, owner=self.owner,
                                                   state=job_store.FAILURE, meta=meta,
                                                   error=error)
                if row is not None and kind.on_failed is not None:
                    await kind.on_failed(conn, Job.from_row(row), error)
        except Exception:
            log.exception("on_failed hook failed; the task is marked failed without it",
                          extra=extra)
            async with self.store.begin() as conn:
                row = await job_store.finish_owned(conn, progress.job.id, owner=self.owner,
                                                   state=job_store.FAILURE, meta=meta,
                                                   error=error)
        if row is None:
            self.stats["lost"] += 1
            return LOST
        self.stats["failed"] += 1
        return job_store.FAILURE

    async def _interrupt(self, progress: Progress, kind: JobKind, exc: BaseException,
                         extra: dict[str, Any]) -> str:
        """A transient store error: back to PENDING with the attempt counted, or failed (and
        refunded by the hook) when it was the last. If the store is still away, the give-back
        is tried a few times; after that the lease runs out and the reaper re-queues it."""
        job = progress.job
        if job.attempts >= job.max_attempts:
            return await self._fail(progress, kind, JobFailed(
                "The task was interrupted by database errors too many times."), extra)
        meta = job_store.interrupted_meta(progress.meta, STORE_INTERRUPTED)
        log.warning("job interrupted by a database error, to be retried: %s",
                    _first_line(exc), extra=extra)
        for attempt in range(_GIVE_BACK_TRIES):
            try:
                async with self.store.begin() as conn:
                    given = await job_store.interrupt_owned(conn, job.id, owner=self.owner,
                                                            meta=meta)
            except Exception as again:
                if not transient(again) or attempt == _GIVE_BACK_TRIES - 1:
                    raise
                await asyncio.sleep(min(self.lease_s / 4, 2.0 ** attempt))
                continue
            if not given:
                self.stats["lost"] += 1
                return LOST
            self.stats["interrupted"] += 1
            self.wake()
            return INTERRUPTED
        raise AssertionError("unreachable")

    async def _release(self, job: Job) -> None:
        try:
            async with self.store.begin() as conn:
                if await job_store.release(conn, job.id, owner=self.owner):
                    self.stats["released"] += 1
                    log.info("job given back to the queue (shutting down)",
                             extra={"task_id": job.task_id, "kind": job.kind})
        except Exception as exc:  # its lease runs out and the reaper takes it
            log.warning("giving a job back failed: %s", _first_line(exc),
                        extra={"task_id": job.task_id})

    # -- the reaper -------------------------------------------------------------------------------

    async def reap(self) -> ReapReport:
        """Expired leases and dead local owners (see `jobs/lease.py`); wakes this process's
        workers when jobs went back to the queue."""
        report = await lease.reap(self.store, self.registry)
        if report.requeued:
            self.wake()
        return report

    # -- CPU-heavy work ----------------------------------------------------------------------------

    async def run_cpu(self, fn: Callable[..., T], *args: Any, process: bool = False) -> T:
        loop = asyncio.get_running_loop()
        pool: concurrent.futures.Executor
        if process:
            if self._processes is None:
                self._processes = concurrent.futures.ProcessPoolExecutor(
                    max_workers=self._cpu_threads,
                    mp_context=multiprocessing.get_context("spawn"))
            pool = self._processes
        else:
            if self._threads is None:
                self._threads = concurrent.futures.ThreadPoolExecutor(
                    max_workers=self._cpu_threads, thread_name_prefix="igny8d-cpu")
            pool = self._threads
        return await loop.run_in_executor(pool, functools.partial(fn, *args))


async def _body(kind: JobKind, job: Job, progress: Progress) -> dict[str, Any] | None:
    """The job function; a re-run first says it is one (not a bare "Started.")."""
    if job.attempts > 1:
        await progress.update(message=f"Retrying after an interruption (attempt "
                                       f"{job.attempts} of {job.max_attempts}).")
    return await kind.fn(job, progress)


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip() or exc.__class__.__name__
    return text.splitlines()[0][:200]
