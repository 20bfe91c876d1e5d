"""The generic resource layer (DRF's ModelViewSet here): declare once, get CRUD, bulk and docs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, create_model
from sqlalchemy import ColumnElement, or_
from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.envelope import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from igny8d.errors import AuthRequired, NotFound, ValidationFailed
from igny8d.handlers.base import APIHandler, endpoint, parse_id
from igny8d.store import crud
from igny8d.store.crud import TableSpec
from igny8d.store.errors import RowNotFound

FilterKind = Literal["exact", "int", "bool", "choice", "min", "max", "date_from", "date_to"]


@dataclass(frozen=True)
class Filter:
    """A whitelisted query parameter mapped onto a column."""

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


class ResourceService:
    """Per-resource behaviour behind the generic handlers; override what differs."""

    async def prepare(self, h: ResourceHandler, data: dict[str, Any]) -> dict[str, Any]:
        """Slow work on the input (password hashing) before the write transaction opens."""
        return data

    async def create(
        self, conn: AsyncConnection, h: ResourceHandler, data: dict[str, Any]
    ) -> dict[str, Any]:
        values = await h.resource.check_refs(conn, h, data)
        if h.resource.spec.level != "global":
            values["account_id"] = h.scope_account_id(conn, values)
        return await crud.insert_row(conn, h.resource.spec, values)

    async def update(
        self, conn: AsyncConnection, h: ResourceHandler, row: dict[str, Any],
        data: dict[str, Any],
    ) -> dict[str, Any]:
        values = await h.resource.check_refs(conn, h, data)
        if not values:
            return row
        return await crud.update_row(conn, h.resource.spec, h.scope, row["id"], values)

    async def delete(self, conn: AsyncConnection, h: ResourceHandler, row: dict[str, Any]) -> None:
        await crud.delete_row(conn, h.resource.spec, h.scope, row["id"])

    async def present(
        self, conn: AsyncConnection, h: ResourceHandler, rows: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        fields = list(h.resource.output.model_fields)
        return [{k: r.get(k) for k in fields} for r in rows]

    def scope(self, h: ResourceHandler) -> crud.Scope:
        """The tenant scope of this caller; reference data needs none."""
        if h.resource.spec.level == "global":
            return crud.Scope.everything()
        if h.principal is None:
            raise AuthRequired()
        return h.principal.scope

    def where(self, h: ResourceHandler) -> list[ColumnElement[bool]]:
        """Extra restrictions on what this caller may list or fetch."""
        return []


@dataclass
class Resource:
    """One declaration: table, schemas, filters, search, ordering, roles, actions."""

    name: str
    prefix: str
    spec: TableSpec
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
    refs: dict[str, TableSpec] = field(default_factory=dict)
    service: ResourceService = field(default_factory=ResourceService)
    actions: list[Action] = field(default_factory=list)
    tag: str = ""
    read_only: bool = False
    methods: frozenset[str] = frozenset({"list", "create", "retrieve", "update", "delete"})

    def __post_init__(self) -> None:
        if self.update_body is None and self.create_body is not None:
            self.update_body = self.create_body
        self.patch_body = partial_model(self.update_body) if self.update_body else None
        for col in {f.column for f in self.filters.values()} | set(self.ordering.values()):
            if col not in self.spec.table.c:
                raise ValueError(f"{self.name}: unknown column {col!r}")
        self.default_ordering_cols = self._order_columns(self.default_ordering)

    # -- query building -----------------------------------------------------------------------

    def filter_clauses(self, h: APIHandler) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = []
        errors: dict[str, list[str]] = {}
        for param, flt in self.filters.items():
            raw = h.query(param)
            if raw is None:
                continue
            col = self.spec.table.c[flt.column]
            try:
                value = _coerce(flt, raw)
            except ValueError as exc:
                errors[param] = [str(exc)]
                continue
            if flt.kind in ("min", "date_from"):
                where.append(col >= value)
            elif flt.kind in ("max", "date_to"):
                where.append(col <= value)
            else:
                where.append(col == value)
        if errors:
            raise ValidationFailed(errors=errors)
        term = h.query("search")
        if term and self.search_fields:
            for word in term.split():
                pattern = "%" + _like_escape(word.lower()) + "%"
                cols = [self.spec.table.c[f] for f in self.search_fields]
                where.append(or_(*(c.ilike(pattern, escape="\\") for c in cols)))
        return where

    def order_clauses(self, h: APIHandler) -> list[Any]:
        raw = h.query("ordering")
        if raw is None:
            return self.default_ordering_cols
        return self._order_columns(raw, strict=True)

    def _order_columns(self, raw: str, *, strict: bool = False) -> list[Any]:
        out: list[Any] = []
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
            col = self.spec.table.c[col_name]
            out.append(col.desc() if part.startswith("-") else col.asc())
        if bad:
            allowed = ", ".join(sorted(self.ordering)) or "none"
            raise ValidationFailed(
                "Invalid ordering",
                errors={"ordering": [f"Unknown ordering field {b!r}; allowed: {allowed}."
                                     for b in bad]},
            )
        out.append(self.spec.table.c.id.desc() if raw.strip().startswith("-")
                   else self.spec.table.c.id.asc())
        return out

    async def check_refs(
        self, conn: AsyncConnection, h: ResourceHandler, data: dict[str, Any]
    ) -> dict[str, Any]:
        """Every referenced id must be visible to the caller (else 404) or exist (else 400)."""
        for field_name, ref in self.refs.items():
            value = data.get(field_name)
            if value is None:
                continue
            if ref.level == "global":
                try:
                    await crud.get_row(conn, ref, h.scope, value)
                except RowNotFound:
                    raise ValidationFailed(errors={
                        field_name: [f'Invalid pk "{value}" - object does not exist.']
                    }) from None
            else:
                await crud.require_visible(conn, ref, h.scope, value, field=field_name)
        return data

    # -- routes ---------------------------------------------------------------------------------

    def routes(self) -> list[tuple[str, type[ResourceHandler], dict[str, Any]]]:
        kw = {"resource": self}
        routes: list[tuple[str, type[ResourceHandler], dict[str, Any]]] = []
        for action in self.actions:
            path = f"{self.prefix}(?P<id>[^/]+)/{action.name}/" if action.detail \
                else f"{self.prefix}{action.name}/"
            routes.append((path, _action_handler(self, action), kw))
        routes.append((self.prefix, _list_handler(self), kw))
        routes.append((f"{self.prefix}(?P<id>[^/]+)/", _detail_handler(self), kw))
        return routes


class ResourceHandler(APIHandler):
    """Generic list / create / retrieve / update / partial update / delete."""

    resource: Resource

    def initialize(self, resource: Resource, **kwargs: Any) -> None:  # type: ignore[override]
        super().initialize(**kwargs)
        self.resource = resource

    @property
    def scope(self) -> crud.Scope:
        return self.resource.service.scope(self)

    def scope_account_id(self, conn: AsyncConnection, values: dict[str, Any]) -> int:
        assert self.principal is not None
        return self.principal.account_id

    @property
    def service(self) -> ResourceService:
        return self.resource.service

    async def fetch(self, conn: AsyncConnection, raw_id: str) -> dict[str, Any]:
        row_id = parse_id(raw_id)
        extra = self.service.where(self)
        rows = await crud.list_rows(
            conn, self.resource.spec, self.scope,
            where=[self.resource.spec.table.c.id == row_id, *extra], limit=1,
        )
        if not rows:
            raise NotFound(f"{self.resource.spec.label} not found.")
        return rows[0]

    async def present_one(self, conn: AsyncConnection, row: dict[str, Any]) -> dict[str, Any]:
        return (await self.service.present(conn, self, [row]))[0]

    # -- the generic operations -----------------------------------------------------------------

    async def do_list(self) -> None:
        res = self.resource
        where = [*res.filter_clauses(self), *self.service.where(self)]
        order = res.order_clauses(self)
        page_size = _page_size(self.query("page_size"))
        page_raw = self.query("page") or "1"
        if not page_raw.isdigit() or int(page_raw) < 1:
            raise NotFound("Invalid page.")
        page = int(page_raw)
        async with self.ctx.store.read() as conn:
            count = await crud.count_rows(conn, res.spec, self.scope, where)
            if page > 1 and (page - 1) * page_size >= count:
                raise NotFound("Invalid page.")
            rows = await crud.list_rows(
                conn, res.spec, self.scope, where=where, order_by=order,
                limit=page_size, offset=(page - 1) * page_size,
            )
            results = await self.service.present(conn, self, rows)
        self.page(results, count=count, page=page, page_size=page_size)

    async def do_create(self) -> None:
        assert self.resource.create_body is not None
        body = self.parse(self.resource.create_body)
        values = await self.service.prepare(self, body.model_dump())
        async with self.ctx.store.begin() as conn:
            row = await self.service.create(conn, self, values)
            data = await self.present_one(conn, row)
        self.created(data)

    async def do_retrieve(self, id: str) -> None:
        async with self.ctx.store.read() as conn:
            data = await self.present_one(conn, await self.fetch(conn, id))
        self.ok(data)

    async def do_update(self, id: str, partial: bool) -> None:
        model = self.resource.patch_body if partial else self.resource.update_body
        assert model is not None
        row_id = parse_id(id)
        body = self.parse(model)
        values = await self.service.prepare(self, body.model_dump(exclude_unset=partial))
        async with self.ctx.store.begin() as conn:
            row = await self.fetch(conn, str(row_id))
            row = await self.service.update(conn, self, row, values)
            data = await self.present_one(conn, row)
        self.ok(data)

    async def do_delete(self, id: str) -> None:
        async with self.ctx.store.begin() as conn:
            row = await self.fetch(conn, id)
            await self.service.delete(conn, self, row)
        self.no_content()

    # -- helpers for bulk actions ----------------------------------------------------------------

    async def visible_or_404(self, conn: AsyncConnection, ids: list[int]) -> list[int]:
        """All ids or nothing: one foreign id and the whole request is refused."""
        found = await crud.visible_ids(conn, self.resource.spec, self.scope, ids)
        missing = sorted(set(ids) - found)
        if missing:
            raise NotFound(errors={"ids": [f"Not found: {', '.join(map(str, missing))}."]})
        return sorted(found)


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
            status=201, tags=(res.tag,),
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
    if action.detail:
        async def run(self: ResourceHandler, id: str) -> None:
            await action.run(self, id)
    else:
        async def run(self: ResourceHandler) -> None:
            await action.run(self)

    fn = endpoint(
        level=action.level, throttle=action.throttle or res.throttle, summary=action.summary,
        body=action.body, response=action.response, status=action.status,
        query=action.query, tags=(res.tag,), paginated=action.paginated,
        content_type=action.content_type, errors=action.errors,
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
    return create_model(  # type: ignore[call-overload,no-any-return]
        f"Patched{model.__name__}", __base__=model, __cls_kwargs__={"extra": "forbid"},
        **fields,
    )


def _no_default(schema: dict[str, Any]) -> None:
    """An absent PATCH field is left alone: it has no default (and null may be invalid)."""
    schema.pop("default", None)


def _page_size(raw: str | None) -> int:
    if raw is None or not raw.isdigit() or int(raw) < 1:
        return DEFAULT_PAGE_SIZE
    return min(int(raw), MAX_PAGE_SIZE)


def _like_escape(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _coerce(flt: Filter, raw: str) -> Any:
    if flt.kind in ("int", "min", "max"):
        try:
            value = int(raw)
        except ValueError:
            raise ValueError("Enter a number.") from None
        if abs(value) > 2**63 - 1:
            raise ValueError("Enter a number.")
        return value
    if flt.kind == "bool":
        low = raw.lower()
        if low in ("true", "1", "yes"):
            return True
        if low in ("false", "0", "no"):
            return False
        raise ValueError("Enter true or false.")
    if flt.kind == "choice":
        if raw not in flt.choices:
            raise ValueError(f"Select a valid choice. {raw} is not one of the available choices.")
        return raw
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
    doc = {"page": "Page number (default 1)",
           "page_size": f"Items per page (default {DEFAULT_PAGE_SIZE}, max {MAX_PAGE_SIZE})"}
    for name, flt in res.filters.items():
        doc[name] = flt.description or f"Filter by {flt.column}"
    if res.search_fields:
        doc["search"] = "Search in " + ", ".join(res.search_fields)
    if res.ordering:
        doc["ordering"] = "Order by " + ", ".join(sorted(res.ordering)) + \
            f" (prefix - for descending; default {res.default_ordering})"
    return doc
