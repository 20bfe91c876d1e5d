"""The reader of igny8d/ai/data/: word lists kept as JSON, read on first use.

The offline algorithms' vocabulary lives in data files so it can be edited without touching
code. Each algorithm turns its file into a typed, cached view (`text.vocabulary()`,
`ideas.words.idea_words()`); none is read at import,
because `igny8d.ai` is imported when the server starts and most servers never run a local job.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any


@functools.cache
def read(name: str) -> Any:
    """The parsed JSON file `igny8d/ai/data/<name>` (read once per process)."""
    return json.loads((resources.files("igny8d.ai") / "data" / name).read_text("utf-8"))


def strings(value: Any, where: str) -> tuple[str, ...]:
    """`value` as a tuple of strings; ValueError naming `where` when it is anything else."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{where}: expected a list of strings")
    return tuple(value)


def word_set(value: Any, where: str) -> frozenset[str]:
    """`value` (a list of strings) as a frozenset; a repeated word is a ValueError, because a
    list edited by hand should say each thing once."""
    words = strings(value, where)
    if len(set(words)) != len(words):
        repeated = sorted({w for w in words if words.count(w) > 1})
        raise ValueError(f"{where}: repeated {', '.join(repeated)}")
    return frozenset(words)


def mapping(value: Any, where: str) -> dict[str, Any]:
    """`value` as a JSON object; ValueError naming `where` otherwise."""
    if not isinstance(value, dict):
        raise ValueError(f"{where}: expected an object")
    return value
