"""Images of content: CRUD rules, the file URL, a content's images, and the locally stored
files (random names under `<data_dir>/media/images/`, served at `/media/images/<name>`)."""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import tempfile
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.errors import NotFound
from igny8d.permissions import Actor
from igny8d.services.base import Row
from igny8d.services.tasks import SectorObjectService
from igny8d.store import crud
from igny8d.store import writer as store

IMAGE_FIELDS = ("id", "account_id", "site_id", "sector_id", "content_id", "task_id",
                "image_type", "prompt", "status", "url", "error", "created_at", "updated_at")

#: URL path under which local image files are served.
MEDIA_URL = "/media/images/"
#: A stored file's name: 128 random bits, so no other tenant can guess it; nothing else
#: (no dots, no slashes) can name a file, so a path can never leave the media directory.
FILE_NAME = re.compile(r"^[0-9a-f]{32}\.(png|jpg|webp)$")
CONTENT_TYPES = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp"}


class ImageService(SectorObjectService):
    async def file_url(self, conn: AsyncConnection, actor: Actor, image_id: int) -> str:
        """The visible image's URL; 404 while it has none."""
        row = await self.fetch(conn, actor, image_id)
        if not row.get("url"):
            raise NotFound("Image has not been generated yet.")
        return str(row["url"])

    async def content_images(self, conn: AsyncConnection, actor: Actor,
                             content_id: int) -> list[Row]:
        """The images of one visible content (404 naming `content_id` otherwise)."""
        await crud.require_visible(conn, store.CONTENT, content_id, scope=actor.scope,
                                   field="content_id")
        rows = await store.images_of_content(conn, content_id, scope=actor.scope)
        return await self.present(conn, actor, rows)


IMAGES = ImageService(store.IMAGES, fields=IMAGE_FIELDS, sector_refs={
    "content_id": store.CONTENT, "task_id": store.TASKS,
})


# -- local files --------------------------------------------------------------------------------


def media_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "media" / "images"


def new_file_name(ext: str = "png") -> str:
    if ext not in CONTENT_TYPES:
        raise ValueError(f"unsupported image extension {ext!r}")
    return f"{secrets.token_hex(16)}.{ext}"


def write_image_file(data_dir: Path, data: bytes, ext: str = "png") -> str:
    """Store rendered image bytes under a new random name; returns the name. Written to a
    temporary file first and renamed, so a reader never sees half a file."""
    folder = media_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    name = new_file_name(ext)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, folder / name)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return name


def media_file(data_dir: Path, name: str) -> tuple[Path, str] | None:
    """The stored file `name` and its content type, or None: a name that is not one this
    server hands out, or no such file."""
    found = FILE_NAME.fullmatch(name)
    if found is None:
        return None
    path = media_dir(data_dir) / name
    if not path.is_file():
        return None
    return path, CONTENT_TYPES[found.group(1)]


def file_url(file_name: str, base_url: str | None = None) -> str:
    """The URL a stored file is served at; relative unless a public base URL is given."""
    if FILE_NAME.fullmatch(file_name) is None:
        raise ValueError(f"not a media file name: {file_name!r}")
    return (base_url or "").rstrip("/") + MEDIA_URL + file_name


async def attach_file(conn: AsyncConnection, image_id: int, file_name: str, *,
                      account_id: int, base_url: str | None = None) -> Row:
    """Mark an account's image generated with a stored file (the next issue's renderer
    calls this after `write_image_file`)."""
    return await store.set_image_file(conn, image_id, account_id=account_id,
                                      url=file_url(file_name, base_url), file_name=file_name)


async def mark_failed(conn: AsyncConnection, image_id: int, error: str, *,
                      account_id: int) -> Row:
    return await store.set_image_failed(conn, image_id, account_id=account_id, error=error)


async def read_media(data_dir: Path, name: str) -> tuple[bytes, str] | None:
    """The bytes and content type of a stored file (read in a worker thread), or None."""
    found = media_file(data_dir, name)
    if found is None:
        return None
    path, content_type = found
    try:
        data = await asyncio.to_thread(path.read_bytes)
    except OSError:
        return None
    return data, content_type
