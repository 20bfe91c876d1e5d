"""The operators' rules behind `/api/v1/admin/`: views and actions across accounts.

Only a superuser reaches these: every function takes an `Operator`, which only a superuser
actor can be made into (anyone else gets NotFound, like the routes). They read and write
through `store/admin.py`, the one module that works across tenants, never through the tenant
scoping path (`store/specs.py`, `rows.py`, `writes.py`).

Every action is one transaction holding the change and its audit row (`services/audit.py`,
with before/after snapshots), and is safe under concurrency on Postgres:
- the account row is locked first (`lock_account`) by account actions, so two grants both
  land and a revoke is checked against the balance it will change; the ledger's conditional
  UPDATE (`store/billing.change_balance`) is the backstop that never lets a balance go below
  zero, also against a charge racing the revoke;
- state changes are conditional UPDATEs (suspend only an active account, deactivate only an
  active user, retry only a FAILURE job): of two concurrent ones, one wins, the other is 409;
- locks are taken in one order — a job, then its account; an account, then its users.

What changes who may act (suspend, reactivate, plan change, deactivate, end sessions) bumps
the account's `data_version` in the same transaction; ending sessions also bumps the user's
`token_version` (every access token refused) and revokes their refresh tokens.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d import __version__
from igny8d.errors import Conflict, InsufficientCredits, NotFound, ValidationFailed
from igny8d.openapi import API_VERSION
from igny8d.permissions import Actor
from igny8d.schemas import admin as m
from igny8d.services import audit, auth_links, billing
from igny8d.services import jobs as job_service
from igny8d.services.credits_monthly import month_bounds
from igny8d.store import accounts as account_store
from igny8d.store import admin as store
from igny8d.store import jobs as job_store
from igny8d.store import tokens as token_store
from igny8d.store.errors import RowNotFound

if TYPE_CHECKING:
    from igny8d.jobs.registry import JobRegistry
    from igny8d.settings import Settings
    from igny8d.store.engine import Store

#: an account's credits are an INTEGER column
CREDITS_MAX = 2**31 - 1
RECENT_TRANSACTIONS = 10


class MetricsView(Protocol):
    """What the admin API reads of the process's request metrics (`context.Metrics`)."""

    @property
    def recent(self) -> Iterable[Any]: ...
    @property
    def uptime(self) -> float: ...
    def find(self, request_id: str) -> Any: ...
    def summary(self, window_s: float) -> dict[str, Any]: ...
    def log_lines(self, request_id: str) -> list[dict[str, Any]]: ...


class Waker(Protocol):
    def wake(self) -> None: ...


class AdminDeps(Protocol):
    """What the admin services need of the AppContext."""

    @property
    def store(self) -> Store: ...
    @property
    def settings(self) -> Settings: ...
    @property
    def jobs(self) -> JobRegistry: ...
    @property
    def metrics(self) -> MetricsView: ...
    @property
    def executor(self) -> Waker: ...


@dataclass(frozen=True, slots=True)
class Operator:
    """A superuser acting through the admin API, with what the audit log records."""

    user_id: int
    account_id: int
    email: str
    request_id: str | None = None

    @classmethod
    def of(cls, actor: Actor, *, email: str = "", request_id: str | None = None) -> Operator:
        """Only a superuser is an operator; anyone else is told nothing exists (404)."""
        if not actor.is_superuser:
            raise NotFound()
        return cls(actor.user_id, actor.account_id, email, request_id)


@dataclass(frozen=True, slots=True)
class Page:
    number: int = 1
    size: int = 10

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size


Listing = tuple[int, list[dict[str, Any]]]


def _checked(page: Page, count: int, rows: list[dict[str, Any]]) -> Listing:
    if page.number > 1 and not rows:
        raise NotFound("Invalid page.")
    return count, rows


async def _audit(conn: AsyncConnection, op: Operator, entry: audit.Entry) -> None:
    await audit.record(conn, actor_user_id=op.user_id, actor_email=op.email,
                       request_id=op.request_id, entry=entry)


# -- the overview ----------------------------------------------------------------------------------


def rss_mb() -> float | None:
    """This process's resident memory now (Linux `/proc`), else its peak (getrusage)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    except (ImportError, OSError):  # pragma: no cover - not a Unix
        return None
    return round(peak / 1024, 1)  # pragma: no cover - Linux has /proc


async def overview(deps: AdminDeps, op: Operator, query: m.OverviewQuery) -> dict[str, Any]:
    """The box at a glance. Traffic and its series are this process's (`per_process`); the
    database figures are the whole install's."""
    started = time.perf_counter()
    db_ok = await deps.store.ping()
    latency = round((time.perf_counter() - started) * 1000, 2) if db_ok else None
    states = dict.fromkeys(job_store.STATES, 0)
    counts = {"accounts": 0, "users": 0}
    if db_ok:
        async with deps.store.read() as conn:
            states.update({k: v for k, v in (await store.job_state_counts(conn)).items()
                           if k in states})
            counts = await store.totals(conn)
    summary = dict(deps.metrics.summary(float(query.window_s)))
    series = summary.pop("series", [])
    return {
        "version": __version__, "api_version": API_VERSION,
        "uptime_s": round(deps.metrics.uptime, 3), "pid": os.getpid(), "rss_mb": rss_mb(),
        "database": {"dialect": deps.store.dialect, "ok": db_ok, "latency_ms": latency},
        "jobs": states, **counts, "traffic": summary, "series": series, "per_process": True,
    }


# -- accounts --------------------------------------------------------------------------------------


def _account(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "slug": row["slug"], "status": row["status"],
            "plan": {"id": row["plan_id"], "slug": row["plan_slug"], "name": row["plan_name"]},
            "credits": row["credits"], "users_count": int(row["users_count"]),
            "created_at": row["created_at"]}


async def _account_detail(conn: AsyncConnection, account_id: int) -> dict[str, Any]:
    row = await store.get_account(conn, account_id)
    if row is None:
        raise RowNotFound("Account not found.")
    out = _account(row)
    out["plan"].update({k: row[k] for k in ("monthly_credits", "max_sites", "max_users",
                                            "max_keywords", "max_clusters")})
    start, end = month_bounds()
    out.update({
        "sites_count": int(row["sites_count"]), "keywords_count": int(row["keywords_count"]),
        "usage_this_month": await store.usage_between(conn, account_id, start=start, end=end),
        "recent_transactions": [
            {k: t[k] for k in billing.TRANSACTION_FIELDS}
            for t in await store.recent_transactions(conn, account_id, RECENT_TRANSACTIONS)],
    })
    return out


async def list_accounts(deps: AdminDeps, op: Operator, query: m.AccountsQuery,
                        page: Page) -> Listing:
    where = store.account_filters(search=query.search, status=query.status, plan=query.plan)
    async with deps.store.read() as conn:
        count = await store.count_accounts(conn, where)
        rows = await store.list_accounts(conn, where, limit=page.size, offset=page.offset)
    return _checked(page, count, [_account(r) for r in rows])


async def get_account(deps: AdminDeps, op: Operator, account_id: int) -> dict[str, Any]:
    async with deps.store.read() as conn:
        return await _account_detail(conn, account_id)


async def grant_credits(deps: AdminDeps, op: Operator, account_id: int,
                        body: m.GrantCreditsBody) -> dict[str, Any]:
    """Grant (amount > 0, a `grant` transaction) or revoke (< 0, an `adjustment`) through
    the ledger. A revoke larger than the balance is a 400 naming `amount`; nothing is
    written. The reason is the transaction's description (the account's admins see it)."""
    amount = body.amount
    async with deps.store.begin() as conn:
        locked = await account_store.lock_account(conn, account_id)
        before = int(locked["credits"])
        if before + amount < 0:
            raise ValidationFailed(errors={"amount": [
                f"The balance is {before}: revoking {-amount} would leave it below zero."]})
        if before + amount > CREDITS_MAX:
            raise ValidationFailed(errors={"amount": [
                f"The balance is {before}: granting {amount} would exceed {CREDITS_MAX}."]})
        try:
            row = await billing.grant(
                conn, account_id, amount=amount,
                transaction_type="grant" if amount > 0 else "adjustment",
                description=body.reason)
        except InsufficientCredits:  # pragma: no cover - the lock makes the check above exact
            raise ValidationFailed(errors={"amount": [
                "Revoking this much would leave the balance below zero."]}) from None
        await _audit(conn, op, audit.Entry(
            action="account.grant_credits" if amount > 0 else "account.revoke_credits",
            target_type="account", target_id=account_id, account_id=account_id,
            before={"credits": before},
            after={"credits": row["balance_after"], "amount": amount,
                   "transaction_id": row["id"]},
            reason=body.reason))
    return {"account_id": account_id, "credits": row["balance_after"],
            "transaction": {k: row[k] for k in ("id", "transaction_type", "amount",
                                                "balance_after", "description",
                                                "created_at")}}


async def change_plan(deps: AdminDeps, op: Operator, account_id: int,
                      body: m.ChangePlanBody) -> dict[str, Any]:
    """Move the account to another active plan: its limits apply at once (rows above a
    lower limit stay; new ones are refused). The balance is not touched: the next monthly
    grant tops it up to the new plan's credits. The same plan is a 409."""
    async with deps.store.begin() as conn:
        locked = await account_store.lock_account(conn, account_id)
        plan = await store.active_plan(conn, body.plan)
        if plan is None:
            raise ValidationFailed(errors={"plan": [f'No active plan "{body.plan}".']})
        if plan["id"] == locked["plan_id"]:
            raise Conflict("The account is on this plan already.",
                           errors={"plan": [f"The account's plan is {plan['slug']}."]})
        await store.set_account_plan(conn, account_id, plan["id"])
        await _audit(conn, op, audit.Entry(
            action="account.change_plan", target_type="account", target_id=account_id,
            account_id=account_id,
            before={"plan": locked["plan_slug"], "plan_id": locked["plan_id"]},
            after={"plan": plan["slug"], "plan_id": plan["id"]}, reason=body.reason or ""))
        return await _account_detail(conn, account_id)


async def _set_status(deps: AdminDeps, op: Operator, account_id: int, body: m.ReasonBody, *,
                      to: str) -> dict[str, Any]:
    frm = "active" if to == "suspended" else "suspended"
    async with deps.store.begin() as conn:
        locked = await account_store.lock_account(conn, account_id)
        if to == "suspended" and account_id == op.account_id:
            raise Conflict("You cannot suspend your own account.",
                           errors={"id": ["This is the account you are signed in with."]})
        status = locked["status"]
        # the row is locked, so the conditional UPDATE is the check's backstop only
        if status != frm or not await store.set_account_status(conn, account_id, status=to,
                                                               expected=frm):
            raise Conflict(f"The account is {status} already." if status == to
                           else f"The account is {status}.",
                           errors={"status": [f"The account is {status}."]})
        await _audit(conn, op, audit.Entry(
            action="account.suspend" if to == "suspended" else "account.reactivate",
            target_type="account", target_id=account_id, account_id=account_id,
            before={"status": frm}, after={"status": to}, reason=body.reason or ""))
        return await _account_detail(conn, account_id)


async def suspend(deps: AdminDeps, op: Operator, account_id: int,
                  body: m.ReasonBody) -> dict[str, Any]:
    """active → suspended: the account's users are refused at once (the server authenticates
    no principal of an inactive account: requests 401, login and refresh refused); their
    tokens work again after `reactivate`. Jobs already queued still run."""
    return await _set_status(deps, op, account_id, body, to="suspended")


async def reactivate(deps: AdminDeps, op: Operator, account_id: int,
                     body: m.ReasonBody) -> dict[str, Any]:
    return await _set_status(deps, op, account_id, body, to="active")


# -- users -----------------------------------------------------------------------------------------

_USER_FIELDS = ("id", "email", "username", "account_id", "account_name", "role", "is_active",
                "is_superuser", "last_login", "created_at")


def _user(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in _USER_FIELDS}


async def list_users(deps: AdminDeps, op: Operator, query: m.UsersQuery, page: Page) -> Listing:
    where = store.user_filters(search=query.search, account_id=query.account_id,
                               is_active=query.is_active)
    async with deps.store.read() as conn:
        count = await store.count_users(conn, where)
        rows = await store.list_users(conn, where, limit=page.size, offset=page.offset)
    return _checked(page, count, [_user(r) for r in rows])


async def _user_detail(conn: AsyncConnection, user_id: int) -> dict[str, Any]:
    row = await store.get_user(conn, user_id)
    if row is None:
        raise RowNotFound("User not found.")
    return {**_user(row), "sessions": await store.live_sessions(conn, user_id)}


async def get_user(deps: AdminDeps, op: Operator, user_id: int) -> dict[str, Any]:
    async with deps.store.read() as conn:
        return await _user_detail(conn, user_id)


async def _user_locked(conn: AsyncConnection, user_id: int) -> dict[str, Any]:
    """The user, after taking their account's row (account before user: the store's lock order)."""
    row = await store.get_user(conn, user_id)
    if row is None:
        raise RowNotFound("User not found.")
    await store.bump_account(conn, int(row["account_id"]))
    fresh = await store.get_user(conn, user_id, for_update=True)
    assert fresh is not None  # the account row is held: the user cannot be deleted now
    return fresh


async def deactivate_user(deps: AdminDeps, op: Operator, user_id: int,
                          body: m.ReasonBody) -> dict[str, Any]:
    """is_active false, every session ended (refresh tokens revoked) and every access token
    refused (token_version bumped). Yourself, or an inactive user: 409."""
    if user_id == op.user_id:
        raise Conflict("You cannot deactivate yourself.",
                       errors={"id": ["This is the user you are signed in as."]})
    async with deps.store.begin() as conn:
        row = await _user_locked(conn, user_id)
        sessions = await store.live_sessions(conn, user_id)
        if not await store.deactivate_user(conn, user_id):
            raise Conflict("The user is inactive already.",
                           errors={"is_active": ["The user is inactive."]})
        version = await token_store.revoke_sessions(conn, user_id)
        await _audit(conn, op, audit.Entry(
            action="user.deactivate", target_type="user", target_id=user_id,
            account_id=int(row["account_id"]),
            before={"is_active": True, "sessions": sessions,
                    "token_version": row["token_version"]},
            after={"is_active": False, "sessions": 0, "token_version": version},
            reason=body.reason or ""))
        return await _user_detail(conn, user_id)


async def reactivate_user(deps: AdminDeps, op: Operator, user_id: int,
                          body: m.ReasonBody) -> dict[str, Any]:
    """is_active back to true: the user can log in again (their old sessions stay ended, so
    nothing revoked comes back). An active user: 409."""
    async with deps.store.begin() as conn:
        row = await _user_locked(conn, user_id)
        if not await store.reactivate_user(conn, user_id):
            raise Conflict("The user is active already.",
                           errors={"is_active": ["The user is active."]})
        await _audit(conn, op, audit.Entry(
            action="user.reactivate", target_type="user", target_id=user_id,
            account_id=int(row["account_id"]), before={"is_active": False},
            after={"is_active": True}, reason=body.reason or ""))
        return await _user_detail(conn, user_id)


async def end_sessions(deps: AdminDeps, op: Operator, user_id: int,
                       body: m.ReasonBody) -> dict[str, Any]:
    """Revoke every refresh token of the user and bump their token_version (their access
    tokens stop working too). Allowed on yourself: it signs you out everywhere."""
    async with deps.store.begin() as conn:
        row = await _user_locked(conn, user_id)
        sessions = await store.live_sessions(conn, user_id)
        version = await token_store.revoke_sessions(conn, user_id)
        await _audit(conn, op, audit.Entry(
            action="user.end_sessions", target_type="user", target_id=user_id,
            account_id=int(row["account_id"]),
            before={"sessions": sessions, "token_version": row["token_version"]},
            after={"sessions": 0, "token_version": version}, reason=body.reason or ""))
    return {"user_id": user_id, "sessions_ended": sessions}


# -- jobs ------------------------------------------------------------------------------------------

_META_DEFAULTS: dict[str, Any] = {"phase": "", "percentage": 0, "message": "",
                                  "request_steps": [], "response_steps": [], "cost": 0,
                                  "tokens": 0}
_JOB_FIELDS = ("task_id", "kind", "state", "account_id", "user_id", "attempts",
               "max_attempts", "error", "created_at", "started_at", "finished_at",
               "updated_at")


def _job(row: dict[str, Any], *, detail: bool = False) -> dict[str, Any]:
    out = {k: row[k] for k in _JOB_FIELDS}
    out["meta"] = {**_META_DEFAULTS, **(row["meta"] or {})}
    if detail:
        out["payload"] = row["payload"] or {}
        out["result"] = row["result"]
    return out


async def list_jobs(deps: AdminDeps, op: Operator, query: m.JobsQuery, page: Page) -> Listing:
    where = store.job_filters(states=query.state, kind=query.kind, account_id=query.account_id)
    async with deps.store.read() as conn:
        count = await store.count_jobs(conn, where)
        rows = await store.list_jobs(conn, where, limit=page.size, offset=page.offset)
    return _checked(page, count, [_job(r) for r in rows])


async def _job_row(conn: AsyncConnection, task_id: str, *,
                   for_update: bool = False) -> dict[str, Any]:
    row = await store.get_job(conn, job_service.parse_task_id(task_id), for_update=for_update)
    if row is None:
        raise RowNotFound("Task not found.")
    return row


async def get_job(deps: AdminDeps, op: Operator, task_id: str) -> dict[str, Any]:
    async with deps.store.read() as conn:
        return _job(await _job_row(conn, task_id), detail=True)


async def _unrefunded(conn: AsyncConnection, row: dict[str, Any]) -> int:
    usage = await store.job_charges(conn, int(row["account_id"]), row["task_id"])
    return sum(int(u["credits_used"]) - int(u["credits_refunded"]) for u in usage)


async def cancel_job(deps: AdminDeps, op: Operator, task_id: str,
                     body: m.ReasonBody) -> dict[str, Any]:
    """PENDING or PROGRESS → REVOKED with the kind's `on_revoked` hook (the credit refund),
    as the account's own cancel; a finished job is a 409."""
    async with deps.store.begin() as conn:
        row = await _job_row(conn, task_id, for_update=True)
        held = await _unrefunded(conn, row)
        revoked = await job_service.cancel_row(conn, row, registry=deps.jobs,
                                               reason="cancelled by an operator")
        refunded = held - await _unrefunded(conn, revoked)
        await _audit(conn, op, audit.Entry(
            action="job.cancel", target_type="job", target_id=row["task_id"],
            account_id=int(row["account_id"]), before={"state": row["state"]},
            after={"state": revoked["state"], "credits_refunded": refunded},
            reason=body.reason or ""))
    return _job(revoked, detail=True)


async def retry_job(deps: AdminDeps, op: Operator, task_id: str,
                    body: m.ReasonBody) -> dict[str, Any]:
    """FAILURE → PENDING (attempts reset, error cleared), charging again what the failure
    refunded, in one transaction: 402 when the account is short now (nothing changes);
    anything but FAILURE is a 409. The workers are woken after the commit."""
    async with deps.store.begin() as conn:
        row = await _job_row(conn, task_id, for_update=True)
        retried, charged = await job_service.retry_row(conn, row)
        await _audit(conn, op, audit.Entry(
            action="job.retry", target_type="job", target_id=row["task_id"],
            account_id=int(row["account_id"]),
            before={"state": row["state"], "attempts": row["attempts"], "error": row["error"]},
            after={"state": retried["state"], "attempts": retried["attempts"],
                   "credits_charged": charged},
            reason=body.reason or ""))
    deps.executor.wake()
    return _job(retried, detail=True)


# -- recent requests (this process's ring) ---------------------------------------------------------

_REQUEST_FIELDS = ("request_id", "method", "path", "route", "status", "duration_ms",
                   "user_id", "account_id", "at", "throttled")


def _request(metric: Any) -> dict[str, Any]:
    record = (dataclasses.asdict(metric) if dataclasses.is_dataclass(metric)
              and not isinstance(metric, type) else dict(metric))
    return {k: record.get(k) for k in _REQUEST_FIELDS}


def _matches(record: dict[str, Any], query: m.RequestsQuery) -> bool:
    span = query.status_range()
    if span is not None and not span[0] <= int(record["status"]) <= span[1]:
        return False
    if query.path and query.path.lower() not in str(record["path"]).lower():
        return False
    if query.excluded(str(record["path"])):
        return False
    if query.account_id is not None and record["account_id"] != query.account_id:
        return False
    return query.method is None or record["method"] == query.method


def list_requests(deps: AdminDeps, op: Operator, query: m.RequestsQuery, page: Page) -> Listing:
    """Newest first, from this process's ring of recent requests (others have their own)."""
    found = [r for r in map(_request, reversed(list(deps.metrics.recent))) if _matches(r, query)]
    return _checked(page, len(found), found[page.offset:page.offset + page.size])


def get_request(deps: AdminDeps, op: Operator, request_id: str) -> dict[str, Any]:
    """One recent request of this process with the log records that carried its id."""
    metric = deps.metrics.find(request_id)
    if metric is None:
        raise NotFound("Request not found.")
    return {**_request(metric), "log": deps.metrics.log_lines(request_id)}


# -- the audit log ---------------------------------------------------------------------------------


async def list_audit(deps: AdminDeps, op: Operator, query: m.AuditQuery, page: Page) -> Listing:
    where = store.audit_filters(action=query.action, account_id=query.account_id,
                                target_type=query.target_type,
                                actor_user_id=query.actor_user_id)
    async with deps.store.read() as conn:
        count = await store.count_audit(conn, where)
        rows = await store.list_audit(conn, where, limit=page.size, offset=page.offset)
    return _checked(page, count, [audit.present(r) for r in rows])


# -- pending password-reset and invitation links ---------------------------------------------------


async def list_auth_links(deps: AdminDeps, op: Operator, query: m.AuthLinksQuery,
                          page: Page) -> Listing:
    """Live links, for handing over by hand when no mail goes out (no secrets in here)."""
    async with deps.store.read() as conn:
        count, rows = await auth_links.list_pending(conn, purpose=query.purpose,
                                                    offset=page.offset, limit=page.size)
    return _checked(page, count, rows)


async def reissue_auth_link(deps: AdminDeps, op: Operator, token_id: int,
                            body: m.ReasonBody) -> dict[str, Any]:
    """A fresh link in place of a pending one, in the answer (and in the audit log, without
    its secret): reading it lets the operator act as that user, so it is recorded."""
    async with deps.store.begin() as conn:
        issued = await auth_links.reissue(conn, deps.settings, token_id)
        row = await auth_links.get_pending(conn, issued.token_id)
        await _audit(conn, op, audit.Entry(
            action="user.reissue_link", target_type="user", target_id=issued.user_id,
            account_id=int(row["account_id"]), before={"link_id": token_id},
            after={"link_id": issued.token_id, "purpose": issued.purpose},
            reason=body.reason or ""))
    return {**row, "link": issued.link}
