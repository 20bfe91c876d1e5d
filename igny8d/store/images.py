"""Images: their table spec, a render's outcome, a content's images, the file names rows hold."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.scope import Scope
from igny8d.store.rows import list_rows
from igny8d.store.schema import images
from igny8d.store.specs import TableSpec
from igny8d.store.writes import update_row

IMAGES = TableSpec(images, "sector", "Image")


async def set_image_file(
    conn: AsyncConnection, image_id: int, *, account_id: int, url: str, file_name: str | None,
) -> dict[str, Any]:
    """Record where an image's rendered file is: `generated`, its URL (and local file name),
    no error. RowNotFound when the account has no such image."""
    return await update_row(conn, IMAGES, image_id, {
        "url": url, "file_name": file_name, "status": "generated", "error": None,
    }, scope=Scope(account_id))


async def set_image_failed(
    conn: AsyncConnection, image_id: int, *, account_id: int, error: str,
) -> dict[str, Any]:
    """Record why an image could not be rendered (`failed`, the reason, no URL)."""
    return await update_row(conn, IMAGES, image_id, {
        "status": "failed", "error": error, "url": None, "file_name": None,
    }, scope=Scope(account_id))


async def images_of_content(
    conn: AsyncConnection, content_id: int, *, scope: Scope,
) -> list[dict[str, Any]]:
    """A content's images in the scope, oldest first."""
    return await list_rows(conn, IMAGES, scope=scope,
                           where=[images.c.content_id == content_id],
                           order_by=[images.c.created_at, images.c.id])


#: columns by which image rows go, directly or by a cascade (a content, site, sector or
#: account deleted)
IMAGE_OWNERS = ("id", "content_id", "site_id", "sector_id", "account_id")


async def image_file_names(conn: AsyncConnection, column: str, ids: Iterable[int]) -> list[str]:
    """The stored file names of the images whose `column` is one of `ids`, unscoped: the
    caller checked the ids and the rows go whatever the site grants (a cascade)."""
    if column not in IMAGE_OWNERS:
        raise ValueError(f"images are not deleted by {column!r}")
    wanted = sorted(set(ids))
    if not wanted:
        return []
    stmt = select(images.c.file_name).where(images.c[column].in_(wanted),
                                            images.c.file_name.is_not(None))
    return [str(n) for n in (await conn.execute(stmt)).scalars()]


def referenced_file_names(conn: Connection, names: Sequence[str]) -> set[str]:
    """Which of `names` an image row still names (a synchronous read unit)."""
    if not names:
        return set()
    stmt = select(images.c.file_name).where(images.c.file_name.in_(sorted(set(names))))
    return {str(n) for n in conn.execute(stmt).scalars()}
