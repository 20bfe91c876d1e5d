"""Generic scoped CRUD over Core tables: the one place tenant filters are applied."""

from __future__ import annotations

import datetime as dt
import re
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    Table,
    bindparam,
    column,
    delete,
    false,
    func,
    insert,
    literal_column,
    or_,
    select,
    text,
    type_coerce,
    update,
)
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite as sqlite_dialect
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.envelope import timestamp
from igny8d.scope import Scope
from igny8d.store.errors import ForeignKeyViolation, RowNotFound, UniqueViolation
from igny8d.store.schema import UTCDateTime, accounts

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

    def scope_terms(self, scope: Scope) -> list[Term]:
        """What the scope allows, as terms (the one statement of the scoping rules)."""
        terms: list[Term] = []
        if self.level == "global":
            return terms
        if self.level == "tenant":
            if scope.account_id is not None:
                terms.append(Term("eq", ("id",), scope.account_id))
            return terms
        if scope.account_id is not None:
            terms.append(Term("eq", ("account_id",), scope.account_id))
        if self.level in ("site", "sector"):
            col = "id" if self.table.name == "sites" else "site_id"
            if scope.site_ids is not None:
                terms.append(Term("in", (col,), tuple(sorted(scope.site_ids)))
                             if scope.site_ids else Term("none"))
            if scope.site_id is not None:
                terms.append(Term("eq", (col,), scope.site_id))
        if self.level == "sector" and scope.sector_id is not None:
            terms.append(Term("eq", ("sector_id",), scope.sector_id))
        return terms

    def scope_filter(self, scope: Scope) -> list[ColumnElement[bool]]:
        return [term_clause(self, t) for t in self.scope_terms(scope)]

    def scoped(self, stmt: Select[Any], scope: Scope) -> Select[Any]:
        conds = self.scope_filter(scope)
        return stmt.where(*conds) if conds else stmt


def like_escape(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


TermOp = Literal["eq", "ge", "le", "in", "null", "not_null", "none", "like", "ilike", "fts",
                 "fts_in_order"]


@dataclass(frozen=True, slots=True)
class Term:
    """One condition of a query as data: an operator on `columns` (one; several for a
    search any of whose columns may match) with a value. As data, a list's conditions have
    a shape (operators and columns, not values) under which its statement is built once
    (`read_page`); `term_clause` makes the same term a clause with its value inline."""

    op: TermOp
    columns: tuple[str, ...] = ()
    value: Any = None

    @property
    def has_value(self) -> bool:
        return self.op not in ("null", "not_null", "none")


def term_clause(spec: TableSpec, term: Term, param: str | None = None, *,
                fts_name: str = "fts_0") -> ColumnElement[bool]:
    """The term as a clause: its value inline, or (`param`) a bound parameter of that name
    whose value is given when the statement runs. An inline full-text match names its
    value `fts_name` (two in one statement must not share a name)."""
    c = spec.table.c
    op = term.op
    if op == "none":
        return false()
    value: Any = term.value
    if param is not None and term.has_value:
        value = bindparam(param, expanding=op == "in")
    if op in ("fts", "fts_in_order"):
        ft = spec.fulltext
        assert ft is not None
        name = param or fts_name
        fts = text(f"SELECT rowid FROM {ft.sqlite_table} "  # noqa: S608 - fixed names
                   f"WHERE {ft.sqlite_table} MATCH :{name}")
        fts = fts.bindparams(bindparam(name) if param is not None else
                             bindparam(name, term.value))
        target = c.id + literal_column("0") if op == "fts_in_order" else c.id
        return target.in_(fts.columns(column("rowid")).scalar_subquery())
    if op == "ilike":
        return or_(*(c[n].ilike(value, escape="\\") for n in term.columns))
    col = c[term.columns[0]]
    clause: ColumnElement[bool]
    if op == "eq":
        clause = col == value
    elif op == "ge":
        clause = col >= value
    elif op == "le":
        clause = col <= value
    elif op == "in":
        clause = col.in_(value)
    elif op == "null":
        clause = col.is_(None)
    elif op == "not_null":
        clause = col.is_not(None)
    elif op == "like":
        clause = col.like(value, escape="\\")
    else:
        raise ValueError(f"unknown term operator {op!r}")
    return clause


def search_terms(
    spec: TableSpec, words: Sequence[str], fields: Sequence[str], *, dialect: str,
    in_order: bool = False,
) -> list[Term]:
    """Each word must appear (case-insensitively, as a substring) in one of `fields`.

    With a full-text index over exactly these fields, a word of three or more characters is
    looked up in it (a trigram phrase match is the same substring test, without a scan);
    shorter words, and tables without an index, fall back to LIKE.

    `in_order` (SQLite): the caller knows many rows match, so the page is found soonest by
    walking an index in the list's order and testing each row against the index hits;
    left alone, SQLite looks up every hit by id and sorts them all (`id + 0` keeps it
    from using the id for that). Same rows either way.
    """
    out: list[Term] = []
    ft = spec.fulltext
    indexed = ft is not None and tuple(fields) == ft.fields
    for raw in words:
        word = raw.lower()
        if indexed and ft is not None and len(word) >= 3:
            if dialect == "sqlite":
                phrase = '"' + word.replace('"', '""') + '"'
                out.append(Term("fts_in_order" if in_order else "fts", (), phrase))
            else:
                out.append(Term("like", (ft.column,), "%" + like_escape(word) + "%"))
            continue
        pattern = "%" + like_escape(word) + "%"
        cols = (ft.column,) if indexed and ft is not None else tuple(fields)
        out.append(Term("ilike", cols, pattern))
    return out


def search_clauses(
    spec: TableSpec, words: Sequence[str], fields: Sequence[str], *, dialect: str,
    in_order: bool = False,
) -> list[ColumnElement[bool]]:
    """`search_terms` as clauses (each word its own parameter: two must not share one)."""
    return [term_clause(spec, t, fts_name=f"fts_{n}")
            for n, t in enumerate(search_terms(spec, words, fields, dialect=dialect,
                                               in_order=in_order))]


def order_clauses(spec: TableSpec, order: Sequence[tuple[str, bool]]) -> list[Any]:
    """(column or computed expression name, descending) pairs as ORDER BY clauses."""
    out: list[Any] = []
    for name, desc in order:
        col = spec.expressions.get(name)
        if col is None:
            col = spec.table.c[name]
        out.append(col.desc() if desc else col.asc())
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


def _count_stmt(spec: TableSpec, scope: Scope,
                where: Sequence[ColumnElement[bool]]) -> Select[Any]:
    return spec.scoped(select(func.count()).select_from(spec.table), scope).where(*where)


def _list_stmt(
    spec: TableSpec, scope: Scope, where: Sequence[ColumnElement[bool]],
    order_by: Sequence[Any], limit: int | None, offset: int,
) -> Select[Any]:
    stmt = spec.scoped(select(spec.table), scope).where(*where).order_by(*order_by)
    if limit is not None:
        stmt = stmt.limit(limit).offset(offset)
    return stmt


async def count_rows(
    conn: AsyncConnection, spec: TableSpec, *, scope: Scope,
    where: Sequence[ColumnElement[bool]] = (),
) -> int:
    return int((await conn.execute(_count_stmt(spec, scope, where))).scalar_one())


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
    result = await conn.execute(_list_stmt(spec, scope, where, order_by, limit, offset))
    keys = list(result.keys())
    return [dict(zip(keys, row, strict=True)) for row in result]


#: A search matched at least this many times the rows up to the page's end: walk the
#: list's order (see search_terms' `in_order`); fewer, look the hits up.
IN_ORDER_FACTOR = 8
#: list statements kept, by shape (a shape is a combination of filters sent, not values)
_SHAPES_MAX = 1024
_shapes: dict[tuple[Any, ...], tuple[TableSpec, Select[Any]]] = {}


def _shaped(spec: TableSpec, kind: Literal["count", "page", "ids"], terms: Sequence[Term],
            order: Sequence[tuple[str, bool]] = (), columns: Sequence[str] | None = None,
            text_times: bool = False) -> Select[Any]:
    """The statement of this shape, built once: term i's value is parameter `p{i}`, the
    page's bounds `limit` and `offset`. Building and keying a statement costs more than
    SQLite takes to run a page; a shape's values are only parameters."""
    key = (id(spec), kind, tuple((t.op, t.columns) for t in terms), tuple(order),
           tuple(columns) if columns is not None else None, text_times)
    kept = _shapes.get(key)
    if kept is not None and kept[0] is spec:
        return kept[1]
    table = spec.table
    conds = [term_clause(spec, t, f"p{i}") for i, t in enumerate(terms)]
    if kind == "count":
        stmt = select(func.count()).select_from(table).where(*conds)
    elif kind == "ids":
        stmt = select(table.c.id).where(*conds).order_by(*order_clauses(spec, order))
    else:
        names = list(columns) if columns is not None else list(table.c.keys())
        cols = [type_coerce(table.c[n], String).label(n)
                if text_times and isinstance(table.c[n].type, UTCDateTime) else table.c[n]
                for n in names]
        stmt = select(*cols).where(*conds).order_by(*order_clauses(spec, order))
        if order:
            stmt = (stmt.limit(bindparam("limit", type_=Integer))
                    .offset(bindparam("offset", type_=Integer)))
    if len(_shapes) >= _SHAPES_MAX:
        _shapes.clear()
    _shapes[key] = (spec, stmt)  # the spec kept too: its id stays its own
    return stmt


def _params(terms: Sequence[Term]) -> dict[str, Any]:
    return {f"p{i}": t.value for i, t in enumerate(terms) if t.has_value}


#: pages ending later than this are never short (an offset is rows walked past)
SHORT_PAGE_END = 500


def short_page(count: int, offset: int, limit: int) -> bool:
    """Whether reading this page, its total known, is surely quick: it ends near the start
    and the matches are dense (walking the list's order finds it within a few times its
    length), or nothing matches. A sparse filter may scan: not short."""
    end = offset + limit
    return count == 0 or (end <= SHORT_PAGE_END and count >= IN_ORDER_FACTOR * end)


@dataclass(frozen=True, slots=True)
class Page:
    """What `read_page` read: the total, the page's rows and, when asked for and few
    enough, every matching id in the list's order (`read_ids` reads other pages of it)."""

    count: int
    rows: list[dict[str, Any]]
    ids: Sequence[int] | None = None


def read_page(
    conn: Connection,
    spec: TableSpec,
    *,
    scope: Scope,
    terms: Sequence[Term] = (),
    where: Sequence[ColumnElement[bool]] = (),
    search: Sequence[str] = (),
    search_fields: Sequence[str] = (),
    order: Sequence[tuple[str, bool]] = (),
    limit: int,
    offset: int = 0,
    count: int | None = None,
    columns: Sequence[str] | None = None,
    text_times: bool = False,
    ids_max: int = 0,
) -> Page:
    """One list page and its total in one synchronous read unit (`Store.run_read`).

    The rows are the scope's, matching `terms` (and `where`: clauses of the caller's
    own, which make the statement be built for this call), each search word, ordered by
    `order` ((name, descending) pairs). The total is counted unless the caller knows it;
    an empty total or a page past it reads no rows. `columns` (default all) are the keys
    of each row, in that order; `text_times` gives timestamps as the API writes them
    (`envelope.timestamp`) without making datetimes of them first. With `ids_max`, a
    total up to it is read as all its ids in order, and the page from those.

    The search words become terms here: how the page is best found depends on how many
    rows match, which the total says.
    """
    dialect = conn.dialect.name
    base = [*spec.scope_terms(scope), *terms]
    if count is None:
        found = [*base, *search_terms(spec, search, search_fields, dialect=dialect)]
        stmt = _shaped(spec, "count", found)
        if where:
            stmt = stmt.where(*where)
        count = int(conn.execute(stmt, _params(found)).scalar_one())
    if count == 0 or offset >= count:
        return Page(count, [])
    if count <= ids_max:
        found = [*base, *search_terms(spec, search, search_fields, dialect=dialect)]
        stmt = _shaped(spec, "ids", found, order)
        if where:
            stmt = stmt.where(*where)
        ids = array("q", conn.execute(stmt, _params(found)).scalars())
        rows = read_ids(conn, spec, ids[offset:offset + limit], scope=scope,
                        columns=columns, text_times=text_times)
        # a total that no longer holds (a write in between) is not kept with these ids
        return Page(count, rows or [], ids if rows is not None and len(ids) == count
                    else None)
    in_order = dialect == "sqlite" and count >= IN_ORDER_FACTOR * (offset + limit)
    found = [*base, *search_terms(spec, search, search_fields, dialect=dialect,
                                  in_order=in_order)]
    stmt = _shaped(spec, "page", found, order, columns, text_times)
    if where:
        stmt = stmt.where(*where)
    result = conn.execute(stmt, {**_params(found), "limit": limit, "offset": offset})
    return Page(count, _rows(spec, result, dialect, text_times))


def read_ids(
    conn: Connection, spec: TableSpec, ids: Sequence[int], *, scope: Scope,
    columns: Sequence[str] | None = None, text_times: bool = False,
) -> list[dict[str, Any]] | None:
    """The scope's rows of these ids, in this order (primary-key lookups: a page of ids a
    `read_page` found). None when one is no longer there: the ids are out of date."""
    if not ids:
        return []
    found = [*spec.scope_terms(scope), Term("in", ("id",), tuple(ids))]
    names = list(columns) if columns is not None else list(spec.table.c.keys())
    stmt = _shaped(spec, "page", found, (), names if "id" in names else [*names, "id"],
                   text_times)
    rows = _rows(spec, conn.execute(stmt, _params(found)), conn.dialect.name, text_times)
    by_id = {row["id"]: row for row in rows}
    if len(by_id) != len(ids):
        return None
    out = [by_id[i] for i in ids]
    if "id" not in names:
        for row in out:
            del row["id"]
    return out


def _rows(spec: TableSpec, result: Any, dialect: str, text_times: bool
          ) -> list[dict[str, Any]]:
    keys = list(result.keys())
    rows = [dict(zip(keys, row, strict=True)) for row in result.all()]
    if text_times:
        stamps = [k for k in keys if isinstance(spec.table.c[k].type, UTCDateTime)]
        for row in rows:
            for k in stamps:
                row[k] = _stamp_text(row[k], dialect)
    return rows


def _stamp_text(value: Any, dialect: str) -> str | None:
    """A timestamp read as it is stored, as the API writes it. SQLite stores UTC text
    `YYYY-MM-DD HH:MM:SS.ffffff` (SQLAlchemy's form), which is rearranged; anything else
    goes through the column type, as any read does."""
    if value is None:
        return None
    if isinstance(value, str):
        if len(value) == 26 and value[10] == " " and value[19] == ".":
            frac = value[20:]
            return (f"{value[:10]}T{value[11:19]}Z" if frac == "000000"
                    else f"{value[:10]}T{value[11:19]}.{frac}Z")
        value = _SQLITE_STAMP(value)
    return timestamp(value)


_SQLITE = sqlite_dialect()
#: SQLite's stored text to an aware datetime, exactly as the column type reads it
_SQLITE_STAMP: Any = UTCDateTime().dialect_impl(_SQLITE).result_processor(_SQLITE, None)


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

