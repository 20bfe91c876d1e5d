"""Keyword CSV parsing and rendering (services/csv_io.py), without a server."""

from __future__ import annotations

import codecs
import csv
import io
import time

import pytest

from igny8d.errors import ValidationFailed
from igny8d.services import csv_io
from igny8d.services.csv_io import (
    export_header,
    export_rows,
    neutralise,
    parse_keywords,
    unneutralise,
)


def _refused(data: bytes) -> list[str]:
    with pytest.raises(ValidationFailed) as info:
        parse_keywords(data)
    assert info.value.errors is not None
    return info.value.errors["file"]


def test_basic_comma_file() -> None:
    parsed = parse_keywords(b"keyword,volume,difficulty,intent,status\n"
                            b"seo tools,1200,40,commercial,pending\nbest crm,,,,\n")
    assert parsed.delimiter == ","
    assert [r._asdict() for r in parsed.rows] == [
        {"keyword": "seo tools", "keyword_norm": "seo tools", "volume": 1200,
         "difficulty": 40, "intent": "commercial", "status": "pending"},
        {"keyword": "best crm", "keyword_norm": "best crm", "volume": 0, "difficulty": 0,
         "intent": None, "status": "active"},
    ]


@pytest.mark.parametrize("delim", [",", ";", "\t"])
def test_delimiters_bom_crlf_and_quotes(delim: str) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delim, lineterminator="\r\n")
    w.writerow(["Status", "KEYWORD", "Volume"])
    w.writerow(["archived", 'say "hi", world; \tnow', "5"])
    w.writerow(["", "multi\r\nline", "6"])
    data = codecs.BOM_UTF8 + buf.getvalue().encode()
    parsed = parse_keywords(data)
    assert parsed.delimiter == delim
    assert [r.keyword for r in parsed.rows] == ['say "hi", world; \tnow', "multi\r\nline"]
    assert [r.status for r in parsed.rows] == ["archived", "active"]
    assert [r.volume for r in parsed.rows] == [5, 6]


def test_utf16_with_bom_and_cr_only_lines() -> None:
    text = "keyword\tvolume\rcafé\t3\r"
    parsed = parse_keywords(codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
    assert parsed.rows[0].keyword == "café"
    assert parsed.rows[0].volume == 3


def test_duplicates_in_the_file_are_counted_once() -> None:
    parsed = parse_keywords(b"keyword\nSEO  Tools\nseo tools\n seo\ttools \nother\n\n\n")
    assert [r.keyword for r in parsed.rows] == ["SEO  Tools", "other"]
    assert parsed.duplicates == 2


@pytest.mark.parametrize("data, fragment", [
    (b"", "empty"),
    (b"   \r\n\r\n", "empty"),
    (codecs.BOM_UTF8, "empty"),
    (b"keyword\n", "no keywords"),
    (b"keyword,volume\r\n\r\n", "no keywords"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "UTF-8"),
    (b"keyword\nab\x00c\n", "binary"),
    (b"keyword|volume\nx|1\n", "keyword"),
    (b"name,volume\nx,1\n", "keyword"),
    (b"keyword,keyword\nx,y\n", "twice"),
    (b"keyword,cpc\nx,1\n", "cpc"),
])
def test_unusable_files_are_refused(data: bytes, fragment: str) -> None:
    messages = _refused(data)
    assert any(fragment in m for m in messages), messages


def test_bad_rows_are_named_with_their_row_numbers() -> None:
    lines = ["keyword,volume,difficulty,intent,status"]
    lines += [f"kw {i},{i},10,informational,active" for i in range(10_000)]
    lines[5001] = "kw bad,-3,10,informational,active"
    lines[7001] = "kw bad2,1,101,shopping,done"
    lines[8001] = ",1,1,,"
    lines[9001] = "a,1,2,,,extra"
    messages = _refused("\n".join(lines).encode())
    assert messages[0].startswith("Row 5002: volume")
    assert messages[1].startswith("Row 7002: difficulty")
    assert messages[2].startswith("Row 8002: keyword")
    assert messages[3].startswith("Row 9002: 6 values")
    assert len(messages) == 4


def test_many_bad_rows_are_listed_up_to_a_cap() -> None:
    data = "keyword,volume\n" + "".join(f"k{i},x\n" for i in range(500))
    messages = _refused(data.encode())
    assert len(messages) == csv_io.MAX_LISTED + 1
    assert messages[-1] == f"... and {500 - csv_io.MAX_LISTED} more rows with errors."


def test_broken_quoting_is_refused() -> None:
    messages = _refused(b'keyword,volume\n"open quote,1\n')
    assert messages[0].startswith("Row 2")
    messages = _refused(b'keyword,volume\n"a"b,1\n')
    assert messages[0].startswith("Row 2")


def test_long_keyword_and_numbers() -> None:
    assert "keyword" in _refused(b"keyword\n" + b"x" * 256 + b"\n")[0]
    assert parse_keywords(b"keyword\n" + b"x" * 255 + b"\n").rows
    parsed = parse_keywords(b"keyword,volume,difficulty\na,12.0,100\n")
    assert parsed.rows[0].volume == 12
    assert "volume" in _refused(b"keyword,volume\na,1e3\n")[0]
    assert "volume" in _refused(b"keyword,volume\na,99999999999\n")[0]


@pytest.mark.parametrize("text", ["=1+2", "+x", "-5", "@SUM(A1)", "\tx", "\rx", "'=x",
                                  "''-x", "'plain", "plain", "", "a=b"])
def test_formula_neutralising_is_reversible(text: str) -> None:
    out = neutralise(text)
    assert unneutralise(out) == text
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        assert out == "'" + text
    if text.startswith("'") or text[:1].isalnum() or not text:
        assert out[:1] not in ("=", "+", "-", "@")


def test_export_quotes_and_neutralises() -> None:
    rows = [{"id": 1, "keyword": '=HYPERLINK("x"),a', "volume": 5, "intent": None,
             "status": "active"},
            {"id": 2, "keyword": "line\nbreak", "volume": 0}]
    text = export_header() + export_rows(rows)
    assert text.startswith("id,keyword,volume,difficulty,intent,status,cluster_id,")
    parsed = list(csv.reader(io.StringIO(text, newline="")))
    assert parsed[1][1] == '\'=HYPERLINK("x"),a'
    assert parsed[2][1] == "line\nbreak"
    assert text.endswith("\r\n")
    back = parse_keywords(text.encode())
    assert [r.keyword for r in back.rows] == ['=HYPERLINK("x"),a', "line\nbreak"]


def test_100k_rows_parse_fast() -> None:
    data = ("keyword,volume,difficulty,intent,status\n" + "".join(
        f"keyword number {i},{i % 5000},{i % 101},commercial,active\n"
        for i in range(100_000))).encode()
    start = time.perf_counter()
    parsed = parse_keywords(data)
    elapsed = time.perf_counter() - start
    assert len(parsed.rows) == 100_000
    print(f"parsed 100k rows in {elapsed:.2f}s ({100_000 / elapsed:,.0f} rows/s)")
