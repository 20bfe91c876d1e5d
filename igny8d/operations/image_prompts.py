"""`writer/content/generate_image_prompts`: pending images with prompts for content, as a paid job.

**admit**: `{ids}` of at most `MAX_CONTENT` (50) visible content rows (404 naming the others).
Price: `price("image_prompts", PROMPTS_PER_CONTENT * n)` — the most prompts a content can get
(one `featured` and `MAX_IN_ARTICLE` `in_article` ones, one per major heading), charged up
front; what the job does not add is refunded.

**read**: the content rows. **compute**: `provider.image_prompts` for each. **save** (after
the lifecycle has locked the account, which already serialises one account's saves; each
content row is locked too, `FOR UPDATE` on Postgres, so the rule does not hang on that): images
already rendered (`generated`) stay and keep their slot — no second featured image, no prompt
again for a rendered heading, never more than `MAX_IN_ARTICLE` in-article images; the
content's images without a file (`pending` or `failed`: an earlier run's prompts) are replaced
by the new prompts, `pending`, with the content's task_id, site and sector.

**Price of a re-run**: only the net new prompts are kept as charged — prompts created less the
pending/failed ones they replace, per content, never below 0 — so running it again on the same
content (or two identical requests at once) costs once. The rest is refunded.

Result: `{prompts_created, image_ids, replaced, kept, charged_prompts, skipped}`
(`kept`: rendered images left as they were; `charged_prompts`: the net new prompts paid for).
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
from igny8d.store.errors import RowNotFound
from igny8d.store.images import IMAGES, images_of_content
from igny8d.store.rows import get_row, rows_by_id
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


def _open_slots(drafts: list[ImagePromptDraft],
                rendered: list[dict[str, Any]]) -> list[ImagePromptDraft]:
    """The prompts for slots no rendered image fills: no featured prompt when a featured image
    is rendered, no in-article prompt a rendered image already carries, and no more in-article
    prompts than `MAX_IN_ARTICLE` less the rendered in-article images."""
    has_featured = any(r["image_type"] == "featured" for r in rendered)
    done = {str(r["prompt"]).strip() for r in rendered if r["image_type"] == "in_article"}
    room = MAX_IN_ARTICLE - sum(r["image_type"] == "in_article" for r in rendered)
    out: list[ImagePromptDraft] = []
    for d in drafts:
        if d.image_type == "featured":
            if not has_featured:
                out.append(d)
        elif room > 0 and d.prompt.strip()[:MAX_PROMPT] not in done:
            out.append(d)
            room -= 1
    return out


async def save(conn: AsyncConnection, jc: JobContext, out: Prompts) -> Saved:
    scope = jc.scope
    skipped = list(out.skipped)
    image_ids: list[int] = []
    replaced = kept = charged = 0
    for cid, prompts in sorted(out.drafts.items()):
        try:  # locked: a concurrent run on this content waits, then sees these prompts
            content = await get_row(conn, CONTENT, cid, scope=scope, for_update=True)
        except RowNotFound:
            skipped.append({"content_id": cid, "reason": "gone: the content was deleted"})
            continue
        images = await images_of_content(conn, cid, scope=scope)
        old = [i for i in images if i["status"] in ("pending", "failed")]
        rendered = [i for i in images if i["status"] not in ("pending", "failed")]
        kept += len(rendered)
        # a pending image set back from generated may still have its file
        media.release_files(conn, (i["file_name"] for i in old))
        gone = await delete_many(conn, IMAGES, [int(i["id"]) for i in old], scope=scope)
        replaced += gone
        new = _open_slots(prompts, rendered)
        for draft in new:
            row = await insert_row(conn, IMAGES, {
                "account_id": content["account_id"], "site_id": content["site_id"],
                "sector_id": content["sector_id"], "content_id": cid,
                "task_id": content["task_id"], "image_type": draft.image_type,
                "prompt": draft.prompt.strip()[:MAX_PROMPT], "status": "pending"})
            image_ids.append(int(row["id"]))
        charged += max(0, len(new) - gone)
    return Saved(units_done=charged,
                 refund_note="Refund: image prompts not added (replaced or not made)",
                 result={"prompts_created": len(image_ids), "image_ids": image_ids,
                         "replaced": replaced, "kept": kept, "charged_prompts": charged,
                         "skipped": skipped})


OPERATION: Operation[GenerateImagePromptsBody, dict[int, dict[str, Any]], Prompts] = Operation(
    kind=KIND, price="image_prompts", admit=admit, reading=reading, read=read,
    compute=compute, save=save)
