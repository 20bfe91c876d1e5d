"""A replay of the admin API for the console: answers recorded from a busy server with their
times, ids and numbers frozen, served to the real AdminClient over an httpx.MockTransport, so
a screen looks the same on every run. The snapshot tests (tests/tui/test_console_snapshots.py)
and the README's screenshots (docs/console/make_screens.py) are made from it."""

from __future__ import annotations

import asyncio
import json
import math
from typing import Any
from urllib.parse import parse_qs

import httpx
from textual.pilot import Pilot

from tests.helpers.console import OPS, OPS_PASSWORD
from tui.app import ConsoleApp
from tui.client import AdminClient
from tui.screens.main import MainScreen

URL = "http://ops.example.net:8000"
ADMIN = "/api/v1/admin"
RID = "5b0c1f0e-8f7a-4c55-9d8e-0a4f6f3f2d11"
T0 = 1_796_040_000  # 2026-12-01 12:00:00 UTC: the recorded overview's last bucket start


def _series() -> list[dict[str, Any]]:
    """Thirty 10 s buckets with a daytime-like wave and one bad moment (a 5xx burst)."""
    out = []
    for i in range(30):
        requests = round(120 + 70 * math.sin(i / 4) + (i % 5) * 9)
        errors = 4 if i == 21 else (1 if i in (8, 22) else 0)
        out.append({"t": T0 - (29 - i) * 10, "requests": requests, "errors": errors,
                    "throttled": 2 if i in (12, 13) else 0,
                    "p50_ms": round(3.2 + 1.1 * math.sin(i / 3), 1),
                    "p99_ms": round(38 + 25 * math.sin(i / 5) + (60 if i == 21 else 0), 1)})
    return out


PLANS = [
    {"id": 1, "slug": "free", "name": "Free", "monthly_credits": 1000, "max_sites": 5,
     "max_users": 5, "max_keywords": 1000, "max_clusters": 200},
    {"id": 2, "slug": "starter", "name": "Starter", "monthly_credits": 5000, "max_sites": 10,
     "max_users": 10, "max_keywords": 5000, "max_clusters": 1000},
    {"id": 3, "slug": "growth", "name": "Growth", "monthly_credits": 20000, "max_sites": 25,
     "max_users": 25, "max_keywords": 25000, "max_clusters": 5000},
    {"id": 4, "slug": "scale", "name": "Scale", "monthly_credits": 100000, "max_sites": 100,
     "max_users": 100, "max_keywords": 100000, "max_clusters": 20000},
]


def _plan(slug: str) -> dict[str, Any]:
    plan = next(p for p in PLANS if p["slug"] == slug)
    return {"id": plan["id"], "slug": slug, "name": plan["name"]}


ACCOUNTS = [
    {"id": 1, "name": "Operators", "slug": "operators", "status": "active",
     "plan": _plan("scale"), "credits": 100000, "users_count": 2,
     "created_at": "2026-11-02T09:14:03Z"},
    {"id": 2, "name": "Northwind Media", "slug": "northwind-media", "status": "active",
     "plan": _plan("growth"), "credits": 18240, "users_count": 7,
     "created_at": "2026-11-03T10:22:41Z"},
    {"id": 3, "name": "Blue Harbor Travel", "slug": "blue-harbor-travel", "status": "active",
     "plan": _plan("starter"), "credits": 3120, "users_count": 3,
     "created_at": "2026-11-10T16:05:12Z"},
    {"id": 4, "name": "Kestrel Outdoor", "slug": "kestrel-outdoor", "status": "suspended",
     "plan": _plan("free"), "credits": 0, "users_count": 1,
     "created_at": "2026-11-18T08:47:55Z"},
    {"id": 5, "name": "Lumen Dental Group", "slug": "lumen-dental-group", "status": "active",
     "plan": _plan("growth"), "credits": 9875, "users_count": 5,
     "created_at": "2026-11-21T13:30:09Z"},
]


def _meta(phase: str, pct: int, message: str, tokens: int = 0) -> dict[str, Any]:
    """A job's progress meta as the executor writes it: `cost` is the AI provider's cost in
    USD (here $2 per million tokens), not credits."""
    return {"phase": phase, "percentage": pct, "message": message, "request_steps": [],
            "response_steps": [], "cost": round(tokens * 2e-6, 6), "tokens": tokens}


def _job(n: int, kind: str, state: str, account: int, meta: dict[str, Any], *,
         error: str | None = None, minute: int = 0, credits: int = 0) -> dict[str, Any]:
    finished = state in ("SUCCESS", "FAILURE", "REVOKED")
    task_id = f"{n:08x}-3c1d-4e6f-9a0b-1c2d3e4f5a6b"
    CHARGED[task_id] = credits
    return {"task_id": task_id, "kind": kind, "state": state,
            "account_id": account, "user_id": account * 10, "attempts": 0 if state == "PENDING"
            else 1, "max_attempts": 3, "meta": meta, "error": error,
            "created_at": f"2026-12-01T11:{minute:02d}:10Z",
            "started_at": None if state == "PENDING" else f"2026-12-01T11:{minute:02d}:11Z",
            "finished_at": f"2026-12-01T11:{minute + 1:02d}:02Z" if finished else None,
            "updated_at": f"2026-12-01T11:{minute + 1:02d}:02Z"}


#: What each job was charged when queued: its payload's `credits` (operations/lifecycle.py).
CHARGED: dict[str, int] = {}

JOBS = [
    _job(0x9F3A21C4, "auto_cluster", "PROGRESS", 2,
         _meta("AI_CALL", 62, "Clustering 412 keywords", 18230), minute=58, credits=412),
    _job(0x7B1E0D92, "auto_generate_content", "PROGRESS", 5,
         _meta("SAVE", 85, "Saving 3 of 4 articles", 40211), minute=57, credits=36),
    _job(0x4C8D55E1, "auto_cluster", "PENDING", 3,
         _meta("QUEUED", 0, "Waiting for a worker."), minute=56, credits=25),
    _job(0x2A6F3B70, "generate_images", "FAILURE", 2,
         _meta("AI_CALL", 40, "Provider error"), minute=41, credits=10,
         error="The provider answered 503 three times."),
    _job(0x1D9C4A33, "auto_generate_ideas", "SUCCESS", 5,
         _meta("DONE", 100, "12 ideas created", 9120), minute=30, credits=60),
    _job(0x0E5B7F18, "auto_cluster", "REVOKED", 3,
         _meta("REVOKED", 20, "Cancelled."), minute=12, credits=8),
]

USERS = [
    {"id": 1, "email": "ops@example.com", "username": "ops", "account_id": 1,
     "account_name": "Operators", "role": "owner", "is_active": True, "is_superuser": True,
     "last_login": "2026-12-01T11:59:40Z", "created_at": "2026-11-02T09:14:03Z"},
    {"id": 20, "email": "maria@northwind.example", "username": "maria", "account_id": 2,
     "account_name": "Northwind Media", "role": "owner", "is_active": True,
     "is_superuser": False, "last_login": "2026-12-01T10:02:17Z",
     "created_at": "2026-11-03T10:22:41Z"},
    {"id": 21, "email": "sam@northwind.example", "username": "sam", "account_id": 2,
     "account_name": "Northwind Media", "role": "editor", "is_active": True,
     "is_superuser": False, "last_login": "2026-11-30T17:45:02Z",
     "created_at": "2026-11-04T12:00:00Z"},
    {"id": 30, "email": "li@blueharbor.example", "username": "li", "account_id": 3,
     "account_name": "Blue Harbor Travel", "role": "owner", "is_active": True,
     "is_superuser": False, "last_login": None, "created_at": "2026-11-10T16:05:12Z"},
    {"id": 40, "email": "jo@kestrel.example", "username": "jo", "account_id": 4,
     "account_name": "Kestrel Outdoor", "role": "owner", "is_active": False,
     "is_superuser": False, "last_login": "2026-11-19T09:12:44Z",
     "created_at": "2026-11-18T08:47:55Z"},
]

REQUESTS = [
    {"request_id": RID, "method": "POST", "path": "/api/v1/planner/keywords/auto_cluster/",
     "route": "/api/v1/planner/keywords/auto_cluster/", "status": 500, "duration_ms": 412.7,
     "user_id": 20, "account_id": 2, "at": "2026-12-01T11:59:58Z", "throttled": False},
    {"request_id": "0d6e2c8a-41b7-4f0e-a3c2-7e9b5d1f6a20", "method": "GET",
     "path": "/api/v1/planner/keywords/", "route": "/api/v1/planner/keywords/", "status": 200,
     "duration_ms": 6.3, "user_id": 21, "account_id": 2, "at": "2026-12-01T11:59:57Z",
     "throttled": False},
    {"request_id": "8c1f9e7d-2b3a-4c5d-8e6f-7a8b9c0d1e2f", "method": "GET",
     "path": "/api/v1/writer/content/77/", "route": "/api/v1/writer/content/{id}/",
     "status": 404, "duration_ms": 3.1, "user_id": 30, "account_id": 3,
     "at": "2026-12-01T11:59:55Z", "throttled": False},
    {"request_id": "3e4f5a6b-7c8d-4e9f-a0b1-c2d3e4f5a6b7", "method": "POST",
     "path": "/api/v1/auth/login/", "route": "/api/v1/auth/login/", "status": 429,
     "duration_ms": 0.9, "user_id": None, "account_id": None, "at": "2026-12-01T11:59:51Z",
     "throttled": True},
    {"request_id": "6a7b8c9d-0e1f-4a2b-b3c4-d5e6f7a8b9c0", "method": "GET",
     "path": "/api/v1/system/ping/", "route": "/api/v1/system/ping/", "status": 200,
     "duration_ms": 0.4, "user_id": None, "account_id": None, "at": "2026-12-01T11:59:50Z",
     "throttled": False},
]

AUDIT = [
    {"id": 3, "actor_user_id": 1, "actor_email": "ops@example.com",
     "action": "account.suspend", "target_type": "account", "target_id": "4", "account_id": 4,
     "before": {"status": "active"}, "after": {"status": "suspended"},
     "reason": "Chargeback on the last invoice", "request_id": RID,
     "created_at": "2026-12-01T11:40:02Z"},
    {"id": 2, "actor_user_id": 1, "actor_email": "ops@example.com", "action": "job.cancel",
     "target_type": "job", "target_id": JOBS[5]["task_id"], "account_id": 3,
     "before": {"state": "PROGRESS"}, "after": {"state": "REVOKED"}, "reason": "",
     "request_id": RID, "created_at": "2026-12-01T11:13:00Z"},
    {"id": 1, "actor_user_id": 1, "actor_email": "ops@example.com",
     "action": "account.grant_credits", "target_type": "account", "target_id": "2",
     "account_id": 2, "before": {"credits": 16240}, "after": {"credits": 18240},
     "reason": "Goodwill: outage on Nov 30", "request_id": RID,
     "created_at": "2026-12-01T09:05:44Z"},
]

#: Pending links (no SMTP on the recorded box): an invitation and a password reset.
AUTH_LINKS = [
    {"id": 12, "user_id": 31, "email": "noor@blueharbor.example", "account_id": 3,
     "purpose": "invitation", "created_at": "2026-12-01T11:20:05Z",
     "expires_at": "2026-12-08T11:20:05Z", "mailed": False, "mailed_at": None},
    {"id": 9, "user_id": 21, "email": "sam@northwind.example", "account_id": 2,
     "purpose": "password_reset", "created_at": "2026-12-01T10:47:31Z",
     "expires_at": "2026-12-01T11:47:31Z", "mailed": False, "mailed_at": None},
]
#: The link a reissue answers with (the secret is the recorded one).
REISSUED_LINK = ("http://ops.example.net:8000/accept-invitation?token="
                 "q9Zk3v7LrT0pXw2bNc5yHf8dJm4sAe6gUi1oVt7RkYQ")

OVERVIEW = {
    "version": "0.1.0", "api_version": "1.0.0", "uptime_s": 273_845, "pid": 4172,
    "rss_mb": 96.4, "database": {"dialect": "postgresql", "ok": True, "latency_ms": 0.8},
    "jobs": {"PENDING": 1, "PROGRESS": 2, "SUCCESS": 1843, "FAILURE": 7, "REVOKED": 12},
    "accounts": 5, "users": 18,
    "traffic": {"window_s": 300, "requests": 4012, "requests_per_s": 13.37,
                "error_rate": 0.0015, "p50_ms": 3.4, "p99_ms": 61.0, "throttled": 4,
                "by_class": {"2xx": 3761, "3xx": 0, "4xx": 245, "5xx": 6}},
    "series": _series(), "per_process": True,
}

ACCOUNT_DETAIL = {
    **ACCOUNTS[1],
    "plan": {**_plan("growth"), "monthly_credits": 20000, "max_sites": 25, "max_users": 25,
             "max_keywords": 25000, "max_clusters": 5000},
    "sites_count": 4, "keywords_count": 11873,
    "usage_this_month": {"credits_used": 1760, "credits_refunded": 10,
                         "by_operation": {"clustering": 1290, "content": 420, "images": 40}},
    "recent_transactions": [
        {"id": 88, "transaction_type": "grant", "amount": 2000, "balance_after": 18240,
         "description": "Goodwill: outage on Nov 30", "created_at": "2026-12-01T09:05:44Z"},
        {"id": 87, "transaction_type": "deduction", "amount": -412, "balance_after": 16240,
         "description": "clustering: 412 keywords", "created_at": "2026-12-01T08:58:10Z"},
        {"id": 86, "transaction_type": "refund", "amount": 10, "balance_after": 16652,
         "description": "images failed", "created_at": "2026-11-30T18:41:09Z"},
    ],
}

REQUEST_DETAIL = {
    **REQUESTS[0],
    "log": [
        {"at": "2026-12-01T11:59:58Z", "level": "INFO", "logger": "igny8d.jobs",
         "message": "queued auto_cluster", "task_id": JOBS[0]["task_id"]},
        {"at": "2026-12-01T11:59:58Z", "level": "ERROR", "logger": "igny8d.handlers",
         "message": "unhandled error: OperationalError('could not serialize access')"},
        {"at": "2026-12-01T11:59:58Z", "level": "INFO", "logger": "igny8d.access",
         "message": "POST /api/v1/planner/keywords/auto_cluster/ 500 412.7ms"},
    ],
}


def _page(results: list[dict[str, Any]]) -> dict[str, Any]:
    return {"success": True, "count": len(results), "next": None, "previous": None,
            "results": results, "request_id": RID}


def _one(data: Any) -> dict[str, Any]:
    return {"success": True, "data": data, "request_id": RID}


def _answer(method: str, path: str, query: dict[str, list[str]],
            body: Any) -> tuple[int, dict[str, Any]]:
    """What the recorded server answered to one call (404 for anything not recorded)."""
    if path == "/api/v1/auth/login/":
        if body.get("password") != OPS_PASSWORD:
            return 401, {"success": False, "error": "Invalid credentials", "request_id": RID}
        return 200, _one({"user": {**USERS[0], "account": {"id": 1}}, "access": "a" * 40,
                          "refresh": "r" * 40, "access_expires_at": "2099-01-01T00:00:00Z",
                          "refresh_expires_at": "2099-01-08T00:00:00Z"})
    if path in ("/api/v1/auth/logout/", "/api/v1/system/ping/"):
        return 200, _one(None)
    if path == "/api/v1/auth/plans/":
        return 200, _page(PLANS)
    routes: dict[str, Any] = {
        "overview/": _one(OVERVIEW), "accounts/": _page(ACCOUNTS),
        "accounts/2/": _one(ACCOUNT_DETAIL), "users/": _page(USERS), "audit/": _page(AUDIT),
        "requests/": _page(REQUESTS), f"requests/{RID}/": _one(REQUEST_DETAIL),
        "auth_links/": _page(AUTH_LINKS),
        "jobs/": _page(JOBS),
        **{f"jobs/{j['task_id']}/": _one({**j, "payload": {
            "keyword_ids": [101, 102, 103], "sector_id": 7, "credits": CHARGED[j["task_id"]],
            "units": 3}, "result": None}) for j in JOBS},
    }
    links = {f"auth_links/{a['id']}/reissue/": a for a in AUTH_LINKS}
    if method == "POST" and path.removeprefix(f"{ADMIN}/") in links:
        old = links[path.removeprefix(f"{ADMIN}/")]
        return 200, _one({**old, "id": max(a["id"] for a in AUTH_LINKS) + 1,
                          "created_at": "2026-12-01T12:00:02Z",
                          "expires_at": "2026-12-08T12:00:02Z", "link": REISSUED_LINK})
    found = routes.get(path.removeprefix(f"{ADMIN}/")) if method == "GET" else None
    if found is None:
        return 404, {"success": False, "error": "Not found.", "request_id": RID}
    if path == f"{ADMIN}/jobs/" and query.get("state"):
        states = set(query["state"][0].split(","))
        found = _page([j for j in JOBS if j["state"] in states])
    return 200, found


def replay_transport() -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else {}
        status, answer = _answer(request.method, request.url.path,
                                 parse_qs(request.url.query.decode()), body)
        return httpx.Response(status, json=answer, headers={"X-Request-ID": RID})

    return httpx.MockTransport(handle)


def recorded_app(**kw: Any) -> ConsoleApp:
    """The console over the replay, polling off (a snapshot is one moment)."""
    return ConsoleApp(URL, OPS, poll_s=0,
                      client_factory=lambda url: AdminClient(url, transport=replay_transport()),
                      **kw)


async def settle(pilot: Pilot[None]) -> None:
    """Wait for the loads in flight (not for actions: those wait on their dialogs)."""
    for _ in range(2):
        loads = [w.wait() for w in pilot.app.workers if w.group != "action"]
        await asyncio.gather(*loads, return_exceptions=True)  # a cancelled one raises
        await pilot.pause()


async def log_in(pilot: Pilot[None]) -> None:
    await pilot.pause()
    pilot.app.screen.query_one("#password").value = OPS_PASSWORD  # type: ignore[attr-defined]
    await pilot.press("enter")
    for _ in range(100):
        if isinstance(pilot.app.screen, MainScreen):
            break
        await pilot.pause(0.02)
    assert isinstance(pilot.app.screen, MainScreen)
    await settle(pilot)
