"""The OpenAPI 3.1 document, generated from the route table and the endpoint declarations.

Nothing here is hand-written per endpoint. Three things are derived from each declaration
(`EndpointSpec`, see `igny8d/handlers/base.py`) and its route:

- the operation id, in drf-spectacular's vocabulary (`auth_sites_list`, `auth_sites_create`,
  `auth_sites_retrieve`, `auth_sites_update`, `auth_sites_partial_update`,
  `auth_sites_destroy`; a path with one operation is named by its path alone: `auth_login`,
  `auth_sites_select_sectors`) — see `operation_ids`;
- the error statuses the operation answers — see `error_statuses`;
- readable component names: `SiteOut` is `Site`, `SiteBody` is `SiteRequest`, the envelopes
  are `SiteResponse`, `SiteListResponse` and `PaginatedSiteList` — see `component_name`.

A client generated from the document (openapi-python-client, openapi-generator) therefore has
functions named like the API (`auth_login`, `auth_sites_create`) and models like `TokenPair`.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, TypeAdapter

from igny8d import __version__
from igny8d.openapi_params import query_parameter
from igny8d.openapi_text import TAGS, annotate, error_example, info_description
from igny8d.ratelimit import SCOPES, UNTHROTTLED
from igny8d.settings import Settings

#: The version of the API contract (IGNY8 API v1), not of this server: `x-server-version`.
API_VERSION = "1.0.0"
API_PREFIX = "/api/v1/"

_PARAM = re.compile(r"\(\?P<(\w+)>[^)]*\)")
_METHODS = ("get", "post", "put", "patch", "delete")
_REF = "#/components/schemas/{model}"
_REF_PREFIX = "#/components/schemas/"
_DEFAULT_BODY_MB: float = Settings.model_fields["max_body_mb"].default

#: Every error status an operation may list; each is a response component `E<code>`.
ERROR_STATUSES: dict[int, str] = {
    400: "Validation failed or malformed request",
    401: "Authentication required (or the credentials are wrong)",
    402: "Insufficient credits",
    403: "Permission denied (role, site access or a plan limit)",
    404: "Not found (or not yours)",
    409: "Conflict: a duplicate, or a state that forbids the change",
    413: "Request body too large",
    415: "Unsupported media type: send application/json",
    429: "Rate limit exceeded (see Retry-After)",
    503: "Service temporarily unavailable: retry later",
    507: "Insufficient storage: the server's disk is full; nothing was saved",
}

#: drf-spectacular's action names for a collection route and an object route.
_LIST_VERBS = {"get": "list", "post": "create"}
_DETAIL_VERBS = {"get": "retrieve", "put": "update", "patch": "partial_update",
                 "delete": "destroy", "post": "create"}

Kind = Literal["list", "detail", "action", "plain"]


@dataclass(frozen=True)
class Operation:
    """One declared handler method on one route, as the document sees it."""

    pattern: str
    path: str
    method: str
    handler: type
    spec: Any  # igny8d.handlers.base.EndpointSpec
    kind: Kind
    resource: Any | None  # igny8d.handlers.resource.Resource, for generated resource routes

    @property
    def params(self) -> list[str]:
        return _PARAM.findall(self.pattern)


def path_template(pattern: str) -> str:
    """A route pattern as the document names it: `(?P<id>[^/]+)` -> `{id}` (also the route
    label of the request metrics, so both speak of the same paths)."""
    return _PARAM.sub(lambda mt: "{" + mt.group(1) + "}", pattern)


def _kind(pattern: str, resource: Any | None) -> Kind:
    prefix = getattr(resource, "prefix", None)
    if not isinstance(prefix, str):
        return "plain"
    if pattern == prefix:
        return "list"
    rest = pattern[len(prefix):] if pattern.startswith(prefix) else pattern
    if _PARAM.fullmatch(rest.rstrip("/")):
        return "detail"
    return "action"


def operations(routes: list[tuple[str, type, dict[str, Any]]]) -> list[Operation]:
    """Every declared method of every API route, in route order."""
    out: list[Operation] = []
    for pattern, handler, kwargs in routes:
        if not pattern.startswith(API_PREFIX):
            continue
        path = path_template(pattern)
        resource = kwargs.get("resource")
        kind = _kind(pattern, resource)
        for method in _METHODS:
            spec = getattr(getattr(handler, method, None), "_endpoint", None)
            if spec is not None:
                out.append(Operation(pattern, path, method, handler, spec, kind, resource))
    return out


# -- operation ids ------------------------------------------------------------------------------


def path_words(path: str) -> str:
    """`/api/v1/auth/sites/{id}/select_sectors/` -> `auth_sites_select_sectors`."""
    rest = path[len(API_PREFIX):] if path.startswith(API_PREFIX) else path.lstrip("/")
    words = [seg for seg in rest.split("/") if seg and not seg.startswith("{")]
    return re.sub(r"[^0-9a-zA-Z]+", "_", "_".join(words)).strip("_").lower()


def _verb(op: Operation) -> str:
    if op.kind == "list" or (op.method == "get" and (op.spec.paginated
                                                      or _is_list(op.spec.response))):
        return _LIST_VERBS.get(op.method, op.method)
    return _DETAIL_VERBS[op.method]


def operation_ids(ops: list[Operation]) -> dict[tuple[str, str], str]:
    """(path, method) -> operationId, unique, stable for a given route table.

    Resource collections and objects always carry drf-spectacular's verb; any other path with
    a single operation is named by its path alone (`auth_login`); a path with several
    operations gets the verb too. A collision that remains (two routes whose words are the
    same) falls back to adding the HTTP method; the document refuses to build otherwise.
    """
    per_path = Counter(op.path for op in ops)
    ids: dict[tuple[str, str], str] = {}
    for op in ops:
        base = path_words(op.path)
        if op.kind in ("list", "detail") or per_path[op.path] > 1:
            base = f"{base}_{_verb(op)}"
        ids[(op.path, op.method)] = base
    counts = Counter(ids.values())
    for key, value in list(ids.items()):
        if counts[value] > 1:
            ids[key] = f"{value}_{key[1]}"
    dupes = [v for v, n in Counter(ids.values()).items() if n > 1]
    if dupes:
        raise ValueError(f"operationId collision in the route table: {', '.join(dupes)}")
    return ids


# -- error statuses -----------------------------------------------------------------------------


def _unique_fields(resource: Any) -> set[str]:
    """Body fields a duplicate is reported on (and the columns of the constraint)."""
    table_spec = getattr(resource, "spec", None)
    out: set[str] = set()
    for cols, field_name, _message in getattr(table_spec, "unique", ()) or ():
        out.add(field_name)
        out.update(cols)
    return out


#: Body fields that name other objects by id (`site_id`, `sector_ids`, `ids`).
_ID_FIELD = re.compile(r"(?:^ids|_ids?)$")


def _names_tenant_objects(op: Operation) -> bool:
    """The body names other objects by id; one the caller cannot see answers 404 (a
    reference to global data, like `industry_id`, answers 400 instead)."""
    fields = getattr(op.spec.body, "model_fields", {})
    service = getattr(op.resource, "service", None)
    refs = getattr(service, "refs", None) or {}
    global_refs = {name for name, ref in refs.items()
                   if getattr(ref, "level", None) == "global"}
    return any(_ID_FIELD.search(f) and f not in global_refs for f in fields)


def error_statuses(op: Operation) -> list[int]:
    """The error statuses `op` answers, derived from its declaration and route.

    - every throttled operation: 429 (health checks are not throttled);
    - not public: 401 (no or bad credentials) and 403 (role, site access, plan limits);
    - a request body: 400 (validation), 413 (size cap), 415 (not JSON);
    - query parameters (filters, ordering): 400; a paginated list: 404 (page out of range);
    - a path parameter: 404 (no such object, or not yours);
    - a body naming other objects by id (`site_id`, `ids`), unless global data: 404;
    - a create (201) in a resource with unique constraints, or an update whose body has a
      field of one: 409;
    - a method that writes (POST, PUT, PATCH, DELETE): 507 (a full disk under the store);
    - whatever the declaration adds in `errors` (login's 401, 402, 409, 503...);
    - an operation taking an `Idempotency-Key`: 409 (the key used for another request).
    """
    spec = op.spec
    codes: set[int] = set() if spec.throttle == UNTHROTTLED else {429}
    if not spec.public:
        codes |= {401, 403}
    if spec.body is not None:
        codes |= {400, 413, 415}
    if spec.query:
        codes.add(400)
    if spec.paginated or op.params:
        codes.add(404)
    if spec.body is not None and _names_tenant_objects(op):
        codes.add(404)
    if op.resource is not None:
        unique = _unique_fields(op.resource)
        if unique:
            if op.method == "post" and (spec.status == 201 or op.kind == "list"):
                codes.add(409)
            elif op.kind == "detail" and op.method in ("put", "patch"):
                fields = set(getattr(spec.body, "model_fields", {}))
                if fields & unique:
                    codes.add(409)
    if op.method in ("post", "put", "patch", "delete"):
        codes.add(507)
    codes.update(int(c) for c in getattr(spec, "errors", ()) or ())
    if getattr(spec, "idempotent", False):
        codes.add(409)  # an Idempotency-Key used for another request
    unknown = codes - set(ERROR_STATUSES)
    if unknown:
        raise ValueError(f"{op.method.upper()} {op.path}: no response component for "
                         f"{sorted(unknown)}; add it to ERROR_STATUSES")
    return sorted(codes)


# -- component names ----------------------------------------------------------------------------


def component_name(model_name: str) -> str:
    """Our class names, read as the API's: `SiteOut` -> `Site`, `SiteBody` -> `SiteRequest`
    (`PatchedSiteBody` -> `PatchedSiteRequest`, as drf-spectacular names PATCH bodies)."""
    if model_name.endswith("Out") and len(model_name) > 3:
        return model_name[:-3]
    if model_name.endswith("Body") and len(model_name) > 4:
        return model_name[:-4] + "Request"
    return model_name


def _is_model(tp: Any) -> bool:
    """A named structure (pydantic model, dataclass, TypedDict): a component of its own."""
    if not isinstance(tp, type):
        return False
    return (issubclass(tp, BaseModel) or dataclasses.is_dataclass(tp)
            or (issubclass(tp, dict) and hasattr(tp, "__annotations__")
                and hasattr(tp, "__total__")))


def _is_list(tp: Any) -> bool:
    return get_origin(tp) in (list, tuple) or tp in (list, tuple)


def _pascal(words: str) -> str:
    return "".join(p[:1].upper() + p[1:] for p in words.split("_") if p)


class _Builder:
    def __init__(self) -> None:
        self.schemas: dict[str, Any] = {}
        #: model class name -> the class (two classes of one name would share a component)
        self.models: dict[str, type] = {}
        #: the envelope components this builder wrote (already named like the API)
        self.envelopes: set[str] = set()

    def schema_of(self, tp: Any, mode: str = "serialization") -> dict[str, Any]:
        """A JSON schema for `tp`; models become named components and are referenced."""
        if _is_model(tp):
            name = tp.__name__
            known = self.models.setdefault(name, tp)
            if known is not tp:
                raise ValueError(f"two models are named {name}: {known!r} and {tp!r}")
            if name not in self.schemas:
                if issubclass(tp, BaseModel):
                    full = tp.model_json_schema(ref_template=_REF,
                                                mode=mode)  # type: ignore[arg-type]
                else:
                    full = TypeAdapter(tp).json_schema(ref_template=_REF,
                                                       mode=mode)  # type: ignore[arg-type]
                self._absorb(full)
                self.schemas[name] = full
            return {"$ref": _REF.format(model=name)}
        full = TypeAdapter(tp).json_schema(ref_template=_REF, mode=mode)  # type: ignore[arg-type]
        self._absorb(full)
        return full

    def _absorb(self, schema: dict[str, Any]) -> None:
        for name, sub in schema.pop("$defs", {}).items():
            self.schemas.setdefault(name, sub)

    def envelope(self, name: str, schema: dict[str, Any]) -> dict[str, Any]:
        if name in self.schemas and self.schemas[name] != schema:
            raise ValueError(f"two different envelopes are named {name}")
        self.schemas[name] = schema
        self.envelopes.add(name)
        return {"$ref": _REF.format(model=name)}

    def success(self, op: Operation, op_id: str) -> dict[str, Any]:
        """The success envelope of `op`, as a named component."""
        spec = op.spec
        tp = spec.response
        item_tp = get_args(tp)[0] if _is_list(tp) and get_args(tp) else None
        if spec.paginated:
            data = self.schema_of(tp) if tp is not None else {}
            name = f"Paginated{self._name_of(tp, op_id)}List"
            props: dict[str, Any] = {
                "success": {"type": "boolean", "const": True},
                "count": {"type": "integer", "minimum": 0},
                "next": {"type": ["string", "null"], "format": "uri"},
                "previous": {"type": ["string", "null"], "format": "uri"},
                "results": {"type": "array", "items": data},
                "message": {"type": "string"},
                "request_id": {"type": "string", "format": "uuid"},
            }
            required = ["success", "count", "next", "previous", "results", "request_id"]
        else:
            if tp is None:
                data, name = {"type": "null"}, "EmptyResponse"
            elif item_tp is not None:
                data = self.schema_of(tp)
                name = f"{self._name_of(item_tp, op_id)}ListResponse"
            else:
                data = self.schema_of(tp)
                name = f"{self._name_of(tp, op_id)}Response"
            props = {
                "success": {"type": "boolean", "const": True},
                "data": data,
                "message": {"type": "string"},
                "request_id": {"type": "string", "format": "uuid"},
            }
            required = ["success", "data", "request_id"]
        return self.envelope(name, {"title": name, "type": "object", "properties": props,
                                    "required": required})

    @staticmethod
    def _name_of(tp: Any, op_id: str) -> str:
        if _is_model(tp):
            return component_name(tp.__name__)
        return _pascal(op_id)

    def renamed(self) -> dict[str, str]:
        """Old component name -> the API's name; refuses two components of one name."""
        mapping = {old: (old if old in self.envelopes else component_name(old))
                   for old in self.schemas}
        clashes = [n for n, c in Counter(mapping.values()).items() if c > 1]
        if clashes:
            raise ValueError(f"component name collision: {', '.join(sorted(clashes))}")
        return mapping


def _rename_refs(node: Any, mapping: dict[str, str]) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(_REF_PREFIX):
                old = value[len(_REF_PREFIX):]
                out[key] = _REF_PREFIX + mapping.get(old, old)
            else:
                out[key] = _rename_refs(value, mapping)
        return out
    if isinstance(node, list):
        return [_rename_refs(v, mapping) for v in node]
    return node


#: The header parameter of the operations that take one (services/idempotency.py).
IDEMPOTENCY_HEADER: dict[str, Any] = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "description": "Send the same key when retrying: within 24 h, the same request by the "
                   "same user answers the first answer again (same status and body, the "
                   "same `task_id`; header `Idempotent-Replayed: true`) and charges or "
                   "creates nothing more; the key with another request is a 409. Errors "
                   "are not kept. 1 to 255 printable ASCII characters, no space first or "
                   "last (400 otherwise).",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255,
               "pattern": "^[!-~]([ -~]*[!-~])?$"},
}


def _path_schema(spec: Any, name: str) -> dict[str, Any]:
    choices = getattr(spec, "path_choices", {}).get(name)
    return {"type": "string", "enum": list(choices)} if choices else {"type": "string"}


def _operation(builder: _Builder, op: Operation, op_id: str) -> dict[str, Any]:
    spec = op.spec
    result: dict[str, Any] = {
        "operationId": op_id,
        "summary": spec.summary or f"{op.method.upper()} {op.path}",
        "tags": list(spec.tags) or ["misc"],
        "parameters": [
            {"name": p, "in": "path", "required": True,
             "schema": {"type": "integer"} if p == "id" else _path_schema(spec, p)}
            for p in op.params
        ] + [
            query_parameter(q, desc, resource=op.resource,
                            model=getattr(spec, "query_model", None))
            for q, desc in spec.query.items()
        ] + ([IDEMPOTENCY_HEADER] if getattr(spec, "idempotent", False) else []),
        "security": [] if spec.public else [
            {"bearerAuth": []}, {"cookieAuth": []}, {"basicAuth": []}],
        "x-throttle-scope": spec.throttle,
        "x-required-role": "none" if spec.public else spec.level,
    }
    if spec.body is not None:
        media = getattr(spec, "request_content_type", None) or "application/json"
        result["requestBody"] = {"required": True, "content": {
            media: {"schema": builder.schema_of(spec.body, "validation")}
        }}
    responses: dict[str, Any] = {}
    if spec.status == 204:
        responses["204"] = {"description": "Deleted"}
    elif spec.content_type:
        responses[str(spec.status)] = {"description": "File",
                                       "content": {spec.content_type: {}}}
    else:
        responses[str(spec.status)] = {"description": "Success", "content": {
            "application/json": {"schema": builder.success(op, op_id)}}}
        for code in getattr(spec, "other_statuses", ()):
            responses[str(code)] = responses[str(spec.status)]
    for code in error_statuses(op):
        responses[str(code)] = {"$ref": f"#/components/responses/E{code}"}
    result["responses"] = responses
    return result


def _error_response(code: int, description: str) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/ErrorEnvelope"},
        "example": error_example(code)}}}
    if code in (429, 503):
        response["headers"] = {"Retry-After": {
            "description": "Seconds to wait before retrying", "schema": {"type": "integer"}}}
    return response


def build_document(routes: list[tuple[str, type, dict[str, Any]]], *,
                   server_url: str | None = None, rates: dict[str, str] | None = None,
                   max_body_mb: float | None = None) -> dict[str, Any]:
    """Walk the routes; every declared method becomes an operation. Nothing is hand-written
    per endpoint but the reference's notes (`openapi_text`). `rates` and `max_body_mb` are
    the serving settings' (the throttle overrides, the body cap), for the descriptions."""
    builder = _Builder()
    ops = operations(routes)
    ids = operation_ids(ops)
    paths: dict[str, dict[str, Any]] = {}
    tags: set[str] = set()
    for op in ops:
        tags.update(op.spec.tags)
        paths.setdefault(op.path, {})[op.method] = _operation(
            builder, op, ids[(op.path, op.method)])
    mapping = builder.renamed()
    schemas: dict[str, Any] = {}
    for old, schema in builder.schemas.items():
        new = mapping[old]
        if new != old and schema.get("title") == old:
            schema = {**schema, "title": new}
        schemas[new] = _rename_refs(schema, mapping)
    paths = _rename_refs(paths, mapping)
    if "ErrorEnvelope" in schemas:
        raise ValueError("a model is named ErrorEnvelope; that name is the error envelope's")
    schemas["ErrorEnvelope"] = {
        "title": "ErrorEnvelope",
        "type": "object",
        "properties": {
            "success": {"type": "boolean", "const": False},
            "error": {"type": "string"},
            "errors": {"type": "object",
                       "additionalProperties": {"type": "array", "items": {"type": "string"}}},
            "request_id": {"type": "string", "format": "uuid"},
        },
        "required": ["success", "error", "request_id"],
    }
    rates = {**SCOPES, **(rates or {})}
    annotate(paths, schemas, ops, rates=rates,
             max_body_mb=max_body_mb if max_body_mb is not None else _DEFAULT_BODY_MB)
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "IGNY8 API",
            "version": API_VERSION,
            "x-server-version": __version__,
            "description": info_description(rates),
            "contact": {"name": "igny8d"},
        },
        "paths": paths,
        "tags": [{"name": t, "description": d} for t, d in TAGS if t in tags]
        + [{"name": t} for t in sorted(tags - {t for t, _ in TAGS})],
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "responses": {f"E{code}": _error_response(code, desc)
                          for code, desc in ERROR_STATUSES.items()},
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                               "description": "Access token from POST /api/v1/auth/login/"},
                "cookieAuth": {"type": "apiKey", "in": "cookie", "name": "igny8_session"},
                "basicAuth": {"type": "http", "scheme": "basic"},
            },
        },
    }
    doc["servers"] = [{"url": server_url or "/"}]
    return doc
