"""The one statement of the scoping rules (`TableSpec`), and a list's conditions as data (`Term`).

Filters, search words and ordering become terms and clauses here; every scoped read and write
(`rows`, `writes`, `pages`) takes its tenant filter from `TableSpec.scope_terms`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    bindparam,
    column,
    false,
    literal_column,
    or_,
    text,
)

from igny8d.scope import Scope

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


TermOp = Literal["eq", "ge", "le", "in", "null", "not_null", "none", "like", "scan_like",
                 "ilike", "fts", "fts_in_order"]


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
                fts_name: str = "fts_0", unindexed: bool = False) -> ColumnElement[bool]:
    """The term as a clause: its value inline, or (`param`) a bound parameter of that name
    whose value is given when the statement runs. An inline full-text match names its
    value `fts_name` (two in one statement must not share a name).

    `unindexed` (SQLite): the column is written `+table.column`, which SQLite does not look
    up in an index (the same value): a search's hits are then the only way in, looked up by
    id (`read_page`)."""
    op = term.op
    c: Any = _Unindexed(spec.table) if unindexed and op not in ("fts", "fts_in_order") \
        else spec.table.c
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
        id_col = spec.table.c.id
        target = id_col + literal_column("0") if op == "fts_in_order" else id_col
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
    elif op == "scan_like":
        # `col || ''`: the same text, which no index answers. A prepared statement's generic
        # plan would take the pg_trgm index for any pattern, and one of two characters has
        # no trigram: it reads the whole index (measured: 40 ms on 50k rows, vs 3 ms).
        clause = col.op("||")(literal_column("''")).like(value, escape="\\")
    else:
        raise ValueError(f"unknown term operator {op!r}")
    return clause


class _Unindexed:
    """`table.c` whose columns are written `+table.column` (see `term_clause`)."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def __getitem__(self, name: str) -> Any:
        col = self._table.c[name]
        return literal_column(f"+{self._table.name}.{col.name}", type_=col.type)


def search_terms(
    spec: TableSpec, words: Sequence[str], fields: Sequence[str], *, dialect: str,
    in_order: bool = False,
) -> list[Term]:
    """Each word must appear (case-insensitively, as a substring) in one of `fields`.

    With a full-text index over exactly these fields, the words are matched against its
    column, which holds the field lower-cased (white space folded: a word has none), so a
    lower-cased word is the same test as the reference's case-insensitive one. On SQLite
    the words of three or more characters become ONE trigram query, a phrase per word
    (`"a" "b"`: rows with both; a trigram phrase is the same substring test as
    `LIKE '%word%'`, without a scan); on Postgres each is a `LIKE '%word%'` the pg_trgm
    index answers. Shorter words have no trigram: a LIKE on that column tests each row
    of the scope (SQLite's LIKE folds ASCII case, Postgres's is exact: both compare
    lower-cased text, as ILIKE would). Tables without an index use ILIKE on the fields.

    `in_order` (SQLite): the caller knows many rows match, so the page is found soonest by
    walking an index in the list's order and testing each row against the index hits;
    otherwise the hits are looked up by id and sorted (`read_page`). Same rows either way.
    """
    out: list[Term] = []
    ft = spec.fulltext
    if ft is None or tuple(fields) != ft.fields:
        return [Term("ilike", tuple(fields), "%" + like_escape(raw.lower()) + "%")
                for raw in words]
    phrases: list[str] = []
    for raw in words:
        word = raw.lower()
        pattern = "%" + like_escape(word) + "%"
        if len(word) < 3:
            out.append(Term("scan_like" if dialect == "postgresql" else "like", (ft.column,),
                            pattern))
        elif dialect == "sqlite":
            phrases.append('"' + word.replace('"', '""') + '"')
        else:
            out.append(Term("like", (ft.column,), pattern))
    if phrases:
        out.insert(0, Term("fts_in_order" if in_order else "fts", (), " ".join(phrases)))
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
