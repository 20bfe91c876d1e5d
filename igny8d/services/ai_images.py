"""`writer/content/generate_image_prompts` and `writer/images/generate_images`: paid jobs.

Image prompts. The action takes `{ids}` of at most `MAX_CONTENT` (50) visible content rows
(404 naming the others) and charges `price("image_prompts", PROMPTS_PER_CONTENT * n)` up
front — the most prompts a content can get (one `featured` and `MAX_IN_ARTICLE` `in_article`
ones, one per major heading). The job asks `provider.image_prompts` for each content (outside
any transaction), then in one transaction replaces the content's images that have no file
(`pending` or `failed`: an earlier run's prompts) with new `pending` images carrying the
prompts, the content's task_id, site and sector; `generated` images stay. Prompts not made
are refunded.

Images. The action takes `{ids}` of at most `MAX_IMAGES` (50) visible images and charges
`price("images", n)` for those not `generated` yet (a generated image is skipped, not
re-rendered: set it back to `pending` through bulk_update first to render it again). The job
renders each with `provider.render_image(ImageRequest(prompt, title=<its content's title>,
negative_prompt=<the account's negative prompt>, seed=<image id>))`, writes each file
(`services.media.write_image_file`, a random name under the data dir) BEFORE the final
transaction, then in that transaction marks each image `generated` with its URL
(`attach_file`) or `failed` with the provider's reason, and refunds the failed and skipped
ones. Files are not transactional: when the final transaction does not commit, the files
written for it are deleted; a file whose image was deleted meanwhile too. An image rendered
again (or a pending one replaced by new prompts) releases its old file after the commit.
When every render failed, the job fails with the provider's message (nothing written,
everything refunded).

Results: prompts `{prompts_created, image_ids, replaced, skipped}`; images `{generated,
image_ids, failed: [{id, error}], skipped: [{id, reason}]}`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from igny8d.ai.types import (
    ImageBrief,
    ImagePromptDraft,
    ImageRequest,
    ProviderError,
    RenderedImage,
)
from igny8d.permissions import Actor
from igny8d.scope import Scope
from igny8d.services import ai_common
from igny8d.services import media as image_files
from igny8d.settings import Settings
from igny8d.store import accounts as accounts_store
from igny8d.store import images as image_store
from igny8d.store.content import CONTENT
from igny8d.store.engine import Store
from igny8d.store.images import IMAGES
from igny8d.store.rows import rows_by_id
from igny8d.store.writes import delete_many, insert_row

if TYPE_CHECKING:
    from igny8d.jobs.executor import Progress
    from igny8d.jobs.registry import Job, JobRegistry

PROMPTS_KIND = "generate_image_prompts"
PROMPTS_OPERATION = "image_prompts"
IMAGES_KIND = "generate_images"
IMAGES_OPERATION = "images"
MAX_CONTENT = 50
MAX_IMAGES = 50
#: `in_article` prompts per content (one per major heading, in order)
MAX_IN_ARTICLE = 3
PROMPTS_PER_CONTENT = 1 + MAX_IN_ARTICLE
MAX_PROMPT = 10000
#: the file extension of each image type a provider may answer
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}


# -- image prompts ---------------------------------------------------------------------------

async def generate_image_prompts(deps: ai_common.AIDeps, actor: Actor, *,
                                 ids: Sequence[int]) -> dict[str, Any]:
    """Validate, price (the most prompts possible), charge and queue; `{task_id}`."""
    wanted = ai_common.distinct_ids(ids, cap=MAX_CONTENT, noun="content")
    async with deps.store.begin() as conn:
        await ai_common.require_rows(conn, CONTENT, wanted, scope=actor.scope, columns=("id",))
        return await ai_common.submit_charged(
            conn, deps, actor, kind=PROMPTS_KIND, operation=PROMPTS_OPERATION,
            units=PROMPTS_PER_CONTENT * len(wanted), payload={"ids": wanted},
            description=f"Image prompts for {len(wanted)} content item(s)")


def _prompt_set(drafts: Iterable[ImagePromptDraft]) -> list[ImagePromptDraft]:
    """One featured prompt first, then at most MAX_IN_ARTICLE in-article ones, in order;
    blank prompts dropped (whatever a provider answered)."""
    featured: ImagePromptDraft | None = None
    inline: list[ImagePromptDraft] = []
    for d in drafts:
        if not d.prompt.strip():
            continue
        if d.image_type == "featured":
            featured = featured or d
        elif len(inline) < MAX_IN_ARTICLE:
            inline.append(ImagePromptDraft("in_article", d.prompt, d.heading))
    return ([featured] if featured else []) + inline


async def run_generate_image_prompts(ctx: Any, job: Job, progress: Progress,
                                     setup: ai_common.JobSetup) -> dict[str, Any]:
    store: Store = ctx.store
    settings: Settings = ctx.settings
    scope = Scope(account_id=job.account_id)
    ids = sorted(int(i) for i in job.payload["ids"])
    meter = ai_common.Meter(progress)
    await meter.update(phase="PREPARE", percentage=5,
                       message=f"Reading {len(ids)} content item(s).")
    async with store.read() as conn:
        contents = {int(r["id"]): r for r in await rows_by_id(
            conn, CONTENT, ids, scope=scope)}
    skipped: list[dict[str, Any]] = []
    drafts: dict[int, list[ImagePromptDraft]] = {}
    for n, cid in enumerate(ids):
        content = contents.get(cid)
        if content is None:
            skipped.append({"content_id": cid, "reason": "gone: the content was deleted"})
            continue
        brief = ImageBrief(content_id=cid, title=str(content["title"]),
                           html_content=str(content["html_content"]),
                           primary_keyword=str(content["primary_keyword"] or ""),
                           max_in_article=MAX_IN_ARTICLE)
        await meter.update(phase="AI_CALL", percentage=10 + 80 * n / len(ids),
                           message=f"Image prompts {n + 1}/{len(ids)}: {brief.title}")
        got = await meter.call("image_prompts", brief.title, functools.partial(
            setup.provider.image_prompts, brief, setup.prompts))
        drafts[cid] = _prompt_set(got)
    await meter.update(phase="SAVING", percentage=92, message=(
        f"Saving {sum(len(d) for d in drafts.values())} image prompt(s)."))

    async with progress.final() as conn:
        await accounts_store.lock_account(conn, job.account_id)
        live = {int(r["id"]): r for r in await rows_by_id(
            conn, CONTENT, sorted(drafts), scope=scope)}
        image_ids: list[int] = []
        replaced = 0
        for cid, prompts in sorted(drafts.items()):
            content = live.get(cid)
            if content is None:
                skipped.append({"content_id": cid, "reason": "gone: the content was deleted"})
                continue
            old = [i for i in await image_store.images_of_content(conn, cid, scope=scope)
                   if i["status"] in ("pending", "failed")]
            # a pending image set back from generated may still have its file
            image_files.release_files(conn, (i["file_name"] for i in old))
            replaced += await delete_many(conn, IMAGES, [int(i["id"]) for i in old],
                                          scope=scope)
            for draft in prompts:
                row = await insert_row(conn, IMAGES, {
                    "account_id": content["account_id"], "site_id": content["site_id"],
                    "sector_id": content["sector_id"], "content_id": cid,
                    "task_id": content["task_id"], "image_type": draft.image_type,
                    "prompt": draft.prompt.strip()[:MAX_PROMPT], "status": "pending"})
                image_ids.append(int(row["id"]))
        await ai_common.settle(conn, job, operation=PROMPTS_OPERATION,
                               units_done=len(image_ids), meter=meter, settings=settings,
                               description="Refund: image prompts not made")
        result = {"prompts_created": len(image_ids), "image_ids": image_ids,
                  "replaced": replaced, "skipped": skipped}
        progress.result = result
    return result


# -- images ----------------------------------------------------------------------------------

async def generate_images(deps: ai_common.AIDeps, actor: Actor, *,
                          ids: Sequence[int]) -> dict[str, Any]:
    """Validate, price the images not generated yet, charge and queue; `{task_id}`."""
    wanted = ai_common.distinct_ids(ids, cap=MAX_IMAGES, noun="image")
    async with deps.store.begin() as conn:
        rows = await ai_common.require_rows(conn, IMAGES, wanted, scope=actor.scope,
                                            columns=("id", "status"))
        render = [i for i in wanted if rows[i]["status"] != "generated"]
        return await ai_common.submit_charged(
            conn, deps, actor, kind=IMAGES_KIND, operation=IMAGES_OPERATION,
            units=len(render), payload={"ids": wanted, "render": render},
            description=f"Render {len(render)} image(s)")


def _remove(data_dir: Path, names: Iterable[str]) -> None:
    folder = image_files.media_dir(data_dir)
    for name in names:
        (folder / name).unlink(missing_ok=True)


def _store_files(data_dir: Path, rendered: dict[int, RenderedImage]) -> dict[int, str]:
    """Write each rendered image to a new file; on any error none stays."""
    names: dict[int, str] = {}
    try:
        for image_id, image in sorted(rendered.items()):
            names[image_id] = image_files.write_image_file(
                data_dir, image.data, EXTENSIONS[image.content_type])
    except BaseException:
        _remove(data_dir, names.values())
        raise
    return names


async def run_generate_images(ctx: Any, job: Job, progress: Progress,
                              setup: ai_common.JobSetup) -> dict[str, Any]:
    store: Store = ctx.store
    settings: Settings = ctx.settings
    scope = Scope(account_id=job.account_id)
    render = sorted(int(i) for i in job.payload["render"])
    skipped: list[dict[str, Any]] = [
        {"id": int(i), "reason": "generated: the image has a file already"}
        for i in job.payload["ids"] if int(i) not in set(render)]
    meter = ai_common.Meter(progress)
    await meter.update(phase="PREPARE", percentage=5,
                       message=f"Reading {len(render)} image(s).")
    async with store.read() as conn:
        images = {int(r["id"]): r for r in await rows_by_id(
            conn, IMAGES, render, scope=scope)}
        titles = {int(r["id"]): str(r["title"]) for r in await rows_by_id(
            conn, CONTENT, sorted({int(i["content_id"]) for i in images.values()
                                   if i["content_id"] is not None}),
            scope=scope, columns=("id", "title"))}
    negative = setup.prompts.get("negative_prompt")
    rendered: dict[int, RenderedImage] = {}
    failed: dict[int, str] = {}
    provider_errors: list[ProviderError] = []
    for n, image_id in enumerate(render):
        image = images.get(image_id)
        if image is None:
            skipped.append({"id": image_id, "reason": "gone: the image was deleted"})
            continue
        if image["status"] == "generated":
            skipped.append({"id": image_id, "reason": "generated: the image has a file "
                                                      "already"})
            continue
        title = titles.get(image["content_id"] or 0, "")
        prompt = str(image["prompt"] or "").strip() or title
        if not prompt:
            failed[image_id] = "The image has no prompt and no content title."
            continue
        request = ImageRequest(prompt=prompt, title=title or prompt[:80],
                               negative_prompt=negative, seed=image_id)
        await meter.update(phase="AI_CALL", percentage=10 + 75 * n / len(render),
                           message=f"Rendering {n + 1}/{len(render)}: "
                                   f"{image['image_type']} image {image_id}")
        out = await meter.attempt("render_image", f"image {image_id}", functools.partial(
            setup.provider.render_image, request))
        if isinstance(out, ProviderError):
            provider_errors.append(out)
            failed[image_id] = str(out).strip()[:1000] or "The image could not be rendered."
        elif out.content_type not in EXTENSIONS or not out.data:
            failed[image_id] = f"The provider answered an unusable image ({out.content_type})."
        else:
            rendered[image_id] = out
    if provider_errors and not rendered:
        raise ai_common.job_failure(provider_errors[0])
    await meter.update(phase="SAVING", percentage=90,
                       message=f"Saving {len(rendered)} image file(s).")

    # small files, written on the loop: a cancellation cannot leave one untracked
    names = _store_files(settings.data_dir, rendered)
    orphans: list[str] = []
    try:
        async with progress.final() as conn:
            await accounts_store.lock_account(conn, job.account_id)
            live = {int(r["id"]): r for r in await rows_by_id(
                conn, IMAGES, sorted({*rendered, *failed}), scope=scope,
                columns=("id", "status", "file_name"))}
            done: list[int] = []
            failures: list[dict[str, Any]] = []
            for image_id in sorted({*rendered, *failed}):
                row = live.get(image_id)
                if row is None or row["status"] == "generated":
                    skipped.append({"id": image_id, "reason": (
                        "gone: the image was deleted" if row is None
                        else "generated: the image got a file meanwhile")})
                    if image_id in names:
                        orphans.append(names[image_id])
                    continue
                # an image set back to pending to render again: its old file goes
                image_files.release_files(conn, [row["file_name"]])
                if image_id in names:
                    await image_files.attach_file(conn, image_id, names[image_id],
                                                  account_id=job.account_id)
                    done.append(image_id)
                else:
                    await image_files.mark_failed(conn, image_id, failed[image_id],
                                                  account_id=job.account_id)
                    failures.append({"id": image_id, "error": failed[image_id]})
            await ai_common.settle(conn, job, operation=IMAGES_OPERATION,
                                   units_done=len(done), meter=meter, settings=settings,
                                   description="Refund: images not rendered")
            result = {"generated": len(done), "image_ids": done, "failed": failures,
                      "skipped": sorted(skipped, key=lambda s: int(s["id"]))}
            progress.result = result
    except BaseException:
        _remove(settings.data_dir, names.values())
        raise
    _remove(settings.data_dir, orphans)
    return result


def register(registry: JobRegistry) -> None:
    ai_common.register_ai_kind(registry, PROMPTS_KIND, run_generate_image_prompts)
    ai_common.register_ai_kind(registry, IMAGES_KIND, run_generate_images)
