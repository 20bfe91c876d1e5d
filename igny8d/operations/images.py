"""`writer/images/generate_images`: images rendered from their prompts, as a paid job.

**admit**: `{ids}` of at most `MAX_IMAGES` (50) visible images; price: `price("images", n)`
for those not `generated` yet (a generated image is skipped, not re-rendered: set it back to
`pending` through bulk_update first to render it again).

**read**: the images and their content's titles. **compute**: each rendered with
`provider.render_image(ImageRequest(prompt, title=<its content's title>,
negative_prompt=<the account's negative prompt>, seed=<image id>))`; the files written (a
random name under the data dir) before the final transaction. When every render failed, the
job fails with the provider's message (nothing written, everything refunded). **save**: each
image `generated` with its URL, or `failed` with the provider's reason; the failed and skipped
ones refunded. Files are not transactional: when the save does not commit, the files written
for it are deleted (`discard`); a file whose image was deleted meanwhile too (after the
commit). An image rendered again releases its old file after the commit.

Result: `{generated, image_ids, failed: [{id, error}], skipped: [{id, reason}]}`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.ai.types import ImageRequest, ProviderError, RenderedImage
from igny8d.operations import lifecycle
from igny8d.operations.lifecycle import Admission, JobContext, Operation, Saved
from igny8d.permissions import Actor
from igny8d.schemas.ai import GenerateImagesBody
from igny8d.services import media
from igny8d.settings import Settings
from igny8d.store.content import CONTENT
from igny8d.store.images import IMAGES
from igny8d.store.rows import rows_by_id

KIND = "generate_images"
MAX_IMAGES = 50
#: the file extension of each image type a provider may answer
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}

_GONE = "gone: the image was deleted"
_HAS_FILE = "generated: the image has a file already"


async def admit(conn: AsyncConnection, settings: Settings, actor: Actor,
                body: GenerateImagesBody) -> Admission:
    wanted = lifecycle.distinct_ids(body.ids, cap=MAX_IMAGES, noun="image")
    rows = await lifecycle.require_rows(conn, IMAGES, wanted, scope=actor.scope,
                                        columns=("id", "status"))
    render = [i for i in wanted if rows[i]["status"] != "generated"]
    return Admission(units=len(render), payload={"ids": wanted, "render": render},
                     description=f"Render {len(render)} image(s)")


# -- read ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Work:
    render: list[int]
    images: dict[int, dict[str, Any]]
    #: content id → its title
    titles: dict[int, str]


def _render(jc: JobContext) -> list[int]:
    return sorted(int(i) for i in jc.payload["render"])


def reading(jc: JobContext) -> str:
    return f"Reading {len(_render(jc))} image(s)."


async def read(conn: AsyncConnection, jc: JobContext) -> Work:
    render = _render(jc)
    images = {int(r["id"]): r for r in await rows_by_id(conn, IMAGES, render, scope=jc.scope)}
    titles = {int(r["id"]): str(r["title"]) for r in await rows_by_id(
        conn, CONTENT, sorted({int(i["content_id"]) for i in images.values()
                               if i["content_id"] is not None}),
        scope=jc.scope, columns=("id", "title"))}
    return Work(render=render, images=images, titles=titles)


# -- compute -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rendered:
    #: image id → the file written for it (under the data dir's media folder)
    files: dict[int, str]
    #: image id → why it could not be rendered
    failed: dict[int, str]
    skipped: list[dict[str, Any]]


def _remove(data_dir: Path, names: Iterable[str]) -> None:
    folder = media.media_dir(data_dir)
    for name in names:
        (folder / name).unlink(missing_ok=True)


def _store_files(data_dir: Path, rendered: dict[int, RenderedImage]) -> dict[int, str]:
    """Write each rendered image to a new file; on any error none stays."""
    names: dict[int, str] = {}
    try:
        for image_id, image in sorted(rendered.items()):
            names[image_id] = media.write_image_file(
                data_dir, image.data, EXTENSIONS[image.content_type])
    except BaseException:
        _remove(data_dir, names.values())
        raise
    return names


async def compute(jc: JobContext, work: Work) -> Rendered:
    render = set(work.render)
    skipped: list[dict[str, Any]] = [{"id": int(i), "reason": _HAS_FILE}
                                     for i in jc.payload["ids"] if int(i) not in render]
    negative = jc.prompts.get("negative_prompt")
    rendered: dict[int, RenderedImage] = {}
    failed: dict[int, str] = {}
    provider_errors: list[ProviderError] = []
    for n, image_id in enumerate(work.render):
        image = work.images.get(image_id)
        if image is None or image["status"] == "generated":
            skipped.append({"id": image_id, "reason": _GONE if image is None else _HAS_FILE})
            continue
        title = work.titles.get(image["content_id"] or 0, "")
        prompt = str(image["prompt"] or "").strip() or title
        if not prompt:
            failed[image_id] = "The image has no prompt and no content title."
            continue
        request = ImageRequest(prompt=prompt, title=title or prompt[:80],
                               negative_prompt=negative, seed=image_id)
        await jc.update(phase="AI_CALL", percentage=10 + 75 * n / len(work.render),
                        message=f"Rendering {n + 1}/{len(work.render)}: "
                                f"{image['image_type']} image {image_id}")
        out = await jc.attempt("render_image", f"image {image_id}", functools.partial(
            jc.provider.render_image, request))
        if isinstance(out, ProviderError):
            provider_errors.append(out)
            failed[image_id] = str(out).strip()[:1000] or "The image could not be rendered."
        elif out.content_type not in EXTENSIONS or not out.data:
            failed[image_id] = f"The provider answered an unusable image ({out.content_type})."
        else:
            rendered[image_id] = out
    if provider_errors and not rendered:
        raise lifecycle.job_failure(provider_errors[0])
    await jc.update(phase="SAVING", percentage=90,
                    message=f"Saving {len(rendered)} image file(s).")
    # small files, written on the loop: a cancellation cannot leave one untracked
    files = _store_files(jc.settings.data_dir, rendered)
    return Rendered(files=files, failed=failed, skipped=skipped)


def discard(jc: JobContext, out: Rendered) -> None:
    """The save did not commit: no image names these files."""
    _remove(jc.settings.data_dir, out.files.values())


# -- save ----------------------------------------------------------------------------------------


async def save(conn: AsyncConnection, jc: JobContext, out: Rendered) -> Saved:
    account_id = jc.job.account_id
    skipped = list(out.skipped)
    touched = sorted({*out.files, *out.failed})
    live = {int(r["id"]): r for r in await rows_by_id(
        conn, IMAGES, touched, scope=jc.scope, columns=("id", "status", "file_name"))}
    done: list[int] = []
    failures: list[dict[str, Any]] = []
    orphans: list[str] = []
    for image_id in touched:
        row = live.get(image_id)
        if row is None or row["status"] == "generated":
            skipped.append({"id": image_id, "reason": _GONE if row is None
                            else "generated: the image got a file meanwhile"})
            if image_id in out.files:
                orphans.append(out.files[image_id])
            continue
        # an image set back to pending to render again: its old file goes
        media.release_files(conn, [row["file_name"]])
        if image_id in out.files:
            await media.attach_file(conn, image_id, out.files[image_id],
                                          account_id=account_id)
            done.append(image_id)
        else:
            await media.mark_failed(conn, image_id, out.failed[image_id],
                                          account_id=account_id)
            failures.append({"id": image_id, "error": out.failed[image_id]})
    data_dir = jc.settings.data_dir
    return Saved(
        units_done=len(done), refund_note="Refund: images not rendered",
        after_commit=functools.partial(_remove, data_dir, orphans) if orphans else None,
        result={"generated": len(done), "image_ids": done, "failed": failures,
                "skipped": sorted(skipped, key=lambda s: int(s["id"]))})


OPERATION: Operation[GenerateImagesBody, Work, Rendered] = Operation(
    kind=KIND, price="images", admit=admit, reading=reading, read=read, compute=compute,
    save=save, discard=discard)
