"""generate_image_prompts run again on the same content, through HTTP on both stores: pending
prompts are replaced, rendered images keep their slots, and only net new prompts are paid for
— also when identical requests race (the content row is locked in the job's save)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from tests.helpers.factories import account
from tests.helpers.jobs import poll, run
from tests.helpers.paths import CONTENT, IMAGES, IMAGES_AUTO, PROMPTS_AUTO, TRANSACTIONS
from tests.helpers.reads import all_rows, credits, usage_of


def html_with(headings: list[str]) -> str:
    return "<p>Espresso at home.</p>" + "".join(
        f"<h2>{h}</h2><p>Words about {h.lower()}.</p>" for h in headings)


async def new_content(client, env, headings: list[str]) -> int:
    resp = await client.post(CONTENT, {"title": "Espresso machines at home",
                                       "html_content": html_with(headings),
                                       "site_id": env["site"]["id"],
                                       "sector_id": env["sector"]["id"],
                                       "primary_keyword": "espresso machine"},
                             token=env["token"])
    assert resp.status == 201, resp.json
    return int(resp.data["id"])


async def images_of(client, token: str, cid: int) -> list[dict[str, Any]]:
    return await all_rows(client, token, f"{IMAGES}?content_id={cid}")


async def test_a_rerun_replaces_pending_prompts_and_costs_nothing(jobs_app, client):
    env = await account(client, "rerun@example.com")
    token = env["token"]
    cid = await new_content(client, env, ["Choosing a machine", "Grinding", "Pulling a shot"])
    start = await credits(client, token)
    first = await run(client, token, PROMPTS_AUTO, [cid])
    assert first["result"]["prompts_created"] == 4 and first["result"]["charged_prompts"] == 4
    assert await credits(client, token) == start - 4
    ids = {r["id"] for r in await images_of(client, token, cid)}

    resp = await client.post(PROMPTS_AUTO, {"ids": [cid]}, token=token)
    assert resp.status == 202
    # charged the most up front (the run may already have been refunded by now, so the
    # charge is read from the ledger, not from the balance at this moment)
    assert await credits(client, token) in (start - 8, start - 4)
    again = await poll(client, token, resp.data["task_id"])
    assert again["state"] == "SUCCESS", again
    r = again["result"]
    assert (r["prompts_created"], r["replaced"], r["charged_prompts"], r["kept"]) == (4, 4, 0, 0)
    assert await credits(client, token) == start - 4  # the re-run is refunded in full
    usage = await usage_of(client, token, resp.data["task_id"])
    assert (usage["credits_used"], usage["credits_refunded"]) == (4, 4)
    moves = [(t["transaction_type"], t["amount"], t["balance_after"])
             for t in sorted(await all_rows(client, token, TRANSACTIONS), key=lambda t: t["id"])
             if t["reference"] == resp.data["task_id"]]
    assert moves == [("charge", -4, start - 8), ("refund", 4, start - 4)]
    rows = await images_of(client, token, cid)
    assert len(rows) == 4 and not ids & {row["id"] for row in rows}


async def test_rendered_images_keep_their_slots_and_new_headings_are_paid(jobs_app, client):
    env = await account(client, "slots@example.com")
    token = env["token"]
    cid = await new_content(client, env, ["Choosing a machine"])
    assert (await run(client, token, PROMPTS_AUTO, [cid]))["result"]["charged_prompts"] == 2
    rows = await images_of(client, token, cid)
    featured = next(r for r in rows if r["image_type"] == "featured")
    assert (await run(client, token, IMAGES_AUTO, [featured["id"]]))["state"] == "SUCCESS"

    # two more headings: the featured image stays, the pending one is replaced, two are new
    resp = await client.patch(f"{CONTENT}{cid}/", {"html_content": html_with(
        ["Choosing a machine", "Grinding", "Pulling a shot"])}, token=token)
    assert resp.status == 200, resp.json
    before = await credits(client, token)
    r = (await run(client, token, PROMPTS_AUTO, [cid]))["result"]
    assert (r["prompts_created"], r["replaced"], r["kept"], r["charged_prompts"]) == (3, 1, 1, 2)
    assert await credits(client, token) == before - 2
    rows = await images_of(client, token, cid)
    assert [x["image_type"] for x in rows].count("featured") == 1
    assert sum(x["status"] == "generated" for x in rows) == 1
    assert sum(x["image_type"] == "in_article" and x["status"] == "pending"
               for x in rows) == 3


async def test_identical_requests_at_once_pay_for_one_set(jobs_app, client, monkeypatch):
    """Both job workers reach their save together (the provider waits for the other call):
    without the content row's lock each would see no prompts and add a full set."""
    from igny8d.ai.providers.local import LocalProvider

    real = LocalProvider.image_prompts
    arrived: list[int] = []
    both = asyncio.Event()

    async def together(self: Any, brief: Any, prompts: Any) -> Any:
        arrived.append(1)
        if len(arrived) >= 2:
            both.set()
        with contextlib.suppress(TimeoutError):  # the third runs after the first two
            await asyncio.wait_for(both.wait(), 5)
        return await real(self, brief, prompts)

    monkeypatch.setattr(LocalProvider, "image_prompts", together)
    env = await account(client, "race@example.com")
    token = env["token"]
    cid = await new_content(client, env, ["Choosing a machine", "Grinding", "Pulling a shot"])
    start = await credits(client, token)
    posted = await asyncio.gather(*(client.post(PROMPTS_AUTO, {"ids": [cid]}, token=token)
                                    for _ in range(3)))
    assert [p.status for p in posted] == [202] * 3
    done = [await poll(client, token, p.data["task_id"]) for p in posted]
    assert all(d["state"] == "SUCCESS" for d in done), done
    assert sum(d["result"]["charged_prompts"] for d in done) == 4
    assert await credits(client, token) == start - 4
    rows = await images_of(client, token, cid)
    assert len(rows) == 4 and [r["image_type"] for r in rows].count("featured") == 1
