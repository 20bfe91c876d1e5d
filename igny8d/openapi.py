"""The OpenAPI 3.1 document, generated from the route table and the endpoint declarations."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, TypeAdapter

from igny8d import __version__

_PARAM = re.compile(r"\(\?P<(\w+)>[^)]*\)")
_METHODS = ("get", "post", "put", "patch", "delete")
_REF = "#/components/schemas/{model}"

_ERROR_STATUSES = {
    "400": "Validation failed or malformed request",
    "401": "Authentication required",
    "403": "Permission denied",
    "404": "Not found (or not yours)",
    "429": "Rate limit exceeded",
}


class _Builder:
    def __init__(self) -> None:
        self.schemas: dict[str, Any] = {}

    def schema_of(self, tp: Any, mode: str = "serialization") -> dict[str, Any]:
        """A JSON schema for `tp`; models become named components and are referenced."""
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            name = tp.__name__
            if name not in self.schemas:
                full = tp.model_json_schema(ref_template=_REF, mode=mode)  # type: ignore[arg-type]
                self._absorb(full)
                self.schemas[name] = full
            return {"$ref": _REF.format(model=name)}
        full = TypeAdapter(tp).json_schema(ref_template=_REF, mode=mode)  # type: ignore[arg-type]
        self._absorb(full)
        return full

    def _absorb(self, schema: dict[str, Any]) -> None:
        for name, sub in schema.pop("$defs", {}).items():
            self.schemas.setdefault(name, sub)


def _success(builder: _Builder, spec: Any) -> dict[str, Any]:
    data = builder.schema_of(spec.response) if spec.response is not None else {}
    if spec.paginated:
        props = {
            "success": {"type": "boolean", "const": True},
            "count": {"type": "integer"},
            "next": {"type": ["string", "null"], "format": "uri"},
            "previous": {"type": ["string", "null"], "format": "uri"},
            "results": {"type": "array", "items": data},
            "request_id": {"type": "string", "format": "uuid"},
        }
        required = ["success", "count", "next", "previous", "results", "request_id"]
    else:
        props = {
            "success": {"type": "boolean", "const": True},
            "data": data,
            "message": {"type": "string"},
            "request_id": {"type": "string", "format": "uuid"},
        }
        required = ["success", "data", "request_id"]
    return {"type": "object", "properties": props, "required": required}


def build_document(routes: list[tuple[str, type, dict[str, Any]]], *,
                   server_url: str | None = None) -> dict[str, Any]:
    """Walk the routes; every declared method becomes an operation. Nothing is hand-written."""
    builder = _Builder()
    paths: dict[str, dict[str, Any]] = {}
    tags: set[str] = set()
    for pattern, handler, _kwargs in routes:
        if not pattern.startswith("/api/v1/"):
            continue
        path = _PARAM.sub(lambda mt: "{" + mt.group(1) + "}", pattern)
        params = _PARAM.findall(pattern)
        item: dict[str, Any] = {}
        for method in _METHODS:
            spec = getattr(getattr(handler, method, None), "_endpoint", None)
            if spec is None:
                continue
            tags.update(spec.tags)
            op: dict[str, Any] = {
                "operationId": f"{handler.__name__}_{method}",
                "summary": spec.summary or f"{method.upper()} {path}",
                "tags": list(spec.tags) or ["misc"],
                "parameters": [
                    {"name": p, "in": "path", "required": True,
                     "schema": {"type": "integer"} if p == "id" else {"type": "string"}}
                    for p in params
                ] + [
                    {"name": q, "in": "query", "required": False, "description": desc,
                     "schema": {"type": "string"}}
                    for q, desc in spec.query.items()
                ],
                "security": [] if spec.public else [
                    {"bearerAuth": []}, {"cookieAuth": []}, {"basicAuth": []}],
                "x-throttle-scope": spec.throttle,
                "x-required-role": "none" if spec.public else spec.level,
            }
            if spec.body is not None:
                op["requestBody"] = {"required": True, "content": {
                    "application/json": {"schema": builder.schema_of(spec.body, "validation")}
                }}
            responses: dict[str, Any] = {}
            if spec.status == 204:
                responses["204"] = {"description": "Deleted"}
            elif spec.content_type:
                responses[str(spec.status)] = {"description": "File",
                                               "content": {spec.content_type: {}}}
            else:
                responses[str(spec.status)] = {"description": "Success", "content": {
                    "application/json": {"schema": _success(builder, spec)}}}
            for code in _ERROR_STATUSES:
                if spec.public and code in ("401", "403"):
                    continue
                responses[code] = {"$ref": f"#/components/responses/E{code}"}
            op["responses"] = responses
            item[method] = op
        if item:
            paths[path] = item
    error_schema = {
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
    builder.schemas["ErrorEnvelope"] = error_schema
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "IGNY8 API",
            "version": __version__,
            "description": "IGNY8 API v1 as served by igny8d. Every response uses the unified "
                           "envelope and carries a request_id (also in X-Request-ID).",
        },
        "paths": paths,
        "tags": [{"name": t} for t in sorted(tags)],
        "components": {
            "schemas": dict(sorted(builder.schemas.items())),
            "responses": {
                f"E{code}": {"description": desc, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}}}
                for code, desc in _ERROR_STATUSES.items()
            },
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                               "description": "Access token from POST /api/v1/auth/login/"},
                "cookieAuth": {"type": "apiKey", "in": "cookie", "name": "igny8_session"},
                "basicAuth": {"type": "http", "scheme": "basic"},
            },
        },
    }
    if server_url:
        doc["servers"] = [{"url": server_url}]
    return doc
