"""Idempotency-Key on AI actions and creates (issue 15 item 6), through HTTP on both stores:
a retry answers the first answer and pays once, another request with the key is a 409,
keys are per user and account, errors are not kept, ten concurrent retries make one job,
expired keys are replaced and purged, and the document names the header."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

from sqlalchemy import func, select, update

from igny8d.scheduler import purge_idempotency_keys
from igny8d.services.idempotency import fingerprint, parse_key
from igny8d.store.schema import accounts, idempotency_keys, keywords
from tests.helpers.factories import ESPRESSO, account, add_keywords
from tests.helpers.jobs import accepted, job_count
from tests.helpers.paths import AUTO_CLUSTER as AUTO
from tests.helpers.paths import KEYWORDS
from tests.helpers.reads import credits

KEY = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"


async def _setup(client: Any, email: str) -> tuple[dict[str, Any], dict[str, Any]]:
    env = await account(client, email)
    ids = await add_keywords(client, env, ESPRESSO[:3])
    return env, {"ids": ids, "sector_id": env["sector"]["id"]}


async def _keys(app: Any) -> int:
    async with app.ctx.store.read() as conn:
        return int((await conn.execute(
            select(func.count()).select_from(idempotency_keys))).scalar_one())


async def test_retried_ai_action_answers_the_first_answer_and_pays_once(app, client):
    env, body = await _setup(client, "idem@example.com")
    token = env["token"]
    before = await credits(client, token)
    first = await client.post(AUTO, body, token=token, headers={KEY: "retry-1"})
    task_id = accepted(first)
    assert REPLAYED not in first.headers
    paid = await credits(client, token)
    assert paid < before

    # the same request, its keys in another order and spaced differently
    raw = json.dumps({"sector_id": body["sector_id"], "ids": body["ids"]}, indent=2)
    again = await client.request("POST", AUTO, body=raw, token=token, headers={
        KEY: "retry-1", "Content-Type": "application/json"})
    assert accepted(again) == task_id
    assert again.headers[REPLAYED] == "true"
    assert again.data == first.data and again.json["message"] == first.json["message"]
    assert again.json["request_id"] != first.json["request_id"]  # a new request's id
    assert await credits(client, token) == paid
    assert await job_count(app) == 1

    # without a key, the same request is a new job (and charged again)
    fresh = await client.post(AUTO, body, token=token)
    assert accepted(fresh) != task_id
    assert await job_count(app) == 2


async def test_same_key_with_another_request_is_409_and_does_nothing(app, client):
    env, body = await _setup(client, "idem409@example.com")
    token = env["token"]
    accepted(await client.post(AUTO, body, token=token, headers={KEY: "k"}))
    paid = await credits(client, token)

    other = await client.post(AUTO, {**body, "ids": body["ids"][:2]}, token=token,
                              headers={KEY: "k"})
    assert other.status == 409, other.json
    assert other.json["success"] is False and KEY in other.errors
    # the key on another path (a create) is another request too
    create = await client.post(KEYWORDS, {"keyword": "x espresso", "site_id":
                                          env["site"]["id"], "sector_id": env["sector"]["id"]},
                               token=token, headers={KEY: "k"})
    assert create.status == 409, create.json
    assert await credits(client, token) == paid and await job_count(app) == 1


async def test_keys_are_per_account(app, client):
    ann, body_a = await _setup(client, "ann-idem@example.com")
    bob, body_b = await _setup(client, "bob-idem@example.com")
    first = accepted(await client.post(AUTO, body_a, token=ann["token"],
                                       headers={KEY: "shared"}))
    other = await client.post(AUTO, body_b, token=bob["token"], headers={KEY: "shared"})
    assert accepted(other) != first and REPLAYED not in other.headers
    assert await job_count(app) == 2


async def test_keys_are_per_user_within_an_account(app, client):
    ann, body = await _setup(client, "ann-user-idem@example.com")
    eve = await client.member(ann["token"], "eve-user-idem@example.com", "editor")
    first = accepted(await client.post(AUTO, body, token=ann["token"],
                                       headers={KEY: "shared"}))
    other = await client.post(AUTO, body, token=eve, headers={KEY: "shared"})
    assert accepted(other) != first and REPLAYED not in other.headers
    assert await job_count(app) == 2


async def test_malformed_key_is_400(app, client):
    env, body = await _setup(client, "idem400@example.com")
    for bad in ("x" * 256, "é-key"):
        resp = await client.post(AUTO, body, token=env["token"],
                                 headers={KEY: bad.encode().decode("latin-1")})
        assert resp.status == 400, (bad, resp.json)
        assert KEY in resp.errors
    ok = await client.post(AUTO, body, token=env["token"], headers={KEY: "k" * 255})
    accepted(ok)
    assert await job_count(app) == 1


async def test_errors_are_not_kept(app, client):
    """A 402 (balance short) keeps nothing: after a top-up the same key runs; a 400 the
    same (the corrected body may reuse the key)."""
    env, body = await _setup(client, "idem402@example.com")
    token = env["token"]
    async with app.ctx.store.begin() as conn:
        await conn.execute(update(accounts).where(accounts.c.id == env["account_id"])
                           .values(credits=0))
    short = await client.post(AUTO, body, token=token, headers={KEY: "topup"})
    assert short.status == 402, short.json
    assert await _keys(app) == 0 and await job_count(app) == 0
    async with app.ctx.store.begin() as conn:
        await conn.execute(update(accounts).where(accounts.c.id == env["account_id"])
                           .values(credits=100))
    accepted(await client.post(AUTO, body, token=token, headers={KEY: "topup"}))

    sector = env["sector"]
    bad = await client.post(KEYWORDS, {"keyword": "", "site_id": sector["site_id"],
                                       "sector_id": sector["id"]}, token=token,
                            headers={KEY: "kw"})
    assert bad.status == 400
    good = await client.post(KEYWORDS, {"keyword": "espresso beans", "site_id":
                                        sector["site_id"], "sector_id": sector["id"]},
                             token=token, headers={KEY: "kw"})
    assert good.status == 201, good.json


async def test_retried_create_makes_one_row(app, client):
    env = await account(client, "idemcreate@example.com")
    sector = env["sector"]
    body = {"keyword": "espresso grinder", "volume": 10, "site_id": sector["site_id"],
            "sector_id": sector["id"]}
    first = await client.post(KEYWORDS, body, token=env["token"], headers={KEY: "create-1"})
    assert first.status == 201, first.json
    again = await client.post(KEYWORDS, body, token=env["token"], headers={KEY: "create-1"})
    assert again.status == 201 and again.headers[REPLAYED] == "true"
    assert again.data == first.data
    async with app.ctx.store.read() as conn:
        rows = (await conn.execute(select(func.count()).select_from(keywords)
                                   .where(keywords.c.keyword == "espresso grinder"))).scalar_one()
    assert rows == 1


async def test_ten_concurrent_retries_make_one_job(app, client):
    """Ten identical requests at once: one job, one charge, ten identical 202s (the others
    wait on the first's key and replay its answer)."""
    env, body = await _setup(client, "idemrace@example.com")
    token = env["token"]
    before = await credits(client, token)
    resps = await asyncio.gather(*(client.post(AUTO, body, token=token,
                                               headers={KEY: "race"}) for _ in range(10)))
    assert {r.status for r in resps} == {202}, [r.json for r in resps]
    assert len({accepted(r) for r in resps}) == 1
    assert sum(1 for r in resps if REPLAYED not in r.headers) == 1
    assert await job_count(app) == 1
    charged = before - await credits(client, token)
    once = await client.post(AUTO, body, token=token)  # the price of one, for comparison
    accepted(once)
    assert before - charged - await credits(client, token) == charged


async def test_expired_key_runs_again_and_is_purged(app, client):
    env, body = await _setup(client, "idemexp@example.com")
    token = env["token"]
    first = accepted(await client.post(AUTO, body, token=token, headers={KEY: "old"}))
    past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    async with app.ctx.store.begin() as conn:
        await conn.execute(update(idempotency_keys).values(expires_at=past))
    again = await client.post(AUTO, body, token=token, headers={KEY: "old"})
    assert accepted(again) != first and REPLAYED not in again.headers
    assert await _keys(app) == 1
    async with app.ctx.store.begin() as conn:
        await conn.execute(update(idempotency_keys).values(expires_at=past))
    assert await purge_idempotency_keys(app.ctx) == 1
    assert await _keys(app) == 0


async def test_document_names_the_header(app, client):
    resp = await client.get("/api/schema/")
    doc = json.loads(resp.body)

    def header(path: str, method: str) -> list[dict[str, Any]]:
        op = doc["paths"][path][method]
        return [p for p in op["parameters"] if p["in"] == "header" and p["name"] == KEY]

    assert header(AUTO, "post") and header(KEYWORDS, "post")
    assert "409" in doc["paths"][AUTO]["post"]["responses"]
    assert not header(KEYWORDS, "get")


def test_fingerprint_and_key_rules():
    a = fingerprint("POST", "/p/", b'{"a": 1, "b": [1, 2]}')
    assert a == fingerprint("post", "/p/", b'{"b":[1,2],"a":1}')
    assert a != fingerprint("POST", "/q/", b'{"a": 1, "b": [1, 2]}')
    assert a != fingerprint("POST", "/p/", b'{"a": 1, "b": [2, 1]}')
    assert fingerprint("POST", "/p/", b"not json") != fingerprint("POST", "/p/", b"not jsoN")
    assert parse_key(None) is None and parse_key("a b~") == "a b~"
    for bad in ("", "   ", "x" * 256, "tab\there", "é"):
        try:
            parse_key(bad)
        except Exception as exc:
            assert type(exc).__name__ == "ValidationFailed"
        else:
            raise AssertionError(bad)


async def test_a_failure_keeping_the_answer_undoes_the_charge_and_the_job(app, client,
                                                                          monkeypatch):
    """The key, the job and the charge are one transaction: when keeping the answer fails
    (as a crash would), there is no job, no charge and no key; the retry then runs once."""
    from igny8d.store import idempotency as key_store

    env, body = await _setup(client, "idemcrash@example.com")
    token = env["token"]
    before = await credits(client, token)
    real = key_store.answer

    async def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the process died here")

    monkeypatch.setattr(key_store, "answer", broken)
    resp = await client.post(AUTO, body, token=token, headers={KEY: "crash"})
    assert resp.status == 500
    assert await credits(client, token) == before
    assert await job_count(app) == 0 and await _keys(app) == 0

    monkeypatch.setattr(key_store, "answer", real)
    task_id = accepted(await client.post(AUTO, body, token=token, headers={KEY: "crash"}))
    again = await client.post(AUTO, body, token=token, headers={KEY: "crash"})
    assert accepted(again) == task_id and await job_count(app) == 1
