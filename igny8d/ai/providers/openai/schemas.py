"""Each chat step's answer as a JSON schema, sent as `response_format: json_schema`.

Written by hand rather than generated from the `wire` models: OpenAI's strict mode wants every
property required and `additionalProperties: false`, and llama.cpp turns the schema into a
grammar, where a small flat schema decodes fastest. The `wire` models stay lenient on the way
back in (a server that ignored the schema still gets its answer read where it can be).
"""

from __future__ import annotations

from typing import Any

from igny8d.vocab import CONTENT_STRUCTURES, CONTENT_TYPES


def _obj(**props: Any) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": list(props),
            "additionalProperties": False}


_STR: dict[str, Any] = {"type": "string"}
_STRS: dict[str, Any] = {"type": "array", "items": _STR}

CLUSTERING: dict[str, Any] = _obj(
    clusters={"type": "array", "minItems": 1,
              "items": _obj(name=_STR, keywords={"type": "array", "minItems": 1,
                                                 "items": _STR})},
    unclustered={"type": "array", "items": _obj(keyword=_STR, reason=_STR)},
)

_SECTION = _obj(heading=_STR, subheadings=_STRS, keywords=_STRS)

IDEAS: dict[str, Any] = _obj(ideas={"type": "array", "minItems": 1, "items": _obj(
    title=_STR, description=_STR,
    content_type={"type": "string", "enum": list(CONTENT_TYPES)},
    content_structure={"type": "string", "enum": list(CONTENT_STRUCTURES)},
    target_keywords=_STRS, outline={"type": "array", "items": _SECTION},
    estimated_word_count={"type": "integer"},
)})

#: the whole article in one call (no outline) and the intro call of an outline-first article
ARTICLE: dict[str, Any] = _obj(
    title=_STR, html_content=_STR, meta_title=_STR, meta_description=_STR, slug=_STR,
    primary_keyword=_STR, secondary_keywords=_STRS)

#: one H2 section's body (its heading is ours)
SECTION: dict[str, Any] = _obj(html_content=_STR)

IMAGE_PROMPTS: dict[str, Any] = _obj(
    featured=_STR, in_article={"type": "array", "items": _obj(heading=_STR, prompt=_STR)})
