"""The wire: what the API answers and what the prompts ask the model for, as pydantic models.

Extra fields are ignored; a value that does not fit is a `ProviderError` naming the first
thing wrong (`validate`), never a traceback or the whole answer.
"""

from __future__ import annotations

import json
import re
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from igny8d.ai.types import ProviderError

M = TypeVar("M", bound=BaseModel)

_FENCE = re.compile(r"^```[a-zA-Z]*\s*(.*?)\s*```$", re.DOTALL)


class Wire(BaseModel):
    """Every shape ignores fields it does not name: servers and models add their own."""

    model_config = ConfigDict(extra="ignore")


class Usage(Wire):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0

    @property
    def total(self) -> int:
        return self.total_tokens or self.prompt_tokens + self.completion_tokens


class Message(Wire):
    content: str | None = None
    refusal: str | None = None


class Choice(Wire):
    message: Message
    finish_reason: str | None = None


class ChatResponse(Wire):
    choices: list[Choice] = Field(min_length=1)
    usage: Usage | None = None


class EmbeddingItem(Wire):
    index: int = Field(ge=0)
    embedding: list[float] = Field(min_length=1)


class EmbeddingResponse(Wire):
    data: list[EmbeddingItem]
    usage: Usage | None = None


class ImageItem(Wire):
    b64_json: str | None = None
    url: str | None = None


class ImageResponse(Wire):
    data: list[ImageItem] = Field(min_length=1)
    usage: Usage | None = None


class ModelItem(Wire):
    id: str


class Models(Wire):
    data: list[ModelItem] = Field(default_factory=list)


# -- what the prompts ask the model for ----------------------------------------------------

def _as_text(value: Any, *keys: str) -> Any:
    """"x" or {"keyword": "x"} (models vary) → "x"."""
    if isinstance(value, dict):
        for key in keys:
            if isinstance(value.get(key), str):
                return value[key]
    return value


class Group(Wire):
    name: str = ""
    keywords: list[str]

    @field_validator("keywords", mode="before")
    @classmethod
    def _texts(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [_as_text(v, "keyword", "text", "name") for v in value]
        return value


class Unplaced(Wire):
    keyword: str
    reason: str = ""


class ClusterAnswer(Wire):
    #: an answer without a cluster does not do the job (repaired once, else the job fails)
    clusters: list[Group] = Field(min_length=1)
    unclustered: list[Unplaced] = Field(default_factory=list)

    @field_validator("unclustered", mode="before")
    @classmethod
    def _plain(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"keyword": v} if isinstance(v, str) else v for v in value]
        return value


class Section(Wire):
    heading: str = Field(min_length=1)
    subheadings: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)

    @field_validator("subheadings", "keywords", mode="before")
    @classmethod
    def _texts(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [_as_text(v, "heading", "keyword", "text") for v in value]
        return value


class Idea(Wire):
    title: str = Field(min_length=1)
    description: str = ""
    content_type: str = "blog_post"
    content_structure: str = "guide"
    target_keywords: list[str] = Field(default_factory=list)
    outline: list[Section] = Field(default_factory=list)
    #: a float: models write 1500.0 or "1500" as readily as 1500
    estimated_word_count: float = 1500


class Ideas(Wire):
    ideas: list[Idea] = Field(min_length=1)


class Article(Wire):
    title: str = ""
    html_content: str = Field(min_length=1)
    meta_title: str = ""
    meta_description: str = ""
    slug: str = ""
    primary_keyword: str = ""
    secondary_keywords: list[str] = Field(default_factory=list)


class SectionBody(Wire):
    """One section of an outline-first article: its body (the heading is ours)."""

    html_content: str = Field(min_length=1)


class InArticle(Wire):
    heading: str = ""
    prompt: str = Field(min_length=1)


class ImagePrompts(Wire):
    featured: str = Field(min_length=1)
    in_article: list[InArticle] = Field(default_factory=list)

    @field_validator("in_article", mode="before")
    @classmethod
    def _plain(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"prompt": v} if isinstance(v, str) else v for v in value]
        return value


def validate(model: type[M], data: Any) -> M:
    """`data` as `model`; a ProviderError naming the first thing that does not fit."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        reason = f"{where}: {first.get('msg', 'invalid')}" if where else \
            str(first.get("msg", "invalid"))
        raise ProviderError("The provider's answer did not match the expected shape: "
                            + reason[:160]) from None


def parse_content(content: str, *, cut_off: bool = False) -> Any:
    """A chat answer's JSON: as is, inside a ``` fence, or the outermost {...} of the text."""
    text = content.strip()
    fenced = _FENCE.match(text)
    candidates = [text] + ([fenced.group(1)] if fenced else [])
    first, last = text.find("{"), text.rfind("}")
    if 0 <= first < last:
        candidates.append(text[first:last + 1])
    for candidate in candidates:
        try:
            return json.loads(candidate)
        except ValueError:
            continue
    suffix = " (it was cut off at the model's token limit)" if cut_off else ""
    raise ProviderError(f"The provider's answer was not valid JSON{suffix}.")
