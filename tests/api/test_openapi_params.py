"""Query parameters in the served document carry the types the server enforces (issue 16.5)."""

from __future__ import annotations

import re
from typing import Any

from igny8d.envelope import MAX_PAGE_SIZE
from igny8d.handlers import api_routes
from igny8d.openapi import path_template
from igny8d.schemas.admin import JOB_STATES
from tests.helpers.reads import openapi_schema

INTEGER = re.compile(r"^(page|page_size|.*_id|.*_min|.*_max)$")


def query_params(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, p) for path, item in doc["paths"].items()
            for method, op in item.items() for p in op.get("parameters", ())
            if p["in"] == "query"]


def resources() -> dict[str, Any]:
    """Document path of each resource route -> its Resource (filters, ordering)."""
    return {path_template(pattern): kw["resource"] for pattern, _, kw in api_routes()
            if hasattr(kw.get("resource"), "filters")}


async def test_ids_pages_and_ranges_are_integers(client):
    params = query_params(await openapi_schema(client))
    named = [(path, p) for path, _, p in params if INTEGER.match(p["name"])]
    assert len(named) > 60
    for path, p in named:
        assert p["schema"]["type"] == "integer", (path, p)
    sizes = [p["schema"] for _, _, p in params if p["name"] == "page_size"]
    assert sizes and all(s["maximum"] == MAX_PAGE_SIZE and s["minimum"] == 1 for s in sizes)


async def test_choice_filters_and_ordering_are_enums_from_the_resource(client):
    doc = await openapi_schema(client)
    by_path = resources()
    checked_choice = checked_ordering = 0
    for path, method, p in query_params(doc):
        res = by_path.get(path)
        if res is None or method != "get":
            continue
        flt = res.filters.get(p["name"])
        if flt is not None and flt.kind == "choice":
            assert p["schema"]["items"]["enum"] == list(flt.choices), (path, p)
            assert (p["style"], p["explode"]) == ("form", False)
            checked_choice += 1
        if p["name"] == "ordering":
            values = set(p["schema"]["items"]["enum"])
            assert values == set(res.ordering) | {f"-{o}" for o in res.ordering}, path
            checked_ordering += 1
    assert checked_choice > 20 and checked_ordering > 10


async def test_admin_query_types_come_from_its_query_models(client):
    params = {(path, p["name"]): p["schema"] for path, _, p in
              query_params(await openapi_schema(client)) if path.startswith("/api/v1/admin/")}
    assert params[("/api/v1/admin/users/", "is_active")] == {"type": "boolean"}
    assert params[("/api/v1/admin/accounts/", "status")]["enum"] == ["active", "suspended"]
    assert params[("/api/v1/admin/jobs/", "state")]["items"]["enum"] == list(JOB_STATES)
    window = params[("/api/v1/admin/overview/", "window_s")]
    assert window["type"] == "integer" and window["minimum"] < window["maximum"]


async def test_emails_have_format_email(client):
    schemas = (await openapi_schema(client))["components"]["schemas"]
    emails = [(name, s["properties"]["email"]) for name, s in schemas.items()
              if "email" in s.get("properties", {})]
    assert len(emails) > 5
    for name, prop in emails:
        assert prop.get("format") == "email", name


async def test_the_server_accepts_what_the_document_lists(client, a):
    """Every documented ordering and choice value of the keyword list answers 200; a value
    outside the enum answers 400 (the enum is the server's whitelist, not a guess)."""
    doc = await openapi_schema(client)
    path = "/api/v1/planner/keywords/"
    params = {p["name"]: p for p in doc["paths"][path]["get"]["parameters"]
              if p["in"] == "query"}
    for name in ("ordering", "status", "intent"):
        for value in params[name]["schema"]["items"]["enum"]:
            resp = await client.get(f"{path}?{name}={value}", token=a["token"])
            assert resp.status == 200, (name, value, resp.body)
        both = ",".join(params[name]["schema"]["items"]["enum"][:2])
        assert (await client.get(f"{path}?{name}={both}", token=a["token"])).status == 200
        bad = await client.get(f"{path}?{name}=nope", token=a["token"])
        assert bad.status == 400, name
    assert (await client.get(f"{path}?volume_min=x", token=a["token"])).status == 400


async def test_task_progress_wait_is_typed_as_the_server_checks_it(client):
    """`wait` is whole seconds 0..MAX_WAIT and `since` STATE:PERCENT: the document says so,
    and the server refuses what the document excludes."""
    from igny8d.jobs.watch import MAX_WAIT

    doc = await openapi_schema(client)
    got = {p["name"]: p["schema"] for path, _, p in query_params(doc)
           if path.endswith("/task_progress/{task_id}/")}
    assert got["wait"] == {"type": "integer", "minimum": 0, "maximum": MAX_WAIT}
    assert got["since"]["type"] == "string" and "PROGRESS" in got["since"]["pattern"]
    assert re.match(got["since"]["pattern"], "PROGRESS:50")
    assert not re.match(got["since"]["pattern"], "50")
