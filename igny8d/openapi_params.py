"""Query parameters' schemas, read from what the server enforces.

A parameter's type comes from, in order: the resource's `Filter` of that name (its kind and
choices), the page and ordering rules (`envelope` bounds, the resource's ordering whitelist),
or the query model a handler validates with (`EndpointSpec.query_model`, the admin API's).
A parameter none of them names stays a string.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from igny8d.envelope import MAX_PAGE_SIZE

#: The largest id a database row may carry (64-bit signed), as `_coerce` accepts.
_INT_MAX = 2**63 - 1


def _comma_list(items: dict[str, Any]) -> dict[str, Any]:
    """One value or several, comma-separated (`status=active,pending`): OpenAPI's
    `style: form, explode: false` array."""
    return {"type": "array", "items": items, "minItems": 1, "uniqueItems": True}


def filter_schema(flt: Any) -> dict[str, Any]:
    """The schema of one `Filter` (igny8d.handlers.resource), by its kind."""
    kind = flt.kind
    if kind in ("int", "min", "max"):
        return {"type": "integer", "minimum": -_INT_MAX, "maximum": _INT_MAX} \
            if kind != "int" else {"type": "integer", "minimum": 1, "maximum": _INT_MAX}
    if kind in ("bool", "isnull"):
        return {"type": "boolean"}
    if kind == "choice":
        return _comma_list({"type": "string", "enum": list(flt.choices)})
    if kind in ("date_from", "date_to"):
        return {"type": "string", "format": "date"}
    return {"type": "string"}


def ordering_schema(ordering: dict[str, str]) -> dict[str, Any]:
    """Fields to order by, comma-separated, each optionally prefixed `-` (descending)."""
    values = [v for name in sorted(ordering) for v in (name, f"-{name}")]
    return _comma_list({"type": "string", "enum": values})


def _model_property(model: type[BaseModel], name: str) -> dict[str, Any] | None:
    schema = model.model_json_schema(mode="validation")
    prop = schema.get("properties", {}).get(name)
    if prop is None:
        return None
    prop = {k: v for k, v in prop.items() if k not in ("title", "default")}
    # `X | None = None`: absent is the None; the parameter itself is never null.
    options = prop.pop("anyOf", None)
    if options:
        kept = [o for o in options if o.get("type") != "null"]
        prop = {**kept[0], **prop} if len(kept) == 1 else {**prop, "anyOf": kept}
    if prop.get("type") == "array":
        prop.pop("default", None)
    return prop


def query_schema(name: str, *, resource: Any | None,
                 model: type[BaseModel] | None) -> tuple[dict[str, Any], bool]:
    """(schema, comma-separated) of the query parameter `name`."""
    flt = getattr(resource, "filters", {}).get(name) if resource is not None else None
    if flt is not None:
        schema = filter_schema(flt)
    elif name == "page":
        schema = {"type": "integer", "minimum": 1, "maximum": _INT_MAX}
    elif name == "page_size":
        schema = {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE}
    elif name == "ordering" and getattr(resource, "ordering", None):
        schema = ordering_schema(resource.ordering)  # type: ignore[union-attr]
    else:
        schema = (_model_property(model, name) if model is not None else None) \
            or {"type": "string"}
    return schema, schema.get("type") == "array"


def query_parameter(name: str, description: str, *, resource: Any | None,
                    model: type[BaseModel] | None) -> dict[str, Any]:
    """The OpenAPI parameter object of one query parameter."""
    schema, comma = query_schema(name, resource=resource, model=model)
    param: dict[str, Any] = {"name": name, "in": "query", "required": False,
                             "description": description, "schema": schema}
    if comma:
        param["style"] = "form"
        param["explode"] = False
    return param
