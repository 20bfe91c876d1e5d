"""Writer: tasks, content and images (rules in services/tasks.py, content.py, images.py),
and the locally stored image files at /media/images/<name>."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.errors import MethodNotAllowed, NotFound, ValidationFailed
from igny8d.handlers.base import APIHandler, parse_id
from igny8d.handlers.bodies import ID_MAX
from igny8d.handlers.bulk import bulk_delete_action, write_action
from igny8d.handlers.resource import Action, Filter, Resource, ResourceHandler, ai_action
from igny8d.log import request_id_var
from igny8d.operations import content, image_prompts, images
from igny8d.schemas import writer as m
from igny8d.schemas.ai import (
    AutoGenerateContentBody,
    GenerateImagePromptsBody,
    GenerateImagesBody,
)
from igny8d.services import media
from igny8d.services.content import CONTENT as CONTENT_SERVICE
from igny8d.services.images import IMAGES as IMAGE_SERVICE
from igny8d.services.sector_objects import SectorObjectService
from igny8d.services.tasks import TASKS as TASK_SERVICE

TAG = "writer"
THROTTLE = "writer"


def _bulk_update_action(service: SectorObjectService, body: type[m.Body]) -> Action:
    async def bulk_update(h: ResourceHandler, parsed: Any, conn: AsyncConnection
                          ) -> dict[str, Any]:
        return {"updated_count": await service.bulk_update(
            conn, h.actor, parsed.ids, {"status": parsed.status})}

    return write_action("bulk_update", bulk_update,
                        lambda data: f"{data['updated_count']} updated", body=body,
                        response=m.BulkUpdateResult, level="editor",
                        summary="Set the status of several objects (all ids must be yours; "
                        "one that is not changes nothing)")


def _public_root(h: APIHandler) -> str:
    public = h.ctx.settings.public_url
    return public.rstrip("/") if public else f"{h.request.protocol}://{h.request.host}"


async def image_file(h: ResourceHandler, id: str) -> None:
    """The image's URL (absolute: a locally stored file's URL is made so here)."""
    async with h.ctx.store.read() as conn:
        url = await IMAGE_SERVICE.file_url(conn, h.actor, parse_id(id))
    if url.startswith("/"):
        url = _public_root(h) + url
    h.ok({"url": url})


def _content_id(h: ResourceHandler) -> int:
    raw = h.query("content_id")
    if raw is None:
        raise ValidationFailed(errors={"content_id": ["This query parameter is required."]})
    if not raw.isascii() or not raw.isdigit() or len(raw) > 19 or int(raw) > ID_MAX:
        raise ValidationFailed(errors={"content_id": ["Enter a valid id."]})
    return int(raw)


async def content_images(h: ResourceHandler) -> None:
    """Every image of one content, oldest first, as a plain list (a content has a handful)."""
    content_id = _content_id(h)
    async with h.ctx.store.read() as conn:
        data = await IMAGE_SERVICE.content_images(conn, h.actor, content_id)
    h.ok(data)


TASKS = Resource(
    name="tasks", prefix="/api/v1/writer/tasks/", service=TASK_SERVICE, output=m.TaskOut,
    create_body=m.TaskBody, update_body=m.TaskUpdateBody,
    filters={
        "status": Filter("status", "choice", m.TASK_STATUSES,
                         "Filter by status; several, comma-separated"),
        "cluster_id": Filter("cluster_id", "int", description="Filter by cluster (null: none)"),
        "idea_id": Filter("idea_id", "int", description="Filter by idea (null: none)"),
        "content_type": Filter("content_type", "choice", m.CONTENT_TYPES),
        "content_structure": Filter("content_structure", "choice", m.CONTENT_STRUCTURES),
        "site_id": Filter("site_id", "int"),
        "sector_id": Filter("sector_id", "int"),
    },
    search_fields=("title", "keywords_text"),
    ordering={"created_at": "created_at", "updated_at": "updated_at", "title": "title",
              "status": "status"},
    write_level="editor", throttle=THROTTLE, tag=TAG,
    actions=[bulk_delete_action(level="editor"),
             _bulk_update_action(TASK_SERVICE, m.TaskBulkUpdateBody),
             ai_action("auto_generate_content", content.OPERATION, AutoGenerateContentBody,
                       throttle="writer_ai", queued="Content generation queued",
                       summary="Draft an article per task (a background job; credits are "
                       "charged now for the planned words and refunded for words not "
                       "written)")],
)

CONTENT = Resource(
    name="content", prefix="/api/v1/writer/content/", service=CONTENT_SERVICE,
    output=m.ContentOut, create_body=m.ContentBody, update_body=m.ContentUpdateBody,
    filters={
        "status": Filter("status", "choice", m.CONTENT_STATUSES,
                         "Filter by status; several, comma-separated"),
        "content_type": Filter("content_type", "choice", m.CONTENT_TYPES),
        "task_id": Filter("task_id", "int", description="Filter by task (null: none)"),
        "site_id": Filter("site_id", "int"),
        "sector_id": Filter("sector_id", "int"),
    },
    search_fields=("title",),
    ordering={"created_at": "created_at", "updated_at": "updated_at", "title": "title",
              "word_count": "word_count"},
    write_level="editor", throttle=THROTTLE, tag=TAG,
    actions=[bulk_delete_action(level="editor"),
             ai_action("generate_image_prompts", image_prompts.OPERATION,
                       GenerateImagePromptsBody, throttle="writer_ai",
                       queued="Image prompt generation queued",
                       summary="Make pending images with prompts for content: one featured, "
                       "one per major heading (a background job; credits charged now)")],
)

IMAGES = Resource(
    name="images", prefix="/api/v1/writer/images/", service=IMAGE_SERVICE,
    output=m.ImageOut, create_body=m.ImageBody, update_body=m.ImageUpdateBody,
    filters={
        "image_type": Filter("image_type", "choice", m.IMAGE_TYPES),
        "status": Filter("status", "choice", m.IMAGE_STATUSES,
                         "Filter by status; several, comma-separated"),
        "content_id": Filter("content_id", "int", description="Filter by content (null: none)"),
        "task_id": Filter("task_id", "int", description="Filter by task (null: none)"),
        "site_id": Filter("site_id", "int"),
        "sector_id": Filter("sector_id", "int"),
    },
    ordering={"created_at": "created_at", "updated_at": "updated_at"},
    write_level="editor", throttle=THROTTLE, tag=TAG,
    actions=[
        Action("file", image_file, method="get", detail=True, level="authenticated",
               response=m.ImageFileOut, summary="The image's file URL (404 until generated)"),
        Action("content_images", content_images, method="get", level="authenticated",
               response=list[m.ImageOut], errors=(404,),
               query={"content_id": "The content whose images to list (required)"},
               summary="Every image of one content"),
        bulk_delete_action(level="editor"),
        _bulk_update_action(IMAGE_SERVICE, m.ImageBulkUpdateBody),
        ai_action("generate_images", images.OPERATION, GenerateImagesBody,
                  throttle="image_gen", queued="Image generation queued",
                  summary="Render images from their prompts (a background job; credits "
                  "charged now, refunded for images that fail)"),
    ],
)


class MediaImageHandler(APIHandler):
    """A locally stored image file, with its content type. No authentication: the name is
    128 random bits (the URL is the capability, as a signed URL would be), and only names of
    that exact form are looked up, so no path can leave the media directory. Anything else
    is the JSON 404."""

    async def prepare(self) -> None:
        self.request_id = self._incoming_request_id() or str(uuid.uuid4())
        request_id_var.set(self.request_id)
        self.set_header("X-Request-ID", self.request_id)
        if self.request.method not in ("GET", "HEAD"):
            self._refuse(MethodNotAllowed(f'Method "{self.request.method}" not allowed.',
                                          headers={"Allow": "GET, HEAD"}))

    async def get(self, name: str) -> None:
        found = await media.read_media(self.ctx.settings.data_dir, name)
        if found is None:
            raise NotFound("Not found")
        data, content_type = found
        self.set_header("Content-Type", content_type)
        self.set_header("Cache-Control", "private, max-age=86400, immutable")
        self.set_header("Content-Security-Policy", "default-src 'none'; sandbox")
        self.finish(data)


RESOURCES = [TASKS, CONTENT, IMAGES]

# The classes the resource layer generates, by name (grep finds them here).
TasksBulkDeleteHandler = TASKS.handler("TasksBulkDeleteHandler")
TasksBulkUpdateHandler = TASKS.handler("TasksBulkUpdateHandler")
TasksAutoGenerateContentHandler = TASKS.handler("TasksAutoGenerateContentHandler")
TasksListHandler = TASKS.handler("TasksListHandler")
TasksDetailHandler = TASKS.handler("TasksDetailHandler")
ContentBulkDeleteHandler = CONTENT.handler("ContentBulkDeleteHandler")
ContentGenerateImagePromptsHandler = CONTENT.handler("ContentGenerateImagePromptsHandler")
ContentListHandler = CONTENT.handler("ContentListHandler")
ContentDetailHandler = CONTENT.handler("ContentDetailHandler")
ImagesFileHandler = IMAGES.handler("ImagesFileHandler")
ImagesContentImagesHandler = IMAGES.handler("ImagesContentImagesHandler")
ImagesBulkDeleteHandler = IMAGES.handler("ImagesBulkDeleteHandler")
ImagesBulkUpdateHandler = IMAGES.handler("ImagesBulkUpdateHandler")
ImagesGenerateImagesHandler = IMAGES.handler("ImagesGenerateImagesHandler")
ImagesListHandler = IMAGES.handler("ImagesListHandler")
ImagesDetailHandler = IMAGES.handler("ImagesDetailHandler")

default_handlers = [
    *TASKS.routes(TasksBulkDeleteHandler, TasksBulkUpdateHandler,
                  TasksAutoGenerateContentHandler, TasksListHandler, TasksDetailHandler),
    *CONTENT.routes(ContentBulkDeleteHandler, ContentGenerateImagePromptsHandler,
                    ContentListHandler, ContentDetailHandler),
    *IMAGES.routes(ImagesFileHandler, ImagesContentImagesHandler, ImagesBulkDeleteHandler,
                   ImagesBulkUpdateHandler, ImagesGenerateImagesHandler, ImagesListHandler,
                   ImagesDetailHandler),
    (media.MEDIA_URL + "(?P<name>[^/]+)", MediaImageHandler),
]
