"""Keyword CSV: parse and check an upload, render an export. Pure functions, no I/O.

Import (`parse_keywords`): UTF-8 (with or without a BOM) or UTF-16 with a BOM; CRLF, LF or
CR line ends; fields quoted the RFC 4180 way; the delimiter (`,` `;` or tab) is read off the
header line, which must name a `keyword` column (any case, any order, `Cluster ID` is
`cluster_id`). Every row is checked before anything is returned: one bad row refuses the
file with the row numbers (the header is row 1, as a spreadsheet shows it). Keywords that
repeat an earlier row of the file (same text ignoring case and spacing) are dropped and
counted.

Export (`export_header`, `export_rows`): RFC 4180 with CRLF, minimal quoting; a text cell
that a spreadsheet would run as a formula (`= + - @`, tab, CR first) gets a leading `'`, and
the import takes that `'` off again, so an export imports back to the same keywords.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from igny8d.errors import ValidationFailed
from igny8d.schemas.planner import INT_MAX, INTENTS, STATUSES, keyword_text
from igny8d.store.keywords import KeywordLoad, keyword_norm

#: What an export writes, in this order.
EXPORT_COLUMNS = ("id", "keyword", "volume", "difficulty", "intent", "status", "cluster_id",
                  "seed_keyword_id", "site_id", "sector_id", "created_at", "updated_at")
#: What an import reads; the export's other columns are ignored, any other is refused.
IMPORT_COLUMNS = ("keyword", "volume", "difficulty", "intent", "status")
IGNORED_COLUMNS = frozenset(EXPORT_COLUMNS) - frozenset(IMPORT_COLUMNS)
DELIMITERS = (",", ";", "\t")
#: Row errors listed in a refusal; the rest are counted.
MAX_LISTED = 50

_FORMULA = ("=", "+", "-", "@", "\t", "\r")
_WHOLE = re.compile(r"^[0-9]+(?:\.0*)?$")
#: lower-cased cell -> the one shared string
_INTENTS = {i: i for i in INTENTS}
_STATUSES = {s: s for s in STATUSES}


@dataclass(frozen=True)
class ParsedImport:
    #: one per distinct keyword, in the file's order
    rows: list[KeywordLoad]
    #: rows dropped because an earlier row of the file has the same keyword
    duplicates: int
    delimiter: str


def refuse(message: str, details: list[str] | None = None) -> ValidationFailed:
    return ValidationFailed(message, errors={"file": details or [message]})


# -- export ---------------------------------------------------------------------------------


def neutralise(text: str) -> str:
    """A leading `'` on a cell a spreadsheet would evaluate (and on one that already
    starts with `'` before such a character, so `unneutralise` is its exact inverse)."""
    if not text:
        return text
    if text[0] in _FORMULA:
        return "'" + text
    if text[0] == "'":
        rest = text.lstrip("'")
        if rest and rest[0] in _FORMULA:
            return "'" + text
    return text


def unneutralise(text: str) -> str:
    if text[:1] == "'":
        rest = text.lstrip("'")
        if rest and rest[0] in _FORMULA:
            return text[1:]
    return text


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        stamp: str = value.astimezone(dt.UTC).isoformat()
        return stamp.replace("+00:00", "Z")
    return neutralise(str(value))


def export_header(columns: tuple[str, ...] = EXPORT_COLUMNS) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerow(columns)
    return buf.getvalue()


def export_rows(rows: Iterable[Mapping[str, Any]],
                columns: tuple[str, ...] = EXPORT_COLUMNS) -> str:
    """CSV text for `rows` (CRLF line ends, minimal quoting, formulas neutralised)."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(
        [[_cell(r.get(c)) for c in columns] for r in rows])
    return buf.getvalue()


# -- import ---------------------------------------------------------------------------------


def decode(data: bytes) -> str:
    """The file as text: UTF-8 (BOM optional) or UTF-16 with its BOM; binary is refused."""
    if not data.strip():
        raise refuse("The file is empty.")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            raise refuse("The file is not valid UTF-16 text.") from None
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise refuse(f"The file is not UTF-8 text (byte {exc.start + 1} is not "
                         "valid); save it as CSV UTF-8.") from None
    if "\x00" in text:
        raise refuse("The file is binary, not CSV text.")
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise refuse("The file is empty.")
    return text


def _column_name(raw: str) -> str:
    return re.sub(r"[\s\-]+", "_", raw.strip().strip("\ufeff").strip().lower())


def detect_delimiter(text: str) -> tuple[str, list[str]]:
    """The delimiter the header line uses and its column names; a header without a
    `keyword` column under each of `,` `;` tab is refused."""
    first = text.lstrip("\r\n").splitlines()[0] if text.strip() else ""
    best: tuple[int, str, list[str]] | None = None
    known = set(IMPORT_COLUMNS) | IGNORED_COLUMNS
    for delim in DELIMITERS:
        try:
            cells = next(csv.reader([first], delimiter=delim), [])
        except csv.Error:
            continue
        names = [_column_name(c) for c in cells]
        if "keyword" not in names:
            continue
        score = sum(n in known for n in names)
        if best is None or score > best[0]:
            best = (score, delim, names)
    if best is None:
        shown = first if len(first) <= 80 else first[:77] + "..."
        raise refuse(
            "The first line must be a header naming a keyword column, its columns "
            'separated by "," or ";" or a tab.',
            [f'Row 1: no "keyword" column in the header {shown!r} (columns are keyword, '
             'volume, difficulty, intent, status; separated by "," or ";" or a tab).'],
        )
    return best[1], best[2]


def _whole(raw: str, name: str, high: int) -> int:
    text = raw.strip()
    if not text:
        return 0
    if text.isdigit() and text.isascii():  # the usual cell: no regex
        value = int(text)
    elif _WHOLE.match(text):
        value = int(text.split(".")[0])
    else:
        raise ValueError(f"{name}: {raw.strip()[:40]!r} is not a whole number.")
    if value > high:
        raise ValueError(f"{name}: must be between 0 and {high}.")
    return value


def _choice(raw: str, name: str, allowed: dict[str, str], shown: tuple[str, ...]) -> str | None:
    """One of `allowed` (any case, spaces around), as the one shared string, or None."""
    text = raw.strip().lower()
    if not text:
        return None
    try:
        return allowed[text]
    except KeyError:
        raise ValueError(f"{name}: {raw.strip()[:40]!r} is not one of "
                         f"{', '.join(shown)}.") from None


def parse_keywords(data: bytes) -> ParsedImport:
    """Check the whole file; the distinct keywords to import, or ValidationFailed listing
    the bad rows (nothing is returned when one row is bad).

    Rows are compact tuples (`KeywordLoad`) whose intent and status are shared strings, and
    a keyword already in its normal form is its own `keyword_norm`: 100,000 rows cost
    ~25 MB, not the ~70 MB of a dict per row."""
    text = decode(data)
    delim, names = detect_delimiter(text)
    seen: set[str] = set()
    dupes = [n for n in names if n in seen or seen.add(n)]  # type: ignore[func-returns-value]
    if dupes:
        raise refuse(f"The header names {dupes[0]!r} twice.")
    unknown = [n or "(blank)" for n in names if n not in IMPORT_COLUMNS
               and n not in IGNORED_COLUMNS]
    if unknown:
        raise refuse(f"Unknown column {unknown[0]!r}; the columns are "
                     f"{', '.join(IMPORT_COLUMNS)}.")
    width = len(names)
    at = {n: i for i, n in enumerate(names)}
    k_at = at["keyword"]
    v_at, d_at, i_at, s_at = (at.get(c, -1) for c in ("volume", "difficulty", "intent",
                                                      "status"))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim, strict=True)
    del text  # the reader holds it; nothing else needs it
    rows: list[KeywordLoad] = []
    norms: set[str] = set()
    duplicates = 0
    errors: list[str] = []
    bad = 0
    number = 0
    try:
        next(reader)  # the header
        number = 1
        for cells in reader:
            number += 1
            if not cells or (len(cells) == 1 and not cells[0].strip()):
                continue  # a blank line
            try:
                if len(cells) > width:
                    raise ValueError(f"{len(cells)} values, but the header has {width} "
                                     "columns.")
                if len(cells) < width:
                    cells = cells + [""] * (width - len(cells))
                try:
                    keyword = keyword_text(unneutralise(cells[k_at].strip()))
                except ValueError as exc:
                    raise ValueError(f"keyword: {exc}") from None
                volume = _whole(cells[v_at], "volume", INT_MAX) if v_at >= 0 else 0
                difficulty = _whole(cells[d_at], "difficulty", 100) if d_at >= 0 else 0
                intent = (_choice(cells[i_at], "intent", _INTENTS, INTENTS)
                          if i_at >= 0 else None)
                status = (_choice(cells[s_at], "status", _STATUSES, STATUSES)
                          if s_at >= 0 else None)
            except ValueError as exc:
                bad += 1
                if len(errors) < MAX_LISTED:
                    errors.append(f"Row {number}: {exc}")
                continue
            norm = keyword_norm(keyword)
            if norm in norms:
                duplicates += 1
                continue
            if norm == keyword:
                norm = keyword  # one string for both
            norms.add(norm)
            rows.append(KeywordLoad(keyword, norm, volume, difficulty, intent,
                                    status or "active"))
    except csv.Error as exc:
        raise refuse("The file is not valid CSV; nothing was imported.",
                     [f"Row {number + 1}: {exc}."]) from None
    del norms
    if bad:
        if bad > len(errors):
            errors.append(f"... and {bad - len(errors)} more rows with errors.")
        raise refuse(f"{bad} row{'s' if bad != 1 else ''} of the file "
                     f"{'are' if bad != 1 else 'is'} invalid; nothing was imported.", errors)
    if not rows and not duplicates:
        raise refuse("The file has a header but no keywords.")
    return ParsedImport(rows, duplicates, delim)
