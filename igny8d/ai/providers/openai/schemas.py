"""Each chat step's answer as a JSON schema, sent as `response_format: json_schema`.

Written by hand rather than generated from the `wire` models: OpenAI's strict mode wants every
property required and `additionalProperties: false`, and llama.cpp turns the schema into a
grammar, where a small flat schema decodes fastest. Strings that must say something carry
`minLength: 1` for a grammar (a constrained small model otherwise answers `""`), dropped for
json_schema's strict mode (`strict`); a clustering's keywords are an enum of those given. The
`wire` models stay lenient on the way back in (a server that ignored the schema still gets its
answer read where it can be).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from igny8d.vocab import CONTENT_STRUCTURES, CONTENT_TYPES


def _obj(**props: Any) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": list(props),
            "additionalProperties": False}


_STR: dict[str, Any] = {"type": "string"}
_STRS: dict[str, Any] = {"type": "array", "items": _STR}
#: a string that must say something: `minLength` is kept for a grammar (`for_grammar`) and
#: dropped for OpenAI's strict mode, which does not take it (`strict`)
_TEXT: dict[str, Any] = {"type": "string", "minLength": 1}


def clustering(keywords: Sequence[str] = ()) -> dict[str, Any]:
    """The clustering answer; with `keywords`, a cluster's keywords are an enum of them (a
    constrained decoder cannot invent or misspell one)."""
    item: dict[str, Any] = {"type": "string", "enum": list(dict.fromkeys(keywords))} \
        if keywords else _STR
    return _obj(
        clusters={"type": "array", "minItems": 1,
                  "items": _obj(name=_TEXT, keywords={"type": "array", "minItems": 1,
                                                      "items": item})},
        unclustered={"type": "array", "items": _obj(keyword=item, reason=_STR)},
    )


CLUSTERING: dict[str, Any] = clustering()

_SECTION = _obj(heading=_STR, subheadings=_STRS, keywords=_STRS)

IDEAS: dict[str, Any] = _obj(ideas={"type": "array", "minItems": 1, "items": _obj(
    title=_TEXT, description=_STR,
    content_type={"type": "string", "enum": list(CONTENT_TYPES)},
    content_structure={"type": "string", "enum": list(CONTENT_STRUCTURES)},
    target_keywords=_STRS, outline={"type": "array", "items": _SECTION},
    estimated_word_count={"type": "integer"},
)})

#: the whole article in one call (no outline) and the intro call of an outline-first article
ARTICLE: dict[str, Any] = _obj(
    title=_TEXT, html_content=_TEXT, meta_title=_STR, meta_description=_STR, slug=_STR,
    primary_keyword=_STR, secondary_keywords=_STRS)

#: one H2 section's body (its heading is ours)
SECTION: dict[str, Any] = _obj(html_content=_TEXT)

IMAGE_PROMPTS: dict[str, Any] = _obj(
    featured=_TEXT, in_article={"type": "array", "items": _obj(heading=_STR, prompt=_TEXT)})

_NOT_STRICT = frozenset({"minLength"})


def strict(schema: Any) -> Any:
    """`schema` as OpenAI's strict mode takes it (no `minLength`)."""
    if isinstance(schema, dict):
        return {k: strict(v) for k, v in schema.items() if k not in _NOT_STRICT}
    if isinstance(schema, list):
        return [strict(v) for v in schema]
    return schema
