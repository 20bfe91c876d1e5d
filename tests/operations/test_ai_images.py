"""POST /api/v1/writer/content/generate_image_prompts/ and /writer/images/generate_images/
through HTTP on both stores, with job workers running and the local provider.

Prompts: one `featured` and one `in_article` image per major heading (at most 3) per content,
`pending`, with the content's task, site and sector; charged for the most possible and the
rest refunded; a re-run replaces the pending ones and keeps generated ones. Images: rendered
to PNG files served at the `file/` URL, charged per image; a render that fails marks that image
`failed` with the reason and refunds it while the others succeed; every render failing fails
the job (refunded, nothing written, no file left); files of a final transaction that does not
commit are deleted; generated images are skipped; bad input."""

from __future__ import annotations

import asyncio
from typing import Any

from igny8d.ai.types import Generation, ImageRequest, ProviderError, RenderedImage
from igny8d.services import media as image_files
from tests.helpers.factories import account
from tests.helpers.jobs import held, job_count, poll, run
from tests.helpers.paths import CONTENT, IMAGES, IMAGES_AUTO, PROMPTS_AUTO
from tests.helpers.reads import all_rows, credits, usage_of

PNG = b"\x89PNG\r\n\x1a\n"


def html_with(headings: list[str]) -> str:
    parts = ["<p>An introduction about espresso at home.</p>"]
    for h in headings:
        parts.append(f"<h2>{h}</h2><p>Some words about {h.lower()} and more words.</p>")
    return "".join(parts)


async def new_content(client, env, title: str, headings: list[str], **extra: Any) -> int:
    resp = await client.post(CONTENT, {"title": title, "html_content": html_with(headings),
                                       "site_id": env["site"]["id"],
                                       "sector_id": env["sector"]["id"],
                                       "primary_keyword": "espresso machine", **extra},
                             token=env["token"])
    assert resp.status == 201, resp.json
    return int(resp.data["id"])


async def images_of(client, token: str, content_id: int) -> list[dict[str, Any]]:
    return await all_rows(client, token, f"{IMAGES}?content_id={content_id}")


def media_files(app) -> list[str]:
    folder = image_files.media_dir(app.ctx.settings.data_dir)
    return sorted(p.name for p in folder.glob("*")) if folder.exists() else []


async def test_prompts_then_images_end_to_end(jobs_app, client):
    env = await account(client, "images@example.com")
    token = env["token"]
    resp = await client.post("/api/v1/writer/tasks/", {
        "title": "Espresso at home", "site_id": env["site"]["id"],
        "sector_id": env["sector"]["id"]}, token=token)
    task = int(resp.data["id"])
    big = await new_content(client, env, "Espresso machines at home",
                            ["Choosing a machine", "Grinding the beans", "Pulling a shot",
                             "Cleaning and care"], task_id=task)
    small = await new_content(client, env, "Descaling an espresso machine", ["Why descale"])
    before = await credits(client, token)

    # read before the job can refund the 2 prompts the small content does not need
    async with held(jobs_app):
        resp = await client.post(PROMPTS_AUTO, {"ids": [big, small]}, token=token)
        assert resp.status == 202, resp.json
        assert await credits(client, token) == before - 8  # 4 prompts at most per content
    done = await poll(client, token, resp.data["task_id"])
    assert done["state"] == "SUCCESS", done
    assert done["result"]["prompts_created"] == 6 and done["result"]["replaced"] == 0
    for cid, inline in ((big, 3), (small, 1)):
        rows = await images_of(client, token, cid)
        assert [r["image_type"] for r in rows].count("featured") == 1
        assert [r["image_type"] for r in rows].count("in_article") == inline
        for r in rows:
            assert r["status"] == "pending" and r["url"] is None
            assert r["prompt"].strip()
            assert (r["site_id"], r["sector_id"]) == (env["site"]["id"], env["sector"]["id"])
            assert r["task_id"] == (task if cid == big else None)
    assert await credits(client, token) == before - 6
    usage = await usage_of(client, token, resp.data["task_id"])
    assert (usage["operation_type"], usage["credits_used"], usage["credits_refunded"]) == (
        "image_prompts", 8, 2)

    # render the big content's images
    pending = [int(r["id"]) for r in await images_of(client, token, big)]
    before = await credits(client, token)
    done = await run(client, token, IMAGES_AUTO, pending)
    assert done["state"] == "SUCCESS", done
    assert done["result"]["generated"] == 4 and done["result"]["failed"] == []
    assert await credits(client, token) == before - 20
    rows = await images_of(client, token, big)
    assert {r["status"] for r in rows} == {"generated"}
    assert all(r["error"] is None for r in rows)
    bodies = set()
    for r in rows:
        got = await client.get(f"{IMAGES}{r['id']}/file/", token=token)
        assert got.status == 200, got.json
        url = got.data["url"]
        assert url.startswith("http://") and url.endswith(".png")
        served = await client.get(url[url.index("/media/"):])
        assert served.status == 200
        assert served.headers["Content-Type"] == "image/png"
        assert served.body.startswith(PNG)
        bodies.add(served.body)
    assert len(bodies) == 4  # each image its own picture
    assert len(media_files(jobs_app)) == 4

    # generated images are skipped and not charged
    before = await credits(client, token)
    done = await run(client, token, IMAGES_AUTO, pending)
    assert done["state"] == "SUCCESS"
    assert done["result"]["generated"] == 0 and len(done["result"]["skipped"]) == 4
    assert await credits(client, token) == before

    # new prompts: the big content's generated images keep their slots (nothing new to
    # prompt); the small one's pending images are replaced; nothing is net new, nothing paid
    small_before = {int(r["id"]) for r in await images_of(client, token, small)}
    before = await credits(client, token)
    done = await run(client, token, PROMPTS_AUTO, [big, small])
    assert done["state"] == "SUCCESS", done
    assert done["result"]["replaced"] == 2 and done["result"]["kept"] == 4
    assert done["result"]["charged_prompts"] == 0
    assert await credits(client, token) == before
    small_after = {int(r["id"]) for r in await images_of(client, token, small)}
    assert len(small_after) == 2 and not small_before & small_after
    big_rows = await images_of(client, token, big)
    assert sum(r["status"] == "generated" for r in big_rows) == 4
    assert sum(r["status"] == "pending" for r in big_rows) == 0


async def test_a_failed_render_fails_only_that_image(jobs_app, client, monkeypatch):
    from igny8d.ai.providers.local import LocalProvider

    real = LocalProvider.render_image
    env = await account(client, "onefails@example.com")
    token = env["token"]
    cid = await new_content(client, env, "Espresso basics", ["Beans", "Water"])
    done = await run(client, token, PROMPTS_AUTO, [cid])
    assert done["state"] == "SUCCESS", done
    ids = sorted(int(r["id"]) for r in await images_of(client, token, cid))
    assert len(ids) == 3
    bad = ids[1]

    async def picky(self: Any, request: ImageRequest) -> Generation[RenderedImage]:
        if request.seed == bad:
            raise ProviderError("Your request was rejected by the safety system.")
        return await real(self, request)

    monkeypatch.setattr(LocalProvider, "render_image", picky)
    before = await credits(client, token)
    done = await run(client, token, IMAGES_AUTO, ids)
    assert done["state"] == "SUCCESS", done
    assert done["result"]["generated"] == 2
    assert done["result"]["failed"] == [
        {"id": bad, "error": "Your request was rejected by the safety system."}]
    rows = {int(r["id"]): r for r in await images_of(client, token, cid)}
    assert rows[bad]["status"] == "failed" and rows[bad]["url"] is None
    assert "safety system" in rows[bad]["error"]
    assert all(rows[i]["status"] == "generated" for i in ids if i != bad)
    assert await credits(client, token) == before - 10
    usage = await usage_of(client, token, done["task_id"])
    assert (usage["credits_used"], usage["credits_refunded"]) == (15, 5)
    assert len(media_files(jobs_app)) == 2

    # the failed one renders on a second try (failed images are not "generated")
    monkeypatch.setattr(LocalProvider, "render_image", real)
    done = await run(client, token, IMAGES_AUTO, ids)
    assert done["state"] == "SUCCESS" and done["result"]["generated"] == 1, done
    assert (await images_of(client, token, cid))[1]["status"] == "generated"


async def test_every_render_failing_fails_the_job(jobs_app, client, monkeypatch):
    from igny8d.ai.providers.local import LocalProvider

    async def down(self: Any, request: ImageRequest) -> Generation[RenderedImage]:
        raise ProviderError("Incorrect API key provided.", status=401)

    env = await account(client, "down@example.com")
    token = env["token"]
    cid = await new_content(client, env, "Espresso basics", ["Beans"])
    assert (await run(client, token, PROMPTS_AUTO, [cid]))["state"] == "SUCCESS"
    ids = [int(r["id"]) for r in await images_of(client, token, cid)]
    monkeypatch.setattr(LocalProvider, "render_image", down)
    before = await credits(client, token)
    done = await run(client, token, IMAGES_AUTO, ids)
    assert done["state"] == "FAILURE", done
    assert "Incorrect API key provided." in done["error"]
    assert {r["status"] for r in await images_of(client, token, cid)} == {"pending"}
    assert await credits(client, token) == before
    assert media_files(jobs_app) == []


async def test_files_of_a_transaction_that_fails_are_deleted(jobs_app, client, monkeypatch):
    env = await account(client, "nofile@example.com")
    token = env["token"]
    cid = await new_content(client, env, "Espresso basics", ["Beans"])
    assert (await run(client, token, PROMPTS_AUTO, [cid]))["state"] == "SUCCESS"
    ids = [int(r["id"]) for r in await images_of(client, token, cid)]

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("disk full")

    monkeypatch.setattr(image_files, "attach_file", broken)
    before = await credits(client, token)
    done = await run(client, token, IMAGES_AUTO, ids)
    assert done["state"] == "FAILURE", done
    assert "internal error" in done["error"]
    assert media_files(jobs_app) == []
    assert {r["status"] for r in await images_of(client, token, cid)} == {"pending"}
    assert await credits(client, token) == before


async def test_bad_input(jobs_app, client):
    env = await account(client, "badi@example.com")
    token = env["token"]
    cid = await new_content(client, env, "Mine", ["One"])
    stranger = await account(client, "strangeri@example.com")
    theirs = await new_content(client, stranger, "Theirs", ["Two"])
    before = await credits(client, token)
    resp = await client.post(PROMPTS_AUTO, {"ids": [cid, theirs]}, token=token)
    assert resp.status == 404 and str(theirs) in resp.errors["ids"][0], resp.json
    resp = await client.post(IMAGES_AUTO, {"ids": [theirs]}, token=token)
    assert resp.status == 404, resp.json
    for path in (PROMPTS_AUTO, IMAGES_AUTO):
        resp = await client.post(path, {"ids": list(range(1, 52))}, token=token)
        assert resp.status == 400 and "at most 50" in resp.errors["ids"][0], resp.json
        for body in ({"ids": []}, {}, {"ids": [cid], "n": 2}):
            assert (await client.post(path, body, token=token)).status == 400, body
    viewer = await client.member(token, "vieweri@example.com", "viewer")
    assert (await client.post(PROMPTS_AUTO, {"ids": [cid]}, token=viewer)).status == 403
    assert (await client.post(IMAGES_AUTO, {"ids": [cid]}, token=viewer)).status == 403
    assert await credits(client, token) == before
    assert await job_count(jobs_app) == 0


async def test_rendering_again_releases_the_old_file(jobs_app, client):
    env = await account(client, "again@example.com")
    token = env["token"]
    cid = await new_content(client, env, "Milk frothing", ["Steam wands"])
    assert (await run(client, token, PROMPTS_AUTO, [cid]))["state"] == "SUCCESS"
    first = (await images_of(client, token, cid))[0]
    assert (await run(client, token, IMAGES_AUTO, [first["id"]]))["state"] == "SUCCESS"
    old = media_files(jobs_app)
    assert len(old) == 1
    resp = await client.post(f"{IMAGES}bulk_update/", {"ids": [first["id"]],
                                                       "status": "pending"}, token=token)
    assert resp.status == 200, resp.json
    done = await run(client, token, IMAGES_AUTO, [first["id"]])
    assert done["state"] == "SUCCESS" and done["result"]["generated"] == 1, done
    # the old file goes right after the job's commit, which the client may see first
    for _ in range(100):
        now = media_files(jobs_app)
        if len(now) == 1:
            break
        await asyncio.sleep(0.05)
    assert len(now) == 1 and now != old  # the new file only
    assert (await client.get(f"/media/images/{old[0]}")).status == 404
