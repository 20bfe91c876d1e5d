"""Bodies and answers of the AI actions (auto_cluster, auto_generate_ideas,
auto_generate_content, generate_image_prompts, generate_images).

Each body is the reference's `{"ids": [...]}` (auto_cluster's with its `sector_id`). The caps
are the operations' (a 400 naming the cap; repeated ids count once); the body's own bound only
keeps a request small."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

from igny8d.schemas.planner import ID_MAX
from igny8d.schemas.planner import Body as PlannerBody

Id = Annotated[int, Field(ge=1, le=ID_MAX)]


#: Where a job is followed (`?wait=N` to hold until it changes; `stream/` for SSE).
PROGRESS_URL = "/api/v1/system/settings/task_progress/{}/"


def progress_url(task_id: str) -> str:
    """The task_progress path of a job (also the 202's `Location`)."""
    return PROGRESS_URL.format(task_id)


class TaskAccepted(BaseModel):
    task_id: str = Field(description="Follow it at /api/v1/system/settings/task_progress/"
                         "{task_id}/")
    progress_url: str = Field(description=(
        "The task's progress URL, also in the `Location` header: GET it (add `?wait=N` to "
        "hold until the progress changes) or GET its `stream/` for Server-Sent Events"))


class TaskMeta(BaseModel):
    """A job's progress, as the reference's task_progress example shows it."""

    phase: str
    percentage: float
    message: str
    request_steps: list[Any]
    response_steps: list[Any]
    cost: float
    tokens: int


class _IdsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AutoClusterBody(PlannerBody):
    #: the setting `local_cluster_max_ids` caps the distinct ids with the local provider,
    #: the reference's 20 with an OpenAI-compatible one (400 above it)
    ids: list[int] = Field(min_length=1, max_length=100_000, description=(
        "Keywords of the sector to cluster (1 to `local_cluster_max_ids`, default 5000, "
        "with the local provider; at most 20 with an OpenAI-compatible one)"))
    sector_id: int = Field(ge=1, le=ID_MAX)


class AutoGenerateIdeasBody(_IdsBody):
    """The reference's `{ids}` (one cluster), or this server's extension `{sector_id,
    all_without_ideas: true}`: every cluster of the sector with keywords and no ideas (none
    queued either), as one job priced per idea (docs/decisions.md)."""

    ids: list[Id] | None = Field(None, min_length=1, max_length=1000, description=(
        "The cluster to write ideas for (the reference: at most 1 cluster per call); "
        "leave out with `all_without_ideas`"))
    sector_id: int | None = Field(None, ge=1, le=ID_MAX, description=(
        "With `all_without_ideas: true`: the sector whose clusters get ideas"))
    all_without_ideas: StrictBool = Field(False, description=(
        "Extension: write ideas for every cluster of `sector_id` that has keywords and no "
        "ideas (nor a queued ideas job), at most 500 a call, as one job charged per idea"))

    @model_validator(mode="after")
    def _one_way(self) -> AutoGenerateIdeasBody:
        if self.all_without_ideas:
            if self.sector_id is None:
                raise ValueError("sector_id: This field is required with all_without_ideas.")
            if self.ids is not None:
                raise ValueError("ids: Leave ids out with all_without_ideas: it takes every "
                                 "cluster of the sector that has no ideas.")
        elif self.sector_id is not None:
            raise ValueError("sector_id: Only with all_without_ideas: true.")
        elif self.ids is None:
            raise ValueError("ids: This field is required.")
        return self


class AutoGenerateContentBody(_IdsBody):
    ids: list[Id] = Field(min_length=1, max_length=1000, description=(
        "Writer tasks to draft articles for (at most 50 distinct)"))
    rewrite: bool = Field(False, description=(
        "Rewrite tasks that already have content: their content is regenerated and replaced "
        "(same content id, back to `draft`) and charged like a new article. Without it such "
        "tasks are skipped, not charged, and listed in the result's `skipped` with the "
        "reason `exists`."))


class GenerateImagePromptsBody(_IdsBody):
    ids: list[Id] = Field(min_length=1, max_length=1000, description=(
        "Content to make image prompts for (at most 50 distinct)"))


class GenerateImagesBody(_IdsBody):
    ids: list[Id] = Field(min_length=1, max_length=1000, description=(
        "Images to render (at most 50 distinct; generated ones are skipped)"))
