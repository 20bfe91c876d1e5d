"""Generic scoped CRUD over Core tables: the one place tenant filters are applied."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    column,
    delete,
    false,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.scope import Scope
from igny8d.store.errors import ForeignKeyViolation, RowNotFound, UniqueViolation
from igny8d.store.schema import accounts

ScopeLevel = Literal["global", "tenant", "account", "site", "sector"]


@dataclass(frozen=True)
class FullText:
    """A search index over one lower-cased text column, kept by migrations outside the Core
    metadata: an FTS5 trigram table on SQLite, a pg_trgm GIN index on Postgres. Search on
    `fields` then uses it instead of scanning the table with LIKE."""

    fields: tuple[str, ...]
    column: str
    sqlite_table: str


@dataclass(frozen=True)
class TableSpec:
    """How a table is scoped: not at all (reference data), as the tenant row itself
    (accounts), by account, by account and site (site grants apply), or by account, site
    and sector (planner and writer objects: a scope may narrow to one site or sector)."""

    table: Table
    level: ScopeLevel
    label: str
    #: unique constraints to report as 409: column tuple -> field that gets the message
    unique: tuple[tuple[tuple[str, ...], str, str], ...] = ()
    fulltext: FullText | None = None
    #: computed values a list may be ordered by (correlated subqueries: still one query)
    expressions: dict[str, Any] = dc_field(default_factory=dict)

    def scope_filter(self, scope: Scope) -> list[ColumnElement[bool]]:
        c = self.table.c
        where: list[ColumnElement[bool]] = []
        if self.level == "global":
            return where
        if self.level == "tenant":
            if scope.account_id is not None:
                where.append(c.id == scope.account_id)
            return where
        if scope.account_id is not None:
            where.append(c.account_id == scope.account_id)
        if self.level in ("site", "sector"):
            col = c.id if self.table.name == "sites" else c.site_id
            if scope.site_ids is not None:
                where.append(col.in_(sorted(scope.site_ids)) if scope.site_ids else false())
            if scope.site_id is not None:
                where.append(col == scope.site_id)
        if self.level == "sector" and scope.sector_id is not None:
            where.append(c.sector_id == scope.sector_id)
        return where

    def scoped(self, stmt: Select[Any], scope: Scope) -> Select[Any]:
        conds = self.scope_filter(scope)
        return stmt.where(*conds) if conds else stmt


def like_escape(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_clauses(
    spec: TableSpec, words: Sequence[str], fields: Sequence[str], *, dialect: str
) -> list[ColumnElement[bool]]:
    """Each word must appear (case-insensitively, as a substring) in one of `fields`.

    With a full-text index over exactly these fields, a word of three or more characters is
    looked up in it (a trigram phrase match is the same substring test, without a scan);
    shorter words, and tables without an index, fall back to LIKE.
    """
    c = spec.table.c
    out: list[ColumnElement[bool]] = []
    ft = spec.fulltext
    indexed = ft is not None and tuple(fields) == ft.fields
    for n, raw in enumerate(words):
        word = raw.lower()
        if indexed and ft is not None and len(word) >= 3:
            if dialect == "sqlite":
                phrase = '"' + word.replace('"', '""') + '"'
                # each word its own parameter name: two words must not share one value
                fts = text(f"SELECT rowid FROM {ft.sqlite_table} "  # noqa: S608 - fixed names
                           f"WHERE {ft.sqlite_table} MATCH :fts_{n}").bindparams(
                               **{f"fts_{n}": phrase})
                out.append(c.id.in_(fts.columns(column("rowid")).scalar_subquery()))
            else:
                out.append(c[ft.column].like("%" + like_escape(word) + "%", escape="\\"))
            continue
        pattern = "%" + like_escape(word) + "%"
        cols = [c[ft.column]] if indexed and ft is not None else [c[f] for f in fields]
        out.append(or_(*(col.ilike(pattern, escape="\\") for col in cols)))
    return out


_VERSIONED = ("account", "site", "sector")


async def touch_accounts(
    conn: AsyncConnection, spec: TableSpec, account_ids: Iterable[int | None]
) -> None:
    """Bump the data version of the accounts whose data this write changes.

    Called before the write, so every writer takes the account row first (one lock order,
    no deadlocks on Postgres); list counts cached under the old version are not used again.
    An operator's cross-tenant write (account None) bumps every account.
    """
    if spec.level not in _VERSIONED:
        return
    ids = set(account_ids)
    if not ids:
        return
    stmt = update(accounts).values(data_version=accounts.c.data_version + 1)
    if None not in ids:
        stmt = stmt.where(accounts.c.id.in_(sorted(i for i in ids if i is not None)))
    await conn.execute(stmt)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def count_rows(
    conn: AsyncConnection, spec: TableSpec, *, scope: Scope,
    where: Sequence[ColumnElement[bool]] = (),
) -> int:
    stmt = spec.scoped(select(func.count()).select_from(spec.table), scope).where(*where)
    return int((await conn.execute(stmt)).scalar_one())


async def list_rows(
    conn: AsyncConnection,
    spec: TableSpec,
    *,
    scope: Scope,
    where: Sequence[ColumnElement[bool]] = (),
    order_by: Sequence[Any] = (),
    limit: int | None = None,
    offset: int = 0,
) -> list[dict[str, Any]]:
    stmt = spec.scoped(select(spec.table), scope).where(*where).order_by(*order_by)
    if limit is not None:
        stmt = stmt.limit(limit).offset(offset)
    result = await conn.execute(stmt)
    keys = list(result.keys())
    return [dict(zip(keys, row, strict=True)) for row in result]


async def get_row(
    conn: AsyncConnection, spec: TableSpec, row_id: int, *, scope: Scope,
    for_update: bool = False,
) -> dict[str, Any]:
    """The row if the scope may see it; otherwise RowNotFound (never a hint that it exists)."""
    stmt = spec.scoped(select(spec.table).where(spec.table.c.id == row_id), scope)
    if for_update and conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    row = (await conn.execute(stmt)).mappings().first()
    if row is None:
        raise RowNotFound(f"{spec.label} not found.")
    return dict(row)


async def require_visible(
    conn: AsyncConnection, spec: TableSpec, row_id: int, *, scope: Scope, field: str
) -> dict[str, Any]:
    """A row referenced from a request body; invisible -> 404 naming the field."""
    try:
        return await get_row(conn, spec, row_id, scope=scope)
    except RowNotFound:
        raise RowNotFound(f"{spec.label} {row_id} not found.", field=field) from None


async def insert_row(
    conn: AsyncConnection, spec: TableSpec, values: dict[str, Any]
) -> dict[str, Any]:
    values = dict(values)
    stamp = now()
    if "created_at" in spec.table.c:
        values.setdefault("created_at", stamp)
    if "updated_at" in spec.table.c:
        values.setdefault("updated_at", stamp)
    await touch_accounts(conn, spec, [values.get("account_id")])
    stmt = insert(spec.table).values(**values).returning(*spec.table.c)
    try:
        async with conn.begin_nested():
            row = (await conn.execute(stmt)).mappings().one()
    except IntegrityError as exc:
        raise _conflict(spec, exc) from None
    return dict(row)


async def insert_many(
    conn: AsyncConnection, spec: TableSpec, rows: Sequence[dict[str, Any]], *,
    batch: int = 1000,
) -> int:
    """Insert rows in batches (one statement per batch, no savepoint per row).

    A duplicate anywhere fails the statement: the caller's transaction rolls back whole
    (nothing half-imported), and the conflict is reported like a single insert's.
    """
    if not rows:
        return 0
    stamp = now()
    stamped = []
    for row in rows:
        values = dict(row)
        if "created_at" in spec.table.c:
            values.setdefault("created_at", stamp)
        if "updated_at" in spec.table.c:
            values.setdefault("updated_at", stamp)
        stamped.append(values)
    await touch_accounts(conn, spec, {r.get("account_id") for r in stamped})
    try:
        for start in range(0, len(stamped), batch):
            await conn.execute(insert(spec.table), stamped[start:start + batch])
    except IntegrityError as exc:
        raise _conflict(spec, exc) from None
    return len(stamped)


async def update_many(
    conn: AsyncConnection, spec: TableSpec, ids: Iterable[int], values: dict[str, Any], *,
    scope: Scope,
) -> int:
    """One UPDATE for several rows of the scope (bulk status changes)."""
    wanted = sorted(set(ids))
    if not wanted:
        return 0
    values = dict(values)
    if "updated_at" in spec.table.c:
        values["updated_at"] = now()
    await touch_accounts(conn, spec, [scope.account_id])
    stmt = (update(spec.table).where(spec.table.c.id.in_(wanted), *spec.scope_filter(scope))
            .values(**values))
    try:
        return int((await conn.execute(stmt)).rowcount)
    except IntegrityError as exc:
        raise _conflict(spec, exc) from None


async def update_row(
    conn: AsyncConnection, spec: TableSpec, row_id: int, values: dict[str, Any], *,
    scope: Scope,
) -> dict[str, Any]:
    values = dict(values)
    if "updated_at" in spec.table.c:
        values["updated_at"] = now()
    await touch_accounts(conn, spec, [scope.account_id])
    stmt = (
        update(spec.table)
        .where(spec.table.c.id == row_id, *spec.scope_filter(scope))
        .values(**values)
        .returning(*spec.table.c)
    )
    try:
        async with conn.begin_nested():
            row = (await conn.execute(stmt)).mappings().first()
    except IntegrityError as exc:
        raise _conflict(spec, exc) from None
    if row is None:
        raise RowNotFound(f"{spec.label} not found.")
    return dict(row)


async def delete_row(
    conn: AsyncConnection, spec: TableSpec, row_id: int, *, scope: Scope
) -> None:
    await touch_accounts(conn, spec, [scope.account_id])
    stmt = delete(spec.table).where(spec.table.c.id == row_id, *spec.scope_filter(scope))
    if (await conn.execute(stmt)).rowcount == 0:
        raise RowNotFound(f"{spec.label} not found.")


async def visible_ids(
    conn: AsyncConnection, spec: TableSpec, ids: Iterable[int], *, scope: Scope
) -> set[int]:
    """Which of `ids` the scope may touch: bulk actions check every id before writing."""
    wanted = sorted(set(ids))
    if not wanted:
        return set()
    stmt = spec.scoped(select(spec.table.c.id).where(spec.table.c.id.in_(wanted)), scope)
    return {int(r) for r in (await conn.execute(stmt)).scalars()}


async def delete_many(
    conn: AsyncConnection, spec: TableSpec, ids: Iterable[int], *, scope: Scope
) -> int:
    wanted = sorted(set(ids))
    await touch_accounts(conn, spec, [scope.account_id])
    stmt = delete(spec.table).where(spec.table.c.id.in_(wanted), *spec.scope_filter(scope))
    return int((await conn.execute(stmt)).rowcount)



_FK_COLUMN = re.compile(r"key \((\w+)\)=\(([^)]*)\) is not present")


def _conflict(spec: TableSpec, exc: IntegrityError) -> Exception:
    """Name the duplicate field when the constraint is a known unique one; a reference to
    a row that does not exist is a field error (400), never a 500."""
    text = str(exc.orig).lower()
    if "foreign key" in text:
        found = _FK_COLUMN.search(text)
        if found:
            return ForeignKeyViolation(errors={found.group(1): [
                f'Invalid pk "{found.group(2)}" - object does not exist.']})
        return ForeignKeyViolation(errors={"non_field_errors": [
            "A referenced object does not exist."]})
    for cols, field, message in spec.unique:
        name = f"uq_{spec.table.name}_{'_'.join(cols)}"
        joined = ", ".join(f"{spec.table.name}.{c}" for c in cols)
        if name in text or joined in text:
            return UniqueViolation({field: [message]})
    if "unique" in text or "duplicate" in text:
        return UniqueViolation({"non_field_errors": [f"This {spec.label.lower()} already exists."]})
    return exc

