"""Field errors speak one voice, DRF's (as the reference shows), whatever produced them:
pydantic's wording ("Field required", "Input should be ...") never reaches a client.
`igny8d/handlers/field_errors.py` is the one translation point."""

from __future__ import annotations

from typing import Any, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from igny8d.handlers.bodies import validation_errors
from tests.helpers.client import Client
from tests.helpers.paths import KEYWORDS, SITES


class _Form(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=5)
    count: int = Field(default=1, ge=1, le=10)
    ratio: float = 0.5
    flag: bool = False
    kind: Literal["a", "b"] = "a"
    ids: list[int] = Field(default_factory=lambda: [1], min_length=1, max_length=2)


@pytest.mark.parametrize(("payload", "expected"), [
    ({}, {"name": ["This field is required."]}),
    ({"name": ""}, {"name": ["This field may not be blank."]}),
    ({"name": "abcdef"}, {"name": ["Ensure this field has no more than 5 characters."]}),
    ({"name": None}, {"name": ["This field may not be null."]}),
    ({"name": 5}, {"name": ["Not a valid string."]}),
    ({"name": "a", "count": "x"}, {"count": ["A valid integer is required."]}),
    ({"name": "a", "count": 0},
     {"count": ["Ensure this value is greater than or equal to 1."]}),
    ({"name": "a", "count": 11}, {"count": ["Ensure this value is less than or equal to 10."]}),
    ({"name": "a", "ratio": "much"}, {"ratio": ["A valid number is required."]}),
    ({"name": "a", "flag": "maybe"}, {"flag": ["Must be a valid boolean."]}),
    ({"name": "a", "kind": "c"}, {"kind": ['"c" is not a valid choice.']}),
    ({"name": "a", "ids": []}, {"ids": ["This list may not be empty."]}),
    ({"name": "a", "ids": [1, 2, 3]},
     {"ids": ["Ensure this field has no more than 2 elements."]}),
    ({"name": "a", "ids": "1"}, {"ids": ['Expected a list of items but got type "str".']}),
    ({"name": "a", "ids": [1, "x"]}, {"ids": ["1: A valid integer is required."]}),
    ({"name": "a", "other": 1}, {"other": ["Unknown field."]}),
])
def test_pydantic_errors_in_drf_words(payload: dict[str, Any],
                                      expected: dict[str, list[str]]) -> None:
    with pytest.raises(ValidationError) as raised:
        _Form.model_validate(payload)
    assert validation_errors(raised.value) == expected


async def test_field_errors_over_http_speak_drf(client: Client) -> None:
    token = await client.owner("ann@example.com")
    site = await client.site(token)
    sector = await client.sector(token, site["id"])
    where = {"site_id": site["id"], "sector_id": sector["id"]}
    resp = await client.post(KEYWORDS, {**where, "keyword": "k", "volume": "lots"},
                             token=token)
    assert resp.status == 400, resp.json
    assert resp.errors == {"volume": ["A valid integer is required."]}
    resp = await client.post(KEYWORDS, {**where, "keyword": None}, token=token)
    assert resp.errors == {"keyword": ["This field may not be null."]}, resp.json
    resp = await client.post(KEYWORDS, {**where, "keyword": "k", "site_id": 0}, token=token)
    assert resp.errors == {"site_id": ["Ensure this value is greater than or equal to 1."]}
    resp = await client.post(SITES, {"name": "Blog", "is_active": "maybe"}, token=token)
    assert resp.errors == {"is_active": ["Must be a valid boolean."]}, resp.json
    resp = await client.post(SITES, {"name": "x" * 151}, token=token)
    assert resp.status == 400
    for messages in resp.errors.values():
        for message in messages:
            assert "should" not in message and "Field required" not in message, resp.errors
