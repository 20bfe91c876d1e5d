"""The list page (total and rows) read in one synchronous unit, from statements kept by shape.

Run by `Store.run_read` / `Store.read_now`. A shape is which filters were sent, not their
values: its statement is built once and kept, the values are parameters.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnElement, Integer, Select, String, bindparam, func, select, type_coerce
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite as sqlite_dialect
from sqlalchemy.engine import Connection

from igny8d.envelope import timestamp
from igny8d.scope import Scope
from igny8d.store.schema import UTCDateTime
from igny8d.store.specs import TableSpec, Term, order_clauses, search_terms, term_clause

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
    # A full-text search not walked in order starts from its hits: every other condition
    # is kept off the indexes (SQLite would rather walk the scope's index and test each of
    # its rows against the hits: a scan of the account's rows). A count under one condition
    # keeps it: each hit is then a seek in that condition's index, narrower than the table.
    hits_first = any(t.op == "fts" for t in terms)
    if hits_first and kind == "count" and sum(t.op != "fts" for t in terms) == 1:
        hits_first = False
    conds = [term_clause(spec, t, f"p{i}", unindexed=hits_first) for i, t in enumerate(terms)]
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
