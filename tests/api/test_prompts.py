"""The prompt library through HTTP on both stores: CRUD, one prompt per type (409), save's
upsert (201/200), by_type and reset falling back to the shipped defaults, roles, validation,
isolation, and what the AI functions read (`prompts_for`)."""

from __future__ import annotations

import asyncio

from igny8d.ai.prompts import DEFAULT_PROMPTS, PROMPT_TYPES
from igny8d.services.prompts import prompts_for
from tests.helpers.factories import owner_and_account

P = "/api/v1/system/prompts/"
OUT_FIELDS = {"id", "prompt_type", "prompt_value", "is_default", "created_at", "updated_at"}



async def test_nothing_saved_lists_empty_and_by_type_gives_the_defaults(client):
    token, _ = await owner_and_account(client, "p-defaults@example.com")
    listed = await client.get(P, token=token)
    assert listed.status == 200 and listed.json["count"] == 0 and listed.json["results"] == []
    for prompt_type in PROMPT_TYPES:
        resp = await client.get(f"{P}by_type/{prompt_type}/", token=token)
        assert resp.status == 200, resp.json
        assert resp.data == {"id": None, "prompt_type": prompt_type,
                             "prompt_value": DEFAULT_PROMPTS[prompt_type], "is_default": True,
                             "created_at": None, "updated_at": None}
    unknown = await client.get(f"{P}by_type/poetry/", token=token)
    assert unknown.status == 404 and "poetry" in unknown.error and "clustering" in unknown.error


async def test_create_get_update_delete_and_one_per_type(client):
    token, _ = await owner_and_account(client, "p-crud@example.com")
    created = await client.post(P, {"prompt_type": "ideas", "prompt_value": "Mine: ideas"},
                                token=token)
    assert created.status == 201, created.json
    row = created.data
    assert set(row) == OUT_FIELDS
    assert row["prompt_type"] == "ideas" and row["prompt_value"] == "Mine: ideas"
    assert row["is_default"] is False and isinstance(row["id"], int) and row["created_at"]

    again = await client.post(P, {"prompt_type": "ideas", "prompt_value": "Other"},
                              token=token)
    assert again.status == 409 and "prompt_type" in again.errors

    got = await client.get(f"{P}{row['id']}/", token=token)
    assert got.status == 200 and got.data == row
    by_type = await client.get(f"{P}by_type/ideas/", token=token)
    assert by_type.data == row

    put = await client.put(f"{P}{row['id']}/", {"prompt_value": "Edited"}, token=token)
    assert put.status == 200 and put.data["prompt_value"] == "Edited"
    # a PUT may echo the type back unchanged; changing it is refused (and changes nothing)
    echoed = await client.put(f"{P}{row['id']}/", {**put.data, "prompt_value": "Echoed"},
                              token=token)
    assert echoed.status == 200 and echoed.data["prompt_value"] == "Echoed"
    moved = await client.put(f"{P}{row['id']}/", {"prompt_type": "clustering",
                                                  "prompt_value": "x"}, token=token)
    assert moved.status == 400 and "prompt_type" in moved.errors
    patched = await client.patch(f"{P}{row['id']}/", {"prompt_value": "Patched"}, token=token)
    assert patched.status == 200 and patched.data["prompt_value"] == "Patched"
    assert patched.data["prompt_type"] == "ideas"

    listed = await client.get(P, token=token)
    assert listed.json["count"] == 1 and listed.json["results"][0]["prompt_value"] == "Patched"
    filtered = await client.get(f"{P}?prompt_type=clustering", token=token)
    assert filtered.json["count"] == 0

    deleted = await client.delete(f"{P}{row['id']}/", token=token)
    assert deleted.status == 204
    assert (await client.get(f"{P}{row['id']}/", token=token)).status == 404
    back = await client.get(f"{P}by_type/ideas/", token=token)
    assert back.data["is_default"] is True and back.data["prompt_value"] == DEFAULT_PROMPTS["ideas"]


async def test_bodies_are_validated(client):
    token, _ = await owner_and_account(client, "p-valid@example.com")
    bad_type = await client.post(P, {"prompt_type": "poetry", "prompt_value": "x"}, token=token)
    assert bad_type.status == 400
    assert any("poetry" in msg for msg in bad_type.errors["prompt_type"])
    for value in ("", "   ", "a\x00b", "x" * 20_001):
        resp = await client.post(P, {"prompt_type": "clustering", "prompt_value": value},
                                 token=token)
        assert resp.status == 400 and "prompt_value" in resp.errors, (value[:5], resp.json)
    missing = await client.post(P, {"prompt_type": "clustering"}, token=token)
    assert missing.status == 400 and "prompt_value" in missing.errors
    extra = await client.post(P, {"prompt_type": "clustering", "prompt_value": "x",
                                  "owner": 1}, token=token)
    assert extra.status == 400 and "owner" in extra.errors
    malformed = await client.request("POST", P, body=b"{nope", token=token,
                                     headers={"Content-Type": "application/json"})
    assert malformed.status == 400
    for path in (f"{P}save/", f"{P}reset/"):
        resp = await client.post(path, {"prompt_type": "poetry", "prompt_value": "x"},
                                 token=token)
        assert resp.status == 400, (path, resp.json)
    longest = await client.post(P, {"prompt_type": "clustering", "prompt_value": "x" * 20_000},
                                token=token)
    assert longest.status == 201
    assert (await client.get(P, token=token)).json["count"] == 1


async def test_save_upserts_by_type(client):
    token, _ = await owner_and_account(client, "p-save@example.com")
    first = await client.post(f"{P}save/", {"prompt_type": "negative_prompt",
                                            "prompt_value": "no text"}, token=token)
    assert first.status == 201, first.json
    assert first.data["is_default"] is False and first.data["prompt_value"] == "no text"
    second = await client.post(f"{P}save/", {"prompt_type": "negative_prompt",
                                             "prompt_value": "no logos"}, token=token)
    assert second.status == 200, second.json
    assert second.data["id"] == first.data["id"] and second.data["prompt_value"] == "no logos"
    listed = await client.get(P, token=token)
    assert listed.json["count"] == 1 and listed.json["results"][0]["prompt_value"] == "no logos"


async def test_reset_deletes_the_saved_one_and_answers_the_default(client):
    token, _ = await owner_and_account(client, "p-reset@example.com")
    await client.post(f"{P}save/", {"prompt_type": "clustering", "prompt_value": "mine"},
                      token=token)
    await client.post(f"{P}save/", {"prompt_type": "ideas", "prompt_value": "mine too"},
                      token=token)
    reset = await client.post(f"{P}reset/", {"prompt_type": "clustering"}, token=token)
    assert reset.status == 200, reset.json
    assert reset.data["is_default"] is True and reset.data["id"] is None
    assert reset.data["prompt_value"] == DEFAULT_PROMPTS["clustering"]
    by_type = await client.get(f"{P}by_type/clustering/", token=token)
    assert by_type.data["is_default"] is True
    listed = await client.get(P, token=token)
    assert [r["prompt_type"] for r in listed.json["results"]] == ["ideas"]
    # resetting what is already the default is not an error
    again = await client.post(f"{P}reset/", {"prompt_type": "clustering"}, token=token)
    assert again.status == 200 and again.data["is_default"] is True
    missing = await client.post(f"{P}reset/", {}, token=token)
    assert missing.status == 400 and "prompt_type" in missing.errors


async def test_every_role_reads_editors_write(client):
    owner, _ = await owner_and_account(client, "p-roles@example.com")
    viewer = await client.member(owner, "p-viewer@example.com", "viewer")
    editor = await client.member(owner, "p-editor@example.com", "editor")
    saved = await client.post(f"{P}save/", {"prompt_type": "ideas", "prompt_value": "owner's"},
                              token=owner)
    pid = saved.data["id"]

    assert (await client.get(P, token=viewer)).json["count"] == 1
    assert (await client.get(f"{P}{pid}/", token=viewer)).status == 200
    assert (await client.get(f"{P}by_type/ideas/", token=viewer)).data["prompt_value"] == \
        "owner's"
    body = {"prompt_type": "clustering", "prompt_value": "viewer's"}
    for method, path, payload in (("POST", P, body), ("POST", f"{P}save/", body),
                                  ("POST", f"{P}reset/", {"prompt_type": "ideas"}),
                                  ("PUT", f"{P}{pid}/", {"prompt_value": "v"}),
                                  ("PATCH", f"{P}{pid}/", {"prompt_value": "v"}),
                                  ("DELETE", f"{P}{pid}/", None)):
        resp = await client.request(method, path, json_body=payload, token=viewer)
        assert resp.status == 403, (method, path, resp.json)
    unchanged = await client.get(f"{P}{pid}/", token=owner)
    assert unchanged.data["prompt_value"] == "owner's"
    assert (await client.get(P, token=owner)).json["count"] == 1

    assert (await client.post(P, body, token=editor)).status == 201
    assert (await client.post(f"{P}save/", {"prompt_type": "ideas", "prompt_value": "ed"},
                              token=editor)).status == 200
    assert (await client.post(f"{P}reset/", {"prompt_type": "ideas"},
                              token=editor)).status == 200
    assert (await client.get(P)).status == 401


async def test_other_accounts_prompts_are_invisible(client):
    a, _ = await owner_and_account(client, "p-a@example.com")
    b, _ = await owner_and_account(client, "p-b@example.com")
    saved = await client.post(f"{P}save/", {"prompt_type": "ideas", "prompt_value": "A's"},
                              token=a)
    pid = saved.data["id"]
    assert (await client.get(f"{P}{pid}/", token=b)).status == 404
    assert (await client.put(f"{P}{pid}/", {"prompt_value": "B"}, token=b)).status == 404
    assert (await client.patch(f"{P}{pid}/", {"prompt_value": "B"}, token=b)).status == 404
    assert (await client.delete(f"{P}{pid}/", token=b)).status == 404
    assert (await client.get(P, token=b)).json["count"] == 0
    assert (await client.get(f"{P}by_type/ideas/", token=b)).data["is_default"] is True
    # B's own prompt of the same type is B's: A's stays as it was
    mine = await client.post(P, {"prompt_type": "ideas", "prompt_value": "B's"}, token=b)
    assert mine.status == 201 and mine.data["id"] != pid
    assert (await client.post(f"{P}reset/", {"prompt_type": "ideas"}, token=b)).status == 200
    kept = await client.get(f"{P}{pid}/", token=a)
    assert kept.status == 200 and kept.data["prompt_value"] == "A's"


async def test_prompts_for_gives_saved_prompts_over_the_defaults(app, client):
    a, account_a = await owner_and_account(client, "p-for-a@example.com")
    _, account_b = await owner_and_account(client, "p-for-b@example.com")
    await client.post(f"{P}save/", {"prompt_type": "clustering", "prompt_value": "A clusters"},
                      token=a)
    async with app.ctx.store.read() as conn:
        prompts_a = await prompts_for(conn, account_a)
        prompts_b = await prompts_for(conn, account_b)
    assert prompts_a.by_type == {"clustering": "A clusters"}
    assert prompts_a.get("clustering") == "A clusters"
    assert prompts_a.get("ideas") == DEFAULT_PROMPTS["ideas"]
    assert prompts_b.by_type == {}
    assert prompts_b.get("clustering") == DEFAULT_PROMPTS["clustering"]


async def test_concurrent_saves_of_one_type_make_one_prompt(client):
    token, _ = await owner_and_account(client, "p-race@example.com")
    answers = await asyncio.gather(*(
        client.post(f"{P}save/", {"prompt_type": "ideas", "prompt_value": f"v{n}"},
                    token=token) for n in range(8)))
    assert sorted(a.status for a in answers) == [200] * 7 + [201], [a.json for a in answers]
    listed = await client.get(P, token=token)
    assert listed.json["count"] == 1
    assert listed.json["results"][0]["prompt_value"] in {f"v{n}" for n in range(8)}
