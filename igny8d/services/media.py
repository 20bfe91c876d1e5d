"""The image files on disk: written, attached to their rows, released after commit, swept.

Files live under random names in `<data_dir>/media/images/` (served at
`/media/images/<name>`) and follow their rows. A delete that takes image rows with it (an
image, a content, a site, a sector, an account) notes their file names on its transaction
(`release_files_of`); once it has committed the store's listener (`install`) removes those
no row names any more — never before the commit, so a rolled-back delete keeps its files.
What slips through (a worker killed between writing a file and committing, a race with a
job, a process killed after a commit) is removed by `sweep_media` on the scheduler: files
no `images.file_name` names, older than a grace period so a running job's file is safe.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import re
import secrets
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.services.base import Row
from igny8d.store import images as store
from igny8d.store.engine import Store, after_commit

log = logging.getLogger("igny8d.media")

#: URL path under which local image files are served.
MEDIA_URL = "/media/images/"
#: A stored file's name: 128 random bits, so no other tenant can guess it; nothing else
#: (no dots, no slashes) can name a file, so a path can never leave the media directory.
FILE_NAME = re.compile(r"^[0-9a-f]{32}\.(png|jpg|webp)$")
CONTENT_TYPES = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp"}
#: what the sweep may remove: a stored file, or the temporary one of a killed writer
_SWEEPABLE = re.compile(r"^(?:[0-9a-f]{32}\.(?:png|jpg|webp)|\.tmp-[A-Za-z0-9_]+)$")
#: the store's after-commit kind: file names whose image rows a transaction deleted
RELEASED = "images.files_released"
#: files younger than this are never swept: a running job writes its files before the
#: transaction that names them commits
SWEEP_GRACE_S = 3600.0
#: names checked against the table (and removed) per query
SWEEP_BATCH = 500


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


# -- files follow their rows ----------------------------------------------------------------


async def release_files_of(conn: AsyncConnection, column: str, ids: Iterable[int]) -> None:
    """Before a delete that takes images with it (by their `column`: `id`, `content_id`,
    `site_id`, `sector_id`, `account_id`), note their files for removal after the commit."""
    names = await store.image_file_names(conn, column, ids)
    if names:
        after_commit(conn, RELEASED, names)


def release_files(conn: AsyncConnection, names: Iterable[str | None]) -> None:
    """Note files an image row no longer names (replaced or cleared in this transaction)."""
    kept = [n for n in names if n]
    if kept:
        after_commit(conn, RELEASED, kept)


def install(db: Store, data_dir: Path) -> None:
    """Remove released files from `data_dir` after each commit on `db` (the AppContext)."""
    db.listen(RELEASED, functools.partial(remove_released, db, Path(data_dir)))


def _batches(names: Sequence[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(names), size):
        yield list(names[i:i + size])


def _unlink(folder: Path, names: Iterable[str]) -> int:
    removed = 0
    for name in names:
        if _SWEEPABLE.fullmatch(name) is None:  # never a path outside the folder
            continue
        try:
            (folder / name).unlink()
        except FileNotFoundError:
            continue
        removed += 1
    return removed


async def _remove_unreferenced(db: Store, folder: Path, names: list[str]) -> int:
    stored = [n for n in names if FILE_NAME.fullmatch(n)]
    kept = await db.run_read(store.referenced_file_names, stored) if stored else set()
    return await asyncio.to_thread(_unlink, folder, [n for n in names if n not in kept])


async def remove_released(db: Store, data_dir: Path, names: list[str]) -> int:
    """Remove the files of a committed delete that no image row names (a delete under a
    savepoint that rolled back left its row, and so its file)."""
    folder = media_dir(data_dir)
    removed = 0
    for chunk in _batches(sorted(set(names)), SWEEP_BATCH):
        removed += await _remove_unreferenced(db, folder, chunk)
    return removed


def _old_names(entries: Iterator[os.DirEntry[str]], cutoff: float,
               size: int) -> tuple[list[str], bool]:
    """Up to `size` sweepable names older than `cutoff` from the directory listing, and
    whether the listing is done (run in a worker thread)."""
    found: list[str] = []
    for entry in entries:
        if _SWEEPABLE.fullmatch(entry.name) is None:
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            if entry.stat(follow_symlinks=False).st_mtime >= cutoff:
                continue
        except FileNotFoundError:
            continue
        found.append(entry.name)
        if len(found) >= size:
            return found, False
    return found, True


async def sweep_media(db: Store, data_dir: Path, *, grace_s: float = SWEEP_GRACE_S,
                      batch: int = SWEEP_BATCH, now: float | None = None) -> int:
    """Remove the files in the media directory that no image row names and that are older
    than `grace_s` (a job writes its files before the transaction naming them commits), in
    batches of `batch` names: one query and one thread hop each. Returns how many went.
    Idempotent: several processes may sweep at once."""
    folder = media_dir(data_dir)
    if not folder.is_dir():
        return 0
    cutoff = (time.time() if now is None else now) - grace_s
    removed = 0
    with os.scandir(folder) as entries:
        done = False
        while not done:
            names, done = await asyncio.to_thread(_old_names, entries, cutoff, batch)
            if names:
                removed += await _remove_unreferenced(db, folder, names)
    if removed:
        log.info("swept unreferenced media files", extra={"removed": removed})
    return removed
