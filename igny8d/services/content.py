"""Content: HTML sanitised on the way in, its word count computed from the text."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.permissions import Actor
from igny8d.services import media
from igny8d.services.base import Deps, Row
from igny8d.services.sector_objects import SectorObjectService
from igny8d.store import content as store
from igny8d.store.tasks import TASKS
from igny8d.text import sanitize_html, word_count

CONTENT_FIELDS = ("id", "account_id", "site_id", "sector_id", "task_id", "title",
                  "html_content", "word_count", "meta_title", "meta_description",
                  "primary_keyword", "secondary_keywords", "content_type", "status",
                  "created_at", "updated_at")

#: Larger HTML is sanitised in a worker thread, not on the event loop.
_INLINE_HTML = 64 * 1024


def clean_html(raw: str) -> tuple[str, int]:
    """The sanitised HTML and its word count."""
    html = sanitize_html(raw)
    return html, word_count(html)


class ContentService(SectorObjectService):
    async def before_delete(self, conn: AsyncConnection, actor: Actor,
                            ids: list[int]) -> None:
        await media.release_files_of(conn, "content_id", ids)  # its images cascade

    async def prepare(self, deps: Deps, actor: Actor | None, data: Row) -> Row:
        """Sanitise before the write transaction opens (it is the slow part)."""
        if "html_content" not in data:
            return data
        raw = data["html_content"] or ""
        if len(raw) > _INLINE_HTML:
            html, words = await asyncio.to_thread(clean_html, raw)
        else:
            html, words = clean_html(raw)
        return {**data, "html_content": html, "word_count": words}

    def derive(self, data: Row) -> Row:
        if "html_content" in data and "word_count" not in data:
            # Callers that skipped prepare() (jobs) still store sanitised HTML.
            html, words = clean_html(data["html_content"] or "")
            return {**data, "html_content": html, "word_count": words}
        return data


CONTENT = ContentService(store.CONTENT, fields=CONTENT_FIELDS,
                         sector_refs={"task_id": TASKS})
