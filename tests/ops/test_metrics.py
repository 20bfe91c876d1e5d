"""`GET /metrics` (parsed with prometheus_client's own parser) on both stores, who may scrape
it, and the metrics contract the admin API reads (`RequestMetric.route/throttled`,
`Metrics.summary`, `Metrics.log_lines`)."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from igny8d import __version__
from igny8d.app import make_app, server_for
from igny8d.context import AppContext, Metrics
from igny8d.handlers import api_routes
from igny8d.handlers.metrics import decide, is_loopback
from igny8d.jobs.registry import JobFailed
from igny8d.log import RequestLogRing
from igny8d.metrics import BUCKET_S, KEEP_S, UNMATCHED, TrafficWindow
from igny8d.openapi import build_document
from igny8d.permissions import Actor
from igny8d.services import billing
from igny8d.services import jobs as job_service
from tests.helpers.app import RunningApp, make_settings, start_app, stop_app
from tests.helpers.factories import account
from tests.helpers.paths import KEYWORDS as KW
from tests.helpers.paths import ME


async def scrape(base_url: str, headers: dict[str, str] | None = None) -> tuple[int, Any, str]:
    http = AsyncHTTPClient(force_instance=True)
    try:
        resp = await http.fetch(HTTPRequest(base_url + "/metrics", headers=headers or {}),
                                raise_error=False)
    finally:
        http.close()
    return resp.code, resp.headers, resp.body.decode()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the exposition by (name, sorted labels); parsing fails on bad text."""
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(found: dict[Any, float], name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


async def metrics_of(app: RunningApp) -> dict[Any, float]:
    code, headers, body = await scrape(app.base_url)
    assert code == 200, body
    assert headers["Content-Type"].startswith("text/plain; version=")
    return samples(body)


# -- the exposition ------------------------------------------------------------------------------


async def test_requests_are_counted_by_route_template_method_and_status(app, client):
    env = await account(client, "ann@example.com")
    token = env["token"]
    for _ in range(3):
        assert (await client.get(ME, token=token)).status == 200
    assert (await client.get(f"{KW}987654/", token=token)).status == 404
    assert (await client.get("/no/such/path/123", token=token)).status == 404
    assert (await client.request("BREW", ME, token=token)).status == 405
    before = await metrics_of(app)
    found = await metrics_of(app)

    total = "igny8d_http_requests_total"
    # me was also read once by owner_env
    assert value(found, total, route=ME, method="GET", status="200") == 4
    assert value(found, total, route="/api/v1/auth/register/", method="POST",
                 status="201") == 1
    assert value(found, total, route="/api/v1/planner/keywords/{id}/", method="GET",
                 status="404") == 1
    assert value(found, total, route=UNMATCHED, method="GET", status="404") == 1
    assert value(found, total, route=ME, method="OTHER", status="405") == 1
    labels = {dict(k[1]).get("route") for k in found if k[0] == total}
    assert not any("/no/such" in str(r) or "987654" in str(r) for r in labels), labels
    # the scrape is not counted in itself
    assert "/metrics" not in labels
    assert ({k: v for k, v in found.items() if k[0] == total}
            == {k: v for k, v in before.items() if k[0] == total})
    # every templated route label is a path of the OpenAPI document
    doc_paths = set(build_document(api_routes())["paths"])
    assert {r for r in labels if r != UNMATCHED} <= doc_paths, labels - doc_paths

    hist = "igny8d_http_request_duration_seconds"
    assert value(found, f"{hist}_count", route=ME, method="GET") == 4
    assert value(found, f"{hist}_bucket", route=ME, method="GET", le="+Inf") == 4
    assert 0 < value(found, f"{hist}_sum", route=ME, method="GET") < 60
    assert value(found, "igny8d_build_info", version=__version__) == 1
    assert value(found, "igny8d_database_up") == 1
    assert value(found, "process_resident_memory_bytes") > 0
    assert any(k[0] == "python_info" for k in found)


async def test_help_says_which_metrics_are_per_process(app):
    code, _, body = await scrape(app.base_url)
    assert code == 200
    helps = {f.name: f.documentation for f in text_string_to_metric_families(body)}
    for name in ("igny8d_http_requests", "igny8d_http_request_duration_seconds",
                 "igny8d_http_throttled", "igny8d_job_duration_seconds"):
        assert "this process only" in helps[name], helps[name]
    for name in ("igny8d_jobs", "igny8d_credits_charged", "igny8d_credits_refunded"):
        assert "every process answers the same value" in helps[name], helps[name]


async def test_jobs_and_credits_are_read_from_the_database(app, client):
    """A paid job as the AI actions queue one: charged in the submit's transaction, refunded
    by the kind's hook when cancelled."""
    app.ctx.jobs.register("test.paid", _never_runs, on_revoked=billing.refund_job,
                          on_failed=billing.refund_job)
    env = await account(client, "ann@example.com")
    actor = Actor(user_id=env["user_id"], account_id=env["account_id"], role="owner")
    found = await metrics_of(app)
    assert value(found, "igny8d_jobs", state="PENDING", kind="test.paid") == 0
    assert value(found, "igny8d_credits_charged_total", operation_type="clustering") == 0

    async with app.ctx.store.begin() as conn:  # the executor is not running: it stays queued
        job = await app.ctx.executor.submit(conn, actor, kind="test.paid", payload={})
        await billing.charge(conn, actor, amount=3, operation_type="clustering",
                             description="test", reference=str(job["task_id"]), units=3)
    found = await metrics_of(app)
    assert value(found, "igny8d_jobs", state="PENDING", kind="test.paid") == 1
    assert value(found, "igny8d_credits_charged_total", operation_type="clustering") == 3
    assert value(found, "igny8d_credits_refunded_total", operation_type="clustering") == 0
    assert value(found, "igny8d_credits_charged_total", operation_type="images") == 0

    # a second context (another process's view) reads the same numbers
    other = AppContext.build(app.ctx.settings)
    try:
        body, _ = await other.metrics.prom.render(other.store, other.jobs.names(), None)
        assert value(samples(body.decode()), "igny8d_credits_charged_total",
                     operation_type="clustering") == 3
    finally:
        await other.close()

    async with app.ctx.store.begin() as conn:
        await job_service.cancel(conn, actor, task_id=str(job["task_id"]), registry=app.ctx.jobs)
    found = await metrics_of(app)
    assert value(found, "igny8d_jobs", state="PENDING", kind="test.paid") == 0
    assert value(found, "igny8d_jobs", state="REVOKED", kind="test.paid") == 1
    assert value(found, "igny8d_credits_charged_total", operation_type="clustering") == 3
    assert value(found, "igny8d_credits_refunded_total", operation_type="clustering") == 3


async def _never_runs(job: Any, progress: Any) -> dict[str, Any]:
    raise AssertionError("no worker runs in this test")


async def test_a_database_that_does_not_answer_still_gives_process_metrics(tmp_path):
    settings = make_settings(tmp_path, "postgresql+asyncpg://postgres@127.0.0.1:1/none",
                             db_pool_size=1)
    running = await start_app(settings)
    try:
        found = await metrics_of(running)
        assert value(found, "igny8d_database_up") == 0
        assert not any(k[0] == "igny8d_jobs" for k in found)
        assert value(found, "process_resident_memory_bytes") > 0
    finally:
        await stop_app(running)


async def test_job_durations_by_kind_and_final_state(tmp_path, db_url):
    running = await start_app(make_settings(tmp_path, db_url, job_workers=2), executor=True)
    running.ctx.executor.poll_max = 0.1

    async def works(job: Any, progress: Any) -> dict[str, Any]:
        await asyncio.sleep(0.05)
        return {"ok": True}

    async def breaks(job: Any, progress: Any) -> dict[str, Any]:
        raise JobFailed("no luck")

    running.ctx.jobs.register("test.works", works)
    running.ctx.jobs.register("test.breaks", breaks)
    client = running.client()
    try:
        env = await account(client, "jobs@example.com")
        actor = Actor(user_id=env["user_id"], account_id=env["account_id"], role="owner")
        async with running.ctx.store.begin() as conn:
            for kind in ("test.works", "test.works", "test.breaks"):
                await running.ctx.executor.submit(conn, actor, kind=kind, payload={})
        found: dict[Any, float] = {}
        for _ in range(300):
            found = await metrics_of(running)
            if value(found, "igny8d_jobs", state="SUCCESS", kind="test.works") == 2 and \
                    value(found, "igny8d_jobs", state="FAILURE", kind="test.breaks") == 1:
                break
            await asyncio.sleep(0.05)
        found = await metrics_of(running)
        name = "igny8d_job_duration_seconds"
        assert value(found, f"{name}_count", kind="test.works", state="SUCCESS") == 2
        assert value(found, f"{name}_count", kind="test.breaks", state="FAILURE") == 1
        assert value(found, f"{name}_sum", kind="test.works", state="SUCCESS") >= 0.1
        # cumulative buckets, both in +Inf (which finite one depends on the machine's load)
        assert value(found, f"{name}_bucket", kind="test.works", state="SUCCESS",
                     le="+Inf") == 2
        # every registered kind shows every state, zeros included
        assert ("igny8d_jobs", (("kind", "test.works"), ("state", "PROGRESS"))) in found
    finally:
        client.close()
        await stop_app(running)


async def test_throttled_requests_by_scope(throttled_app):
    client = throttled_app.client()
    try:
        token = await client.owner("ann@example.com")
        statuses = []
        rid = None
        for _ in range(7):
            resp = await client.post("/api/v1/auth/change-password/", {}, token=token)
            statuses.append(resp.status)
            if resp.status == 429:
                rid = resp.headers["X-Request-ID"]
        assert statuses.count(429) == 2, statuses
        found = await metrics_of(throttled_app)
        assert value(found, "igny8d_http_throttled_total", scope="auth_strict") == 2
        assert value(found, "igny8d_http_requests_total",
                     route="/api/v1/auth/change-password/", method="POST", status="429") == 2
        metric = throttled_app.ctx.metrics.find(rid)
        assert metric is not None and metric.throttled is True
        assert metric.route == "/api/v1/auth/change-password/"
        assert throttled_app.ctx.metrics.summary(60)["throttled"] == 2
        # Basic guesses are throttled outside the endpoint's scope: counted as `auth`
        for i in range(25):
            await client.get(ME, basic=("ann@example.com", f"guess-{i}"))
        found = await metrics_of(throttled_app)
        assert value(found, "igny8d_http_throttled_total", scope="auth") >= 1
        # /metrics itself is never throttled (the system scope allows 100/minute)
        codes = [(await scrape(throttled_app.base_url))[0] for _ in range(110)]
        assert set(codes) == {200}
    finally:
        client.close()


# -- who may scrape ------------------------------------------------------------------------------


@pytest.mark.parametrize(("token", "peer", "auth", "expected"), [
    (None, "127.0.0.1", None, "ok"),
    (None, "127.8.9.10", None, "ok"),
    (None, "::1", None, "ok"),
    (None, "::ffff:127.0.0.1", None, "ok"),
    (None, "10.0.0.5", None, "hidden"),
    (None, "::ffff:10.0.0.5", None, "hidden"),
    (None, "", None, "hidden"),
    (None, "10.0.0.5", "Bearer anything", "hidden"),
    ("s3cret-token", "127.0.0.1", None, "unauthorized"),
    ("s3cret-token", "10.0.0.5", "Bearer s3cret-token", "ok"),
    ("s3cret-token", "10.0.0.5", "bearer  s3cret-token", "ok"),
    ("s3cret-token", "127.0.0.1", "Bearer s3cret-tokenX", "unauthorized"),
    ("s3cret-token", "127.0.0.1", "Basic s3cret-token", "unauthorized"),
    ("s3cret-token", "127.0.0.1", "Bearer", "unauthorized"),
])
def test_access_rule(token: str | None, peer: str, auth: str | None, expected: str) -> None:
    assert decide(token, peer, auth) == expected


def test_loopback_addresses() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("[::1]")
    assert not is_loopback("192.0.2.1") and not is_loopback("localhost")


async def test_token_protects_the_scrape(tmp_path, db_url):
    running = await start_app(make_settings(tmp_path, db_url, metrics_token="m" * 40))
    try:
        for headers in ({}, {"Authorization": "Bearer wrong"},
                        {"Authorization": "Basic " + "m" * 40}):
            code, resp_headers, body = await scrape(running.base_url, headers)
            assert code == 401, body
            assert resp_headers["Content-Type"].startswith("text/plain")
            assert resp_headers["WWW-Authenticate"].startswith("Bearer")
            assert "igny8d_" not in body
        code, _, body = await scrape(running.base_url, {"Authorization": "Bearer " + "m" * 40})
        assert code == 200
        assert "igny8d_build_info" in body
    finally:
        await stop_app(running)


async def test_other_methods_are_refused(app):
    http = AsyncHTTPClient(force_instance=True)
    try:
        resp = await http.fetch(HTTPRequest(app.base_url + "/metrics", method="POST", body=b""),
                                raise_error=False)
        assert resp.code == 405 and resp.headers["Allow"] == "GET, HEAD"
        resp = await http.fetch(HTTPRequest(app.base_url + "/metrics", method="HEAD"),
                                raise_error=False)
        assert resp.code == 200 and not resp.body
    finally:
        http.close()


def _non_loopback_address() -> str | None:
    """An address of this machine that is not loopback (the test needs a real peer)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("192.0.2.254", 9))  # no packet is sent for a UDP connect
        except OSError:
            return None
        addr = str(sock.getsockname()[0])
    return None if is_loopback(addr) or addr == "0.0.0.0" else addr


@pytest.fixture
async def remote_app(tmp_path: Path, db_url: str) -> AsyncIterator[RunningApp]:
    """An app on a non-loopback address of this machine, behind a 'trusted proxy' there:
    a client connecting to it has a non-loopback peer."""
    addr = _non_loopback_address()
    if addr is None:
        pytest.skip("this machine has no non-loopback address")
    settings = make_settings(tmp_path, db_url, trusted_proxies=(addr,))
    ctx = AppContext.build(settings)
    sockets = bind_sockets(0, addr)
    server: HTTPServer = server_for(make_app(ctx), settings)
    server.add_sockets(sockets)
    running = RunningApp(ctx, server, sockets[0].getsockname()[1])
    running.base_url = f"http://{addr}:{running.port}"
    yield running
    await stop_app(running)


async def test_without_a_token_other_peers_get_the_unknown_path_404(remote_app):
    http = AsyncHTTPClient(force_instance=True)
    try:
        unknown = await http.fetch(remote_app.base_url + "/no-such-thing", raise_error=False)
        for headers in ({}, {"X-Forwarded-For": "127.0.0.1"}, {"X-Real-Ip": "127.0.0.1"},
                        {"X-Forwarded-For": "::1, 127.0.0.1"}):
            resp = await http.fetch(HTTPRequest(remote_app.base_url + "/metrics",
                                                headers=headers), raise_error=False)
            assert resp.code == 404
            assert resp.headers["Content-Type"] == unknown.headers["Content-Type"]
            body, expected = json.loads(resp.body), json.loads(unknown.body)
            assert uuid.UUID(body.pop("request_id")) and expected.pop("request_id")
            assert body == expected
            assert resp.headers["X-Request-ID"]
    finally:
        http.close()


# -- the contract the admin API reads --------------------------------------------------------------


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_summary_buckets_series_and_percentiles() -> None:
    clock = Clock(1_000_000.0)
    window = TrafficWindow(clock)
    durations = [float(d) for d in range(1, 101)]  # 1..100 ms
    for i, ms in enumerate(durations):
        status = 500 if i % 10 == 0 else (404 if i % 10 == 1 else 200)
        window.add(status, ms, throttled=(i % 25 == 0))
    clock.t += 25  # two buckets later, one more request
    window.add(302, 7.0, throttled=False)
    clock.t += 3

    out = window.summary(60, started=clock.t - 1000)
    assert out["window_s"] == 60
    assert out["requests"] == 101
    assert out["by_class"] == {"2xx": 80, "3xx": 1, "4xx": 10, "5xx": 10}
    assert out["error_rate"] == round(10 / 101, 4)
    assert out["throttled"] == 4
    exact = sorted([*durations, 7.0])
    p50 = exact[math.ceil(0.5 * 101) - 1]
    p99 = exact[math.ceil(0.99 * 101) - 1]
    assert abs(out["p50_ms"] - p50) <= 0.025 * p50
    assert abs(out["p99_ms"] - p99) <= 0.025 * p99
    series = out["series"]
    assert len(series) == 6
    starts = [s["t"] for s in series]
    assert starts == sorted(starts) and all(t % BUCKET_S == 0 for t in starts)
    assert starts[-1] == int(clock.t // BUCKET_S * BUCKET_S)
    assert sum(s["requests"] for s in series) == 101
    assert [s["requests"] for s in series if s["requests"]] == [100, 1]
    first = next(s for s in series if s["requests"] == 100)
    assert first["errors"] == 10 and first["throttled"] == 4
    last = next(s for s in series if s["requests"] == 1)
    assert last["p50_ms"] == last["p99_ms"] == 7.0  # one value: exact
    empty = next(s for s in series if not s["requests"])
    assert empty["p50_ms"] == 0.0 and empty["errors"] == 0
    # requests/s over the time the window covers
    span = clock.t - starts[0]
    assert out["requests_per_s"] == round(101 / span, 3)
    # a process younger than the window divides by its age
    young = window.summary(3600, started=clock.t - 50)
    assert young["requests_per_s"] == round(101 / 50, 3)
    assert len(young["series"]) == KEEP_S // BUCKET_S


def test_summary_memory_is_bounded_to_an_hour() -> None:
    clock = Clock(5_000_000.0)
    window = TrafficWindow(clock)
    for _ in range(2 * KEEP_S // BUCKET_S):
        window.add(200, 3.0, throttled=False)
        clock.t += BUCKET_S
    assert len(window._buckets) <= KEEP_S // BUCKET_S + 1
    out = window.summary(99_999, started=0)
    assert out["window_s"] == KEEP_S
    # the window is the current bucket (empty: the clock moved on) and the 359 before it
    assert out["requests"] == KEEP_S // BUCKET_S - 1
    assert window.summary(0, started=0)["window_s"] == BUCKET_S
    nothing = TrafficWindow(clock).summary(300, started=clock.t - 10)
    assert nothing["requests"] == 0 and nothing["p99_ms"] == 0.0
    assert nothing["error_rate"] == 0.0


async def test_summary_and_request_records_through_http(app, client):
    token = await client.owner("ann@example.com")
    rids = []
    for _ in range(4):
        resp = await client.get(ME, token=token)
        rids.append(resp.headers["X-Request-ID"])
    await client.get("/nowhere/", token=token)
    out = app.ctx.metrics.summary(300)
    assert out["requests"] == 7  # register, login, 4 x me, the 404
    assert out["by_class"]["2xx"] == 6 and out["by_class"]["4xx"] == 1
    assert out["p50_ms"] > 0 and out["p99_ms"] >= out["p50_ms"]
    assert len(out["series"]) == 30
    assert set(out) == {"window_s", "requests", "requests_per_s", "error_rate", "p50_ms",
                        "p99_ms", "throttled", "by_class", "series"}
    metric = app.ctx.metrics.find(rids[0])
    assert metric is not None
    assert (metric.route, metric.throttled) == (ME, False)
    assert app.ctx.metrics.recent[-1].route == UNMATCHED
    # the per-account request lookup shows the new fields too
    resp = await client.get(f"/api/v1/system/request-metrics/{rids[0]}/", token=token)
    assert resp.status == 200
    assert resp.data["route"] == ME and resp.data["throttled"] is False


async def test_log_lines_by_request_id(app, client, caplog):
    caplog.set_level(logging.INFO, logger="igny8d")
    token = await client.owner("ann@example.com")
    resp = await client.get(ME, token=token)
    rid = resp.headers["X-Request-ID"]
    lines = app.ctx.metrics.log_lines(rid)
    access = [line for line in lines if line["logger"] == "igny8d.access"]
    assert len(access) == 1, lines
    line = access[0]
    assert line["level"] == "INFO" and line["message"].startswith("200 GET /api/v1/auth/me/")
    assert line["status"] == 200 and line["path"] == ME
    assert str(line["at"]).endswith("Z")
    assert "request_id" not in line
    assert app.ctx.metrics.log_lines(str(uuid.uuid4())) == []


async def test_log_lines_leave_with_their_request(tmp_path):
    """The ring drops a request's lines when the request leaves the request ring; the log
    ring is bounded by itself too (lines per request, requests)."""
    ring = RequestLogRing(per_request=3, max_requests=2)
    logger = logging.getLogger("igny8d.test_ring")
    logger.addHandler(ring)
    logger.setLevel(logging.DEBUG)
    try:
        for i in range(5):
            logger.info("line %s", i, extra={"request_id": "a", "api_token": "xyz",
                                             "nested": {"password": "p", "n": i}})
        lines = ring.lines("a")
        assert [x["message"] for x in lines] == ["line 2", "line 3", "line 4"]
        assert lines[0]["api_token"] == "***"
        assert lines[0]["nested"] == {"password": "***", "n": 2}
        logger.warning("b", extra={"request_id": "b"})
        logger.warning("c", extra={"request_id": "c"})
        assert ring.lines("a") == []  # the least recently logging request went first
        assert [x["message"] for x in ring.lines("c")] == ["c"]
    finally:
        logger.removeHandler(ring)

    metrics = Metrics(ring_size=2, log_ring=ring)

    class FakeRequest:
        method = "GET"
        path = "/x"

        def request_time(self) -> float:
            return 0.001

    class FakeHandler:
        principal = None
        request = FakeRequest()

        def __init__(self, rid: str) -> None:
            self.request_id = rid

        def get_status(self) -> int:
            return 200

    ring.clear()
    logger.addHandler(ring)
    try:
        for rid in ("r1", "r2"):
            logger.warning("hello", extra={"request_id": rid})
            metrics.record(FakeHandler(rid))
        assert metrics.log_lines("r1")[0]["message"] == "hello"
        metrics.record(FakeHandler("r3"))
        assert metrics.find("r1") is None
        assert metrics.log_lines("r1") == [] and ring.lines("r1") == []
        assert metrics.log_lines("r2")
        # a reused request id keeps the newer record when the older leaves
        metrics.record(FakeHandler("r2"))
        metrics.record(FakeHandler("r4"))
        assert metrics.find("r2") is not None
    finally:
        logger.removeHandler(ring)


async def test_openmetrics_when_the_scraper_asks_for_it(app):
    code, headers, body = await scrape(app.base_url, {
        "Accept": "application/openmetrics-text;version=1.0.0,text/plain;q=0.5"})
    assert code == 200
    assert headers["Content-Type"].startswith("application/openmetrics-text")
    assert body.rstrip().endswith("# EOF")
    assert 'igny8d_build_info{version="' in body
