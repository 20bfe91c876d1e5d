"""The one translation point from pydantic's error wording to DRF's, for the envelope's field
errors: the reference's clients see "This field is required.", never "Field required", and
"A valid integer is required.", never "Input should be a valid integer".

Keyed on pydantic's stable error `type` (not its English text); `ctx` gives the limits. A
type not listed keeps pydantic's message (better a precise sentence than a vague one).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic_core import ErrorDetails

_DATETIME = ("Datetime has wrong format. Use one of these formats instead: "
             "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].")
_DATE = "Date has wrong format. Use one of these formats instead: YYYY-MM-DD."
_INTEGER = "A valid integer is required."
_NUMBER = "A valid number is required."
_BOOLEAN = "Must be a valid boolean."
_STRING = "Not a valid string."

_FIXED: Mapping[str, str] = {
    "missing": "This field is required.",
    "extra_forbidden": "Unknown field.",
    "int_type": _INTEGER, "int_parsing": _INTEGER, "int_from_float": _INTEGER,
    "int_parsing_size": _INTEGER,
    "float_type": _NUMBER, "float_parsing": _NUMBER, "decimal_type": _NUMBER,
    "decimal_parsing": _NUMBER, "finite_number": _NUMBER,
    "bool_type": _BOOLEAN, "bool_parsing": _BOOLEAN,
    "string_type": _STRING, "string_unicode": _STRING, "bytes_type": _STRING,
    "string_pattern_mismatch": "This value does not match the required pattern.",
    "datetime_type": _DATETIME, "datetime_parsing": _DATETIME,
    "datetime_from_date_parsing": _DATETIME, "datetime_object_invalid": _DATETIME,
    "date_type": _DATE, "date_parsing": _DATE, "date_from_datetime_parsing": _DATE,
    "date_from_datetime_inexact": _DATE,
    "url_type": "Enter a valid URL.", "url_parsing": "Enter a valid URL.",
    "url_scheme": "Enter a valid URL.", "url_syntax_violation": "Enter a valid URL.",
    "uuid_type": "Must be a valid UUID.", "uuid_parsing": "Must be a valid UUID.",
    "json_invalid": "Value must be valid JSON.",
}


def _kind_of(value: object) -> str:
    return type(value).__name__


def _too_short(ctx: Mapping[str, Any], value: object) -> str:
    least = ctx.get("min_length", 1)
    if least == 1:
        return "This list may not be empty."
    return f"Ensure this field has at least {least} elements."


def _string_too_short(ctx: Mapping[str, Any], value: object) -> str:
    least = ctx.get("min_length", 1)
    if least == 1:
        return "This field may not be blank."
    return f"Ensure this field has at least {least} characters."


_SHAPED: Mapping[str, Callable[[Mapping[str, Any], object], str]] = {
    "greater_than_equal": lambda c, v: f"Ensure this value is greater than or equal to {c['ge']}.",
    "less_than_equal": lambda c, v: f"Ensure this value is less than or equal to {c['le']}.",
    "greater_than": lambda c, v: f"Ensure this value is greater than {c['gt']}.",
    "less_than": lambda c, v: f"Ensure this value is less than {c['lt']}.",
    "string_too_short": _string_too_short,
    "string_too_long": lambda c, v: (
        f"Ensure this field has no more than {c['max_length']} characters."),
    "too_short": _too_short,
    "too_long": lambda c, v: f"Ensure this field has no more than {c['max_length']} elements.",
    "literal_error": lambda c, v: f'"{v}" is not a valid choice.',
    "enum": lambda c, v: f'"{v}" is not a valid choice.',
    "list_type": lambda c, v: f'Expected a list of items but got type "{_kind_of(v)}".',
    "set_type": lambda c, v: f'Expected a list of items but got type "{_kind_of(v)}".',
    "dict_type": lambda c, v: f"Invalid data. Expected a dictionary, but got {_kind_of(v)}.",
    "model_type": lambda c, v: f"Invalid data. Expected a dictionary, but got {_kind_of(v)}.",
    "model_attributes_type": lambda c, v: (
        f"Invalid data. Expected a dictionary, but got {_kind_of(v)}."),
    "value_error": lambda c, v: str(c.get("error", "Invalid value.")),
    "assertion_error": lambda c, v: str(c.get("error", "Invalid value.")),
}


def drf_message(err: ErrorDetails) -> str:
    """DRF's sentence for one pydantic error."""
    kind = err["type"]
    value = err.get("input")
    if value is None and kind.endswith("_type") and err["loc"]:
        return "This field may not be null."
    fixed = _FIXED.get(kind)
    if fixed is not None:
        return fixed
    shaped = _SHAPED.get(kind)
    if shaped is not None:
        try:
            return shaped(err.get("ctx") or {}, value)
        except KeyError:  # a ctx without the limit (a custom error of the same type)
            pass
    return err["msg"]
