"""The unified response bodies and the JSON encoding every response shares."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import orjson

DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 100
#: How `page` and `page_size` read in the OpenAPI document of every paginated list.
PAGE_QUERY_DOC = {"page": "Page number (default 1)",
                  "page_size": f"Items per page (default {DEFAULT_PAGE_SIZE}, max {MAX_PAGE_SIZE})"}


def timestamp(value: dt.datetime) -> str:
    """How every answer writes a point in time: ISO 8601 in UTC with `Z` (naive is UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return timestamp(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


_ENCODER = json.JSONEncoder(default=_default, separators=(",", ":"), ensure_ascii=False)
#: what orjson leaves to `_default`: datetimes (written our way, in UTC), dataclasses and
#: str/int/dict/list subclasses (as the standard encoder sees them)
_ORJSON_OPTIONS = (orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME
                   | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS)


def dumps(body: Any) -> str:
    """Compact JSON; timestamps as ISO 8601 UTC with Z, decimals as strings.

    orjson writes it (the standard encoder took a tenth of a keyword page's CPU); what it
    refuses — an integer beyond 64 bits, a lone surrogate — the standard encoder writes
    as before. Both give the same JSON values (orjson spells some floats shorter:
    `1e-7` for `1e-07`).
    """
    try:
        return orjson.dumps(body, default=_default, option=_ORJSON_OPTIONS).decode()
    except (TypeError, orjson.JSONEncodeError):
        return _ENCODER.encode(body)


def success(data: Any, request_id: str, message: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"success": True, "data": data}
    if message:
        body["message"] = message
    body["request_id"] = request_id
    return body


def error(
    message: str,
    request_id: str,
    errors: dict[str, list[str]] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"success": False, "error": message}
    if errors:
        body["errors"] = errors
    if extra:
        body.update(extra)
    body["request_id"] = request_id
    return body


def paginated(
    results: list[Any],
    *,
    count: int,
    next_url: str | None,
    previous_url: str | None,
    request_id: str,
    message: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "success": True,
        "count": count,
        "next": next_url,
        "previous": previous_url,
        "results": results,
    }
    if message:
        body["message"] = message
    body["request_id"] = request_id
    return body


def page_links(
    base_url: str,
    query: list[tuple[str, str]],
    *,
    page: int,
    page_size: int,
    count: int,
) -> tuple[str | None, str | None]:
    """Absolute next/previous URLs, as DRF's PageNumberPagination builds them.

    Every other query parameter is kept; `previous` drops `page` when it would be 1.
    """
    others = [(k, v) for k, v in query if k != "page"]
    last = max(1, -(-count // page_size))

    def url(params: list[tuple[str, str]]) -> str:
        return f"{base_url}?{urlencode(params)}" if params else base_url

    next_url = url([*others, ("page", str(page + 1))]) if page < last else None
    if page <= 1:
        previous_url = None
    elif page == 2:
        previous_url = url(others)
    else:
        previous_url = url([*others, ("page", str(page - 1))])
    return next_url, previous_url
