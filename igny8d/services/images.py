"""Images of content: the CRUD rules, the file URL, a content's images (files: `media`)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.errors import NotFound
from igny8d.permissions import Actor
from igny8d.services import media
from igny8d.services.base import Row
from igny8d.services.sector_objects import SectorObjectService
from igny8d.store import images as store
from igny8d.store.content import CONTENT
from igny8d.store.rows import require_visible
from igny8d.store.tasks import TASKS

IMAGE_FIELDS = ("id", "account_id", "site_id", "sector_id", "content_id", "task_id",
                "image_type", "prompt", "status", "url", "error", "created_at", "updated_at")


class ImageService(SectorObjectService):
    async def before_delete(self, conn: AsyncConnection, actor: Actor,
                            ids: list[int]) -> None:
        await media.release_files_of(conn, "id", ids)

    async def file_url(self, conn: AsyncConnection, actor: Actor, image_id: int) -> str:
        """The visible image's URL; 404 while it has none."""
        row = await self.fetch(conn, actor, image_id)
        if not row.get("url"):
            raise NotFound("Image has not been generated yet.")
        return str(row["url"])

    async def content_images(self, conn: AsyncConnection, actor: Actor,
                             content_id: int) -> list[Row]:
        """The images of one visible content (404 naming `content_id` otherwise)."""
        await require_visible(conn, CONTENT, content_id, scope=actor.scope,
                              field="content_id")
        rows = await store.images_of_content(conn, content_id, scope=actor.scope)
        return await self.present(conn, actor, rows)


IMAGES = ImageService(store.IMAGES, fields=IMAGE_FIELDS, sector_refs={
    "content_id": CONTENT, "task_id": TASKS,
})
