"""The generic resource rules every CRUD resource shares, and the shared checks services use.

A `ResourceService` is what the generic resource layer (`handlers/resource.py`) calls for
list/create/retrieve/update/delete: it takes a connection and an `Actor`, never a handler.
Resources override the hooks whose rules differ (plan limits, slugs, role ranks).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.errors import AuthRequired, PlanLimit, ValidationFailed
from igny8d.permissions import Actor
from igny8d.scope import Scope
from igny8d.store.errors import RowNotFound
from igny8d.store.pages import Page, read_ids, read_page, short_page
from igny8d.store.rows import count_rows, get_row, list_rows, require_visible, visible_ids
from igny8d.store.specs import TableSpec, Term
from igny8d.store.writes import delete_many, delete_row, insert_row, update_many, update_row

if TYPE_CHECKING:
    from igny8d.security import PasswordHasher, TokenService
    from igny8d.settings import Settings
    from igny8d.store.engine import Store

Row = dict[str, Any]


class Deps(Protocol):
    """What slow or out-of-transaction service work needs (the AppContext provides it)."""

    @property
    def store(self) -> Store: ...
    @property
    def hasher(self) -> PasswordHasher: ...
    @property
    def tokens(self) -> TokenService: ...
    @property
    def settings(self) -> Settings: ...


def invalid_pk(field: str, value: object) -> ValidationFailed:
    """DRF's wording for a reference to reference data that does not exist."""
    return ValidationFailed(errors={field: [f'Invalid pk "{value}" - object does not exist.']})


async def check_refs(
    conn: AsyncConnection, refs: dict[str, TableSpec], data: Row, *, scope: Scope
) -> None:
    """Every referenced id must be visible (tenant data: else 404 naming the field) or
    exist (reference data: else 400)."""
    for field_name, ref in refs.items():
        value = data.get(field_name)
        if value is None:
            continue
        if ref.level == "global":
            try:
                await get_row(conn, ref, value, scope=Scope.everything())
            except RowNotFound:
                raise invalid_pk(field_name, value) from None
        else:
            await require_visible(conn, ref, value, scope=scope, field=field_name)


def check_limit(account: Row, limit: str, count: int, what: str) -> None:
    """Refuse when `count` already reached the locked account's plan `limit`."""
    if count >= account[limit]:
        raise PlanLimit(what, account[limit], account["plan_name"])


class ResourceService:
    """Default CRUD rules: scoped by the actor, references checked, account stamped."""

    def __init__(
        self, spec: TableSpec, *, fields: Sequence[str],
        refs: dict[str, TableSpec] | None = None, immutable: Sequence[str] = (),
    ) -> None:
        self.spec = spec
        #: the keys of the presented object (its output schema)
        self.fields = tuple(fields)
        self.refs = dict(refs or {})
        #: set at creation, never changed afterwards (a PUT may echo them unchanged)
        self.immutable = tuple(immutable)
        #: lists and presents with the default rules (no queries of its own per page) and
        #: every field it presents is a column: a page is then one synchronous read unit
        #: (`plain_page`), one hop on the embedded store
        cls = type(self)
        self.plain_pages = (cls.list_page is ResourceService.list_page
                            and cls.present is ResourceService.present
                            and all(f in spec.table.c for f in self.fields))

    def scope(self, actor: Actor | None) -> Scope:
        """The tenant scope of this actor; reference data needs none."""
        if self.spec.level == "global":
            return Scope.everything()
        if actor is None:
            raise AuthRequired()
        return actor.scope

    def where(self, actor: Actor | None) -> list[ColumnElement[bool]]:
        """Extra restrictions on what this actor may list or fetch."""
        return []

    async def prepare(self, deps: Deps, actor: Actor | None, data: Row) -> Row:
        """Slow work on the input (password hashing) before the write transaction opens."""
        return data

    async def fetch(self, conn: AsyncConnection, actor: Actor | None, row_id: int) -> Row:
        """The row if this actor may see it, else RowNotFound (404)."""
        rows = await list_rows(
            conn, self.spec, scope=self.scope(actor),
            where=[self.spec.table.c.id == row_id, *self.where(actor)], limit=1,
        )
        if not rows:
            raise RowNotFound(f"{self.spec.label} not found.")
        return rows[0]

    async def list_page(
        self, conn: AsyncConnection, actor: Actor | None, *,
        where: Sequence[ColumnElement[bool]], order_by: Sequence[Any], limit: int,
        offset: int, count: int | None = None,
    ) -> tuple[int, list[Row]]:
        """One page and the total (counted unless the caller knows it); the caller decides
        what an empty page means."""
        conds = [*where, *self.where(actor)]
        scope = self.scope(actor)
        if count is None:
            count = await count_rows(conn, self.spec, scope=scope, where=conds)
        if offset and offset >= count:
            return count, []
        rows = await list_rows(conn, self.spec, scope=scope, where=conds,
                               order_by=order_by, limit=limit, offset=offset)
        return count, rows

    async def plain_page(
        self, deps: Deps, actor: Actor | None, *, terms: Sequence[Term] = (),
        search: Sequence[str] = (), search_fields: Sequence[str] = (),
        order: Sequence[tuple[str, bool]], limit: int, offset: int = 0,
        count: int | None = None, ids_max: int = 0,
    ) -> Page:
        """`list_page` + `present` of a service with `plain_pages`, in ONE synchronous read
        unit (`pages.read_page`): the rows are the presented objects (timestamps as text).

        Runs on the event loop (`Store.read_now`) when the page is surely quick to read
        (its total known, no search, near the start of many matches: `pages.short_page`),
        else on a reader thread (`Store.run_read`): a slow query never holds the loop. With
        `ids_max`, a total up to it also comes back as every matching id in order
        (`Page.ids`), whose other pages `plain_rows` reads.
        """
        scope = self.scope(actor)
        where = self.where(actor)
        # a search first builds its index hits, which may be many: never short
        short = (count is not None and not where and not search
                 and short_page(count, offset, limit))
        run = deps.store.read_now if short else deps.store.run_read
        return await run(
            read_page, self.spec, scope=scope, terms=terms, where=where, search=search,
            search_fields=search_fields, order=order, limit=limit, offset=offset,
            count=count, columns=self.fields, text_times=True, ids_max=ids_max,
        )

    async def plain_rows(self, deps: Deps, actor: Actor | None,
                         ids: Sequence[int]) -> list[Row] | None:
        """The presented rows of these ids, in this order (a page of a `Page.ids`):
        primary-key lookups, short enough for the event loop. None when one of them is no
        longer there: the ids are out of date."""
        return await deps.store.read_now(read_ids, self.spec, ids, scope=self.scope(actor),
                                         columns=self.fields, text_times=True)

    async def create(self, conn: AsyncConnection, actor: Actor, data: Row) -> Row:
        await check_refs(conn, self.refs, data, scope=self.scope(actor))
        values = dict(data)
        if self.spec.level != "global":
            values["account_id"] = actor.account_id
        return await insert_row(conn, self.spec, values)

    async def update(self, conn: AsyncConnection, actor: Actor, row: Row, data: Row) -> Row:
        await check_refs(conn, self.refs, data, scope=self.scope(actor))
        values = {k: v for k, v in data.items() if k not in self.immutable}
        if not values:
            return row
        return await update_row(conn, self.spec, row["id"], values,
                                scope=self.scope(actor))

    async def before_delete(self, conn: AsyncConnection, actor: Actor, ids: list[int]) -> None:
        """Work before visible rows are deleted, in the same transaction (images note their
        files for removal after the commit)."""

    async def delete(self, conn: AsyncConnection, actor: Actor, row: Row) -> None:
        await self.before_delete(conn, actor, [row["id"]])
        await delete_row(conn, self.spec, row["id"], scope=self.scope(actor))

    async def visible_all(self, conn: AsyncConnection, actor: Actor, ids: list[int]) -> list[int]:
        """Bulk actions are all ids or nothing: one the actor cannot see is a 404 listing
        it, and nothing changes."""
        found = await visible_ids(conn, self.spec, ids, scope=self.scope(actor))
        missing = sorted(set(ids) - found)
        if missing:
            raise RowNotFound(f"Not found: {', '.join(map(str, missing))}.", field="ids")
        return sorted(found)

    async def bulk_delete(self, conn: AsyncConnection, actor: Actor, ids: list[int]) -> int:
        found = await self.visible_all(conn, actor, ids)
        await self.before_delete(conn, actor, found)
        return await delete_many(conn, self.spec, found, scope=self.scope(actor))

    async def bulk_update(self, conn: AsyncConnection, actor: Actor, ids: list[int],
                          values: Row) -> int:
        """One UPDATE of the same values for several visible rows (bulk status changes)."""
        found = await self.visible_all(conn, actor, ids)
        return await update_many(conn, self.spec, found, values, scope=self.scope(actor))

    async def present(self, conn: AsyncConnection, actor: Actor | None,
                      rows: list[Row]) -> list[Row]:
        return [{k: r.get(k) for k in self.fields} for r in rows]

    async def present_one(self, conn: AsyncConnection, actor: Actor | None, row: Row) -> Row:
        return (await self.present(conn, actor, [row]))[0]
