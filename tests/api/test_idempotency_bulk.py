"""Idempotency-Key on the CSV import and the bulk actions, through HTTP on both stores: a
retried import (a new multipart boundary each send, as clients draw one) answers the first
answer and imports once, another file with the key is a 409, concurrent retries import once;
a retried queue-to-writer answers "N queued" again and makes no second task; a malformed key
is a 400 before anything is written; another account's ids with a key write nothing and keep
no key, on every bulk action; the document names the header on each of them."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from sqlalchemy import func, select

from igny8d.store.schema import content_ideas as ideas
from igny8d.store.schema import keywords, tasks
from tests.helpers.client import multipart
from tests.helpers.factories import ESPRESSO, account, add_keywords
from tests.helpers.paths import IDEAS, KEYWORDS, KEYWORDS_IMPORT, QUEUE_TO_WRITER, TASKS

KEY = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
CSV = b"keyword,volume\nespresso grinder,100\nespresso tamper,50\nespresso cups,10\n"
BULK_STATUS = KEYWORDS + "bulk_update_status/"
BULK_DELETE = KEYWORDS + "bulk_delete/"
SEEDS = "/api/v1/planner/seed-keywords/"


async def _import(client: Any, env: dict[str, Any], data: bytes, key: str | None,
                  **extra: Any) -> Any:
    """A new multipart body (a new boundary) for every call, as a client's retry sends."""
    body, headers = multipart({"site_id": env["site"]["id"], "sector_id": env["sector"]["id"],
                               **extra}, {"file": ("keywords.csv", data)})
    if key is not None:
        headers[KEY] = key
    return await client.request("POST", KEYWORDS_IMPORT, body=body, headers=headers,
                                token=env["token"])


async def _count(app: Any, table: Any) -> int:
    async with app.ctx.store.read() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def _rows(app: Any, table: Any) -> list[tuple[Any, ...]]:
    """Every row of a table, as a comparable list (ordered by id)."""
    async with app.ctx.store.read() as conn:
        return [tuple(r) for r in await conn.execute(select(table).order_by(table.c.id))]


async def test_retried_import_answers_the_first_answer_and_imports_once(app, client):
    env = await account(client, "idemimport@example.com")
    first = await _import(client, env, CSV, "import-1")
    assert first.status == 200, first.json
    assert first.data == {"created": 3, "skipped_duplicates": 0}
    assert REPLAYED not in first.headers

    again = await _import(client, env, CSV, "import-1")
    assert again.status == 200 and again.headers[REPLAYED] == "true"
    assert again.data == first.data and again.json["message"] == first.json["message"]
    assert await _count(app, keywords) == 3

    # the same file without the key is a new import: everything is a duplicate now
    fresh = await _import(client, env, CSV, None)
    assert fresh.data == {"created": 0, "skipped_duplicates": 3}


async def test_another_file_or_field_with_the_key_is_409_and_imports_nothing(app, client):
    env = await account(client, "idemimport409@example.com")
    assert (await _import(client, env, CSV, "k")).status == 200
    other = await _import(client, env, CSV + b"espresso beans,5\n", "k")
    assert other.status == 409, other.json
    assert other.json["success"] is False and KEY in other.errors
    extra_field = await _import(client, env, CSV, "k", note="x")
    assert extra_field.status == 409, extra_field.json
    assert await _count(app, keywords) == 3


async def test_a_refused_import_keeps_no_key(app, client):
    """A 400 (a bad file) is not kept: the same key with a corrected file imports."""
    env = await account(client, "idemimportbad@example.com")
    bad = await _import(client, env, b"volume\n10\n", "fix-me")
    assert bad.status == 400, bad.json
    good = await _import(client, env, CSV, "fix-me")
    assert good.status == 200 and REPLAYED not in good.headers, good.json
    assert good.data["created"] == 3


async def test_concurrent_retried_imports_import_once(app, client):
    env = await account(client, "idemimportrace@example.com")
    resps = await asyncio.gather(*(_import(client, env, CSV, "race") for _ in range(6)))
    assert {r.status for r in resps} == {200}, [r.json for r in resps]
    assert all(r.data == {"created": 3, "skipped_duplicates": 0} for r in resps)
    assert sum(1 for r in resps if REPLAYED not in r.headers) == 1
    assert await _count(app, keywords) == 3


async def test_retried_queue_to_writer_answers_the_first_answer(app, client):
    env = await account(client, "idemqueue@example.com")
    ids = []
    for title in ("How to dial in espresso", "Best espresso grinders"):
        resp = await client.post(IDEAS, {"title": title, "site_id": env["site"]["id"],
                                         "sector_id": env["sector"]["id"]}, token=env["token"])
        assert resp.status == 201, resp.json
        ids.append(resp.data["id"])
    first = await client.post(QUEUE_TO_WRITER, {"ids": ids}, token=env["token"],
                              headers={KEY: "queue-1"})
    assert first.status == 200 and first.data["queued"] == 2, first.json
    again = await client.post(QUEUE_TO_WRITER, {"ids": ids}, token=env["token"],
                              headers={KEY: "queue-1"})
    assert again.status == 200 and again.headers[REPLAYED] == "true"
    assert again.data == first.data
    assert await _count(app, tasks) == 2
    # without the key the retry is a new request, and there is nothing left to queue
    fresh = await client.post(QUEUE_TO_WRITER, {"ids": ids}, token=env["token"])
    assert fresh.data["queued"] == 0 and await _count(app, tasks) == 2


async def test_bulk_status_and_delete_replay_and_refuse_another_body(app, client):
    env = await account(client, "idembulk@example.com")
    ids = await add_keywords(client, env, ESPRESSO[:3])
    token = env["token"]
    done = await client.post(BULK_STATUS, {"ids": ids, "status": "archived"}, token=token,
                             headers={KEY: "s"})
    assert done.status == 200 and done.data == {"updated_count": 3}, done.json
    again = await client.post(BULK_STATUS, {"status": "archived", "ids": ids}, token=token,
                              headers={KEY: "s"})
    assert again.headers[REPLAYED] == "true" and again.data == done.data
    other = await client.post(BULK_STATUS, {"ids": ids[:1], "status": "archived"}, token=token,
                              headers={KEY: "s"})
    assert other.status == 409, other.json

    gone = await client.post(BULK_DELETE, {"ids": ids}, token=token, headers={KEY: "d"})
    assert gone.status == 200 and gone.data == {"deleted_count": 3}, gone.json
    again = await client.post(BULK_DELETE, {"ids": ids}, token=token, headers={KEY: "d"})
    assert again.status == 200 and again.headers[REPLAYED] == "true"
    assert again.data == {"deleted_count": 3}
    assert await _count(app, keywords) == 0


async def test_malformed_key_is_400_before_any_write(app, client):
    env = await account(client, "idembulk400@example.com")
    bad = await _import(client, env, CSV, "")
    assert bad.status == 400 and KEY in bad.errors, bad.json
    ids = await add_keywords(client, env, ESPRESSO[:1])
    resp = await client.post(BULK_DELETE, {"ids": ids}, token=env["token"],
                             headers={KEY: "x" * 256})
    assert resp.status == 400 and KEY in resp.errors, resp.json
    assert await _count(app, keywords) == 1


async def test_document_names_the_header_on_the_import_and_bulk_actions(app, client):
    doc = json.loads((await client.get("/api/schema/")).body)
    for path in (KEYWORDS_IMPORT, QUEUE_TO_WRITER, BULK_STATUS, BULK_DELETE,
                 KEYWORDS + "bulk_add_from_seed/", "/api/v1/writer/tasks/bulk_update/"):
        op = doc["paths"][path]["post"]
        assert [p for p in op["parameters"] if p["in"] == "header" and p["name"] == KEY], path
        assert "409" in op["responses"], path


async def _foreign_cases(client: Any, owner: dict[str, Any], other: dict[str, Any]
                         ) -> list[tuple[str, dict[str, Any], dict[str, Any], Any]]:
    """Each bulk write action: (path, a body naming the owner's rows, the same body on the
    other account's own rows, the table or tables the first must leave alone)."""
    rows: dict[str, dict[str, list[int]]] = {}
    for env in (owner, other):
        name = str(env["account_id"])
        kw = await add_keywords(client, env, ESPRESSO[:2])
        made = {"keywords": kw, "ideas": [], "tasks": []}
        for n in range(2):
            resp = await client.post(IDEAS, {"title": f"Idea {n}", "site_id": env["site"]["id"],
                                             "sector_id": env["sector"]["id"]},
                                     token=env["token"])
            assert resp.status == 201, resp.json
            made["ideas"].append(resp.data["id"])
            resp = await client.post(TASKS, {"title": f"Task {n}", "site_id": env["site"]["id"],
                                             "sector_id": env["sector"]["id"]},
                                     token=env["token"])
            assert resp.status == 201, resp.json
            made["tasks"].append(resp.data["id"])
        rows[name] = made
    mine, yours = rows[str(owner["account_id"])], rows[str(other["account_id"])]
    seeds = (await client.get(SEEDS, token=other["token"])).json["results"]
    seed = {"seed_keyword_ids": [seeds[0]["id"]]}
    return [
        (BULK_STATUS, {"ids": mine["keywords"], "status": "archived"},
         {"ids": yours["keywords"], "status": "archived"}, keywords),
        (QUEUE_TO_WRITER, {"ids": mine["ideas"]}, {"ids": yours["ideas"]}, (ideas, tasks)),
        (TASKS + "bulk_update/", {"ids": mine["tasks"], "status": "completed"},
         {"ids": yours["tasks"], "status": "completed"}, tasks),
        (KEYWORDS + "bulk_add_from_seed/",
         {**seed, "site_id": owner["site"]["id"], "sector_id": owner["sector"]["id"]},
         {**seed, "site_id": other["site"]["id"], "sector_id": other["sector"]["id"]},
         keywords),
        # the deletes last: the caller's own rows go
        (TASKS + "bulk_delete/", {"ids": mine["tasks"]}, {"ids": yours["tasks"]}, tasks),
        (BULK_DELETE, {"ids": mine["keywords"]}, {"ids": yours["keywords"]}, keywords),
    ]


async def test_foreign_ids_with_a_key_write_nothing_and_keep_no_key(app, client):
    """Every bulk action, sent with a key and another account's ids: refused, the owner's
    rows untouched, and the key not kept — the same key then runs the caller's own request
    (not a replay of the refusal, not a 409)."""
    owner = await account(client, "idemowner@example.com")
    other = await account(client, "idemother@example.com")
    cases = await _foreign_cases(client, owner, other)
    for n, (path, foreign, own, table) in enumerate(cases):
        tables = table if isinstance(table, tuple) else (table,)
        before = [await _rows(app, t) for t in tables]
        key = f"foreign-{n}"
        refused = await client.post(path, foreign, token=other["token"], headers={KEY: key})
        assert refused.status == 404, (path, refused.json)  # not yours: not found
        assert refused.json["success"] is False and REPLAYED not in refused.headers
        assert [await _rows(app, t) for t in tables] == before, path
        again = await client.post(path, foreign, token=other["token"], headers={KEY: key})
        assert again.status == refused.status and REPLAYED not in again.headers, path
        done = await client.post(path, own, token=other["token"], headers={KEY: key})
        assert done.status == 200 and REPLAYED not in done.headers, (path, done.json)
