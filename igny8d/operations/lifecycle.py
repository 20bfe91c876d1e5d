"""How every AI operation runs; the operations themselves (cluster.py, ideas.py, …) only say
what their four steps do.

**Admit** (`queue`, at request time, ONE write transaction): the operation's `admit` checks
the ids in the caller's scope (404 naming the others), its cap (400) and what the work is
worth in units; then the account row is locked (the first lock), the job queued and the
price charged with the job's task_id as the reference. A balance that does not cover it is a
402 and nothing is queued. The amount charged rides in the payload (`credits`), so the job
settles against what was taken.

**The job** (`register` binds it to the executor): the account's provider and prompt library
are read first; then `read` (a read transaction: what the work needs), `compute` (provider
calls and CPU work, off the event loop and outside any transaction, metered), `save` (the
results, in the job's final transaction together with its SUCCESS and the settlement: what
was charged beyond the units done is refunded, tokens and cost go on the usage row). A
provider's failure fails the job with its readable message; a failed or cancelled job gets
its credits back (`billing.refund_job`, the kind's hooks). Files a `compute` left outside the
database are discarded when the save does not commit.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.ai.providers import provider_for
from igny8d.ai.types import Generation, Prompts, Provider, ProviderConfig, ProviderError, Step
from igny8d.errors import ValidationFailed
from igny8d.jobs.executor import Executor, Progress
from igny8d.jobs.registry import Job, JobFailed, JobFn, JobRegistry
from igny8d.permissions import Actor
from igny8d.scope import Scope
from igny8d.services import billing
from igny8d.services.integrations import provider_config
from igny8d.services.prompts import prompts_for
from igny8d.settings import Settings
from igny8d.store import accounts as accounts_store
from igny8d.store.engine import Store
from igny8d.store.errors import RowNotFound
from igny8d.store.rows import rows_by_id
from igny8d.store.specs import TableSpec

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")
W = TypeVar("W")
C = TypeVar("C")
Row = dict[str, Any]

#: ids named in a 404 (the rest are counted)
IDS_SHOWN = 20
#: request/response steps kept in the progress meta (a 50-article job stays small)
STEPS_KEPT = 200


class Deps(Protocol):
    """What queueing an operation needs of the AppContext."""

    @property
    def settings(self) -> Settings: ...
    @property
    def executor(self) -> Executor: ...


# -- the contract ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Admission:
    """What `admit` found the request to be worth."""

    #: what the price is counted in (keywords, ideas, words, prompts, images)
    units: int
    #: what the job needs to know (ids and plans; `credits` and `units` are added)
    payload: dict[str, Any]
    #: the charge's description in the ledger
    description: str


@dataclass(frozen=True, slots=True)
class Saved:
    """What `save` wrote."""

    #: the job's result (task_progress `result`)
    result: dict[str, Any]
    #: units of work done: charged; the rest of what was charged is refunded
    units_done: int
    #: the refund's description in the ledger
    refund_note: str = "Refund: work not done"
    #: work that must wait for the commit (files of rows that went away)
    after_commit: Callable[[], None] | None = None


@dataclass(frozen=True, slots=True)
class Operation(Generic[R, W, C]):
    """One AI operation: its job kind, its price key, and its four steps."""

    #: the job kind (the `jobs` row's `kind`)
    kind: str
    #: the billing operation its price is looked up under (`billing.price`)
    price: str
    #: request time, in the queueing transaction: check the request `R`, price it in units
    admit: Callable[[AsyncConnection, Settings, Actor, R], Awaitable[Admission]]
    #: the PREPARE message (progress) before `read`
    reading: Callable[[JobContext], str]
    #: in a read transaction: what the work needs
    read: Callable[[AsyncConnection, JobContext], Awaitable[W]]
    #: no transaction open: provider calls (through `JobContext.call`) and CPU work
    compute: Callable[[JobContext, W], Awaitable[C]]
    #: in the job's final transaction (the account locked: `JobContext.account`)
    save: Callable[[AsyncConnection, JobContext, C], Awaitable[Saved]]
    #: undo what `compute` left outside the database, when the save did not commit
    discard: Callable[[JobContext, C], None] | None = None


# -- the job's context ----------------------------------------------------------------------------


def _step(step: Step | dict[str, Any] | str) -> dict[str, Any]:
    if isinstance(step, Step):
        return {"name": step.name, "detail": step.detail}
    if isinstance(step, dict):
        return dict(step)
    return {"name": str(step), "detail": ""}


@dataclass
class Meter:
    """A job's provider calls: tokens and cost summed, steps recorded, failures made
    readable. `update` writes the progress meta with the totals so far."""

    progress: Progress
    tokens: int = 0
    cost: float = 0.0
    request_steps: list[dict[str, Any]] = field(default_factory=list)
    response_steps: list[dict[str, Any]] = field(default_factory=list)

    def add(self, generation: Generation[Any]) -> None:
        """Count a provider's answer: its tokens, cost and steps (or an "ok" step)."""
        self.tokens += int(generation.tokens or 0)
        self.cost = round(self.cost + float(generation.cost or 0.0), 6)
        self.request_steps.extend(_step(s) for s in generation.request_steps)
        self.response_steps.extend(_step(s) for s in generation.response_steps)
        if not generation.response_steps:
            self.response_steps.append({"name": "ok", "detail": (
                f"{generation.tokens} tokens" if generation.tokens else "")})
        self._trim()

    def _trim(self) -> None:
        del self.request_steps[:-STEPS_KEPT]
        del self.response_steps[:-STEPS_KEPT]

    async def attempt(self, name: str, subject: str,
                      call: Callable[[], Awaitable[Generation[T]]]) -> T | ProviderError:
        """Run one provider call: its value, or the ProviderError it raised (the caller
        decides whether that fails the job). The call is a request step (`name`,
        `subject`), the provider's own steps follow."""
        self.progress.check()
        self.request_steps.append({"name": name, "detail": subject[:200]})
        try:
            generation = await call()
        except ProviderError as exc:
            # a failed call is metered too: what it spent before failing (a paid answer of
            # the wrong shape, the sections written before an empty one)
            self.tokens += int(exc.tokens or 0)
            self.cost = round(self.cost + float(exc.cost or 0.0), 6)
            self.request_steps.extend(_step(s) for s in exc.request_steps)
            self.response_steps.extend(_step(s) for s in exc.response_steps)
            self.response_steps.append({"name": "failed", "detail": str(exc)[:300]})
            self._trim()
            return exc
        self.add(generation)
        return generation.value

    def meta(self) -> dict[str, Any]:
        return {"tokens": self.tokens, "cost": self.cost,
                "request_steps": list(self.request_steps),
                "response_steps": list(self.response_steps)}


@dataclass
class JobContext:
    """What an operation's job steps get: the job, its progress, the store and settings,
    and the account's provider and prompt library (read when the job starts)."""

    job: Job
    progress: Progress
    store: Store
    settings: Settings
    provider: Provider
    prompts: Prompts
    #: the account's OpenAI-compatible integration (None: the local provider)
    config: ProviderConfig | None
    meter: Meter
    #: the locked account row (plan limits included), set for `save`
    account: Row = field(default_factory=dict)

    @property
    def payload(self) -> dict[str, Any]:
        return self.job.payload

    @property
    def scope(self) -> Scope:
        """The job's account (jobs are the account's: site grants do not apply)."""
        return Scope(account_id=self.job.account_id)

    @property
    def uses_llm(self) -> bool:
        return is_llm(self.config)

    async def update(self, *, phase: str, percentage: float, message: str) -> None:
        """A progress write with the metered totals so far."""
        await self.progress.update(phase=phase, percentage=percentage, message=message,
                                   **self.meter.meta())

    async def call(self, name: str, subject: str,
                   call: Callable[[], Awaitable[Generation[T]]]) -> T:
        """A provider call whose failure fails the job with the provider's message."""
        out = await self.meter.attempt(name, subject, call)
        if isinstance(out, ProviderError):
            raise job_failure(out)
        return out

    async def attempt(self, name: str, subject: str,
                      call: Callable[[], Awaitable[Generation[T]]]) -> T | ProviderError:
        """A provider call whose failure is the caller's to handle (one image of many)."""
        return await self.meter.attempt(name, subject, call)

    async def run_cpu(self, fn: Callable[..., T], *args: Any) -> T:
        """CPU-heavy work off the event loop (the executor's threads)."""
        return await self.progress.run_cpu(fn, *args)


def is_llm(config: ProviderConfig | None) -> bool:
    """An OpenAI-compatible provider (the reference's batch caps apply to it)."""
    return config is not None and config.kind != "local"


def job_failure(exc: ProviderError) -> JobFailed:
    """The job's readable error for a provider's failure (its message; never a traceback)."""
    text = str(exc).strip() or "The AI provider failed."
    return JobFailed(f"The AI provider failed: {text}" if not text.lower().startswith(
        ("the ai provider", "ai provider")) else text)


# -- admission helpers ----------------------------------------------------------------------------


def shown(ids: Sequence[int]) -> str:
    """Ids for a message: the first IDS_SHOWN, and how many more."""
    more = f" and {len(ids) - IDS_SHOWN} more" if len(ids) > IDS_SHOWN else ""
    return ", ".join(map(str, ids[:IDS_SHOWN])) + more


def distinct_ids(ids: Sequence[int], *, cap: int, noun: str) -> list[int]:
    """The distinct ids, sorted; 400 for none or more than `cap` (a repeated id counts once)."""
    wanted = sorted(set(ids))
    if not wanted:
        raise ValidationFailed(errors={"ids": [f"Give at least one {noun} id."]})
    if len(wanted) > cap:
        raise ValidationFailed(errors={"ids": [
            f"Ensure this list has at most {cap} {noun} ids (it has {len(wanted)})."]})
    return wanted


async def require_rows(conn: AsyncConnection, spec: TableSpec, ids: Sequence[int], *,
                       scope: Scope, columns: Sequence[str] | None = None) -> dict[int, Row]:
    """Every id must be visible: 404 naming the others (another account's, a site the caller
    may not see, or none at all — the caller cannot tell which)."""
    rows = {int(r["id"]): r for r in await rows_by_id(conn, spec, ids, scope=scope,
                                                      columns=columns)}
    missing = sorted(set(ids) - set(rows))
    if missing:
        raise RowNotFound(f"Not found: {shown(missing)}.", field="ids")
    return rows


# -- the two halves ------------------------------------------------------------------------------


async def queue_in(conn: AsyncConnection, deps: Deps, op: Operation[R, Any, Any], actor: Actor,
                   request: R) -> dict[str, Any]:
    """Admit the request, queue the job and charge for it, all in the caller's transaction
    (which may write more with it: the request's Idempotency-Key and its answer);
    `{task_id}`.

    A price of 0 makes the operation free: no charge, no usage row."""
    settings = deps.settings
    admission = await op.admit(conn, settings, actor, request)
    amount = billing.price(op.price, admission.units, settings)
    await accounts_store.lock_account(conn, actor.account_id)
    task = await deps.executor.submit(conn, actor, kind=op.kind, payload={
        **admission.payload, "credits": amount, "units": admission.units})
    if amount > 0:
        await billing.charge(conn, actor, amount=amount, operation_type=op.price,
                             units=admission.units,
                             description=admission.description[:500],
                             reference=task["task_id"])
    return {"task_id": task["task_id"]}


async def settle(conn: AsyncConnection, jc: JobContext, op: Operation[Any, Any, Any],
                 saved: Saved) -> int:
    """In the job's final transaction: refund what was charged beyond the price of the work
    done (never charging more than was taken up front), and put tokens/cost on the usage
    row; returns the credits kept."""
    job = jc.job
    charged = int(job.payload.get("credits", 0))
    due = min(charged, billing.price(op.price, max(0, saved.units_done), jc.settings))
    if charged > due:
        await billing.refund(conn, job.account_id, reference=job.task_id, amount=charged - due,
                             description=saved.refund_note[:500])
    if charged > 0 and (jc.meter.tokens or jc.meter.cost):
        await billing.record_usage_cost(conn, job.account_id, job.task_id,
                                        tokens=jc.meter.tokens, cost=jc.meter.cost)
    return due


def close_provider(provider: Provider) -> None:
    """Release what a provider holds (the OpenAI-compatible one's HTTP client)."""
    close = getattr(provider, "close", None)
    if callable(close):
        close()


class JobDeps(Protocol):
    @property
    def store(self) -> Store: ...
    @property
    def settings(self) -> Settings: ...


async def _context(deps: JobDeps, job: Job, progress: Progress) -> JobContext:
    """The account's provider and prompt library, read once as the job starts."""
    async with deps.store.read() as conn:
        config = await provider_config(conn, job.account_id, deps.settings)
        prompts = await prompts_for(conn, job.account_id)
    return JobContext(job=job, progress=progress, store=deps.store, settings=deps.settings,
                      provider=provider_for(config, deps.settings), prompts=prompts,
                      config=config, meter=Meter(progress))


async def run(deps: JobDeps, op: Operation[Any, W, C], job: Job,
              progress: Progress) -> dict[str, Any]:
    """One run of an operation's job: read, compute, save (see the module's docstring)."""
    jc = await _context(deps, job, progress)
    try:
        await jc.update(phase="PREPARE", percentage=5, message=op.reading(jc))
        async with deps.store.read() as conn:
            work = await op.read(conn, jc)
        computed = await op.compute(jc, work)
        try:
            async with progress.final() as conn:
                jc.account = await accounts_store.lock_account(conn, job.account_id)
                saved = await op.save(conn, jc, computed)
                await settle(conn, jc, op, saved)
                progress.result = saved.result
        except BaseException:
            if op.discard is not None:
                op.discard(jc, computed)
            raise
        if saved.after_commit is not None:
            saved.after_commit()
        return saved.result
    except ProviderError as exc:  # one that escaped JobContext.call
        jc.meter.tokens += int(exc.tokens or 0)
        jc.meter.cost = round(jc.meter.cost + float(exc.cost or 0.0), 6)
        await _meter_failure(deps, jc)
        raise job_failure(exc) from None
    except (JobFailed, ValidationFailed):
        await _meter_failure(deps, jc)
        raise
    finally:
        close_provider(jc.provider)


async def _meter_failure(deps: JobDeps, jc: JobContext) -> None:
    """A failing job's tokens and cost: in its progress meta (the failure keeps it) and on
    its usage row (the refund that follows gives the credits back, not the provider's
    bill). Best effort: the failure itself must still be reported."""
    if not (jc.meter.tokens or jc.meter.cost):
        return
    try:
        await jc.update(phase="FAILING", percentage=100, message="The job failed.")
        if int(jc.job.payload.get("credits", 0)) > 0:
            async with deps.store.begin() as conn:
                await billing.record_usage_cost(conn, jc.job.account_id, jc.job.task_id,
                                                tokens=jc.meter.tokens, cost=jc.meter.cost)
    except Exception:
        log.warning("could not record a failed job's tokens", exc_info=True)


def register(registry: JobRegistry, op: Operation[Any, Any, Any], deps: JobDeps) -> None:
    """The operation's job kind, with the credit refund on failure and on cancellation
    (idempotent: a refund gives back only what is still charged)."""

    async def job_fn(job: Job, progress: Progress) -> dict[str, Any]:
        return await run(deps, op, job, progress)

    fn: JobFn = job_fn
    job_fn.__name__ = job_fn.__qualname__ = op.kind
    registry.register(op.kind, fn, on_failed=billing.refund_job,
                      on_revoked=billing.refund_job)
