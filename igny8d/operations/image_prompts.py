"""`writer/content/generate_image_prompts`: pending images with prompts for content, as a paid job.

**admit**: `{ids}` of at most `MAX_CONTENT` (50) visible content rows (404 naming the others).
Price: `price("image_prompts", PROMPTS_PER_CONTENT * n)` — the most prompts a content can get
(one `featured` and `MAX_IN_ARTICLE` `in_article` ones, one per major heading).

**read**: the content rows. **compute**: `provider.image_prompts` for each. **save**: the
content's images that have no file (`pending` or `failed`: an earlier run's prompts) are
replaced by new `pending` images carrying the prompts, the content's task_id, site and sector;
`generated` images stay. Prompts not made are refunded.

Result: `{prompts_created, image_ids, replaced, skipped}`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.ai.types import ImageBrief, ImagePromptDraft
from igny8d.operations import lifecycle
from igny8d.operations.lifecycle import Admission, JobContext, Operation, Saved
from igny8d.permissions import Actor
from igny8d.schemas.ai import GenerateImagePromptsBody
from igny8d.services import media
from igny8d.settings import Settings
from igny8d.store.content import CONTENT
from igny8d.store.images import IMAGES, images_of_content
from igny8d.store.rows import rows_by_id
from igny8d.store.writes import delete_many, insert_row

KIND = "generate_image_prompts"
MAX_CONTENT = 50
#: `in_article` prompts per content (one per major heading, in order)
MAX_IN_ARTICLE = 3
PROMPTS_PER_CONTENT = 1 + MAX_IN_ARTICLE
MAX_PROMPT = 10000


async def admit(conn: AsyncConnection, settings: Settings, actor: Actor,
                body: GenerateImagePromptsBody) -> Admission:
    wanted = lifecycle.distinct_ids(body.ids, cap=MAX_CONTENT, noun="content")
    await lifecycle.require_rows(conn, CONTENT, wanted, scope=actor.scope, columns=("id",))
    return Admission(units=PROMPTS_PER_CONTENT * len(wanted), payload={"ids": wanted},
                     description=f"Image prompts for {len(wanted)} content item(s)")


def _ids(jc: JobContext) -> list[int]:
    return sorted(int(i) for i in jc.payload["ids"])


def reading(jc: JobContext) -> str:
    return f"Reading {len(_ids(jc))} content item(s)."


async def read(conn: AsyncConnection, jc: JobContext) -> dict[int, dict[str, Any]]:
    """The content rows still there, by id."""
    return {int(r["id"]): r for r in await rows_by_id(conn, CONTENT, _ids(jc), scope=jc.scope)}


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


@dataclass(frozen=True, slots=True)
class Prompts:
    #: content id → its prompt set
    drafts: dict[int, list[ImagePromptDraft]]
    skipped: list[dict[str, Any]]


async def compute(jc: JobContext, contents: dict[int, dict[str, Any]]) -> Prompts:
    ids = _ids(jc)
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
        await jc.update(phase="AI_CALL", percentage=10 + 80 * n / len(ids),
                        message=f"Image prompts {n + 1}/{len(ids)}: {brief.title}")
        got = await jc.call("image_prompts", brief.title, functools.partial(
            jc.provider.image_prompts, brief, jc.prompts))
        drafts[cid] = _prompt_set(got)
    await jc.update(phase="SAVING", percentage=92, message=(
        f"Saving {sum(len(d) for d in drafts.values())} image prompt(s)."))
    return Prompts(drafts=drafts, skipped=skipped)


async def save(conn: AsyncConnection, jc: JobContext, out: Prompts) -> Saved:
    scope = jc.scope
    skipped = list(out.skipped)
    live = {int(r["id"]): r for r in await rows_by_id(
        conn, CONTENT, sorted(out.drafts), scope=scope)}
    image_ids: list[int] = []
    replaced = 0
    for cid, prompts in sorted(out.drafts.items()):
        content = live.get(cid)
        if content is None:
            skipped.append({"content_id": cid, "reason": "gone: the content was deleted"})
            continue
        old = [i for i in await images_of_content(conn, cid, scope=scope)
               if i["status"] in ("pending", "failed")]
        # a pending image set back from generated may still have its file
        media.release_files(conn, (i["file_name"] for i in old))
        replaced += await delete_many(conn, IMAGES, [int(i["id"]) for i in old], scope=scope)
        for draft in prompts:
            row = await insert_row(conn, IMAGES, {
                "account_id": content["account_id"], "site_id": content["site_id"],
                "sector_id": content["sector_id"], "content_id": cid,
                "task_id": content["task_id"], "image_type": draft.image_type,
                "prompt": draft.prompt.strip()[:MAX_PROMPT], "status": "pending"})
            image_ids.append(int(row["id"]))
    return Saved(units_done=len(image_ids), refund_note="Refund: image prompts not made",
                 result={"prompts_created": len(image_ids), "image_ids": image_ids,
                         "replaced": replaced, "skipped": skipped})


OPERATION: Operation[GenerateImagePromptsBody, dict[int, dict[str, Any]], Prompts] = Operation(
    kind=KIND, price="image_prompts", admit=admit, reading=reading, read=read,
    compute=compute, save=save)
