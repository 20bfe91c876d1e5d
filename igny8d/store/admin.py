"""The admin API's SQL: the one place that reads and writes across tenants.

Nothing here takes a `Scope`, on purpose: these functions name the account, user or job they
act on by id, or read every tenant at once (lists, counts, the monthly grant's due accounts).
They are not a tenant query with a wide scope: tenant requests never reach them (their reads
and writes go through `store/specs.py`, the one scoping path). The callers are
`services/admin.py` (a superuser, behind the admin API's 404) and the monthly credit grant
(`services/credits_monthly.py`, the server itself).

Writes that change who may act (status, plan, activity, sessions) bump the account's
`data_version` in the same statement or transaction, so anything keyed on it (the list count
cache, a principal cache) is stale at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.store.schema import (
    accounts,
    admin_audit,
    credit_transactions,
    credit_usage,
    jobs,
    keywords,
    plans,
    refresh_tokens,
    sites,
    users,
)
from igny8d.store.specs import like_escape
from igny8d.store.writes import now

a = accounts.c
u = users.c
j = jobs.c
tx = credit_transactions.c
us = credit_usage.c
au = admin_audit.c


def _like(term: str) -> str:
    return "%" + like_escape(term.lower()) + "%"


def _count(table: Any, fk: Any, ref: Any) -> Any:
    return (select(func.count()).select_from(table).where(fk == ref)
            .correlate(accounts).scalar_subquery())


# -- accounts -------------------------------------------------------------------------------------

_PLAN_SUMMARY = (plans.c.slug.label("plan_slug"), plans.c.name.label("plan_name"))
_PLAN_LIMITS = ("monthly_credits", "max_sites", "max_users", "max_keywords", "max_clusters")


def account_filters(*, search: str | None = None, status: str | None = None,
                    plan: str | None = None) -> list[ColumnElement[bool]]:
    """`search`: a substring of the name or slug (case-insensitive); `plan`: a plan slug."""
    where: list[ColumnElement[bool]] = []
    if search:
        pattern = _like(search)
        where.append(or_(func.lower(a.name).like(pattern, escape="\\"),
                         func.lower(a.slug).like(pattern, escape="\\")))
    if status:
        where.append(a.status == status)
    if plan:
        where.append(plans.c.slug == plan)
    return where


def _accounts_select(*columns: Any) -> Select[Any]:
    return select(*columns).select_from(accounts.join(plans, plans.c.id == a.plan_id))


async def count_accounts(conn: AsyncConnection, where: Sequence[ColumnElement[bool]]) -> int:
    stmt = _accounts_select(func.count()).where(*where)
    return int((await conn.execute(stmt)).scalar_one())


async def list_accounts(
    conn: AsyncConnection, where: Sequence[ColumnElement[bool]], *, limit: int, offset: int,
) -> list[dict[str, Any]]:
    """Accounts with their plan's slug and name and how many users they have, by id."""
    stmt = (_accounts_select(accounts, *_PLAN_SUMMARY,
                             _count(users, u.account_id, a.id).label("users_count"))
            .where(*where).order_by(a.id).limit(limit).offset(offset))
    return [dict(r) for r in (await conn.execute(stmt)).mappings()]


async def get_account(conn: AsyncConnection, account_id: int) -> dict[str, Any] | None:
    """One account with its plan's limits and its counts of users, sites and keywords."""
    stmt = (_accounts_select(
        accounts, *_PLAN_SUMMARY, *(plans.c[k] for k in _PLAN_LIMITS),
        _count(users, u.account_id, a.id).label("users_count"),
        _count(sites, sites.c.account_id, a.id).label("sites_count"),
        _count(keywords, keywords.c.account_id, a.id).label("keywords_count"),
    ).where(a.id == account_id))
    row = (await conn.execute(stmt)).mappings().first()
    return dict(row) if row is not None else None


async def usage_between(conn: AsyncConnection, account_id: int, *, start: dt.datetime,
                        end: dt.datetime) -> dict[str, Any]:
    """Credits charged and refunded on usage recorded in [start, end), and net per operation."""
    rows = (await conn.execute(
        select(us.operation_type, func.coalesce(func.sum(us.credits_used), 0),
               func.coalesce(func.sum(us.credits_refunded), 0))
        .where(us.account_id == account_id, us.created_at >= start, us.created_at < end)
        .group_by(us.operation_type).order_by(us.operation_type)
    )).all()
    return {
        "credits_used": sum(int(used) for _op, used, _ref in rows),
        "credits_refunded": sum(int(ref) for _op, _used, ref in rows),
        "by_operation": {str(op): int(used) - int(ref) for op, used, ref in rows},
    }


async def recent_transactions(conn: AsyncConnection, account_id: int,
                              limit: int = 10) -> list[dict[str, Any]]:
    stmt = (select(credit_transactions).where(tx.account_id == account_id)
            .order_by(tx.id.desc()).limit(limit))
    return [dict(r) for r in (await conn.execute(stmt)).mappings()]


async def set_account_status(conn: AsyncConnection, account_id: int, *, status: str,
                             expected: str) -> bool:
    """`expected` → `status` in one conditional UPDATE (False: it was not `expected`)."""
    result = await conn.execute(
        update(accounts).where(a.id == account_id, a.status == expected)
        .values(status=status, data_version=a.data_version + 1, updated_at=now()))
    return bool(result.rowcount)


async def set_account_plan(conn: AsyncConnection, account_id: int, plan_id: int) -> None:
    await conn.execute(
        update(accounts).where(a.id == account_id)
        .values(plan_id=plan_id, data_version=a.data_version + 1, updated_at=now()))


async def bump_account(conn: AsyncConnection, account_id: int) -> None:
    """A change of who may act in the account (a user deactivated, sessions ended)."""
    await conn.execute(update(accounts).where(a.id == account_id)
                       .values(data_version=a.data_version + 1))


async def active_plan(conn: AsyncConnection, slug: str) -> dict[str, Any] | None:
    row = (await conn.execute(
        select(plans).where(plans.c.slug == slug, plans.c.is_active.is_(True))
    )).mappings().first()
    return dict(row) if row is not None else None


# -- users -----------------------------------------------------------------------------------------


def user_filters(*, search: str | None = None, account_id: int | None = None,
                 is_active: bool | None = None) -> list[ColumnElement[bool]]:
    """`search`: a substring of the email or username (case-insensitive)."""
    where: list[ColumnElement[bool]] = []
    if search:
        pattern = _like(search)
        where.append(or_(func.lower(u.email).like(pattern, escape="\\"),
                         func.lower(u.username).like(pattern, escape="\\")))
    if account_id is not None:
        where.append(u.account_id == account_id)
    if is_active is not None:
        where.append(u.is_active.is_(is_active))
    return where


def _users_select(*columns: Any) -> Select[Any]:
    return select(*columns).select_from(users.join(accounts, a.id == u.account_id))


async def count_users(conn: AsyncConnection, where: Sequence[ColumnElement[bool]]) -> int:
    return int((await conn.execute(_users_select(func.count()).where(*where))).scalar_one())


_USER_COLUMNS = (u.id, u.email, u.username, u.account_id, a.name.label("account_name"),
                 u.role, u.is_active, u.is_superuser, u.last_login, u.created_at,
                 u.token_version)


async def list_users(conn: AsyncConnection, where: Sequence[ColumnElement[bool]], *,
                     limit: int, offset: int) -> list[dict[str, Any]]:
    stmt = (_users_select(*_USER_COLUMNS).where(*where).order_by(u.id)
            .limit(limit).offset(offset))
    return [dict(r) for r in (await conn.execute(stmt)).mappings()]


async def get_user(conn: AsyncConnection, user_id: int, *,
                   for_update: bool = False) -> dict[str, Any] | None:
    stmt = _users_select(*_USER_COLUMNS).where(u.id == user_id)
    if for_update and conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update(of=users)
    row = (await conn.execute(stmt)).mappings().first()
    return dict(row) if row is not None else None


def _live(user_id: int) -> ColumnElement[bool]:
    rt = refresh_tokens.c
    return and_(rt.user_id == user_id, rt.revoked_at.is_(None), rt.expires_at > now())


async def live_sessions(conn: AsyncConnection, user_id: int) -> int:
    """Login sessions still alive: refresh-token families with an unrevoked, unexpired token."""
    stmt = select(func.count(func.distinct(refresh_tokens.c.family))).where(_live(user_id))
    return int((await conn.execute(stmt)).scalar_one())


async def deactivate_user(conn: AsyncConnection, user_id: int) -> bool:
    """is_active true → false in one conditional UPDATE (False: it was inactive already)."""
    result = await conn.execute(update(users).where(u.id == user_id, u.is_active.is_(True))
                                .values(is_active=False, updated_at=now()))
    return bool(result.rowcount)


async def reactivate_user(conn: AsyncConnection, user_id: int) -> bool:
    """is_active false → true in one conditional UPDATE (False: it was active already)."""
    result = await conn.execute(update(users).where(u.id == user_id, u.is_active.is_(False))
                                .values(is_active=True, updated_at=now()))
    return bool(result.rowcount)


# -- jobs ------------------------------------------------------------------------------------------


def job_filters(*, states: Sequence[str] = (), kind: str | None = None,
                account_id: int | None = None) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if states:
        where.append(j.state.in_(list(states)) if len(states) > 1 else j.state == states[0])
    if kind:
        where.append(j.kind == kind)
    if account_id is not None:
        where.append(j.account_id == account_id)
    return where


async def count_jobs(conn: AsyncConnection, where: Sequence[ColumnElement[bool]]) -> int:
    stmt = select(func.count()).select_from(jobs).where(*where)
    return int((await conn.execute(stmt)).scalar_one())


async def list_jobs(conn: AsyncConnection, where: Sequence[ColumnElement[bool]], *,
                    limit: int, offset: int) -> list[dict[str, Any]]:
    """Newest first (creation time, then id)."""
    stmt = (select(jobs).where(*where).order_by(j.created_at.desc(), j.id.desc())
            .limit(limit).offset(offset))
    return [dict(r) for r in (await conn.execute(stmt)).mappings()]


async def get_job(conn: AsyncConnection, task_id: str, *,
                  for_update: bool = False) -> dict[str, Any] | None:
    """A job of any account by its task id (locked on Postgres when asked)."""
    stmt = select(jobs).where(j.task_id == task_id)
    if for_update and conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    row = (await conn.execute(stmt)).mappings().first()
    return dict(row) if row is not None else None


async def job_charges(conn: AsyncConnection, account_id: int,
                      reference: str) -> list[dict[str, Any]]:
    """The usage rows a job's charges wrote (their reference is its task id), oldest first."""
    stmt = (select(credit_usage).where(us.account_id == account_id, us.reference == reference)
            .order_by(us.id))
    return [dict(r) for r in (await conn.execute(stmt)).mappings()]


# -- the overview ---------------------------------------------------------------------------------


async def job_state_counts(conn: AsyncConnection) -> dict[str, int]:
    rows = await conn.execute(select(j.state, func.count()).group_by(j.state))
    return {str(state): int(n) for state, n in rows.all()}


async def totals(conn: AsyncConnection) -> dict[str, int]:
    """How many accounts and users the install has."""
    n_accounts = (await conn.execute(select(func.count()).select_from(accounts))).scalar_one()
    n_users = (await conn.execute(select(func.count()).select_from(users))).scalar_one()
    return {"accounts": int(n_accounts), "users": int(n_users)}


# -- the audit log ---------------------------------------------------------------------------------


async def insert_audit(conn: AsyncConnection, values: dict[str, Any]) -> dict[str, Any]:
    stmt = (insert(admin_audit).values(**values, created_at=now())
            .returning(*admin_audit.c))
    return dict((await conn.execute(stmt)).mappings().one())


def audit_filters(*, action: str | None = None, account_id: int | None = None,
                  target_type: str | None = None,
                  actor_user_id: int | None = None) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if action:
        where.append(au.action == action)
    if account_id is not None:
        where.append(au.account_id == account_id)
    if target_type:
        where.append(au.target_type == target_type)
    if actor_user_id is not None:
        where.append(au.actor_user_id == actor_user_id)
    return where


async def count_audit(conn: AsyncConnection, where: Sequence[ColumnElement[bool]]) -> int:
    stmt = select(func.count()).select_from(admin_audit).where(*where)
    return int((await conn.execute(stmt)).scalar_one())


async def list_audit(conn: AsyncConnection, where: Sequence[ColumnElement[bool]], *,
                     limit: int, offset: int) -> list[dict[str, Any]]:
    """Newest first (ids grow with time within one database)."""
    stmt = (select(admin_audit).where(*where).order_by(au.id.desc())
            .limit(limit).offset(offset))
    return [dict(r) for r in (await conn.execute(stmt)).mappings()]


# -- the monthly credit grant ----------------------------------------------------------------------


async def accounts_due_grant(conn: AsyncConnection, *, reference: str,
                             created_before: dt.datetime, after_id: int = 0,
                             limit: int = 500) -> list[int]:
    """Ids of active accounts created before `created_before` without a `monthly_grant`
    transaction named `reference`, from `after_id` on (a batch; call again for the next)."""
    granted = exists().where(tx.account_id == a.id, tx.transaction_type == "monthly_grant",
                             tx.reference == reference)
    stmt = (select(a.id).where(a.status == "active", a.created_at < created_before,
                               a.id > after_id, ~granted)
            .order_by(a.id).limit(limit))
    return [int(i) for i in (await conn.execute(stmt)).scalars()]


async def has_monthly_grant(conn: AsyncConnection, account_id: int, reference: str) -> bool:
    stmt = select(tx.id).where(tx.account_id == account_id,
                               tx.transaction_type == "monthly_grant",
                               tx.reference == reference).limit(1)
    return (await conn.execute(stmt)).first() is not None
