"""The admin API's reads through HTTP on both stores: hidden (the unknown-path 404) from
everyone but a superuser, the overview, accounts, users, jobs, recent requests by request id,
and the audit log's filters. Actions are in test_admin_actions.py."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from igny8d.handlers import api_routes
from igny8d.openapi import build_document, operations
from igny8d.services import billing
from tests.helpers.client import PASSWORD, Client, Response
from tests.helpers.factories import OPS_EMAIL, operator, tenant
from tests.helpers.jobs import KIND, paid_job
from tests.helpers.paths import ADMIN as A
from tests.helpers.paths import KEYWORDS as KW
from tests.helpers.paths import ME
from tests.helpers.reads import audit_count, credits_of

# -- helpers ---------------------------------------------------------------------------------------


async def keywords(client: Client, owner: dict[str, Any], n: int) -> list[int]:
    site = await client.site(owner["token"])
    sector = await client.sector(owner["token"], site["id"])
    ids = []
    for i in range(n):
        resp = await client.post(KW, {"keyword": f"espresso machine {i}", "site_id": site["id"],
                                      "sector_id": sector["id"]}, token=owner["token"])
        assert resp.status == 201, resp.json
        ids.append(int(resp.data["id"]))
    return ids


def admin_operations() -> list[tuple[str, str]]:
    """(method, path template) of every declared admin operation."""
    return [(op.method.upper(), op.path) for op in operations(api_routes())
            if op.path.startswith(A)]


def concrete(path: str, ids: dict[str, str]) -> str:
    """The template with real ids (`{id}` is `user_id` under users/, else `account_id`)."""
    ids = {**ids, "id": ids["user_id"] if path.startswith(f"{A}users/") else ids["account_id"]}
    for name in ("id", "task_id", "request_id"):
        path = path.replace("{" + name + "}", ids[name])
    return path


def without_id(resp: Response) -> dict[str, Any]:
    return {k: v for k, v in resp.json.items() if k != "request_id"}


# -- hidden from everyone but a superuser ----------------------------------------------------------


async def test_every_admin_route_is_the_unknown_path_404_to_everyone_else(app, client):
    ops = await operator(app, client)
    owner = await tenant(client, "owner@example.com")
    admin_token = await client.member(owner["token"], "adm@example.com", "admin")
    task_id = await paid_job(app, owner)
    credits = await credits_of(app, owner["account_id"])
    ids = {"account_id": str(owner["account_id"]), "user_id": str(owner["user_id"]),
           "task_id": task_id, "request_id": str(uuid.uuid4())}
    routes = admin_operations()
    assert len(routes) == 21
    unknown = await client.get("/api/v1/nope/")
    assert unknown.status == 404
    callers: dict[str, dict[str, Any]] = {
        "anonymous": {}, "owner": {"token": owner["token"]}, "admin": {"token": admin_token},
        "garbage token": {"token": "not-a-jwt"},
        "owner's refresh token": {"token": owner["refresh"]},
        "owner by Basic": {"basic": ("owner@example.com", PASSWORD)},
        "operator by Basic": {"basic": (OPS_EMAIL, PASSWORD)},
    }
    for who, auth in callers.items():
        for method, template in [*routes, ("DELETE", f"{A}accounts/{{id}}/"),
                                 ("OPTIONS", f"{A}overview/")]:
            body = {"amount": 5, "reason": "x", "plan": "scale"} if method == "POST" else None
            resp = await client.request(method, concrete(template, ids), json_body=body,
                                        headers={"Origin": "http://x.example"}, **auth)
            assert resp.status == 404, (who, method, template, resp.status)
            assert without_id(resp) == without_id(unknown), (who, method, template)
            assert not [h for h in resp.headers if h.lower().startswith("x-throttle")
                        or h.lower() in ("allow", "retry-after")], (who, template)
    # nothing was done by any of those calls
    assert await audit_count(app) == 0
    assert await credits_of(app, owner["account_id"]) == credits
    # the operator's bearer token opens every GET
    for method, template in routes:
        if method == "GET":
            resp = await client.get(concrete(template, {**ids, "request_id": unknown.json[
                "request_id"]}), token=ops["token"])
            assert resp.status == 200, (template, resp.json)


async def test_a_non_superuser_is_never_throttled_into_a_hint(throttled_app):
    """system_admin allows 30 a minute: 40 calls of a tenant still all answer 404."""
    client = throttled_app.client()
    try:
        owner = await tenant(client, "curious@example.com")
        for _ in range(40):
            resp = await client.get(f"{A}overview/", token=owner["token"])
            assert resp.status == 404 and "X-Throttle-Limit" not in resp.headers
        ops = await operator(throttled_app, client)
        resp = await client.get(f"{A}overview/", token=ops["token"])
        assert resp.status == 200 and resp.headers["X-Throttle-Limit"] == "30"
    finally:
        client.close()


async def test_a_deactivated_superuser_is_refused_at_once(app, client):
    ops = await operator(app, client)
    assert (await client.get(f"{A}accounts/", token=ops["token"])).status == 200
    second = await operator(app, client, "ops2@example.com")
    resp = await client.post(f"{A}users/{ops['user_id']}/deactivate/", {},
                             token=second["token"])
    assert resp.status == 200, resp.json
    assert (await client.get(f"{A}accounts/", token=ops["token"])).status == 404


def test_admin_operations_are_documented_and_tagged():
    doc = build_document(api_routes())
    seen = 0
    for path, item in doc["paths"].items():
        if not path.startswith(A):
            continue
        for op in item.values():
            seen += 1
            assert op["tags"] == ["admin"] and op["x-required-role"] == "superuser"
            assert op["x-throttle-scope"] == "system_admin"
            assert "404" in op["responses"], path
    assert seen == 21
    ids = {op["operationId"] for item in doc["paths"].values() for op in item.values()}
    assert {"admin_overview", "admin_accounts_list", "admin_accounts_retrieve",
            "admin_accounts_grant_credits", "admin_jobs_retry", "admin_requests_retrieve",
            "admin_audit_list", "admin_users_reactivate"} <= ids


# -- the overview ----------------------------------------------------------------------------------


async def test_overview_moves_with_traffic(app, client):
    ops = await operator(app, client)
    first = await client.get(f"{A}overview/?window_s=60", token=ops["token"])
    assert first.status == 200, first.json
    data = first.data
    assert set(data) == {"version", "api_version", "uptime_s", "pid", "rss_mb", "database",
                         "jobs", "accounts", "users", "traffic", "series", "per_process"}
    assert data["per_process"] is True and data["api_version"] == "1.0.0"
    assert data["database"]["ok"] is True and data["database"]["latency_ms"] >= 0
    assert data["database"]["dialect"] == app.ctx.store.dialect
    assert data["jobs"] == {"PENDING": 0, "PROGRESS": 0, "SUCCESS": 0, "FAILURE": 0,
                            "REVOKED": 0}
    assert data["accounts"] == 1 and data["users"] == 1  # the operators'
    assert data["rss_mb"] > 0 and data["uptime_s"] > 0
    assert data["traffic"]["window_s"] == 60
    assert set(data["traffic"]["by_class"]) == {"2xx", "3xx", "4xx", "5xx"}
    assert len(data["series"]) >= 6 and all(
        set(p) == {"t", "requests", "errors", "throttled", "p50_ms", "p99_ms"}
        for p in data["series"])
    assert [p["t"] for p in data["series"]] == sorted(p["t"] for p in data["series"])
    before = data["traffic"]

    owner = await tenant(client, "busy@example.com")
    await paid_job(app, owner)
    for _ in range(5):
        assert (await client.get("/api/v1/nope/", token=owner["token"])).status == 404
    after = (await client.get(f"{A}overview/?window_s=60", token=ops["token"])).data
    assert after["traffic"]["requests"] >= before["requests"] + 8  # 3 + 5 + the first
    assert after["traffic"]["by_class"]["4xx"] >= before["by_class"]["4xx"] + 5
    assert after["traffic"]["requests_per_s"] > 0 and after["traffic"]["p99_ms"] > 0
    assert after["accounts"] == 2 and after["users"] == 2
    assert after["jobs"]["PENDING"] == 1
    assert sum(p["requests"] for p in after["series"]) >= after["traffic"]["requests"] - 1

    for bad in ("59", "3601", "abc"):
        resp = await client.get(f"{A}overview/?window_s={bad}", token=ops["token"])
        assert resp.status == 400 and "window_s" in resp.errors, bad


# -- accounts --------------------------------------------------------------------------------------


async def test_accounts_list_search_filters_and_detail(app, client):
    ops = await operator(app, client)
    ann = await tenant(client, "ann@example.com")
    bob = await tenant(client, "bob@example.com")
    await client.member(ann["token"], "ann2@example.com", "editor")
    t = ops["token"]

    listed = await client.get(f"{A}accounts/", token=t)
    assert listed.status == 200 and listed.json["count"] == 3
    rows = listed.json["results"]
    assert [r["id"] for r in rows] == sorted(r["id"] for r in rows)
    ann_row = next(r for r in rows if r["id"] == ann["account_id"])
    assert set(ann_row) == {"id", "name", "slug", "status", "plan", "credits", "users_count",
                            "created_at"}
    assert ann_row["plan"]["slug"] == "free" and set(ann_row["plan"]) == {"id", "slug", "name"}
    assert ann_row["users_count"] == 2 and ann_row["credits"] == 1000
    assert ann_row["created_at"].endswith("Z")

    found = await client.get(f"{A}accounts/?search=ANN", token=t)
    assert [r["id"] for r in found.json["results"]] == [ann["account_id"]]
    assert (await client.get(f"{A}accounts/?plan=scale", token=t)).json["count"] == 1
    assert (await client.get(f"{A}accounts/?plan=free&status=active", token=t)
            ).json["count"] == 2
    assert (await client.get(f"{A}accounts/?status=suspended", token=t)).json["count"] == 0
    assert (await client.get(f"{A}accounts/?search=%25", token=t)).json["count"] == 0
    bad = await client.get(f"{A}accounts/?status=gone", token=t)
    assert bad.status == 400 and "status" in bad.errors
    paged = await client.get(f"{A}accounts/?page_size=2&page=2", token=t)
    assert paged.json["count"] == 3 and len(paged.json["results"]) == 1
    assert paged.json["previous"] and not paged.json["next"]
    assert (await client.get(f"{A}accounts/?page=3&page_size=2", token=t)).status == 404

    detail = await client.get(f"{A}accounts/{bob['account_id']}/", token=t)
    assert detail.status == 200, detail.json
    d = detail.data
    assert set(d) == {"id", "name", "slug", "status", "plan", "credits", "users_count",
                      "created_at", "sites_count", "keywords_count", "usage_this_month",
                      "recent_transactions"}
    assert set(d["plan"]) == {"id", "slug", "name", "monthly_credits", "max_sites",
                              "max_users", "max_keywords", "max_clusters"}
    assert d["plan"]["monthly_credits"] == 1000
    assert d["usage_this_month"] == {"credits_used": 0, "credits_refunded": 0,
                                     "by_operation": {}}
    assert d["recent_transactions"] == []

    await keywords(client, bob, 4)
    task_id = await paid_job(app, bob, 4)
    async with app.ctx.store.begin() as conn:
        await billing.refund(conn, bob["account_id"], reference=task_id, amount=1)
    d = (await client.get(f"{A}accounts/{bob['account_id']}/", token=t)).data
    assert d["sites_count"] == 1 and d["keywords_count"] == 4 and d["credits"] == 997
    assert d["usage_this_month"] == {"credits_used": 4, "credits_refunded": 1,
                                     "by_operation": {"clustering": 3}}
    assert [x["transaction_type"] for x in d["recent_transactions"]] == ["refund", "charge"]

    for missing in ("999999", "abc", "0"):
        resp = await client.get(f"{A}accounts/{missing}/", token=t)
        assert resp.status == 404, missing


# -- users -----------------------------------------------------------------------------------------


async def test_users_search_across_accounts_and_sessions(app, client):
    ops = await operator(app, client)
    ann = await tenant(client, "ann@example.com")
    bob = await tenant(client, "bob@shop.example")
    await client.member(bob["token"], "carol@shop.example", "viewer")
    await client.login("bob@shop.example")  # a second session
    t = ops["token"]

    listed = await client.get(f"{A}users/", token=t)
    assert listed.json["count"] == 4
    row = next(r for r in listed.json["results"] if r["email"] == "ann@example.com")
    assert set(row) == {"id", "email", "username", "account_id", "account_name", "role",
                        "is_active", "is_superuser", "last_login", "created_at"}
    assert row["account_id"] == ann["account_id"] and row["role"] == "owner"
    assert row["last_login"].endswith("Z")

    shop = await client.get(f"{A}users/?search=SHOP.EX", token=t)
    assert sorted(r["email"] for r in shop.json["results"]) == ["bob@shop.example",
                                                               "carol@shop.example"]
    mine = await client.get(f"{A}users/?account_id={bob['account_id']}", token=t)
    assert mine.json["count"] == 2
    assert (await client.get(f"{A}users/?is_active=false", token=t)).json["count"] == 0
    assert (await client.get(f"{A}users/?is_active=true", token=t)).json["count"] == 4
    for bad in ("is_active=maybe", "account_id=x"):
        assert (await client.get(f"{A}users/?{bad}", token=t)).status == 400, bad

    detail = await client.get(f"{A}users/{bob['user_id']}/", token=t)
    assert detail.data["sessions"] == 2 and detail.data["account_name"]
    assert (await client.get(f"{A}users/{ann['user_id']}/", token=t)).data["sessions"] == 1
    assert (await client.get(f"{A}users/424242/", token=t)).status == 404


# -- jobs ------------------------------------------------------------------------------------------


async def test_jobs_list_filters_and_detail_across_accounts(app, client):
    ops = await operator(app, client)
    ann = await tenant(client, "ann@example.com")
    bob = await tenant(client, "bob@example.com")
    first = await paid_job(app, ann)
    second = await paid_job(app, bob)
    cancelled = await client.post(f"{A}jobs/{first}/cancel/", {}, token=ops["token"])
    assert cancelled.status == 200
    t = ops["token"]

    listed = await client.get(f"{A}jobs/", token=t)
    assert [j["task_id"] for j in listed.json["results"]] == [second, first]  # newest first
    job = listed.json["results"][0]
    assert set(job) == {"task_id", "kind", "state", "account_id", "user_id", "attempts",
                        "max_attempts", "meta", "error", "created_at", "started_at",
                        "finished_at", "updated_at"}
    assert job["kind"] == KIND and job["account_id"] == bob["account_id"]
    assert job["user_id"] == bob["user_id"] and job["state"] == "PENDING"
    assert set(job["meta"]) >= {"phase", "percentage", "message", "request_steps",
                                "response_steps", "cost", "tokens"}

    async def tasks(query: str) -> list[str]:
        resp = await client.get(f"{A}jobs/?{query}", token=t)
        assert resp.status == 200, resp.json
        return [j["task_id"] for j in resp.json["results"]]

    assert await tasks("state=PENDING") == [second]
    assert await tasks("state=revoked,PENDING") == [second, first]
    assert await tasks("state=SUCCESS,FAILURE") == []
    assert await tasks(f"account_id={ann['account_id']}") == [first]
    assert await tasks(f"kind={KIND}&state=REVOKED") == [first]
    assert await tasks("kind=other") == []
    bad = await client.get(f"{A}jobs/?state=DONE", token=t)
    assert bad.status == 400 and "state" in bad.errors

    detail = await client.get(f"{A}jobs/{first}/", token=t)
    assert detail.status == 200
    assert detail.data["state"] == "REVOKED" and detail.data["error"]
    assert detail.data["payload"] == {"price": 3} and detail.data["result"] is None
    assert "result" in detail.data and detail.data["finished_at"].endswith("Z")
    for missing in (str(uuid.uuid4()), "not-a-uuid", first + "0"):
        assert (await client.get(f"{A}jobs/{missing}/", token=t)).status == 404, missing


# -- recent requests -------------------------------------------------------------------------------


async def test_requests_by_filter_and_by_request_id(app, client):
    ops = await operator(app, client)
    owner = await tenant(client, "req@example.com")
    rid = str(uuid.uuid4())
    miss = await client.get(f"{KW}999999/", token=owner["token"], headers={"X-Request-ID": rid})
    assert miss.status == 404 and miss.headers["X-Request-ID"] == rid
    ok = await client.get(ME, token=owner["token"])
    ok_id = ok.json["request_id"]
    t = ops["token"]

    recent = await client.get(f"{A}requests/?page_size=100", token=t)
    assert recent.status == 200
    rows = recent.json["results"]
    assert set(rows[0]) == {"request_id", "method", "path", "route", "status", "duration_ms",
                            "user_id", "account_id", "at", "throttled"}
    ats = [r["at"] for r in rows]
    assert ats == sorted(ats, reverse=True)  # newest first
    assert rows[0]["request_id"] == ok_id  # the newest (this one is recorded when it ends)

    async def ids(query: str) -> list[str]:
        resp = await client.get(f"{A}requests/?page_size=100&{query}", token=t)
        assert resp.status == 200, resp.json
        return [r["request_id"] for r in resp.json["results"]]

    assert rid in await ids("status=404") and rid in await ids("status=4xx")
    assert rid not in await ids("status=2xx") and ok_id in await ids("status=2xx")
    assert await ids(f"path={KW}999") == [rid]
    mine = await ids(f"account_id={owner['account_id']}")
    assert rid in mine and ok_id in mine
    assert ok_id in await ids("method=get") and ok_id not in await ids("method=POST")
    for bad in ("status=6xx", "status=abc", "status=99"):
        assert (await client.get(f"{A}requests/?{bad}", token=t)).status == 400, bad

    one = await client.get(f"{A}requests/{rid}/", token=t)
    assert one.status == 200, one.json
    record = one.data
    assert record["request_id"] == rid and record["status"] == 404
    assert record["route"] == "/api/v1/planner/keywords/{id}/"
    assert record["user_id"] == owner["user_id"] and record["throttled"] is False
    assert record["at"].endswith("Z")
    assert any(line["message"].startswith("404 GET") for line in record["log"]), record["log"]
    assert all({"at", "level", "logger", "message"} <= set(line) for line in record["log"])
    assert (await client.get(f"{A}requests/{ok_id}/", token=t)).data["status"] == 200
    assert (await client.get(f"{A}requests/{uuid.uuid4()}/", token=t)).status == 404


async def test_requests_exclude_path_leaves_out_prefixes(app, client):
    ops = await operator(app, client)
    owner = await tenant(client, "req@example.com")
    t = ops["token"]
    for _ in range(3):  # the console's polling
        assert (await client.get(f"{A}overview/", token=t)).status == 200
    me = (await client.get(ME, token=owner["token"])).json["request_id"]
    kw = (await client.get(KW, token=owner["token"])).json["request_id"]

    async def paths(query: str) -> list[str]:
        resp = await client.get(f"{A}requests/?page_size=100&{query}", token=t)
        assert resp.status == 200, resp.json
        return [r["path"] for r in resp.json["results"]]

    assert any(p.startswith(A) for p in await paths(""))
    kept = await paths(f"exclude_path={A}")
    assert kept and not any(p.startswith(A) for p in kept)
    assert ME in kept and KW in kept
    # a prefix, not a substring: "/admin/" alone is the start of no path
    assert any(p.startswith(A) for p in await paths("exclude_path=/admin/"))
    # repeated, or a comma list (blank parts ignored), combined with the other filters
    for query in (f"exclude_path={A}&exclude_path={ME}", f"exclude_path={A},,{ME}",
                  f"exclude_path=%20{A}%20,{ME}"):
        kept = await paths(query)
        assert ME not in kept and KW in kept and not any(p.startswith(A) for p in kept), query
    resp = await client.get(f"{A}requests/?exclude_path={A}&account_id={owner['account_id']}",
                            token=t)
    assert {r["request_id"] for r in resp.json["results"]} >= {me, kw}
    assert all(r["account_id"] == owner["account_id"] for r in resp.json["results"])
    for blank in ("exclude_path=", "exclude_path=,%20"):  # blank: no filter
        assert any(p.startswith(A) for p in await paths(blank)), blank
    too_many = ",".join(f"/p{i}/" for i in range(21))
    for bad in (f"exclude_path={too_many}", f"exclude_path={'x' * 501}"):
        resp = await client.get(f"{A}requests/?{bad}", token=t)
        assert resp.status == 400 and "exclude_path" in resp.errors, bad
    doc = build_document(api_routes())
    params = {p["name"]: p for p in doc["paths"][f"{A}requests/"]["get"]["parameters"]}
    assert "starts with" in params["exclude_path"]["description"]


# -- the audit log ---------------------------------------------------------------------------------


async def test_audit_filters(app, client):
    ops = await operator(app, client)
    other = await operator(app, client, "ops2@example.com")
    ann = await tenant(client, "ann@example.com")
    bob = await tenant(client, "bob@example.com")
    grant = {"amount": 10, "reason": "goodwill"}
    assert (await client.post(f"{A}accounts/{ann['account_id']}/grant_credits/", grant,
                              token=ops["token"])).status == 200
    assert (await client.post(f"{A}accounts/{bob['account_id']}/suspend/", {},
                              token=other["token"])).status == 200
    assert (await client.post(f"{A}users/{ann['user_id']}/end_sessions/", {},
                              token=ops["token"])).status == 200
    t = ops["token"]

    async def actions(query: str = "") -> list[str]:
        resp = await client.get(f"{A}audit/?{query}", token=t)
        assert resp.status == 200, resp.json
        return [r["action"] for r in resp.json["results"]]

    assert await actions() == ["user.end_sessions", "account.suspend", "account.grant_credits"]
    assert await actions(f"account_id={ann['account_id']}") == ["user.end_sessions",
                                                                "account.grant_credits"]
    assert await actions("target_type=account") == ["account.suspend",
                                                    "account.grant_credits"]
    assert await actions(f"actor_user_id={other['user_id']}") == ["account.suspend"]
    assert await actions("action=account.grant_credits") == ["account.grant_credits"]
    row = (await client.get(f"{A}audit/?action=account.suspend", token=t)).json["results"][0]
    assert set(row) == {"id", "actor_user_id", "actor_email", "action", "target_type",
                        "target_id", "account_id", "before", "after", "reason", "request_id",
                        "created_at"}
    assert row["actor_email"] == "ops2@example.com" and row["target_id"] == str(
        bob["account_id"])
    assert dt.datetime.fromisoformat(row["created_at"].replace("Z", "+00:00"))
    assert (await client.get(f"{A}audit/?account_id=x", token=t)).status == 400
