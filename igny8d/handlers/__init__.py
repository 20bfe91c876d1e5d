"""Route table: each module's `default_handlers`, in order; the JSON 404 catches the rest."""

from __future__ import annotations

from typing import Any

from igny8d.handlers import (
    admin,
    auth,
    billing,
    planner,
    planner_keywords,
    sites,
    system,
    system_ai,
    users,
    writer,
)
from igny8d.handlers.docs import AssetHandler, docs_handlers

#: Order matters: Tornado takes the first pattern that matches.
API_MODULES = (auth, users, sites, planner_keywords, planner, writer, system_ai, system,
               billing, admin)


def api_routes() -> list[tuple[str, type, dict[str, Any]]]:
    """Every API route as (pattern, handler, extra initialize kwargs)."""
    out: list[tuple[str, type, dict[str, Any]]] = []
    for module in API_MODULES:
        for route in module.default_handlers:
            pattern, handler, *rest = route
            out.append((pattern, handler, dict(rest[0]) if rest else {}))
    return out


def all_routes() -> list[tuple[str, type, dict[str, Any]]]:
    return [*api_routes(), *docs_handlers()]


__all__ = ["AssetHandler", "all_routes", "api_routes"]
