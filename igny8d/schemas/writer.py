"""Input and output schemas of the writer module: tasks, content, images.

Bodies are strict (unknown fields are refused). Output models' field names are the services'
`fields` tuples (the resource layer checks that at import).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

# The one list of content choices, shared with the planner's ideas (tasks come from ideas).
from igny8d.schemas.planner_clusters import (
    CONTENT_STRUCTURES,
    CONTENT_TYPES,
    ContentStructure,
    ContentType,
)

__all__ = ["CONTENT_STRUCTURES", "CONTENT_TYPES", "ContentStructure", "ContentType"]

#: The largest `html_content` accepted, in UTF-8 bytes (the sanitiser and the word count
#: run over all of it).
MAX_HTML_BYTES = 2 * 1024 * 1024


TaskStatus = Literal["draft", "in_progress", "review", "completed", "archived"]
TASK_STATUSES: tuple[str, ...] = get_args(TaskStatus)
ContentStatus = Literal["draft", "review", "published", "archived"]
CONTENT_STATUSES: tuple[str, ...] = get_args(ContentStatus)
ImageType = Literal["featured", "in_article", "desktop", "mobile"]
IMAGE_TYPES: tuple[str, ...] = get_args(ImageType)
ImageStatus = Literal["pending", "generated", "failed"]
IMAGE_STATUSES: tuple[str, ...] = get_args(ImageStatus)

Keyword = Annotated[str, Field(min_length=1, max_length=255)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _keywords(value: list[str]) -> list[str]:
    """Stripped, without blanks or repeats (case-insensitive), in the order given."""
    seen: set[str] = set()
    out: list[str] = []
    for item in value:
        text = " ".join(item.split())
        if text and text.lower() not in seen:
            seen.add(text.lower())
            out.append(text)
    return out


# -- tasks --------------------------------------------------------------------------------------


class TaskUpdateBody(Body):
    """A task's writable fields (its site and sector are fixed at creation)."""

    title: str = Field(min_length=1, max_length=255)
    description: str = Field("", max_length=20000)
    idea_id: int | None = Field(None, description="A content idea of the same sector")
    cluster_id: int | None = Field(None, description="A cluster of the same sector")
    keywords: list[Keyword] = Field(default_factory=list, max_length=50)
    content_type: ContentType = "blog_post"
    content_structure: ContentStructure = "guide"
    status: TaskStatus = "draft"

    _check_keywords = field_validator("keywords")(_keywords)


class TaskBody(TaskUpdateBody):
    site_id: int
    sector_id: int


class TaskOut(BaseModel):
    id: int
    account_id: int
    site_id: int
    sector_id: int
    idea_id: int | None
    cluster_id: int | None
    title: str
    description: str
    keywords: list[str]
    content_type: str
    content_structure: str
    status: TaskStatus
    created_at: dt.datetime
    updated_at: dt.datetime


class TaskBulkUpdateBody(Body):
    ids: list[int] = Field(min_length=1, max_length=1000)
    status: TaskStatus


# -- content ------------------------------------------------------------------------------------


def _html_size(value: str) -> str:
    if len(value) > MAX_HTML_BYTES or len(value.encode("utf-8", "surrogatepass")) \
            > MAX_HTML_BYTES:
        raise ValueError(f"Ensure this value has at most {MAX_HTML_BYTES} bytes.")
    return value


class ContentUpdateBody(Body):
    """Content's writable fields (its site and sector are fixed at creation)."""

    title: str = Field(min_length=1, max_length=255)
    html_content: str = Field(description="HTML; sanitised on the way in (scripts, styles, "
                              "frames, event handlers and unsafe URLs removed), at most 2 MB")
    task_id: int | None = Field(None, description="A task of the same sector")
    meta_title: str = Field("", max_length=255)
    meta_description: str = Field("", max_length=500)
    primary_keyword: str = Field("", max_length=255)
    secondary_keywords: list[Keyword] = Field(default_factory=list, max_length=50)
    content_type: ContentType = "blog_post"
    status: ContentStatus = "draft"

    _check_html = field_validator("html_content")(_html_size)
    _check_keywords = field_validator("secondary_keywords")(_keywords)


class ContentBody(ContentUpdateBody):
    site_id: int
    sector_id: int


class ContentOut(BaseModel):
    id: int
    account_id: int
    site_id: int
    sector_id: int
    task_id: int | None
    title: str
    html_content: str
    word_count: int = Field(description="Words of the HTML's text, computed")
    meta_title: str
    meta_description: str
    primary_keyword: str
    secondary_keywords: list[str]
    content_type: str
    status: ContentStatus
    created_at: dt.datetime
    updated_at: dt.datetime


# -- images -------------------------------------------------------------------------------------


class ImageUpdateBody(Body):
    """An image's writable fields (its site and sector are fixed at creation)."""

    image_type: ImageType
    prompt: str = Field("", max_length=10000)
    content_id: int | None = Field(None, description="Content of the same sector")
    task_id: int | None = Field(None, description="A task of the same sector")
    status: ImageStatus = "pending"


class ImageBody(ImageUpdateBody):
    site_id: int
    sector_id: int


class ImageOut(BaseModel):
    id: int
    account_id: int
    site_id: int
    sector_id: int
    content_id: int | None
    task_id: int | None
    image_type: ImageType
    prompt: str
    status: ImageStatus
    url: str | None = Field(description="Where the generated image is; null until then")
    error: str | None = Field(description="Why generation failed, when it did")
    created_at: dt.datetime
    updated_at: dt.datetime


class ImageFileOut(BaseModel):
    url: str


class ImageBulkUpdateBody(Body):
    ids: list[int] = Field(min_length=1, max_length=1000)
    status: ImageStatus


class BulkUpdateResult(BaseModel):
    updated_count: int
