"""Sentry against a local fake ingest server (tests/helpers/fake_sentry.py): an unexpected
exception is exactly one event with the request id tag and the user and account ids and none of
the request's credentials; expected errors (4xx, domain errors) send nothing; traces are
scrubbed too; and Sentry is off again after each test."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import sentry_sdk
from sqlalchemy import select

from igny8d import __version__
from igny8d.errors import Conflict, Unavailable
from igny8d.handlers import auth as auth_handlers
from igny8d.jobs.registry import Job
from igny8d.sentry import FILTERED, close_sentry, init_sentry, scrub
from tests.helpers.app import RunningApp, make_settings, start_app, stop_app
from tests.helpers.client import PASSWORD
from tests.helpers.fake_sentry import FakeSentry, parse_envelope
from tests.helpers.paths import ME

JWT = ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
       "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c")


class Secrets(dict[str, str]):
    """Secret values made at run time: the events carry source lines of the test itself, so
    a secret written literally in this file would be found there."""

    def __missing__(self, name: str) -> str:
        value = self[name] = f"{name}-{uuid.uuid4().hex}"
        return value


@pytest.fixture
def fake() -> Iterator[FakeSentry]:
    server = FakeSentry()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def sentry_rate() -> float:
    return 0.0


@pytest.fixture
async def sentry_app(tmp_path: Path, db_url: str, fake: FakeSentry,
                     sentry_rate: float) -> AsyncIterator[RunningApp]:
    settings = make_settings(tmp_path, db_url, sentry_dsn=fake.dsn,
                             sentry_environment="test-env",
                             sentry_traces_sample_rate=sentry_rate)
    assert init_sentry(settings)
    running = await start_app(settings)
    try:
        yield running
    finally:
        await stop_app(running)
        close_sentry()
    assert not sentry_sdk.get_client().is_active()


async def flush() -> None:
    """Wait until the SDK delivered what it queued (from a thread: the app's loop goes on)."""
    await asyncio.to_thread(sentry_sdk.flush, 10)


async def account(app: RunningApp, email: str = "ann@example.com") -> dict[str, Any]:
    client = app.client()
    try:
        token = await client.owner(email)
        me = (await client.get(ME, token=token)).data["user"]
    finally:
        client.close()
    return {"token": token, "user_id": me["id"], "account_id": me["account_id"]}


def fail_me_with(monkeypatch: pytest.MonkeyPatch, exc: BaseException,
                 secret: Secrets | None = None) -> None:
    """`auth/me` raises `exc` after logging a line full of secrets (a breadcrumb)."""
    secret = secret if secret is not None else Secrets()

    async def broken(conn: Any, actor: Any) -> Any:
        logging.getLogger("igny8d.test").warning(
            "about to fail with Bearer %s", secret["crumb1"],
            extra={"refresh_token": secret["crumb2"], "note": f"jwt {JWT}",
                   "detail": {"password": secret["crumb3"], "n": 1}})
        raise exc

    monkeypatch.setattr(auth_handlers.sessions, "me", broken)


async def test_an_unexpected_error_is_one_scrubbed_event(sentry_app, fake, monkeypatch):
    who = await account(sentry_app)
    secret = Secrets()
    fail_me_with(monkeypatch, RuntimeError("the database exploded"), secret)
    client = sentry_app.client()
    try:
        resp = await client.get(
            f"{ME}?token={secret['query1']}&page=2&api_key={secret['query2']}",
            token=who["token"], headers={
                "Cookie": f"igny8d_session={secret['cookie']}; theme=dark",
                "X-Api-Key": secret["apikey"], "X-Refresh-Token": secret["refresh"]})
    finally:
        client.close()
    assert resp.status == 500
    rid = resp.headers["X-Request-ID"]
    await flush()

    events = fake.events()
    assert len(events) == 1, events
    event = events[0]
    assert event["tags"]["request_id"] == rid
    assert event["tags"]["account_id"] == str(who["account_id"])
    assert event["tags"]["route"] == ME
    assert event["user"] == {"id": str(who["user_id"])}
    assert event["environment"] == "test-env"
    assert event["release"] == f"igny8d@{__version__}"
    (exc,) = event["exception"]["values"]
    assert exc["type"] == "RuntimeError" and exc["value"] == "the database exploded"
    assert all("vars" not in f for f in exc["stacktrace"]["frames"])
    request = event["request"]
    assert request["method"] == "GET" and request["url"].endswith(ME)
    headers = {k.lower(): v for k, v in request["headers"].items()}
    for name in ("authorization", "cookie", "x-api-key", "x-refresh-token"):
        assert headers.get(name) in (None, FILTERED, ""), (name, headers.get(name))
    assert "page=2" in request.get("query_string", "page=2")
    crumbs = [c for c in event["breadcrumbs"]["values"] if c.get("category") == "igny8d.test"]
    assert len(crumbs) == 1
    assert crumbs[0]["data"]["refresh_token"] == FILTERED
    assert crumbs[0]["data"]["detail"] == {"password": FILTERED, "n": 1}
    assert crumbs[0]["data"]["note"] == f"jwt {FILTERED}"
    assert crumbs[0]["message"] == f"about to fail with Bearer {FILTERED}"

    everything = fake.everything()
    assert len(secret) == 8
    for value in (who["token"], *secret.values(), PASSWORD, "ann@example.com"):
        assert value.encode() not in everything, value


async def test_expected_errors_send_nothing(sentry_app, fake, monkeypatch):
    who = await account(sentry_app)
    client = sentry_app.client()
    try:
        assert (await client.get("/api/v1/no/such/thing/")).status == 404
        assert (await client.get("/api/v1/planner/keywords/99999/",
                                 token=who["token"])).status == 404
        bad = await client.request("POST", "/api/v1/auth/login/", body="{not json",
                                   headers={"Content-Type": "application/json"})
        assert bad.status == 400
        assert (await client.get(ME)).status == 401
        assert (await client.post("/api/v1/auth/login/", {
            "email": "ann@example.com", "password": "wrong-password-1"})).status == 401
        for exc, status in ((Unavailable("The database is busy."), 503),
                            (Conflict("No."), 409)):
            fail_me_with(monkeypatch, exc)
            assert (await client.get(ME, token=who["token"])).status == status
        await flush()
        assert fake.events() == []
        # the pipe works: an unexpected one right after is sent
        fail_me_with(monkeypatch, KeyError("boom"))
        assert (await client.get(ME, token=who["token"])).status == 500
    finally:
        client.close()
    await flush()
    assert [e["exception"]["values"][0]["type"] for e in fake.events()] == ["KeyError"]


@pytest.mark.parametrize("sentry_rate", [1.0])
async def test_traces_are_scrubbed_and_tagged(sentry_app, fake):
    who = await account(sentry_app)
    secret = Secrets()
    client = sentry_app.client()
    try:
        resp = await client.get(f"{ME}?access={secret['query']}", token=who["token"],
                                headers={"Cookie": f"igny8d_session={secret['cookie']}"})
    finally:
        client.close()
    assert resp.status == 200
    await flush()
    mine = [t for t in fake.transactions()
            if t.get("tags", {}).get("request_id") == resp.headers["X-Request-ID"]]
    assert len(mine) == 1, fake.transactions()
    assert mine[0]["tags"]["route"] == ME
    everything = fake.everything()
    for value in (who["token"], *secret.values()):
        assert value.encode() not in everything, value
    assert fake.events() == []


async def test_an_unexpected_job_failure_is_one_tagged_event(sentry_app, fake):
    """A job that raises an unexpected exception is reported once, tagged with its task id,
    kind and account; readable failures (JobFailed, domain and provider errors) are not;
    nothing of the payload is sent."""
    from igny8d.ai.types import ProviderError
    from igny8d.jobs.registry import JobFailed
    from igny8d.permissions import Actor
    from igny8d.store import jobs as job_store
    from igny8d.store.schema import jobs

    ctx = sentry_app.ctx
    who = await account(sentry_app)
    secret = Secrets()
    failures: dict[str, BaseException] = {
        "test.boom": RuntimeError("the renderer exploded"),
        "test.readable": JobFailed("The provider rejected the API key."),
        "test.domain": Conflict("Already done."),
        "test.provider": ProviderError("The AI provider timed out."),
    }

    def failing(exc: BaseException) -> Any:
        async def run(job: Any, progress: Any) -> None:
            logging.getLogger("igny8d.test").warning("job log with Bearer %s", secret["crumb"])
            raise exc
        return run

    for kind, exc in failures.items():
        ctx.jobs.register(kind, failing(exc))
    actor = Actor(user_id=who["user_id"], account_id=who["account_id"], role="owner")
    task_ids: dict[str, str] = {}
    async with ctx.store.begin() as conn:
        for kind in failures:
            out = await ctx.executor.submit(conn, actor, kind=kind, payload={
                "api_key": secret["payload_key"], "note": secret["payload_note"]})
            task_ids[kind] = str(out["task_id"])
    ctx.executor.poll_max = 0.2
    await ctx.executor.start()

    async def all_failed() -> bool:
        async with ctx.store.read() as conn:
            states = (await conn.execute(select(jobs.c.state).where(
                jobs.c.task_id.in_(list(task_ids.values()))))).scalars().all()
        return list(states) == [job_store.FAILURE] * len(task_ids)

    deadline = asyncio.get_running_loop().time() + 15
    while not await all_failed():
        assert asyncio.get_running_loop().time() < deadline, "jobs did not fail in time"
        await asyncio.sleep(0.05)
    await flush()

    events = fake.events()
    assert len(events) == 1, events
    event = events[0]
    assert {k: event["tags"][k] for k in ("task_id", "kind", "account_id")} == {
        "task_id": task_ids["test.boom"], "kind": "test.boom",
        "account_id": str(who["account_id"])}
    (exc,) = event["exception"]["values"]
    assert exc["type"] == "RuntimeError" and exc["value"] == "the renderer exploded"
    assert all("vars" not in f for f in exc["stacktrace"]["frames"])
    assert "user" not in event or event["user"] == {}
    everything = fake.everything()
    for value in secret.values():
        assert value.encode() not in everything, value


def test_job_errors_are_a_no_op_while_off():
    from igny8d.sentry import capture_job_error

    assert not sentry_sdk.get_client().is_active()
    job = Job(id=1, task_id="t", account_id=1, user_id=None, kind="k", payload={}, attempts=1,
              max_attempts=3, created_at=dt.datetime.now(dt.UTC))
    capture_job_error(RuntimeError("x"), job)  # no SDK call


def test_no_dsn_means_off(tmp_path):
    assert init_sentry(make_settings(tmp_path, "sqlite+aiosqlite:///x.db")) is False
    assert not sentry_sdk.get_client().is_active()
    close_sentry()  # harmless when off


def test_scrub_walks_headers_bodies_queries_and_strings():
    event = {
        "request": {
            "headers": {"Authorization": "Bearer abcdefgh123", "X-Api-Key": "k1",
                        "Accept": "application/json", "Set-Cookie": "a=b"},
            "cookies": {"igny8d_session": "c1"},
            "query_string": "page=1&token=t1&refresh=r1&q=espresso",
            "data": json.dumps({"email": "a@b.c", "password": "p1",
                                "nested": [{"api_key": "k2", "ok": 1}]}),
            "url": "http://h/api/v1/x/?access=a1&page=2",
        },
        "extra": {"pairs": [["Authorization", "Basic dXNlcjpwYXNz"], ["Accept", "*/*"]],
                  "form": None},
        "breadcrumbs": {"values": [{"message": f"got {JWT} and token abcdefghijk",
                                    "data": {"client_secret": "s1", "x": [1, 2]}}]},
    }
    out = scrub(event)
    req = out["request"]
    assert req["headers"] == {"Authorization": FILTERED, "X-Api-Key": FILTERED,
                              "Accept": "application/json", "Set-Cookie": FILTERED}
    assert req["cookies"] == FILTERED
    assert req["query_string"] == "page=1&token=***&refresh=***&q=espresso"
    body = json.loads(req["data"])
    assert body == {"email": "a@b.c", "password": FILTERED,
                    "nested": [{"api_key": FILTERED, "ok": 1}]}
    assert req["url"] == "http://h/api/v1/x/?access=***&page=2"
    assert out["extra"]["pairs"] == [["Authorization", FILTERED], ["Accept", "*/*"]]
    crumb = out["breadcrumbs"]["values"][0]
    assert JWT not in crumb["message"] and "abcdefghijk" not in crumb["message"]
    assert crumb["data"] == {"client_secret": FILTERED, "x": [1, 2]}
    assert scrub({"data": "user=a&password=p2"})["data"] == "user=a&password=***"
    deep: Any = "Bearer zzzzzzzzzz"
    for _ in range(40):
        deep = {"k": deep}
    assert "zzzzzzzzzz" not in json.dumps(scrub(deep))
    assert event["request"]["cookies"] == {"igny8d_session": "c1"}  # a copy, not in place


def test_envelope_parser_reads_items_with_and_without_length():
    data = (b'{"event_id":"x"}\n{"type":"event","length":9}\n{"a": 1}\n\n'
            b'{"type":"client_report"}\n{"b":2}\n')
    header, items = parse_envelope(data)
    assert header == {"event_id": "x"}
    assert [(i.type, i.payload) for i in items] == [("event", {"a": 1}),
                                                   ("client_report", {"b": 2})]
