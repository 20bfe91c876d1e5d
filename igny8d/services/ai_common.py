"""What every AI action and job shares (auto_cluster, ideas, content, image prompts, images).

An action (request time, one write transaction):
  `distinct_ids` (400: none, or more than the cap) → `require_rows` (404 naming the ids the
  caller cannot see; nothing charged) → its own checks → `submit_charged`: the account row
  locked first, the job queued and the credits charged with the job's task_id as the
  reference, all in the caller's transaction (402 when short: nothing queued). The amount
  charged goes into the payload (`credits`), so the job settles against what was taken.

A job (a worker), registered with `register_ai_kind`: the wrapper reads the account's
  provider and prompt library first (`job_setup`, a read transaction) and closes the provider
  after. Provider calls go through a `Meter` (never inside a write transaction): it sums
  tokens and cost, records request/response steps, writes them into the progress meta, and
  turns a `ProviderError` into a `JobFailed` with the provider's readable message (the job
  fails, the kind's hook refunds). In `progress.final()` the job writes its rows and
  `settle`s: what was charged beyond the work done is refunded, and tokens/cost land on the
  usage row.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.ai.types import (
    Generation,
    OutlineSection,
    Prompts,
    Provider,
    ProviderConfig,
    ProviderError,
    Step,
)
from igny8d.errors import ValidationFailed
from igny8d.jobs.registry import JobFailed
from igny8d.permissions import Actor
from igny8d.scope import Scope
from igny8d.services import billing
from igny8d.settings import Settings
from igny8d.store import accounts as accounts_store
from igny8d.store.engine import Store
from igny8d.store.errors import RowNotFound
from igny8d.store.rows import rows_by_id
from igny8d.store.specs import TableSpec

if TYPE_CHECKING:
    from igny8d.jobs.executor import Executor, Progress
    from igny8d.jobs.registry import Job, JobRegistry

T = TypeVar("T")

#: ids named in a 404 (the rest are counted)
IDS_SHOWN = 20
#: request/response steps kept in the progress meta (a 50-article job stays small)
STEPS_KEPT = 200


class AIDeps(Protocol):
    """What an AI action needs of the AppContext."""

    @property
    def store(self) -> Store: ...
    @property
    def settings(self) -> Settings: ...
    @property
    def executor(self) -> Executor: ...


# -- the action -------------------------------------------------------------------------------


def shown(ids: Sequence[int]) -> str:
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
                       scope: Scope, columns: Sequence[str] | None = None
                       ) -> dict[int, dict[str, Any]]:
    """Every id must be visible: 404 naming the others (another account's, a site the caller
    may not see, or none at all — the caller cannot tell which)."""
    rows = {int(r["id"]): r for r in await rows_by_id(conn, spec, ids, scope=scope,
                                                      columns=columns)}
    missing = sorted(set(ids) - set(rows))
    if missing:
        raise RowNotFound(f"Not found: {shown(missing)}.", field="ids")
    return rows


async def submit_charged(
    conn: AsyncConnection, deps: AIDeps, actor: Actor, *, kind: str, payload: dict[str, Any],
    operation: str, units: int, description: str,
) -> dict[str, Any]:
    """Lock the account (the first lock), queue the job and charge `price(operation, units)`
    with the task_id as the reference, in the caller's transaction; `{task_id}`.

    A price of 0 makes the operation free: no charge, no usage row."""
    amount = billing.price(operation, units, deps.settings)
    await accounts_store.lock_account(conn, actor.account_id)
    task = await deps.executor.submit(conn, actor, kind=kind, payload={
        **payload, "credits": amount, "units": units})
    if amount > 0:
        await billing.charge(conn, actor, amount=amount, operation_type=operation, units=units,
                             description=description[:500], reference=task["task_id"])
    return {"task_id": task["task_id"]}


async def account_provider(conn: AsyncConnection, account_id: int,
                           settings: Settings) -> tuple[Provider, ProviderConfig | None]:
    """The account's provider (its integration settings; the local one without them).

    Imported here, not at the top: the OpenAI-compatible provider loads Tornado's HTTP
    client, and the services layer must import without Tornado."""
    from igny8d.ai.providers import provider_for
    from igny8d.services.integrations import provider_config

    config = await provider_config(conn, account_id, settings)
    return provider_for(config, settings), config


def is_llm(config: ProviderConfig | None) -> bool:
    """An OpenAI-compatible provider (the batch caps of the reference apply to it)."""
    return config is not None and config.kind != "local"


# -- the job ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JobSetup:
    provider: Provider
    prompts: Prompts
    config: ProviderConfig | None


async def job_setup(store: Store, account_id: int, settings: Settings) -> JobSetup:
    """The account's provider and prompt library, read once at the start of a job."""
    from igny8d.services.prompts import prompts_for

    async with store.read() as conn:
        provider, config = await account_provider(conn, account_id, settings)
        prompts = await prompts_for(conn, account_id)
    return JobSetup(provider, prompts, config)


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
        """Run one provider call (not inside a transaction): its value, or the
        ProviderError it raised (the caller decides whether that fails the job). The call
        is a request step (`name`, `subject`), the provider's own steps follow."""
        self.progress.check()
        self.request_steps.append({"name": name, "detail": subject[:200]})
        try:
            generation = await call()
        except ProviderError as exc:
            self.response_steps.append({"name": "failed", "detail": str(exc)[:300]})
            self._trim()
            return exc
        self.add(generation)
        return generation.value

    async def call(self, name: str, subject: str,
                   call: Callable[[], Awaitable[Generation[T]]]) -> T:
        """A provider call whose failure fails the job with the provider's message."""
        out = await self.attempt(name, subject, call)
        if isinstance(out, ProviderError):
            raise job_failure(out)
        return out

    def meta(self) -> dict[str, Any]:
        return {"tokens": self.tokens, "cost": self.cost,
                "request_steps": list(self.request_steps),
                "response_steps": list(self.response_steps)}

    async def update(self, *, phase: str, percentage: float, message: str) -> None:
        await self.progress.update(phase=phase, percentage=percentage, message=message,
                                   **self.meta())


def job_failure(exc: ProviderError) -> JobFailed:
    """The job's readable error for a provider's failure (its message; never a traceback)."""
    text = str(exc).strip() or "The AI provider failed."
    return JobFailed(f"The AI provider failed: {text}" if not text.lower().startswith(
        ("the ai provider", "ai provider")) else text)


async def settle(conn: AsyncConnection, job: Job, *, operation: str, units_done: int,
                 meter: Meter, settings: Settings, description: str = "") -> int:
    """In the job's final transaction: refund what was charged beyond the price of the work
    done (never charging more than was taken up front), and put tokens/cost on the usage
    row; returns the credits kept."""
    charged = int(job.payload.get("credits", 0))
    due = min(charged, billing.price(operation, max(0, units_done), settings))
    if charged > due:
        await billing.refund(conn, job.account_id, reference=job.task_id, amount=charged - due,
                             description=(description or "Refund: work not done")[:500])
    if charged > 0 and (meter.tokens or meter.cost):
        await billing.record_usage_cost(conn, job.account_id, job.task_id,
                                        tokens=meter.tokens, cost=meter.cost)
    return due


#: A paid AI kind's function: the executor's (ctx, job, progress) and the account's setup.
AIJobFn = Callable[[Any, "Job", "Progress", JobSetup],
                   Coroutine[Any, Any, "dict[str, Any] | None"]]


def close_provider(provider: Provider) -> None:
    """Release what a provider holds (the OpenAI-compatible one's HTTP client)."""
    close = getattr(provider, "close", None)
    if callable(close):
        close()


def register_ai_kind(registry: JobRegistry, kind: str, fn: AIJobFn) -> None:
    """A paid AI kind: the account's provider and prompts read first (and the provider closed
    after), a ProviderError that escaped a Meter still failing the job with its message, and
    the credits refunded on failure and on cancellation (idempotent: a refund gives back
    only what is still charged)."""

    async def run(ctx: Any, job: Job, progress: Progress) -> dict[str, Any] | None:
        setup = await job_setup(ctx.store, job.account_id, ctx.settings)
        try:
            return await fn(ctx, job, progress, setup)
        except ProviderError as exc:
            raise job_failure(exc) from None
        finally:
            close_provider(setup.provider)

    run.__name__ = run.__qualname__ = getattr(fn, "__name__", kind)
    registry.register(kind, run, on_failed=billing.refund_job, on_revoked=billing.refund_job)


# -- outlines -----------------------------------------------------------------------------------

#: The ideas API's outline limits (schemas/planner_clusters.py): items, points, lengths.
OUTLINE_ITEMS = 100
OUTLINE_POINTS = 50


def outline_rows(sections: Sequence[OutlineSection]) -> list[dict[str, Any]]:
    """A provider's outline in the shape ideas store and the API shows: a flat list of
    `{heading, level, points}` — each section an H2 whose points are the keywords it
    covers, followed by its H3s — within the API's limits."""
    out: list[dict[str, Any]] = []
    for section in sections:
        heading = " ".join(section.heading.split())[:255]
        if not heading:
            continue
        points = [p[:1000] for p in (" ".join(k.split()) for k in section.keywords) if p]
        out.append({"heading": heading, "level": 2,
                    "points": list(dict.fromkeys(points))[:OUTLINE_POINTS]})
        for sub in section.subheadings:
            text = " ".join(sub.split())[:255]
            if text:
                out.append({"heading": text, "level": 3, "points": []})
    return out[:OUTLINE_ITEMS]


def outline_sections(rows: Sequence[Any]) -> tuple[OutlineSection, ...]:
    """An idea's stored outline (possibly edited by a user) as the provider's sections, as
    written: an H2 opens a section (its points become the section's keywords), an H3 is a
    subheading of the section before it (its points join that section's keywords; an H3
    before any H2 opens a section of its own). Malformed items are skipped."""
    sections: list[tuple[str, list[str], list[str]]] = []
    for row in rows or ():
        if not isinstance(row, dict):
            continue
        heading = " ".join(str(row.get("heading") or "").split())
        if not heading:
            continue
        points = [" ".join(str(p).split()) for p in row.get("points") or () if str(p).strip()]
        if row.get("level") == 3 and sections:
            sections[-1][1].append(heading)
            sections[-1][2].extend(points)
        else:
            sections.append((heading, [], points))
    return tuple(OutlineSection(heading=h, subheadings=tuple(subs),
                                keywords=tuple(dict.fromkeys(kws)))
                 for h, subs, kws in sections)
