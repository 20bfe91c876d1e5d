"""The generic resource layer (DRF's ModelViewSet here): declare once, get CRUD, bulk and docs."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, create_model
from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.envelope import PAGE_QUERY_DOC
from igny8d.errors import ValidationFailed
from igny8d.handlers.base import APIHandler, endpoint, parse_id
from igny8d.handlers.listing import ListingHandler
from igny8d.operations import lifecycle
from igny8d.schemas.ai import TaskAccepted, progress_url
from igny8d.services import idempotency
from igny8d.services.base import ResourceService
from igny8d.store import specs

#: Longer search terms are refused: each word becomes a clause, and the database's
#: expression tree has a limit.
MAX_SEARCH = 200

FilterKind = Literal["exact", "int", "bool", "choice", "min", "max", "date_from", "date_to",
                     "isnull"]


@dataclass(frozen=True)
class Filter:
    """A whitelisted query parameter mapped onto a column.

    `choice` takes one value or several, comma-separated (`status=active,pending`); `int`
    takes `null` for rows without one (`cluster_id=null`); `isnull` is a boolean parameter
    that asks for rows whose column is empty (`unclustered=true`) or set (`false`).
    """

    column: str
    kind: FilterKind = "exact"
    choices: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class Action:
    """A custom action: `POST prefix/name/` (list level) or `prefix/{id}/name/` (detail)."""

    name: str
    run: Callable[..., Awaitable[None]]
    method: Literal["get", "post", "put", "patch", "delete"] = "post"
    detail: bool = False
    level: str = "editor"
    throttle: str | None = None
    body: type[BaseModel] | None = None
    response: Any = None
    summary: str = ""
    status: int = 200
    query: dict[str, str] = field(default_factory=dict)
    paginated: bool = False
    content_type: str | None = None
    errors: tuple[int, ...] = ()
    #: the body's media type when it is not JSON (`multipart/form-data`; `body` then
    #: describes the form's fields)
    request_content_type: str | None = None
    #: this route's own request body cap (MB) instead of the `max_body_mb` setting
    max_body_mb: float | None = None
    #: takes the list's filters, search and ordering (documented as its query parameters)
    list_query: bool = False
    #: accepts an `Idempotency-Key` header (documented as a header parameter)
    idempotent: bool = False


def ai_action(name: str, op: lifecycle.Operation[Any, Any, Any], body: type[BaseModel], *,
              throttle: str, queued: str, summary: str) -> Action:
    """An AI action (`POST prefix/name/`): parse `body`, queue the operation — admitted,
    charged and queued in one transaction (`lifecycle.queue_in`) — and answer 202 `{task_id}`
    with the `queued` message (402 when the balance is short). The answer says where to
    follow the job: `Location` and `data.progress_url` name its task_progress URL. With an
    `Idempotency-Key`, a retry answers the first answer (services/idempotency.py)."""

    async def run(h: ResourceHandler) -> None:
        keyed = h.idempotency_key()
        request = h.parse(body)

        async def work(conn: AsyncConnection) -> idempotency.Answer:
            data = await lifecycle.queue_in(conn, h.ctx, op, h.actor, request)
            url = progress_url(str(data["task_id"]))
            return idempotency.Answer(202, {**data, "progress_url": url}, queued,
                                      {"Location": url})

        await h.answer_once(work, keyed)

    run.__name__ = name
    return Action(name, run, body=body, response=TaskAccepted, level="editor",
                  throttle=throttle, status=202, errors=(402,), summary=summary,
                  idempotent=True)


@dataclass
class Resource:
    """One declaration: the service (table and rules), schemas, filters, search, ordering,
    roles, actions. Routes and the OpenAPI operations are generated from it."""

    name: str
    prefix: str
    service: ResourceService
    output: type[BaseModel]
    create_body: type[BaseModel] | None = None
    update_body: type[BaseModel] | None = None
    filters: dict[str, Filter] = field(default_factory=dict)
    search_fields: tuple[str, ...] = ()
    ordering: dict[str, str] = field(default_factory=dict)
    default_ordering: str = "-created_at"
    read_level: str = "authenticated"
    public_read: bool = False
    write_level: str = "editor"
    create_level: str | None = None
    delete_level: str | None = None
    throttle: str = "default"
    actions: list[Action] = field(default_factory=list)
    tag: str = ""
    read_only: bool = False
    methods: frozenset[str] = frozenset({"list", "create", "retrieve", "update", "delete"})

    def __post_init__(self) -> None:
        if self.update_body is None and self.create_body is not None:
            self.update_body = self.create_body
        self.patch_body = partial_model(self.update_body) if self.update_body else None
        self.spec = self.service.spec
        for col in {f.column for f in self.filters.values()} | set(self.ordering.values()):
            if col not in self.spec.table.c and col not in self.spec.expressions:
                raise ValueError(f"{self.name}: unknown column {col!r}")
        if set(self.output.model_fields) != set(self.service.fields):
            raise ValueError(f"{self.name}: the output schema and the service's fields differ")
        self.default_order = self._order_terms(self.default_ordering)
        #: the query parameters a list total depends on, in a fixed order (its cache key)
        self.count_params = tuple(sorted((*self.filters, "search")))
        writable = set(self.update_body.model_fields) if self.update_body else set()
        creatable = set(self.create_body.model_fields) if self.create_body else set()
        #: fields a PUT may echo back from a GET: ignored when unchanged, 400 when changed
        self.fixed_fields = (creatable - writable) | set(self.service.immutable)
        #: fields a GET shows that no body sets: ignored in a PUT/PATCH
        self.read_only_fields = set(self.service.fields) - writable - self.fixed_fields
        #: a page is read in one synchronous unit (`ResourceService.plain_page`)
        self.plain_pages = self.service.plain_pages

    # -- query building -----------------------------------------------------------------------

    def filter_clauses(self, h: APIHandler) -> list[ColumnElement[bool]]:
        """The filters and search sent, as clauses (400 naming a bad parameter)."""
        terms, words = self.filters_and_search(h)
        where = [specs.term_clause(self.spec, t) for t in terms]
        if words:
            where.extend(specs.search_clauses(self.spec, words, self.search_fields,
                                              dialect=h.ctx.store.dialect))
        return where

    def filters_and_search(self, h: APIHandler) -> tuple[list[specs.Term], list[str]]:
        """The filters sent as store terms, and the search words (checked, not yet terms:
        the list chooses how to search once it knows how many rows match)."""
        terms: list[specs.Term] = []
        errors: dict[str, list[str]] = {}
        sent = h.request.query_arguments
        for param, flt in self.filters.items():
            raw = h.query(param) if param in sent else None
            if raw is None:
                continue
            try:
                value = _coerce(flt, raw)
            except ValueError as exc:
                errors[param] = [str(exc)]
                continue
            cols = (flt.column,)
            if flt.kind in ("min", "date_from"):
                terms.append(specs.Term("ge", cols, value))
            elif flt.kind in ("max", "date_to"):
                terms.append(specs.Term("le", cols, value))
            elif flt.kind == "isnull":
                terms.append(specs.Term("null" if value else "not_null", cols))
            elif value is None:
                terms.append(specs.Term("null", cols))
            elif isinstance(value, tuple):
                terms.append(specs.Term("in", cols, value) if len(value) > 1
                             else specs.Term("eq", cols, value[0]))
            else:
                terms.append(specs.Term("eq", cols, value))
        if errors:
            raise ValidationFailed(errors=errors)
        term = h.query("search") if "search" in sent else None
        if term and len(term) > MAX_SEARCH:
            raise ValidationFailed(errors={"search": [
                f"Ensure this value has at most {MAX_SEARCH} characters."]})
        if term and "\x00" in term:
            raise ValidationFailed(errors={"search": ["Null characters are not allowed."]})
        words = term.split() if term and self.search_fields else []
        return terms, words

    def order_clauses(self, h: APIHandler) -> list[Any]:
        return specs.order_clauses(self.spec, self.order_terms(h))

    def order_terms(self, h: APIHandler) -> list[tuple[str, bool]]:
        """The ordering sent (else the default) as (column, descending) pairs, the id last
        so that equal values keep one order across pages."""
        raw = h.query("ordering")
        if raw is None:
            return self.default_order
        return self._order_terms(raw, strict=True)

    def _order_terms(self, raw: str, *, strict: bool = False) -> list[tuple[str, bool]]:
        out: list[tuple[str, bool]] = []
        bad: list[str] = []
        for part in (p.strip() for p in raw.split(",")):
            if not part:
                continue
            name = part.lstrip("-")
            col_name = self.ordering.get(name) or (name if not strict and name in
                                                    self.spec.table.c else None)
            if col_name is None:
                bad.append(name)
                continue
            out.append((col_name, part.startswith("-")))
        if bad:
            allowed = ", ".join(sorted(self.ordering)) or "none"
            raise ValidationFailed(
                "Invalid ordering",
                errors={"ordering": [f"Unknown ordering field {b!r}; allowed: {allowed}."
                                     for b in bad]},
            )
        out.append(("id", raw.strip().startswith("-")))
        return out

    # -- routes ---------------------------------------------------------------------------------

    @functools.cached_property
    def handlers(self) -> dict[str, type[ResourceHandler]]:
        """The generated handler classes by route pattern: actions first (a list-level
        action's path would otherwise match the detail pattern), then list, then detail."""
        out: dict[str, type[ResourceHandler]] = {}
        for action in self.actions:
            path = f"{self.prefix}(?P<id>[^/]+)/{action.name}/" if action.detail \
                else f"{self.prefix}{action.name}/"
            out[path] = _action_handler(self, action)
        out[self.prefix] = _list_handler(self)
        out[f"{self.prefix}(?P<id>[^/]+)/"] = _detail_handler(self)
        return out

    def handler(self, name: str) -> type[ResourceHandler]:
        """One generated class by its name (`SitesListHandler`), for the module's route
        list: a handler module names every class it serves."""
        for cls in self.handlers.values():
            if cls.__name__ == name:
                return cls
        raise KeyError(f"{self.name}: no handler {name}")

    def routes(self, *classes: type[ResourceHandler]) -> list[
            tuple[str, type[ResourceHandler], dict[str, Any]]]:
        """(pattern, class, kwargs) for the given classes, in the required order; all of
        this resource's classes must be given (a route cannot be forgotten)."""
        given = set(classes)
        missing = [c.__name__ for c in self.handlers.values() if c not in given]
        if missing:
            raise ValueError(f"{self.name}: route list lacks {', '.join(missing)}")
        return [(path, cls, {"resource": self}) for path, cls in self.handlers.items()]


class ResourceHandler(ListingHandler):
    """Generic list / create / retrieve / update / partial update / delete.

    It parses the request, calls the resource's service with the caller as the actor,
    and presents the result: the rules live in the service. The list and its kept totals
    are `ListingHandler`'s (handlers/listing.py).
    """

    resource: Resource
    writes_first = True

    def initialize(self, resource: Resource, **kwargs: Any) -> None:  # type: ignore[override]
        super().initialize(**kwargs)
        self.resource = resource

    # -- the generic operations -----------------------------------------------------------------

    async def do_create(self) -> None:
        assert self.resource.create_body is not None
        keyed = self.idempotency_key()
        if await self.replayed(keyed):
            return
        body = self.parse(self.resource.create_body)
        values = await self.service.prepare(self.ctx, self.actor, body.model_dump())

        async def work(conn: AsyncConnection) -> idempotency.Answer:
            row = await self.service.create(conn, self.actor, values)
            return idempotency.Answer(201, await self.service.present_one(conn, self.actor, row))

        await self.run_once(work, keyed)  # replayed first: `prepare` may read and refuse

    async def do_retrieve(self, id: str) -> None:
        async with self.ctx.store.read() as conn:
            row = await self.service.fetch(conn, self.principal, parse_id(id))
            data = await self.service.present_one(conn, self.principal, row)
        self.ok(data)

    async def do_update(self, id: str, partial: bool) -> None:
        """PUT and PATCH apply only what was sent (an omitted field keeps its value); fields
        a GET shows that cannot be written may be echoed back: read-only ones are ignored,
        fixed ones (set at creation) must be unchanged."""
        model = self.resource.patch_body if partial else self.resource.update_body
        assert model is not None
        row_id = parse_id(id)
        raw = self.json_body()
        for name in self.resource.read_only_fields:
            raw.pop(name, None)
        echoed = {k: raw.pop(k) for k in self.resource.fixed_fields if k in raw}
        body = self.parse(model, raw)
        values = await self.service.prepare(self.ctx, self.actor,
                                            body.model_dump(exclude_unset=True))
        async with self.ctx.store.begin() as conn:
            row = await self.service.fetch(conn, self.actor, row_id)
            changed = sorted(k for k, v in echoed.items() if v != row.get(k))
            if changed:
                raise ValidationFailed(errors={k: ["This field cannot be changed."]
                                               for k in changed})
            row = await self.service.update(conn, self.actor, row, values)
            data = await self.service.present_one(conn, self.actor, row)
        self.ok(data)

    async def do_delete(self, id: str) -> None:
        async with self.ctx.store.begin() as conn:
            row = await self.service.fetch(conn, self.actor, parse_id(id))
            await self.service.delete(conn, self.actor, row)
        self.no_content()


# -- handler class factories --


def _method(fn: Callable[..., Awaitable[None]], **spec: Any) -> Callable[..., Awaitable[None]]:
    async def method(self: ResourceHandler, *args: Any, **kwargs: Any) -> None:
        await fn(self, *args, **kwargs)

    method.__name__ = fn.__name__
    method.__doc__ = fn.__doc__
    return endpoint(**spec)(method)


def _class_name(res: Resource, suffix: str) -> str:
    return "".join(p.title() for p in res.name.split("_")) + suffix


def _list_handler(res: Resource) -> type[ResourceHandler]:
    attrs: dict[str, Any] = {}
    label = res.spec.label.lower()
    if "list" in res.methods:
        attrs["get"] = _method(
            ResourceHandler.do_list, level=res.read_level, throttle=res.throttle,
            public=res.public_read,
            summary=f"List {res.name}", response=res.output, paginated=True,
            query=_query_doc(res), tags=(res.tag,),
        )
    if "create" in res.methods and res.create_body is not None and not res.read_only:
        attrs["post"] = _method(
            ResourceHandler.do_create, level=res.create_level or res.write_level,
            throttle=res.throttle,
            summary=f"Create a {label}", body=res.create_body, response=res.output,
            status=201, tags=(res.tag,), idempotent=True,
        )
    return type(_class_name(res, "ListHandler"), (ResourceHandler,), attrs)


def _detail_handler(res: Resource) -> type[ResourceHandler]:
    label = res.spec.label.lower()
    attrs: dict[str, Any] = {}
    if "retrieve" in res.methods:
        attrs["get"] = _method(
            ResourceHandler.do_retrieve, level=res.read_level, throttle=res.throttle,
            public=res.public_read,
            summary=f"Get a {label}", response=res.output, tags=(res.tag,),
        )
    if "update" in res.methods and res.update_body is not None and not res.read_only:

        async def put(self: ResourceHandler, id: str) -> None:
            await self.do_update(id, partial=False)

        async def patch(self: ResourceHandler, id: str) -> None:
            await self.do_update(id, partial=True)

        attrs["put"] = endpoint(
            level=res.write_level, throttle=res.throttle, summary=f"Replace a {label}",
            body=res.update_body, response=res.output, tags=(res.tag,),
        )(put)
        attrs["patch"] = endpoint(
            level=res.write_level, throttle=res.throttle, summary=f"Update part of a {label}",
            body=res.patch_body, response=res.output, tags=(res.tag,),
        )(patch)
    if "delete" in res.methods and not res.read_only:
        attrs["delete"] = _method(
            ResourceHandler.do_delete, level=res.delete_level or res.write_level,
            throttle=res.throttle, summary=f"Delete a {label}", status=204, tags=(res.tag,),
        )
    return type(_class_name(res, "DetailHandler"), (ResourceHandler,), attrs)


def _action_handler(res: Resource, action: Action) -> type[ResourceHandler]:
    async def run_detail(self: ResourceHandler, id: str) -> None:
        await action.run(self, id)

    async def run_list(self: ResourceHandler) -> None:
        await action.run(self)

    run: Callable[..., Awaitable[None]] = run_detail if action.detail else run_list
    query = action.query
    if action.list_query:
        query = {k: v for k, v in _query_doc(res).items()
                 if k not in ("page", "page_size")} | query
    fn = endpoint(
        level=action.level, throttle=action.throttle or res.throttle, summary=action.summary,
        body=action.body, response=action.response, status=action.status,
        query=query, tags=(res.tag,), paginated=action.paginated,
        content_type=action.content_type, errors=action.errors,
        request_content_type=action.request_content_type, max_body_mb=action.max_body_mb,
        idempotent=action.idempotent,
    )(run)
    name = _class_name(res, "".join(p.title() for p in action.name.split("_")) + "Handler")
    return type(name, (ResourceHandler,), {action.method: fn})


# -- small helpers --


def partial_model(model: type[BaseModel]) -> type[BaseModel]:
    """Same fields, none required: the PATCH body. `model_fields_set` tells what was sent.

    Types, constraints and validators are kept (a subclass of the PUT body), so what is sent
    is checked exactly as in a PUT: null for a non-nullable field, an empty name or a short
    password is a 400 here too, not a 500 or a silent write.
    """
    fields: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        annotation = Annotated[(info.annotation, *info.metadata)] if info.metadata \
            else info.annotation
        fields[name] = (annotation, Field(None, description=info.description,
                                          json_schema_extra=_no_default))
    return create_model(
        f"Patched{model.__name__}", __base__=model, __cls_kwargs__={"extra": "forbid"},
        **fields,
    )


def _no_default(schema: dict[str, Any]) -> None:
    """An absent PATCH field is left alone: it has no default (and null may be invalid)."""
    schema.pop("default", None)


def _coerce(flt: Filter, raw: str) -> Any:
    if flt.kind == "int" and raw.lower() in ("null", "none"):
        return None
    if flt.kind in ("int", "min", "max"):
        try:
            value = int(raw)
        except ValueError:
            raise ValueError("Enter a number.") from None
        if abs(value) > 2**63 - 1:
            raise ValueError("Enter a number.")
        return value
    if flt.kind in ("bool", "isnull"):
        low = raw.lower()
        if low in ("true", "1", "yes"):
            return True
        if low in ("false", "0", "no"):
            return False
        raise ValueError("Enter true or false.")
    if flt.kind == "choice":
        values = tuple(dict.fromkeys(v.strip() for v in raw.split(",") if v.strip()))
        bad = [v for v in values if v not in flt.choices]
        if bad or not values:
            shown = bad[0] if bad else raw
            raise ValueError(f"Select a valid choice. {shown} is not one of the available "
                             f"choices ({', '.join(flt.choices)}).")
        return values
    if flt.kind in ("date_from", "date_to"):
        import datetime as dt

        try:
            day = dt.date.fromisoformat(raw)
        except ValueError:
            raise ValueError("Enter a date as YYYY-MM-DD.") from None
        if flt.kind == "date_from":
            return dt.datetime.combine(day, dt.time.min, dt.UTC)
        return dt.datetime.combine(day, dt.time.max, dt.UTC)
    return raw


def _query_doc(res: Resource) -> dict[str, str]:
    doc = dict(PAGE_QUERY_DOC)
    for name, flt in res.filters.items():
        doc[name] = flt.description or f"Filter by {flt.column}"
    if res.search_fields:
        doc["search"] = "Search in " + ", ".join(res.search_fields)
    if res.ordering:
        doc["ordering"] = "Order by " + ", ".join(sorted(res.ordering)) + \
            f" (prefix - for descending; default {res.default_ordering})"
    return doc
