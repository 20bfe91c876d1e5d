"""The resource layer's list: a page of rows and its total, with the totals (and a search's
ids) kept per process under the versions of what they depend on (context.CountCache,
store/versions.py) and counted once while other requests for them wait."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from igny8d.errors import NotFound
from igny8d.handlers.idempotent import IdempotentHandler
from igny8d.services.base import ResourceService
from igny8d.store import specs, versions

if TYPE_CHECKING:
    from igny8d.handlers.resource import Resource

#: A search matching at most this many rows keeps its ids in order (CountCache.ids).
IDS_MAX = 2000


class CountKey(NamedTuple):
    """What a list total depends on (`CountCache`'s key; a search's ids add the ordering)."""

    resource: str
    account_id: int
    site_ids: Any
    data_version: int
    #: the listed table's versions (store/versions.py `read`)
    listed: tuple[int, ...]
    #: the filters and search sent, as sent
    params: tuple[tuple[str, str], ...]


def narrowed_sector(terms: list[specs.Term]) -> int | None:
    """The one sector a list's parsed filters narrow it to (its versions are that sector's),
    else None (the whole table's)."""
    return next((int(t.value) for t in terms if t.op == "eq" and t.columns == ("sector_id",)),
                None)


class ListingHandler(IdempotentHandler):
    """`do_list` of a resource handler (handlers/resource.py `ResourceHandler`)."""

    resource: Resource

    @property
    def service(self) -> ResourceService:
        return self.resource.service

    async def do_list(self) -> None:
        async with self.ctx.list_reads:
            # a write that began while this read queued for its turn goes first
            await self.ctx.writes_first.turn()
            await self._list()

    async def _list(self) -> None:
        res = self.resource
        terms, words = res.filters_and_search(self)
        order = res.order_terms(self)
        page, page_size = self.page_request()
        offset = (page - 1) * page_size
        key = await self._count_key(terms)
        counts = self.ctx.counts
        if key is not None and words and res.spec.fulltext is not None:
            await self._carry_forward(key, words, tuple(order))

        async def read(known: int | None) -> tuple[int, list[dict[str, Any]]]:
            found = await self._read_page(terms, words, order, page_size, offset, key, known)
            if key is not None and known is None:
                counts.put(key, found[0])
            return found

        known = counts.get(key) if key is not None else None
        if key is None or known is not None:
            count, results = await read(known)
        else:
            # One request per process counts; the others asking the same meanwhile wait
            # for its total, then read their page with it.
            led = await counts.once(key, lambda: read(None))
            count, results = led if led is not None else await read(counts.get(key))
        if page > 1 and not results:
            raise NotFound("Invalid page.")
        self.page(results, count=count, page=page, page_size=page_size)

    async def _read_page(
        self, terms: list[specs.Term], words: list[str], order: list[tuple[str, bool]],
        page_size: int, offset: int, key: tuple[Any, ...] | None, known: int | None,
    ) -> tuple[int, list[dict[str, Any]]]:
        """The total (`known`, or counted) and one page of presented rows."""
        res, svc, actor = self.resource, self.service, self.principal
        if res.plain_pages:
            return await self._plain_page(terms, words, order, page_size, offset, key, known)
        where = [specs.term_clause(res.spec, t) for t in terms]
        if words:
            where.extend(specs.search_clauses(res.spec, words, res.search_fields,
                                              dialect=self.ctx.store.dialect))
        async with self.ctx.store.read() as conn:
            count, rows = await svc.list_page(
                conn, actor, where=where, order_by=specs.order_clauses(res.spec, order),
                limit=page_size, offset=offset, count=known,
            )
            return count, await svc.present(conn, actor, rows)

    async def _plain_page(
        self, terms: list[specs.Term], words: list[str], order: list[tuple[str, bool]],
        page_size: int, offset: int, key: tuple[Any, ...] | None, known: int | None,
    ) -> tuple[int, list[dict[str, Any]]]:
        """A page of a resource with the default listing rules, in one read unit
        (`ResourceService.plain_page`, which also decides where it runs).

        A search with few matches (up to IDS_MAX) is read once as all its ids in order,
        kept with the total under the same key (plus the ordering); its pages are then
        primary-key lookups (`ResourceService.plain_rows`), the rows fresh each time. Ids
        that no longer match what the store has are dropped and the page read again in
        full.
        """
        res, svc, actor = self.resource, self.service, self.principal
        where = svc.where(actor)
        # An order by a computed figure (a cluster's keywords_count) depends on other
        # tables' rows, whose writes do not bump this list's versions: not kept.
        computed = any(col in res.spec.expressions for col, _ in order)
        ids_key = (*key, tuple(order)) if key is not None and words and not where \
            and not computed else None
        if ids_key is not None and known is not None:
            ids = self.ctx.counts.ids(ids_key)
            if ids is not None:
                rows = await svc.plain_rows(self.ctx, actor, ids[offset:offset + page_size])
                if rows is not None:
                    return known, rows
                self.ctx.counts.put_ids(ids_key, None)
        found = await svc.plain_page(
            self.ctx, actor, terms=terms, search=words, search_fields=res.search_fields,
            order=order, limit=page_size, offset=offset, count=known,
            ids_max=IDS_MAX if ids_key is not None else 0,
        )
        if ids_key is not None and found.ids is not None:
            self.ctx.counts.put_ids(ids_key, found.ids)
        return found.count, found.rows

    async def _carry_forward(self, key: CountKey, words: list[str],
                             order: tuple[Any, ...]) -> None:
        """A search's total (and ids) kept under an older version of the table's whole list
        is kept under this one too when no write in between touched a row holding every
        search word (store/versions.py `changes`, `affects`): a keyword added elsewhere
        does not make every other search count again."""
        counts, listed = self.ctx.counts, key.listed
        before = counts.seen(key._replace(listed=()), listed)
        if before is None or before == listed or len(listed) != 1 or before[0] > listed[0]:
            return
        texts = await self.ctx.store.read_now(
            versions.changes, key.account_id, self.resource.spec.table.name, before[0],
            listed[0])
        if texts is not None and not versions.affects(words, texts):
            counts.carry(key._replace(listed=before), key, order)

    async def _count_key(self, terms: list[specs.Term]) -> CountKey | None:
        """What a list total depends on: the resource, whose rows (account, site grants),
        the filters and search sent, the account's data version, and the versions of the
        table's lists (the sector's when the parsed filters narrow the list to one,
        store/versions.py): one primary-key read. None: not cacheable (reference data, an
        operator's cross-tenant view, an anonymous caller)."""
        p = self.principal
        res = self.resource
        if p is None or res.spec.level not in ("account", "site", "sector"):
            return None
        if self.service.scope(p).account_id != p.account_id:
            return None
        sent = self.request.query_arguments
        params = tuple((name, self.get_query_argument(name, "") or "")
                       for name in res.count_params if name in sent)
        sector = narrowed_sector(terms) if versions.has_sectors(res.spec.table) else None
        listed = await self.ctx.store.read_now(
            versions.read, p.account_id, res.spec.table.name, sector)
        return CountKey(res.name, p.account_id, p.site_ids, p.data_version, listed, params)
