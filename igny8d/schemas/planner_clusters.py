"""Schemas of the planner's clusters and content ideas (the content choices are the domain's:
`igny8d/vocab.py`); this module imports no Tornado."""

from __future__ import annotations

import datetime as dt
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

from igny8d.vocab import (
    CONTENT_STRUCTURES,
    CONTENT_TYPES,
    MAX_OUTLINE_ITEMS,
    MAX_TARGET_KEYWORDS,
    ContentStructure,
    ContentType,
)

__all__ = ["CONTENT_STRUCTURES", "CONTENT_TYPES", "MAX_OUTLINE_ITEMS", "MAX_TARGET_KEYWORDS",
           "ContentStructure", "ContentType"]

ClusterStatus = Literal["active", "archived"]
#: `queued` is set by bulk_queue_to_writer (a task exists); `completed` when it is written.
IdeaStatus = Literal["new", "queued", "completed", "archived"]

CLUSTER_STATUSES: tuple[str, ...] = get_args(ClusterStatus)
IDEA_STATUSES: tuple[str, ...] = get_args(IdeaStatus)



class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# -- clusters ------------------------------------------------------------------------------------


class ClusterOut(BaseModel):
    id: int
    account_id: int
    site_id: int
    sector_id: int
    name: str
    description: str
    status: ClusterStatus
    keywords_count: int = Field(description="How many keywords are in the cluster")
    volume: int = Field(description="The sum of its keywords' search volume (0 if none)")
    created_at: dt.datetime
    updated_at: dt.datetime


class ClusterUpdateBody(Body):
    name: str = Field(min_length=1, max_length=255)
    description: str = Field("", max_length=5000)
    status: ClusterStatus = "active"


class ClusterBody(ClusterUpdateBody):
    site_id: int = Field(description="Set at creation, never changed")
    sector_id: int = Field(description="A sector of the site; set at creation, never changed")


# -- content ideas -------------------------------------------------------------------------------


class OutlineItem(Body):
    heading: str = Field(min_length=1, max_length=255)
    level: Literal[2, 3] = Field(description="The heading level: 2 (H2) or 3 (H3)")
    points: list[str] = Field(default_factory=list, max_length=50)

    @field_validator("points")
    @classmethod
    def _points(cls, value: list[str]) -> list[str]:
        out = [p.strip() for p in value]
        if any(not p or len(p) > 1000 for p in out):
            raise ValueError("Each point must have 1 to 1000 characters.")
        return out


class IdeaOut(BaseModel):
    id: int
    account_id: int
    site_id: int
    sector_id: int
    cluster_id: int | None
    title: str
    description: str
    content_type: ContentType
    content_structure: ContentStructure
    target_keywords: list[str]
    outline: list[OutlineItem]
    estimated_word_count: int
    status: IdeaStatus
    created_at: dt.datetime
    updated_at: dt.datetime


class IdeaUpdateBody(Body):
    title: str = Field(min_length=1, max_length=255)
    description: str = Field("", max_length=20000)
    cluster_id: int | None = Field(None, description="A cluster of the same sector")
    content_type: ContentType = "blog_post"
    content_structure: ContentStructure = "guide"
    target_keywords: list[str] = Field(default_factory=list, max_length=MAX_TARGET_KEYWORDS)
    estimated_word_count: int = Field(1500, ge=100, le=20000)
    status: IdeaStatus = "new"
    outline: list[OutlineItem] = Field(default_factory=list, max_length=MAX_OUTLINE_ITEMS)

    @field_validator("target_keywords")
    @classmethod
    def _keywords(cls, value: list[str]) -> list[str]:
        out = [k.strip() for k in value]
        if any(not k or len(k) > 255 for k in out):
            raise ValueError("Each keyword must have 1 to 255 characters.")
        return out


class IdeaBody(IdeaUpdateBody):
    site_id: int = Field(description="Set at creation, never changed")
    sector_id: int = Field(description="A sector of the site; set at creation, never changed")


class QueueResult(BaseModel):
    queued: int = Field(description="Ideas queued now (one new draft task each)")
    skipped: int = Field(description="Ideas not queued: already queued, completed, archived "
                                     "or with a task")
    task_ids: list[int] = Field(description="The new tasks, in the order of their ideas' ids")
