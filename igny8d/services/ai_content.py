"""`writer/tasks/auto_generate_content`: an article draft per writer task, as a paid job.

The action: `{ids}` of at most `MAX_TASKS` (50) visible tasks (404 naming the others). A task
that already has content is not written again (it is listed as skipped in the result and not
charged; to rewrite one, delete its content first). The planned length of a task is its
idea's `estimated_word_count` (else `DEFAULT_WORDS`); the price is `price("content", words)`
on the planned total, charged up front with the job queued in one transaction (402 when
short, nothing queued).

The job (kind `auto_generate_content`, payload `{ids, plan: [[task_id, words]], credits,
units}`): per task an `ArticleBrief` — the task's title, keywords (else its idea's target
keywords), description, type and structure, the idea's outline as written (a user-edited
one included: `ai_common.outline_sections`), the planned length, and the cluster's other
keywords as related keywords — goes to `provider.generate_article` (outside any
transaction; progress "Writing 3/10: <title>"); the HTML is sanitised off the event loop
(`services.content.clean_html`, as every content write) and its words counted. Then ONE
transaction (`progress.final()`) writes a `draft` content row per task (site and sector of
the task, meta fields, primary and secondary keywords), moves each written task to `review`
and its idea to `completed`, and refunds the words not written: a task is charged for
min(words written, words planned) — a longer article costs no more than planned, a shorter
one gets the difference back, a task skipped (deleted, or given content meanwhile) all of it.

Result: `{written, content_ids, words, skipped: [{task_id, reason}]}`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.ai.types import ArticleBrief, ArticleDraft
from igny8d.permissions import Actor
from igny8d.schemas.writer import CONTENT_TYPES
from igny8d.scope import Scope
from igny8d.services import ai_common
from igny8d.services.content import clean_html
from igny8d.settings import Settings
from igny8d.store import accounts as accounts_store
from igny8d.store.content import CONTENT
from igny8d.store.engine import Store
from igny8d.store.ideas import IDEAS
from igny8d.store.keywords import KEYWORDS
from igny8d.store.rows import list_rows, rows_by_id
from igny8d.store.schema import content as content_table
from igny8d.store.schema import keywords as keywords_table
from igny8d.store.tasks import TASKS
from igny8d.store.writes import insert_row, update_many

if TYPE_CHECKING:
    from igny8d.jobs.executor import Progress
    from igny8d.jobs.registry import Job, JobRegistry

KIND = "auto_generate_content"
OPERATION = "content"
#: The reference: "max 50 tasks per batch".
MAX_TASKS = 50
#: The planned length of a task without an idea (or whose idea has none).
DEFAULT_WORDS = 1500
#: Related (secondary keyword candidate) keywords of the cluster handed to the provider.
RELATED_SHOWN = 20
MAX_SECONDARY = 50


async def _with_content(conn: AsyncConnection, task_ids: Sequence[int], *,
                        account_id: int) -> set[int]:
    """Which of the tasks already have a content row (the account's, whatever the grants)."""
    if not task_ids:
        return set()
    stmt = CONTENT.scoped(select(content_table.c.task_id), Scope(account_id)).where(
        content_table.c.task_id.in_(list(task_ids)))
    return {int(t) for t in (await conn.execute(stmt)).scalars() if t is not None}


async def _idea_words(conn: AsyncConnection, idea_ids: Sequence[int], *,
                      account_id: int) -> dict[int, int]:
    rows = await rows_by_id(conn, IDEAS, sorted(set(idea_ids)),
                            scope=Scope(account_id),
                            columns=("id", "estimated_word_count"))
    return {int(r["id"]): int(r["estimated_word_count"] or 0) for r in rows}


# -- the action ----------------------------------------------------------------------------------

async def auto_generate_content(deps: ai_common.AIDeps, actor: Actor, *,
                                ids: Sequence[int]) -> dict[str, Any]:
    """Validate, price, charge and queue; `{task_id}` (the handler answers 202)."""
    wanted = ai_common.distinct_ids(ids, cap=MAX_TASKS, noun="task")
    async with deps.store.begin() as conn:
        tasks = await ai_common.require_rows(conn, TASKS, wanted, scope=actor.scope,
                                             columns=("id", "idea_id"))
        written = await _with_content(conn, wanted, account_id=actor.account_id)
        words = await _idea_words(conn, [int(t["idea_id"]) for t in tasks.values()
                                         if t["idea_id"] is not None],
                                  account_id=actor.account_id)
        plan = [[tid, words.get(tasks[tid]["idea_id"] or 0) or DEFAULT_WORDS]
                for tid in wanted if tid not in written]
        total = sum(w for _tid, w in plan)
        return await ai_common.submit_charged(
            conn, deps, actor, kind=KIND, operation=OPERATION, units=total,
            payload={"ids": wanted, "plan": plan},
            description=f"Content for {len(plan)} task(s), {total} words planned")


# -- the job ------------------------------------------------------------------------------------

def article_brief(task: dict[str, Any], idea: dict[str, Any] | None,
                  cluster_keywords: Sequence[str], words: int) -> ArticleBrief:
    """The provider's view of a task: its idea's outline as written, the planned length."""
    own = [str(k) for k in task["keywords"] or []]
    if not own and idea is not None:
        own = [str(k) for k in idea["target_keywords"] or []]
    taken = {k.lower() for k in own}
    related = [k for k in cluster_keywords if k.lower() not in taken][:RELATED_SHOWN]
    if not own and related:
        own, related = [related[0]], related[1:]
    return ArticleBrief(
        task_id=int(task["id"]), title=str(task["title"]), keywords=tuple(own),
        description=str(task["description"] or (idea or {}).get("description") or ""),
        content_type=str(task["content_type"]),
        content_structure=str(task["content_structure"]),
        outline=ai_common.outline_sections(idea["outline"] if idea is not None else []),
        target_word_count=words, related_keywords=tuple(related))


def content_row(task: dict[str, Any], draft: ArticleDraft, html: str,
                words: int) -> dict[str, Any]:
    """A draft as the `content` row takes it (the HTML already sanitised), within the
    content API's limits."""
    secondary = [k for k in dict.fromkeys(" ".join(s.split())[:255]
                                          for s in draft.secondary_keywords) if k]
    return {
        "account_id": task["account_id"], "site_id": task["site_id"],
        "sector_id": task["sector_id"], "task_id": task["id"],
        "title": (" ".join(draft.title.split()) or str(task["title"]))[:255],
        "html_content": html, "word_count": words,
        "meta_title": draft.meta_title.strip()[:255],
        "meta_description": draft.meta_description.strip()[:500],
        "primary_keyword": draft.primary_keyword.strip()[:255],
        "secondary_keywords": secondary[:MAX_SECONDARY],
        "content_type": task["content_type"] if task["content_type"] in CONTENT_TYPES
        else "blog_post",
        "status": "draft",
    }


async def run_auto_generate_content(ctx: Any, job: Job, progress: Progress,
                                    setup: ai_common.JobSetup) -> dict[str, Any]:
    store: Store = ctx.store
    settings: Settings = ctx.settings
    scope = Scope(account_id=job.account_id)
    plan = {int(tid): int(words) for tid, words in job.payload["plan"]}
    skipped: list[dict[str, Any]] = [
        {"task_id": int(t), "reason": "exists: the task already has content"}
        for t in job.payload["ids"] if int(t) not in plan]
    meter = ai_common.Meter(progress)
    await meter.update(phase="PREPARE", percentage=5,
                       message=f"Reading {len(plan)} task(s), their ideas and clusters.")
    async with store.read() as conn:
        tasks = {int(r["id"]): r for r in await rows_by_id(
            conn, TASKS, sorted(plan), scope=scope)}
        ideas = {int(r["id"]): r for r in await rows_by_id(
            conn, IDEAS, sorted({int(t["idea_id"]) for t in tasks.values()
                                 if t["idea_id"] is not None}), scope=scope)}
        cluster_of = {tid: t["cluster_id"] or (ideas.get(t["idea_id"] or 0) or {}).get(
            "cluster_id") for tid, t in tasks.items()}
        cluster_ids = sorted({int(c) for c in cluster_of.values() if c is not None})
        related: dict[int, list[str]] = {c: [] for c in cluster_ids}
        if cluster_ids:
            for k in await list_rows(
                    conn, KEYWORDS, scope=scope,
                    where=[keywords_table.c.cluster_id.in_(cluster_ids)],
                    order_by=[keywords_table.c.volume.desc(), keywords_table.c.id]):
                related[int(k["cluster_id"])].append(str(k["keyword"]))
        written = await _with_content(conn, sorted(tasks), account_id=job.account_id)

    drafts: dict[int, tuple[ArticleDraft, str, int]] = {}
    todo = sorted(plan)
    for n, tid in enumerate(todo):
        task = tasks.get(tid)
        if task is None:
            skipped.append({"task_id": tid, "reason": "gone: the task was deleted"})
            continue
        if tid in written:
            skipped.append({"task_id": tid, "reason": "exists: the task already has content"})
            continue
        cid = cluster_of.get(tid)
        brief = article_brief(task, ideas.get(task["idea_id"] or 0),
                              related.get(int(cid), []) if cid is not None else [], plan[tid])
        await meter.update(phase="AI_CALL", percentage=10 + 80 * n / len(todo),
                           message=f"Writing {n + 1}/{len(todo)}: {brief.title}")
        draft = await meter.call("generate_article", brief.title, functools.partial(
            setup.provider.generate_article, brief, setup.prompts))
        html, words = await progress.run_cpu(clean_html, draft.html_content)
        drafts[tid] = (draft, html, words)
    await meter.update(phase="SAVING", percentage=92,
                       message=f"Saving {len(drafts)} article(s).")

    async with progress.final() as conn:
        await accounts_store.lock_account(conn, job.account_id)
        live = {int(r["id"]): r for r in await rows_by_id(
            conn, TASKS, sorted(drafts), scope=scope)}
        written = await _with_content(conn, sorted(live), account_id=job.account_id)
        content_ids: list[int] = []
        done: list[int] = []
        words_charged = words_total = 0
        for tid, (draft, html, words) in sorted(drafts.items()):
            if tid not in live:
                skipped.append({"task_id": tid, "reason": "gone: the task was deleted"})
                continue
            if tid in written:
                skipped.append({"task_id": tid,
                                "reason": "exists: the task got content meanwhile"})
                continue
            row = await insert_row(conn, CONTENT, content_row(live[tid], draft, html, words))
            content_ids.append(int(row["id"]))
            done.append(tid)
            words_total += words
            words_charged += min(words, plan[tid])
        await update_many(conn, TASKS, done, {"status": "review"}, scope=scope)
        await update_many(conn, IDEAS, sorted({int(live[t]["idea_id"]) for t in done
                                               if live[t]["idea_id"] is not None}),
                               {"status": "completed"}, scope=scope)
        await ai_common.settle(conn, job, operation=OPERATION, units_done=words_charged,
                               meter=meter, settings=settings,
                               description="Refund: words not written")
        result = {"written": len(content_ids), "content_ids": content_ids,
                  "words": words_total,
                  "skipped": sorted(skipped, key=lambda s: int(s["task_id"]))}
        progress.result = result
    return result


def register(registry: JobRegistry) -> None:
    ai_common.register_ai_kind(registry, KIND, run_auto_generate_content)
