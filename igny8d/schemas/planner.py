"""Schemas of the planner's keywords and the seed keyword library (bodies are strict).

Clusters and ideas have theirs in `igny8d/schemas/planner_clusters.py`.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

from igny8d.vocab import Intent as KeywordIntent

KeywordStatus = Literal["active", "pending", "archived"]
#: the API lists them in this order (most searches are informational)
INTENTS: tuple[str, ...] = ("informational", "commercial", "transactional", "navigational")
assert set(INTENTS) == set(get_args(KeywordIntent))
STATUSES: tuple[str, ...] = get_args(KeywordStatus)

ID_MAX = 2**63 - 1
INT_MAX = 2**31 - 1  # an INTEGER column
KEYWORD_MAX = 255
MAX_BULK = 1000


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def keyword_text(value: str) -> str:
    """A keyword: 1-255 characters once stripped, no NUL (no column can store one)."""
    value = value.strip()
    if not value:
        raise ValueError("This field may not be blank.")
    if len(value) > KEYWORD_MAX:
        raise ValueError(f"Ensure this field has no more than {KEYWORD_MAX} characters.")
    if "\x00" in value:
        raise ValueError("Null characters are not allowed.")
    return value


class KeywordOut(BaseModel):
    id: int
    account_id: int
    site_id: int
    sector_id: int
    keyword: str
    seed_keyword_id: int | None
    volume: int
    difficulty: int
    intent: KeywordIntent | None
    status: KeywordStatus
    cluster_id: int | None
    created_at: dt.datetime
    updated_at: dt.datetime


class KeywordBody(Body):
    """Create: volume, difficulty and intent come from the seed keyword when not given."""

    keyword: str = Field(max_length=1000)
    site_id: int = Field(ge=1, le=ID_MAX)
    sector_id: int = Field(ge=1, le=ID_MAX)
    volume: int | None = Field(None, ge=0, le=INT_MAX)
    difficulty: int | None = Field(None, ge=0, le=100)
    intent: KeywordIntent | None = None
    status: KeywordStatus = "active"
    cluster_id: int | None = Field(None, ge=1, le=ID_MAX)
    seed_keyword_id: int | None = Field(None, ge=1, le=ID_MAX)

    _check_keyword = field_validator("keyword")(keyword_text)


class KeywordUpdateBody(Body):
    """Update: site and sector are fixed at creation (a PUT may echo them unchanged)."""

    keyword: str = Field(max_length=1000)
    volume: int = Field(0, ge=0, le=INT_MAX)
    difficulty: int = Field(0, ge=0, le=100)
    intent: KeywordIntent | None = None
    status: KeywordStatus = "active"
    cluster_id: int | None = Field(None, ge=1, le=ID_MAX)
    seed_keyword_id: int | None = Field(None, ge=1, le=ID_MAX)

    _check_keyword = field_validator("keyword")(keyword_text)


class BulkStatusBody(Body):
    ids: list[int] = Field(min_length=1, max_length=MAX_BULK)
    status: KeywordStatus


class BulkStatusResult(BaseModel):
    updated_count: int


class AddFromSeedBody(Body):
    seed_keyword_ids: list[int] = Field(min_length=1, max_length=MAX_BULK)
    site_id: int = Field(ge=1, le=ID_MAX)
    sector_id: int = Field(ge=1, le=ID_MAX)


class AddFromSeedResult(BaseModel):
    added: int
    skipped: int = Field(description="Seeds the sector already had (same keyword text)")
    keyword_ids: list[int] = Field(description="The keywords created")


class KeywordImportForm(Body):
    """The multipart form of `import_keywords`: a CSV file and the target site and sector."""

    file: bytes = Field(description="CSV: a header with `keyword` (required) and any of "
                        "`volume`, `difficulty`, `intent`, `status`; `,` `;` or tab separated")
    site_id: int = Field(ge=1, le=ID_MAX)
    sector_id: int = Field(ge=1, le=ID_MAX)


class ImportResult(BaseModel):
    created: int
    skipped_duplicates: int = Field(description="Rows whose keyword the sector already had "
                                    "or that repeat an earlier row of the file")


class SeedKeywordOut(BaseModel):
    id: int
    industry_id: int
    industry_sector_id: int
    keyword: str
    volume: int
    difficulty: int
    intent: str
