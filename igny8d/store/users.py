"""Users of an account: loading one to authenticate, creating one, grants, password, active site."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.scope import Scope
from igny8d.store.accounts import account_summary
from igny8d.store.errors import RowNotFound, UniqueViolation
from igny8d.store.rows import visible_ids
from igny8d.store.schema import accounts, site_user_access, users
from igny8d.store.sites import SITES
from igny8d.store.specs import TableSpec
from igny8d.store.tokens import revoke_sessions
from igny8d.store.writes import bump_lists, insert_row, now

USERS = TableSpec(
    users, "account", "User",
    unique=((("email",), "email", "A user with this email already exists."),
            (("username",), "username", "A user with this username already exists.")),
)


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


#: a username derived from the email is retried this often when a concurrent signup took it
_NAME_ATTEMPTS = 3


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
    for attempt in range(_NAME_ATTEMPTS):
        try:
            return await insert_row(conn, USERS, {
                "account_id": account_id, "email": email, "username": name,
                "password_hash": password_hash, "role": role, "is_active": is_active,
                "is_superuser": is_superuser, "token_version": 0,
                "auth_key": secrets.token_hex(16),
            })
        except UniqueViolation as exc:
            # A name we derived lost a race with another signup: derive another. A name the
            # client chose, or a duplicate email, is the client's 409.
            if not derived or "username" not in (exc.errors or {}) \
                    or attempt == _NAME_ATTEMPTS - 1:
                raise
            name = f"{email.split('@', 1)[0][:130]}-{secrets.token_hex(3)}"
    raise AssertionError("unreachable")


async def set_site_grants(
    conn: AsyncConnection, *, account_id: int, user_id: int, site_ids: list[int]
) -> None:
    """Replace a user's site grants; every site must belong to the account (else 404)."""
    wanted = set(site_ids)
    found = await visible_ids(conn, SITES, wanted, scope=Scope(account_id))
    missing = sorted(wanted - found)
    if missing:
        raise RowNotFound(f"Site {missing[0]} not found.", field="site_ids")
    await conn.execute(delete(site_user_access).where(site_user_access.c.user_id == user_id))
    if wanted:
        stamp = now()
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


async def set_password(conn: AsyncConnection, user_id: int, password_hash: str) -> int:
    """Store a new hash and end every session; returns the new token version."""
    await conn.execute(
        update(users).where(users.c.id == user_id)
        .values(password_hash=password_hash, updated_at=now())
    )
    return await revoke_sessions(conn, user_id)


async def touch_user(conn: AsyncConnection, user_id: int, **values: Any) -> None:
    """Set a user's own fields outside the resource layer (`last_login` at login, `is_active`
    when an invitation is accepted), bumping the users list of their account like any other
    write: a list filtered by them is not served a kept total from before. Called as the
    last statement of its transaction: the bump comes without the account row's lock
    (`bump_lists`, not `touch_accounts`): an invitation's token row is taken before it, and
    taking the account after that would invert the writers' lock order; the list version's
    row is the last lock these transactions take, so nothing can wait in a cycle on it."""
    account_id = (await conn.execute(
        update(users).where(users.c.id == user_id).values(**values)
        .returning(users.c.account_id))).scalar_one_or_none()
    if account_id is not None:
        await bump_lists(conn, USERS, [account_id])


async def touch_login(conn: AsyncConnection, user_id: int) -> None:
    await touch_user(conn, user_id, last_login=now())


async def set_active_site(conn: AsyncConnection, *, user_id: int, site_id: int) -> None:
    await conn.execute(update(users).where(users.c.id == user_id)
                       .values(active_site_id=site_id, updated_at=now()))


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
