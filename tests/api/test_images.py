"""Writer images over HTTP, on both stores: CRUD, references in the same sector, filters,
file/ and content_images, bulk_update, isolation, and the locally stored files at
/media/images/<name> (content type, unguessable names, no path traversal)."""

from __future__ import annotations

from typing import Any

import pytest
from tornado.httpclient import HTTPRequest

from igny8d.permissions import Actor
from igny8d.services import media
from igny8d.services.images import IMAGES as IMAGE_SERVICE
from tests.helpers.client import Client
from tests.helpers.factories import make_content, make_task, two_sector_owner, where
from tests.helpers.paths import CONTENT, IMAGES
from tests.helpers.reads import ids_of

IMAGE_KEYS = {"id", "account_id", "site_id", "sector_id", "content_id", "task_id",
              "image_type", "prompt", "status", "url", "error", "created_at", "updated_at"}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


async def make_image(client: Client, t: dict[str, Any], image_type: str = "featured",
                     **extra: Any) -> dict[str, Any]:
    resp = await client.post(IMAGES, {"image_type": image_type, **where(t), **extra},
                             token=t["token"])
    assert resp.status == 201, resp.json
    return resp.data


async def generated(app: Any, t: dict[str, Any], image_id: int, data: bytes = PNG,
                    ext: str = "png") -> str:
    """Render an image the way the next issue's job will: write the file, attach it."""
    name = media.write_image_file(app.ctx.settings.data_dir, data, ext)
    async with app.ctx.store.begin() as conn:
        await media.attach_file(conn, image_id, name, account_id=t["account"])
    return name


async def test_image_crud(client):
    t = await two_sector_owner(client, "ann@example.com")
    content = await make_content(client, t)
    task = await make_task(client, t)
    made = await make_image(client, t, "in_article", prompt="A cat", content_id=content["id"],
                            task_id=task["id"])
    assert set(made) == IMAGE_KEYS
    assert made["status"] == "pending" and made["url"] is None and made["error"] is None
    assert made["content_id"] == content["id"] and made["task_id"] == task["id"]
    url = f"{IMAGES}{made['id']}/"
    assert (await client.get(url, token=t["token"])).data == made
    resp = await client.patch(url, {"prompt": "A dog", "status": "failed"}, token=t["token"])
    assert resp.status == 200 and resp.data["prompt"] == "A dog"
    resp = await client.put(url, {**resp.data, "image_type": "mobile"}, token=t["token"])
    assert resp.status == 200, resp.json
    assert resp.data["image_type"] == "mobile" and resp.data["prompt"] == "A dog"
    for body in ({"image_type": "banner"}, {"status": "done"}, {"prompt": "p" * 10001},
                 {"content_id": "x"}):
        assert (await client.patch(url, body, token=t["token"])).status == 400, body
    # url and error are read-only: a body may echo them, they never change that way
    resp = await client.patch(url, {"url": "http://x/", "error": "e"}, token=t["token"])
    assert resp.status == 200 and resp.data["url"] is None and resp.data["error"] is None
    resp = await client.post(IMAGES, where(t), token=t["token"])
    assert resp.status == 400 and "image_type" in resp.errors
    assert (await client.delete(url, token=t["token"])).status == 204
    assert (await client.get(url, token=t["token"])).status == 404


async def test_references_visible_and_same_sector(client):
    a = await two_sector_owner(client, "ann@example.com")
    b = await two_sector_owner(client, "bob@example.com")
    b_content = await make_content(client, b)
    b_task = await make_task(client, b)
    other_content = await make_content(client, a, sector_id=a["other_sector"])
    other_task = await make_task(client, a, sector_id=a["other_sector"])
    for body, status, field in (
            ({**where(a), "content_id": b_content["id"]}, 404, "content_id"),
            ({**where(a), "task_id": b_task["id"]}, 404, "task_id"),
            ({**where(a), "content_id": other_content["id"]}, 400, "content_id"),
            ({**where(a), "task_id": other_task["id"]}, 400, "task_id"),
            ({"site_id": b["site"], "sector_id": a["sector"]}, 404, "site_id"),
            ({"site_id": a["site"], "sector_id": b["sector"]}, 404, "sector_id")):
        resp = await client.post(IMAGES, {"image_type": "featured", **body}, token=a["token"])
        assert resp.status == status, (body, resp.json)
        assert field in resp.errors
    assert (await client.get(IMAGES, token=a["token"])).json["count"] == 0
    made = await make_image(client, a)
    resp = await client.patch(f"{IMAGES}{made['id']}/", {"content_id": other_content["id"]},
                              token=a["token"])
    assert resp.status == 400 and "content_id" in resp.errors


async def test_filters_and_ordering(client):
    t = await two_sector_owner(client, "ann@example.com")
    content = await make_content(client, t)
    task = await make_task(client, t, sector_id=t["other_sector"])
    i1 = await make_image(client, t, "featured", content_id=content["id"])
    i2 = await make_image(client, t, "in_article", content_id=content["id"], status="failed")
    i3 = await make_image(client, t, "mobile", task_id=task["id"], status="generated",
                          sector_id=t["other_sector"])
    tok, q = t["token"], IMAGES + "?"
    assert await ids_of(client, q + "image_type=featured,mobile", tok) == [i3["id"], i1["id"]]
    assert await ids_of(client, q + "status=failed", tok) == [i2["id"]]
    assert await ids_of(client, q + f"content_id={content['id']}&ordering=created_at", tok) \
        == [i1["id"], i2["id"]]
    assert await ids_of(client, q + f"task_id={task['id']}", tok) == [i3["id"]]
    assert await ids_of(client, q + "content_id=null", tok) == [i3["id"]]
    assert await ids_of(client, q + f"sector_id={t['other_sector']}", tok) == [i3["id"]]
    assert await ids_of(client, q + f"site_id={t['site']}&ordering=created_at", tok) == \
        [i1["id"], i2["id"], i3["id"]]
    for bad, param in (("image_type=banner", "image_type"), ("status=x", "status"),
                       ("content_id=x", "content_id"), ("ordering=prompt", "ordering")):
        resp = await client.get(q + bad, token=tok)
        assert resp.status == 400 and param in resp.errors, bad
    # deleting the content deletes its images; deleting a task only unlinks
    assert (await client.delete(f"{CONTENT}{content['id']}/", token=tok)).status == 204
    assert await ids_of(client, IMAGES, tok) == [i3["id"]]


async def test_file_url_and_serving(client, app):
    t = await two_sector_owner(client, "ann@example.com")
    made = await make_image(client, t)
    resp = await client.get(f"{IMAGES}{made['id']}/file/", token=t["token"])
    assert resp.status == 404 and resp.error == "Image has not been generated yet."
    name = await generated(app, t, made["id"])
    assert media.FILE_NAME.fullmatch(name)
    got = (await client.get(f"{IMAGES}{made['id']}/", token=t["token"])).data
    assert got["status"] == "generated" and got["url"] == f"/media/images/{name}"
    resp = await client.get(f"{IMAGES}{made['id']}/file/", token=t["token"])
    assert resp.status == 200
    assert resp.data == {"url": f"{app.base_url}/media/images/{name}"}
    # the file itself: no token needed, its own content type, the bytes written
    served = await client.get(f"/media/images/{name}")
    assert served.status == 200 and served.body == PNG
    assert served.headers["Content-Type"] == "image/png"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    head = await client.request("HEAD", f"/media/images/{name}")
    assert head.status == 200 and head.body == b""
    webp = await generated(app, t, made["id"], b"RIFF0000WEBP", "webp")
    served = await client.get(f"/media/images/{webp}")
    assert served.headers["Content-Type"] == "image/webp" and served.body == b"RIFF0000WEBP"
    assert (await client.post(f"/media/images/{webp}", {})).status == 405
    # another account sees neither the image nor its URL
    b = await two_sector_owner(client, "bob@example.com")
    assert (await client.get(f"{IMAGES}{made['id']}/file/", token=b["token"])).status == 404
    assert (await client.get(f"{IMAGES}{made['id']}/file/")).status == 401


@pytest.mark.parametrize("path", [
    "/media/images/../igny8d.db",
    "/media/images/..%2figny8d.db",
    "/media/images/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/media/images/..%5c..%5csecret_key",
    "/media/images/secret_key",
    "/media/images/" + "A" * 32 + ".png",
    "/media/images/" + "0" * 32 + ".png",  # well-formed, no such file
    "/media/images/" + "0" * 32 + ".png%00.txt",
    "/media/images/" + "0" * 31 + ".png",
    "/media/images/" + "0" * 32 + ".gif",
    "/media/images/%2fetc%2fpasswd",
    "/media/images/",
    "/media/images/x/y",
])
async def test_media_paths_that_name_no_file(client, app, path):
    (app.ctx.settings.data_dir / "secret_key").write_text("s")  # a file next door
    media.media_dir(app.ctx.settings.data_dir).mkdir(parents=True, exist_ok=True)
    resp = await client.get(path)
    assert resp.status == 404, path
    assert resp.json["success"] is False  # the JSON envelope, never a file


async def test_media_traversal_with_a_raw_path(app):
    """A client that does not normalise the path (curl --path-as-is) gets the 404 too."""
    from tornado.httpclient import AsyncHTTPClient

    http = AsyncHTTPClient(force_instance=True)
    try:
        for raw in ("/media/images/../../igny8d.db", "/media/images/..%2f..%2figny8d.db"):
            resp = await http.fetch(HTTPRequest(app.base_url + raw), raise_error=False)
            assert resp.code == 404, raw
            assert b"SQLite" not in (resp.body or b"")
    finally:
        http.close()


async def test_content_images(client, app):
    a = await two_sector_owner(client, "ann@example.com")
    b = await two_sector_owner(client, "bob@example.com")
    content = await make_content(client, a)
    other = await make_content(client, a, "Other")
    i1 = await make_image(client, a, "featured", content_id=content["id"])
    i2 = await make_image(client, a, "in_article", content_id=content["id"])
    await make_image(client, a, "featured", content_id=other["id"])
    path = IMAGES + "content_images/"
    resp = await client.get(f"{path}?content_id={content['id']}", token=a["token"])
    assert resp.status == 200
    assert [r["id"] for r in resp.data] == [i1["id"], i2["id"]]
    assert set(resp.data[0]) == IMAGE_KEYS
    empty = await make_content(client, a, "Empty")
    assert (await client.get(f"{path}?content_id={empty['id']}", token=a["token"])).data == []
    resp = await client.get(path, token=a["token"])
    assert resp.status == 400 and "content_id" in resp.errors
    for bad in ("x", "-1", "1.5", "9" * 30):
        resp = await client.get(f"{path}?content_id={bad}", token=a["token"])
        assert resp.status == 400 and "content_id" in resp.errors, bad
    resp = await client.get(f"{path}?content_id={content['id']}", token=b["token"])
    assert resp.status == 404 and "content_id" in resp.errors
    resp = await client.get(f"{path}?content_id=999999", token=a["token"])
    assert resp.status == 404
    viewer = await client.member(a["token"], "vic@example.com", "viewer")
    resp = await client.get(f"{path}?content_id={content['id']}", token=viewer)
    assert resp.status == 200 and len(resp.data) == 2
    await generated(app, a, i1["id"])
    assert (await client.get(f"{IMAGES}{i1['id']}/file/", token=viewer)).status == 200


async def test_bulk_update_isolation_and_roles(client):
    a = await two_sector_owner(client, "ann@example.com")
    b = await two_sector_owner(client, "bob@example.com")
    mine = [(await make_image(client, a))["id"] for _ in range(3)]
    theirs = (await make_image(client, b))["id"]
    path = IMAGES + "bulk_update/"
    resp = await client.post(path, {"ids": mine[:2], "status": "failed"}, token=a["token"])
    assert resp.status == 200 and resp.data == {"updated_count": 2}
    assert sorted(await ids_of(client, IMAGES + "?status=failed", a["token"])) == mine[:2]
    resp = await client.post(path, {"ids": [mine[2], theirs], "status": "generated"},
                             token=a["token"])
    assert resp.status == 404 and resp.errors["ids"] == [f"Not found: {theirs}."]
    assert await ids_of(client, IMAGES + "?status=generated", a["token"]) == []
    assert (await client.get(f"{IMAGES}{theirs}/", token=b["token"])).data["status"] == "pending"
    for body in ({"ids": mine, "status": "done"}, {"ids": list(range(1, 1002)),
                                                   "status": "failed"}, {"status": "failed"}):
        assert (await client.post(path, body, token=a["token"])).status == 400, body
    resp = await client.post(IMAGES + "bulk_delete/", {"ids": [theirs]}, token=a["token"])
    assert resp.status == 404
    assert (await client.get(f"{IMAGES}{theirs}/", token=b["token"])).status == 200
    viewer = await client.member(a["token"], "vic@example.com", "viewer")
    assert len(await ids_of(client, IMAGES, viewer)) == 3
    assert (await client.post(path, {"ids": mine, "status": "failed"},
                              token=viewer)).status == 403
    assert (await client.post(IMAGES, {"image_type": "featured", **where(a)},
                              token=viewer)).status == 403
    assert (await client.delete(f"{IMAGES}{mine[0]}/", token=viewer)).status == 403
    resp = await client.post(IMAGES + "bulk_delete/", {"ids": mine}, token=a["token"])
    assert resp.status == 200 and resp.data == {"deleted_count": 3}


def test_file_names_and_urls():
    names = {media.new_file_name() for _ in range(100)}
    assert len(names) == 100
    assert all(media.FILE_NAME.fullmatch(n) for n in names)
    name = next(iter(names))
    assert media.file_url(name) == f"/media/images/{name}"
    assert media.file_url(name, "https://api.example/") == \
        f"https://api.example/media/images/{name}"
    with pytest.raises(ValueError):
        media.file_url("../x.png")
    with pytest.raises(ValueError):
        media.new_file_name("svg")


# -- files follow their rows ------------------------------------------------------------------


def _media(app: Any, name: str) -> Any:
    return media.media_dir(app.ctx.settings.data_dir) / name


async def test_deleting_an_image_removes_its_file_after_the_commit(client, app):
    t = await two_sector_owner(client, "ann@example.com")
    made = await make_image(client, t)
    name = await generated(app, t, made["id"])
    assert (await client.get(f"/media/images/{name}")).status == 200
    # a delete that rolls back keeps the file (the removal waits for the commit)
    with pytest.raises(RuntimeError):
        async with app.ctx.store.begin() as conn:
            await IMAGE_SERVICE.delete(conn, Actor.system(t["account"]),
                                       {"id": made["id"]})
            raise RuntimeError("rolled back")
    assert _media(app, name).is_file()
    assert (await client.get(f"{IMAGES}{made['id']}/", token=t["token"])).status == 200
    assert (await client.delete(f"{IMAGES}{made['id']}/", token=t["token"])).status == 204
    assert not _media(app, name).exists()
    assert (await client.get(f"/media/images/{name}")).status == 404


async def test_bulk_delete_removes_the_files_of_the_deleted_images_only(client, app):
    t = await two_sector_owner(client, "ann@example.com")
    images = [await make_image(client, t) for _ in range(3)]
    names = [await generated(app, t, i["id"]) for i in images]
    resp = await client.post(IMAGES + "bulk_delete/",
                             {"ids": [images[0]["id"], images[1]["id"]]}, token=t["token"])
    assert resp.status == 200 and resp.data == {"deleted_count": 2}
    assert [_media(app, n).exists() for n in names] == [False, False, True]
    assert (await client.get(f"/media/images/{names[0]}")).status == 404
    assert (await client.get(f"/media/images/{names[2]}")).status == 200
    # a refused bulk delete (one foreign id) changes nothing, files included
    b = await two_sector_owner(client, "bob@example.com")
    resp = await client.post(IMAGES + "bulk_delete/", {"ids": [images[2]["id"]]},
                             token=b["token"])
    assert resp.status == 404 and _media(app, names[2]).is_file()


async def test_deleting_content_removes_its_images_files(client, app):
    t = await two_sector_owner(client, "ann@example.com")
    content = await make_content(client, t)
    kept = await make_content(client, t, "Kept")
    mine = [await make_image(client, t, kind, content_id=content["id"])
            for kind in ("featured", "in_article")]
    other = await make_image(client, t, content_id=kept["id"])
    names = [await generated(app, t, i["id"]) for i in mine]
    other_name = await generated(app, t, other["id"])
    assert (await client.delete(f"{CONTENT}{content['id']}/", token=t["token"])).status == 204
    for name in names:
        assert not _media(app, name).exists()
        assert (await client.get(f"/media/images/{name}")).status == 404
    assert (await client.get(f"/media/images/{other_name}")).status == 200
    # bulk, and a site deleted: its content's images' files go with it
    third = await make_content(client, t, "Third")
    img = await make_image(client, t, content_id=third["id"])
    name = await generated(app, t, img["id"])
    resp = await client.post(CONTENT + "bulk_delete/", {"ids": [third["id"]]}, token=t["token"])
    assert resp.status == 200 and not _media(app, name).exists()
    assert (await client.delete(f"/api/v1/auth/sites/{t['site']}/", token=t["token"])).status \
        == 204
    assert not _media(app, other_name).exists()


async def test_deleting_an_account_removes_its_files(client, app):
    t = await two_sector_owner(client, "ann@example.com")
    b = await two_sector_owner(client, "bob@example.com")
    mine = await generated(app, t, (await make_image(client, t))["id"])
    theirs = await generated(app, b, (await make_image(client, b))["id"])
    resp = await client.delete(f"/api/v1/auth/accounts/{t['account']}/", token=t["token"])
    assert resp.status == 204
    assert not _media(app, mine).exists() and _media(app, theirs).is_file()


async def test_the_sweep_removes_old_orphans_only(client, app):
    import os
    import time

    t = await two_sector_owner(client, "ann@example.com")
    data_dir = app.ctx.settings.data_dir
    referenced = await generated(app, t, (await make_image(client, t))["id"])
    # orphans: a worker killed between writing and committing, and its temporary file
    old = media.write_image_file(data_dir, PNG)
    fresh = media.write_image_file(data_dir, PNG)
    tmp = media.media_dir(data_dir) / ".tmp-abc123"
    tmp.write_bytes(b"half")
    stranger = media.media_dir(data_dir) / "README"  # not a name we hand out
    stranger.write_text("keep")
    hour_ago = time.time() - 2 * media.SWEEP_GRACE_S
    for path in (_media(app, referenced), _media(app, old), tmp, stranger):
        os.utime(path, (hour_ago, hour_ago))
    assert await media.sweep_media(app.ctx.store, data_dir, batch=2) == 2
    assert not _media(app, old).exists() and not tmp.exists()
    assert _media(app, fresh).is_file() and _media(app, referenced).is_file()
    assert stranger.is_file()
    assert (await client.get(f"/media/images/{referenced}")).status == 200
    assert (await client.get(f"/media/images/{old}")).status == 404
    assert await media.sweep_media(app.ctx.store, data_dir) == 0
    # the scheduler's job calls the same function
    from igny8d.scheduler import make_scheduler, sweep_media

    job = make_scheduler(app.ctx).get_job("sweep_media")
    assert job is not None and job.coalesce is True and job.max_instances == 1
    os.utime(_media(app, fresh), (hour_ago, hour_ago))
    assert await sweep_media(app.ctx) == 1 and not _media(app, fresh).exists()
