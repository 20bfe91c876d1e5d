"""`writer/tasks/auto_generate_content`: an article draft per writer task, as a paid job.

**admit**: `{ids, rewrite}` of at most `MAX_TASKS` (50) visible tasks (404 naming the others).
A task that already has content is not written again unless `rewrite` is true (it is listed
as skipped in the result, reason `exists`, and not charged); with `rewrite` its content row is
regenerated and replaced in place (same id, status back to `draft`) and charged like a new
article. A task's planned length is its idea's
`estimated_word_count` (else `DEFAULT_WORDS`); price: `price("content", words)` on the
planned total.

**read**: the tasks, their ideas and their clusters' keywords. **compute**: per task an
`ArticleBrief` — title, keywords (else the idea's target keywords), description, type and
structure, the idea's outline as written (a user-edited one included: `outline_sections`), the
planned length, the cluster's other keywords as related ones — to `provider.generate_article`
(an LLM writes it outline-first, one call per H2, the progress saying "Writing section 3/7: …";
an article without text fails the job); the HTML sanitised off the event loop
(`services.content.clean_html`, as every content write) and its words counted. **save**: a
`draft` content row per task (site and sector of the task, meta fields, primary and secondary
keywords), each written task to `review` and its idea to `completed`; a task is charged for
min(words written, words planned) — a longer article costs no more than planned, a shorter one
gets the difference back, a task skipped (deleted, or given content meanwhile) all of it.

Result: `{written, rewritten, content_ids, words, skipped: [{task_id, reason}]}`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.ai.types import (
    ArticleBrief,
    ArticleDraft,
    OutlineSection,
    ProviderError,
    SectionHook,
)
from igny8d.operations import lifecycle
from igny8d.operations.lifecycle import Admission, JobContext, Operation, Saved
from igny8d.permissions import Actor
from igny8d.schemas.ai import AutoGenerateContentBody
from igny8d.scope import Scope
from igny8d.services.content import clean_html
from igny8d.settings import Settings
from igny8d.store import keywords as keyword_store
from igny8d.store.content import CONTENT, tasks_with_content
from igny8d.store.ideas import IDEAS
from igny8d.store.rows import rows_by_id
from igny8d.store.schema import content as content_table
from igny8d.store.tasks import TASKS
from igny8d.store.writes import insert_row, update_many, update_row
from igny8d.vocab import CONTENT_TYPES

KIND = "auto_generate_content"
#: The reference: "max 50 tasks per batch".
MAX_TASKS = 50
#: The planned length of a task without an idea (or whose idea has none).
DEFAULT_WORDS = 1500
#: Related (secondary keyword candidate) keywords of the cluster handed to the provider.
RELATED_SHOWN = 20
MAX_SECONDARY = 50
EXISTS = "exists: the task already has content (send rewrite: true to replace it)"


# -- admit ---------------------------------------------------------------------------------------


async def admit(conn: AsyncConnection, settings: Settings, actor: Actor,
                body: AutoGenerateContentBody) -> Admission:
    wanted = lifecycle.distinct_ids(body.ids, cap=MAX_TASKS, noun="task")
    tasks = await lifecycle.require_rows(conn, TASKS, wanted, scope=actor.scope,
                                         columns=("id", "idea_id"))
    written = set() if body.rewrite else \
        await tasks_with_content(conn, wanted, account_id=actor.account_id)
    ideas = await rows_by_id(
        conn, IDEAS, sorted({int(t["idea_id"]) for t in tasks.values()
                             if t["idea_id"] is not None}),
        scope=Scope(actor.account_id), columns=("id", "estimated_word_count"))
    words = {int(r["id"]): int(r["estimated_word_count"] or 0) for r in ideas}
    plan = [[tid, words.get(tasks[tid]["idea_id"] or 0) or DEFAULT_WORDS]
            for tid in wanted if tid not in written]
    total = sum(w for _tid, w in plan)
    return Admission(units=total, payload={"ids": wanted, "plan": plan,
                                           "rewrite": bool(body.rewrite)},
                     description=f"Content for {len(plan)} task(s), {total} words planned"
                                 + (" (rewrite)" if body.rewrite else ""))


# -- read ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Work:
    #: task id → planned words (tasks with content at admission are not in it)
    plan: dict[int, int]
    tasks: dict[int, dict[str, Any]]
    ideas: dict[int, dict[str, Any]]
    #: task id → its cluster's keywords, by volume
    related: dict[int, list[str]]
    #: tasks that have content by now
    written: set[int]
    skipped: list[dict[str, Any]]


def _rewrite(jc: JobContext) -> bool:
    return bool(jc.payload.get("rewrite"))


def _section_progress(jc: JobContext, n: int, tasks: int) -> SectionHook:
    """The job's progress per section of task `n` (0-based) of `tasks`."""
    of = f" (article {n + 1}/{tasks})" if tasks > 1 else ""

    async def hook(k: int, sections: int, heading: str) -> None:
        done = (n + k / max(1, sections + 1)) / tasks
        message = f"Writing the introduction{of}" if k == 0 else \
            f"Writing section {k}/{sections}: {heading}{of}"
        await jc.update(phase="AI_CALL", percentage=10 + 80 * done, message=message[:300])

    return hook


async def _content_of(conn: AsyncConnection, task_ids: Sequence[int],
                      account_id: int) -> dict[int, int]:
    """task id → its content row's id (a task is written once)."""
    if not task_ids:
        return {}
    stmt = CONTENT.scoped(select(content_table.c.task_id, content_table.c.id),
                          Scope(account_id)).where(content_table.c.task_id.in_(list(task_ids)))
    return {int(t): int(i) for t, i in (await conn.execute(stmt)).all() if t is not None}


def _plan(jc: JobContext) -> dict[int, int]:
    return {int(tid): int(words) for tid, words in jc.payload["plan"]}


def reading(jc: JobContext) -> str:
    return f"Reading {len(_plan(jc))} task(s), their ideas and clusters."


async def read(conn: AsyncConnection, jc: JobContext) -> Work:
    plan, scope = _plan(jc), jc.scope
    skipped = [{"task_id": int(t), "reason": EXISTS} for t in jc.payload["ids"]
               if int(t) not in plan]
    tasks = {int(r["id"]): r for r in await rows_by_id(conn, TASKS, sorted(plan), scope=scope)}
    ideas = {int(r["id"]): r for r in await rows_by_id(
        conn, IDEAS, sorted({int(t["idea_id"]) for t in tasks.values()
                             if t["idea_id"] is not None}), scope=scope)}
    cluster_of = {tid: t["cluster_id"] or (ideas.get(t["idea_id"] or 0) or {}).get(
        "cluster_id") for tid, t in tasks.items()}
    cluster_ids = sorted({int(c) for c in cluster_of.values() if c is not None})
    by_cluster: dict[int, list[str]] = {c: [] for c in cluster_ids}
    for k in await keyword_store.of_clusters(conn, cluster_ids, scope=scope, by_volume=True):
        by_cluster[int(k["cluster_id"])].append(str(k["keyword"]))
    related = {tid: by_cluster.get(int(c), []) if c is not None else []
               for tid, c in cluster_of.items()}
    written = set() if _rewrite(jc) else \
        await tasks_with_content(conn, sorted(tasks), account_id=jc.job.account_id)
    return Work(plan=plan, tasks=tasks, ideas=ideas, related=related, written=written,
                skipped=skipped)


# -- compute -------------------------------------------------------------------------------------


def outline_sections(rows: Sequence[Any]) -> tuple[OutlineSection, ...]:
    """An idea's stored outline (possibly edited by a user) as the provider's sections, as
    written: an H2 opens a section (its points become the section's keywords), an H3 is a
    subheading of the section before it (its points join that section's keywords; an H3
    before any H2 opens a section of its own). Malformed items are skipped."""
    sections: list[tuple[str, list[str], list[str]]] = []
    for row in rows or ():
        if not isinstance(row, dict):
            continue
        heading = " ".join(str(row.get("heading") or "").split())
        if not heading:
            continue
        points = [" ".join(str(p).split()) for p in row.get("points") or () if str(p).strip()]
        if row.get("level") == 3 and sections:
            sections[-1][1].append(heading)
            sections[-1][2].extend(points)
        else:
            sections.append((heading, [], points))
    return tuple(OutlineSection(heading=h, subheadings=tuple(subs),
                                keywords=tuple(dict.fromkeys(kws)))
                 for h, subs, kws in sections)


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
        outline=outline_sections(idea["outline"] if idea is not None else []),
        target_word_count=words, related_keywords=tuple(related))


@dataclass(frozen=True, slots=True)
class Drafts:
    plan: dict[int, int]
    #: task id → (the provider's draft, its sanitised HTML, its words)
    drafts: dict[int, tuple[ArticleDraft, str, int]]
    skipped: list[dict[str, Any]]


async def compute(jc: JobContext, work: Work) -> Drafts:
    skipped = list(work.skipped)
    drafts: dict[int, tuple[ArticleDraft, str, int]] = {}
    todo = sorted(work.plan)
    for n, tid in enumerate(todo):
        task = work.tasks.get(tid)
        if task is None:
            skipped.append({"task_id": tid, "reason": "gone: the task was deleted"})
            continue
        if tid in work.written:
            skipped.append({"task_id": tid, "reason": EXISTS})
            continue
        brief = article_brief(task, work.ideas.get(task["idea_id"] or 0),
                              work.related.get(tid, []), work.plan[tid])
        await jc.update(phase="AI_CALL", percentage=10 + 80 * n / len(todo),
                        message=f"Writing {n + 1}/{len(todo)}: {brief.title}")
        # an LLM writes section by section (the local provider's draft is one CPU step)
        sections = {"on_section": _section_progress(jc, n, len(todo))} if jc.uses_llm else {}
        draft = await jc.call("generate_article", brief.title, functools.partial(
            jc.provider.generate_article, brief, jc.prompts, **sections))
        html, words = await jc.run_cpu(clean_html, draft.html_content)
        if words == 0:  # an empty article does not do the job: fail the job, refund it
            raise lifecycle.job_failure(ProviderError(
                f"The AI provider wrote an empty article for task {tid}."))
        drafts[tid] = (draft, html, words)
    await jc.update(phase="SAVING", percentage=92, message=f"Saving {len(drafts)} article(s).")
    return Drafts(plan=work.plan, drafts=drafts, skipped=skipped)


# -- save ----------------------------------------------------------------------------------------


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


async def save(conn: AsyncConnection, jc: JobContext, out: Drafts) -> Saved:
    scope = jc.scope
    skipped = list(out.skipped)
    live = {int(r["id"]): r for r in await rows_by_id(
        conn, TASKS, sorted(out.drafts), scope=scope)}
    existing = await _content_of(conn, sorted(live), jc.job.account_id)
    rewrite = _rewrite(jc)
    content_ids: list[int] = []
    rewritten = 0
    done: list[int] = []
    words_charged = words_total = 0
    for tid, (draft, html, words) in sorted(out.drafts.items()):
        if tid not in live:
            skipped.append({"task_id": tid, "reason": "gone: the task was deleted"})
            continue
        if tid in existing and not rewrite:
            skipped.append({"task_id": tid, "reason": "exists: the task got content meanwhile"})
            continue
        values = content_row(live[tid], draft, html, words)
        if tid in existing:  # rewrite: the same row, replaced
            cid = existing[tid]
            await update_row(conn, CONTENT, cid, {
                k: v for k, v in values.items()
                if k not in ("account_id", "site_id", "sector_id", "task_id")}, scope=scope)
            rewritten += 1
        else:
            cid = int((await insert_row(conn, CONTENT, values))["id"])
        content_ids.append(cid)
        done.append(tid)
        words_total += words
        words_charged += min(words, out.plan[tid])
    await update_many(conn, TASKS, done, {"status": "review"}, scope=scope)
    await update_many(conn, IDEAS, sorted({int(live[t]["idea_id"]) for t in done
                                           if live[t]["idea_id"] is not None}),
                      {"status": "completed"}, scope=scope)
    return Saved(units_done=words_charged, refund_note="Refund: words not written", result={
        "written": len(content_ids), "rewritten": rewritten, "content_ids": content_ids,
        "words": words_total,
        "skipped": sorted(skipped, key=lambda s: int(s["task_id"]))})


OPERATION: Operation[AutoGenerateContentBody, Work, Drafts] = Operation(
    kind=KIND, price="content", admit=admit, reading=reading, read=read, compute=compute,
    save=save)
