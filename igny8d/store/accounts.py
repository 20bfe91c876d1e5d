"""Accounts, users, site grants and refresh tokens."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.scope import Scope
from igny8d.store import crud
from igny8d.store.crud import TableSpec
from igny8d.store.errors import RowNotFound, UniqueViolation
from igny8d.store.schema import (
    accounts,
    industries,
    industry_sectors,
    plans,
    refresh_tokens,
    sectors,
    site_user_access,
    sites,
    users,
)
from igny8d.text import slugify

ACCOUNTS = TableSpec(accounts, "tenant", "Account")
USERS = TableSpec(
    users, "account", "User",
    unique=((("email",), "email", "A user with this email already exists."),
            (("username",), "username", "A user with this username already exists.")),
)
SITES = TableSpec(
    sites, "site", "Site",
    unique=((("account_id", "slug"), "name", "A site with this name already exists."),),
)
SECTORS = TableSpec(
    sectors, "site", "Sector",
    unique=((("site_id", "slug"), "name", "This site already has a sector with this name."),),
)
PLANS = TableSpec(plans, "global", "Plan")
INDUSTRIES = TableSpec(industries, "global", "Industry")
INDUSTRY_SECTORS = TableSpec(industry_sectors, "global", "Industry sector")


@dataclass(frozen=True, slots=True)
class UserRecord:
    id: int
    account_id: int
    email: str
    username: str
    password_hash: str | None
    role: str
    is_active: bool
    is_superuser: bool
    token_version: int
    auth_key: str


def _user(row: Any) -> UserRecord:
    return UserRecord(
        id=row.id, account_id=row.account_id, email=row.email, username=row.username,
        password_hash=row.password_hash, role=row.role, is_active=row.is_active,
        is_superuser=row.is_superuser, token_version=row.token_version,
        auth_key=row.auth_key,
    )


@dataclass(frozen=True, slots=True)
class AuthUser:
    """What authenticating a request needs: the user, their account's state, their grants."""

    user: UserRecord
    account_active: bool
    grants: frozenset[int]
    #: the account's data version when the user was loaded (the list count cache key)
    data_version: int = 0


def normalize_email(email: str) -> str:
    return email.strip().lower()


async def find_user_by_email(conn: AsyncConnection, email: str) -> UserRecord | None:
    row = (await conn.execute(
        select(users).where(users.c.email == normalize_email(email))
    )).first()
    return _user(row) if row else None


async def get_user(conn: AsyncConnection, user_id: int) -> UserRecord | None:
    row = (await conn.execute(select(users).where(users.c.id == user_id))).first()
    return _user(row) if row else None


#: built once: building a statement costs more than SQLite takes to run this one
_AUTH_USER = (
    select(users, accounts.c.status.label("account_status"),
           accounts.c.data_version.label("account_data_version"),
           site_user_access.c.site_id.label("granted_site_id"))
    .join(accounts, accounts.c.id == users.c.account_id)
    .outerjoin(site_user_access, site_user_access.c.user_id == users.c.id)
    .where(users.c.id == bindparam("user_id"))
)


def auth_user(
    conn: Connection, user_id: int, *, grants_for: Callable[[str], bool]
) -> AuthUser | None:
    """One statement: the user, their account's status and data version, and their site
    grants (joined: one row per grant), kept only when `grants_for(role)` says grants
    matter for that role. Synchronous, so a request authenticates in one read unit
    (`Store.run_read`)."""
    rows = conn.execute(_AUTH_USER, {"user_id": user_id}).all()
    if not rows:
        return None
    row = rows[0]
    grants: frozenset[int] = frozenset()
    if grants_for(row.role):
        grants = frozenset(int(r.granted_site_id) for r in rows
                           if r.granted_site_id is not None)
    return AuthUser(_user(row), row.account_status == "active", grants,
                    int(row.account_data_version))


async def load_auth_user(
    conn: AsyncConnection, user_id: int, *, grants_for: Callable[[str], bool]
) -> AuthUser | None:
    """`auth_user` on an async connection."""
    return await conn.run_sync(auth_user, user_id, grants_for=grants_for)


async def lock_account(conn: AsyncConnection, account_id: int) -> dict[str, Any]:
    """Lock the account row for the rest of the transaction and return it with its plan.

    Every check-then-write on an account's budget (plan limits, credits) takes this first,
    so two concurrent requests count one after the other: `FOR UPDATE` on Postgres; on
    SQLite the write transaction (BEGIN IMMEDIATE) already holds the database lock.
    """
    stmt = (select(accounts, plans.c.name.label("plan_name"), plans.c.slug.label("plan_slug"),
                   *(plans.c[k] for k in _LIMITS))
            .join(plans, plans.c.id == accounts.c.plan_id)
            .where(accounts.c.id == account_id))
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update(of=accounts)
    row = (await conn.execute(stmt)).mappings().first()
    if row is None:
        raise RowNotFound("Account not found.")
    return dict(row)


_LIMITS = ("max_sites", "max_users", "max_keywords", "max_sectors_per_site", "max_clusters",
           "monthly_credits")


async def plan_by_slug(conn: AsyncConnection, slug: str) -> dict[str, Any]:
    row = (await conn.execute(select(plans).where(plans.c.slug == slug))).mappings().first()
    if row is None:
        raise RowNotFound(f"Plan {slug!r} not found.")
    return dict(row)


async def account_plan(conn: AsyncConnection, account_id: int) -> dict[str, Any]:
    row = (await conn.execute(
        select(plans).join(accounts, accounts.c.plan_id == plans.c.id)
        .where(accounts.c.id == account_id)
    )).mappings().one()
    return dict(row)


_SLUG_ATTEMPTS = 3


async def unique_account_slug(conn: AsyncConnection, name: str) -> str:
    base = slugify(name, fallback="item")
    taken = set((await conn.execute(
        select(accounts.c.slug).where(accounts.c.slug.like(f"{base}%"))
    )).scalars())
    if base not in taken:
        return base
    return f"{base}-{secrets.token_hex(3)}"


async def unique_username(conn: AsyncConnection, wanted: str) -> str:
    base = re.sub(r"[^\w.@+-]", "", wanted)[:140] or "user"
    taken = set((await conn.execute(
        select(users.c.username).where(users.c.username.like(f"{base}%"))
    )).scalars())
    if base not in taken:
        return base
    n = 2
    while f"{base}{n}" in taken:
        n += 1
    return f"{base}{n}"


async def create_account(
    conn: AsyncConnection, *, name: str, plan: dict[str, Any], status: str = "active"
) -> dict[str, Any]:
    """A new tenant, starting with its plan's monthly credits.

    The slug is derived from the name; if a concurrent registration took it between the
    check and the insert, another suffix is tried (the insert runs in a savepoint).
    """
    slug = await unique_account_slug(conn, name)
    for attempt in range(_SLUG_ATTEMPTS):
        try:
            return await crud.insert_row(conn, ACCOUNTS, {
                "name": name, "slug": slug, "plan_id": plan["id"],
                "credits": plan["monthly_credits"], "status": status,
            })
        except UniqueViolation:
            if attempt == _SLUG_ATTEMPTS - 1:
                raise
            slug = f"{slugify(name, fallback='item')}-{secrets.token_hex(3)}"
    raise AssertionError("unreachable")


async def create_user(
    conn: AsyncConnection, *, account_id: int, email: str, username: str | None,
    password_hash: str | None, role: str, is_active: bool = True, is_superuser: bool = False,
) -> dict[str, Any]:
    email = normalize_email(email)
    if username:
        exists = (await conn.execute(
            select(users.c.id).where(func.lower(users.c.username) == username.lower())
        )).first()
        if exists:
            raise UniqueViolation({"username": ["A user with this username already exists."]})
    if await find_user_by_email(conn, email) is not None:
        raise UniqueViolation({"email": ["A user with this email already exists."]})
    derived = not username
    name = username or await unique_username(conn, email.split("@", 1)[0])
    for attempt in range(_SLUG_ATTEMPTS):
        try:
            return await crud.insert_row(conn, USERS, {
                "account_id": account_id, "email": email, "username": name,
                "password_hash": password_hash, "role": role, "is_active": is_active,
                "is_superuser": is_superuser, "token_version": 0,
                "auth_key": secrets.token_hex(16),
            })
        except UniqueViolation as exc:
            # A name we derived lost a race with another signup: derive another. A name the
            # client chose, or a duplicate email, is the client's 409.
            if not derived or "username" not in (exc.errors or {}) \
                    or attempt == _SLUG_ATTEMPTS - 1:
                raise
            name = f"{email.split('@', 1)[0][:130]}-{secrets.token_hex(3)}"
    raise AssertionError("unreachable")


async def set_site_grants(
    conn: AsyncConnection, *, account_id: int, user_id: int, site_ids: list[int]
) -> None:
    """Replace a user's site grants; every site must belong to the account (else 404)."""
    wanted = set(site_ids)
    found = await crud.visible_ids(conn, SITES, wanted, scope=Scope(account_id))
    missing = sorted(wanted - found)
    if missing:
        raise RowNotFound(f"Site {missing[0]} not found.", field="site_ids")
    await conn.execute(delete(site_user_access).where(site_user_access.c.user_id == user_id))
    if wanted:
        stamp = crud.now()
        await conn.execute(insert(site_user_access), [
            {"account_id": account_id, "user_id": user_id, "site_id": s, "created_at": stamp}
            for s in sorted(wanted)
        ])


async def site_grants(conn: AsyncConnection, user_ids: list[int]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {u: [] for u in user_ids}
    if not user_ids:
        return out
    rows = await conn.execute(
        select(site_user_access.c.user_id, site_user_access.c.site_id)
        .where(site_user_access.c.user_id.in_(user_ids)).order_by(site_user_access.c.site_id)
    )
    for uid, sid in rows:
        out[uid].append(sid)
    return out


# -- tokens -------------------------------------------------------------------------------------


async def record_refresh(
    conn: AsyncConnection, *, jti: str, family: str, user_id: int, expires_at: dt.datetime
) -> None:
    await conn.execute(insert(refresh_tokens).values(
        jti=jti, family=family, user_id=user_id, expires_at=expires_at, created_at=crud.now(),
    ))


async def rotate_refresh(
    conn: AsyncConnection, *, old_jti: str, new_jti: str, user_id: int,
    expires_at: dt.datetime,
) -> str | None:
    """Revoke the presented token and record its successor in the same family, atomically.

    None means it was revoked, expired or never issued; the family (session) id otherwise.
    """
    stamp = crud.now()
    family = (await conn.execute(
        update(refresh_tokens)
        .where(refresh_tokens.c.jti == old_jti, refresh_tokens.c.user_id == user_id,
               refresh_tokens.c.revoked_at.is_(None), refresh_tokens.c.expires_at > stamp)
        .values(revoked_at=stamp, replaced_by=new_jti)
        .returning(refresh_tokens.c.family)
    )).scalar_one_or_none()
    if family is None:
        return None
    await record_refresh(conn, jti=new_jti, family=family, user_id=user_id,
                         expires_at=expires_at)
    return str(family)


async def rotation_of(
    conn: AsyncConnection, jti: str, user_id: int
) -> tuple[str, dt.datetime] | None:
    """(family, when) if this refresh token was already exchanged for a successor."""
    row = (await conn.execute(
        select(refresh_tokens.c.family, refresh_tokens.c.revoked_at)
        .where(refresh_tokens.c.jti == jti, refresh_tokens.c.user_id == user_id,
               refresh_tokens.c.replaced_by.is_not(None))
    )).first()
    return (str(row.family), row.revoked_at) if row is not None else None


async def family_alive(conn: AsyncConnection, family: str) -> bool:
    """True while the family (a login session) still has a live refresh token."""
    row = (await conn.execute(
        select(refresh_tokens.c.jti).where(
            refresh_tokens.c.family == family, refresh_tokens.c.revoked_at.is_(None),
            refresh_tokens.c.expires_at > crud.now(),
        ).limit(1)
    )).first()
    return row is not None


async def refresh_family(conn: AsyncConnection, jti: str, user_id: int) -> str | None:
    return (await conn.execute(
        select(refresh_tokens.c.family)
        .where(refresh_tokens.c.jti == jti, refresh_tokens.c.user_id == user_id)
    )).scalar_one_or_none()


async def revoke_family(conn: AsyncConnection, family: str) -> None:
    """End one session: its live refresh token and the cookie that names it."""
    await conn.execute(
        update(refresh_tokens)
        .where(refresh_tokens.c.family == family, refresh_tokens.c.revoked_at.is_(None))
        .values(revoked_at=crud.now())
    )


async def session_alive(conn: AsyncConnection, user_id: int, family: str) -> bool:
    """A session cookie is good while its family still has an unrevoked, unexpired token."""
    row = (await conn.execute(
        select(refresh_tokens.c.jti).where(
            refresh_tokens.c.family == family, refresh_tokens.c.user_id == user_id,
            refresh_tokens.c.revoked_at.is_(None), refresh_tokens.c.expires_at > crud.now(),
        ).limit(1)
    )).first()
    return row is not None


async def revoke_all_refresh(conn: AsyncConnection, user_id: int) -> None:
    await conn.execute(
        update(refresh_tokens)
        .where(refresh_tokens.c.user_id == user_id, refresh_tokens.c.revoked_at.is_(None))
        .values(revoked_at=crud.now())
    )


async def revoke_sessions(conn: AsyncConnection, user_id: int) -> int:
    """Refuse every token issued so far: refresh rows revoked, access tokens by version.

    Returns the new token version, for the tokens issued right after (change-password).
    """
    await revoke_all_refresh(conn, user_id)
    return int((await conn.execute(
        update(users).where(users.c.id == user_id)
        .values(token_version=users.c.token_version + 1, updated_at=crud.now())
        .returning(users.c.token_version)
    )).scalar_one())


async def set_password(conn: AsyncConnection, user_id: int, password_hash: str) -> int:
    """Store a new hash and end every session; returns the new token version."""
    await conn.execute(
        update(users).where(users.c.id == user_id)
        .values(password_hash=password_hash, updated_at=crud.now())
    )
    return await revoke_sessions(conn, user_id)


async def touch_login(conn: AsyncConnection, user_id: int) -> None:
    await conn.execute(update(users).where(users.c.id == user_id).values(last_login=crud.now()))


async def purge_expired_refresh(conn: AsyncConnection) -> int:
    result = await conn.execute(
        delete(refresh_tokens).where(refresh_tokens.c.expires_at < crud.now())
    )
    return int(result.rowcount)


# -- presentation ---------------------------------------------------------------------------------


async def account_summary(conn: AsyncConnection, account_id: int) -> dict[str, Any]:
    row = (await conn.execute(
        select(accounts.c.id, accounts.c.name, accounts.c.slug, accounts.c.status,
               accounts.c.credits, plans.c.slug.label("plan"))
        .join(plans, plans.c.id == accounts.c.plan_id).where(accounts.c.id == account_id)
    )).mappings().one()
    return dict(row)


async def user_with_account(conn: AsyncConnection, user_id: int) -> dict[str, Any]:
    """The user object login, register and me answer with."""
    row = (await conn.execute(select(users).where(users.c.id == user_id))).mappings().one()
    grants = await site_grants(conn, [user_id])
    return {
        "id": row["id"], "email": row["email"], "username": row["username"],
        "role": row["role"], "is_active": row["is_active"],
        "is_superuser": row["is_superuser"], "account_id": row["account_id"],
        "site_ids": grants[user_id], "active_site_id": row["active_site_id"],
        "last_login": row["last_login"], "created_at": row["created_at"],
        "account": await account_summary(conn, row["account_id"]),
    }


async def accessible_sites(conn: AsyncConnection, *, scope: Scope) -> list[dict[str, Any]]:
    rows = await crud.list_rows(conn, SITES, scope=scope, order_by=[sites.c.name, sites.c.id])
    return [{"id": r["id"], "name": r["name"], "slug": r["slug"], "domain": r["domain"],
             "is_active": r["is_active"]} for r in rows]


async def count_for_account(conn: AsyncConnection, spec: TableSpec, account_id: int) -> int:
    return await crud.count_rows(conn, spec, scope=Scope(account_id))


# -- sites and sectors ----------------------------------------------------------------------------


async def sector_counts(conn: AsyncConnection, site_ids: list[int]) -> dict[int, int]:
    if not site_ids:
        return {}
    rows = await conn.execute(
        select(sectors.c.site_id, func.count()).where(sectors.c.site_id.in_(site_ids))
        .group_by(sectors.c.site_id)
    )
    return {int(site): int(n) for site, n in rows.all()}


async def set_active_site(conn: AsyncConnection, *, user_id: int, site_id: int) -> None:
    await conn.execute(update(users).where(users.c.id == user_id)
                       .values(active_site_id=site_id, updated_at=crud.now()))


async def sectors_of_site(conn: AsyncConnection, site_id: int, ids: list[int]) -> set[int]:
    """Which of `ids` are sectors of this site."""
    return {int(i) for i in (await conn.execute(
        select(sectors.c.id).where(sectors.c.site_id == site_id, sectors.c.id.in_(sorted(ids)))
    )).scalars()}


async def activate_only(conn: AsyncConnection, *, site_id: int, sector_ids: list[int]) -> None:
    """Exactly these sectors of the site are active afterwards."""
    await conn.execute(update(accounts).where(accounts.c.id == select(sites.c.account_id)
                                              .where(sites.c.id == site_id).scalar_subquery())
                       .values(data_version=accounts.c.data_version + 1))
    await conn.execute(update(sectors).where(sectors.c.site_id == site_id)
                       .values(is_active=sectors.c.id.in_(sorted(sector_ids)) if sector_ids
                               else False, updated_at=crud.now()))


async def industry_of_sector(conn: AsyncConnection, industry_sector_id: int) -> int | None:
    """The industry an industry sector belongs to; None when there is no such sector."""
    value = (await conn.execute(select(industry_sectors.c.industry_id)
                                .where(industry_sectors.c.id == industry_sector_id))
             ).scalar_one_or_none()
    return int(value) if value is not None else None


async def plan_slugs(conn: AsyncConnection, plan_ids: list[int]) -> dict[int, str]:
    if not plan_ids:
        return {}
    rows = await conn.execute(select(plans.c.id, plans.c.slug).where(plans.c.id.in_(plan_ids)))
    return {int(i): str(s) for i, s in rows.all()}


async def industry_sectors_of(
    conn: AsyncConnection, industry_ids: list[int]
) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {i: [] for i in industry_ids}
    if not industry_ids:
        return out
    rows = await conn.execute(
        select(industry_sectors).where(industry_sectors.c.industry_id.in_(industry_ids))
        .order_by(industry_sectors.c.name)
    )
    for s in rows.mappings():
        out[s["industry_id"]].append({k: s[k] for k in ("id", "slug", "name", "description")})
    return out
