"""Tests for igny8d.log: JSON formatter, configure_logging, scrub_query and log_request."""

import io
import json
import logging
import re
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from igny8d.log import (
    JsonFormatter,
    configure_logging,
    log_request,
    request_id_var,
    scrub_query,
)
from tests.helpers.logs import loggers_restored

_TOUCHED = (
    "apscheduler",
    "igny8d",
    "igny8d.access",
    "igny8d.test",
    "tornado",
    "tornado.access",
    "tornado.application",
    "tornado.general",
)


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Put the loggers back exactly as they were and close any handler a test added."""
    with loggers_restored(*_TOUCHED):
        yield


@pytest.fixture
def stream() -> io.StringIO:
    buf = io.StringIO()
    configure_logging(level="DEBUG", stream=buf)
    return buf


def lines(buf: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in buf.getvalue().splitlines()]


def make_record(msg: str = "hello %s", args: tuple = ("world",), **extra) -> logging.LogRecord:
    record = logging.LogRecord("igny8d.test", logging.INFO, __file__, 1, msg, args, None)
    record.__dict__.update(extra)
    return record


# --- JsonFormatter -------------------------------------------------------------------------


def test_formatter_emits_json_with_base_fields():
    out = JsonFormatter().format(make_record())
    assert "\n" not in out
    data = json.loads(out)
    assert data["level"] == "INFO"
    assert data["logger"] == "igny8d.test"
    assert data["message"] == "hello world"
    assert data["request_id"] is None
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", data["timestamp"])
    assert "traceback" not in data


def test_formatter_timestamp_is_utc():
    record = make_record()
    record.created = 0.5
    data = json.loads(JsonFormatter().format(record))
    assert data["timestamp"] == "1970-01-01T00:00:00.500Z"


def test_request_id_from_contextvar():
    token = request_id_var.set("ctx-123")
    try:
        data = json.loads(JsonFormatter().format(make_record()))
    finally:
        request_id_var.reset(token)
    assert data["request_id"] == "ctx-123"


def test_request_id_record_attribute_wins_over_contextvar():
    token = request_id_var.set("ctx-123")
    try:
        data = json.loads(JsonFormatter().format(make_record(request_id="rec-456")))
    finally:
        request_id_var.reset(token)
    assert data["request_id"] == "rec-456"


def test_extras_included_and_non_serialisable_become_str():
    class Odd:
        def __str__(self) -> str:
            return "odd!"

    record = make_record(site_id=7, tags=["a", "b"], obj=Odd(), nested={"when": Odd()})
    data = json.loads(JsonFormatter().format(record))
    assert data["site_id"] == 7
    assert data["tags"] == ["a", "b"]
    assert data["obj"] == "odd!"
    assert data["nested"] == {"when": "odd!"}


def test_extras_cannot_overwrite_base_fields():
    data = json.loads(JsonFormatter().format(make_record(level="FAKE", logger="x")))
    assert data["level"] == "INFO"
    assert data["logger"] == "igny8d.test"


def test_circular_extra_does_not_break_formatting():
    loop: dict = {}
    loop["self"] = loop
    data = json.loads(JsonFormatter().format(make_record(loop=loop)))
    assert isinstance(data["loop"], str)


def test_traceback_field_on_exception(stream):
    log = logging.getLogger("igny8d.test")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        log.exception("failed")
    (data,) = lines(stream)
    assert data["level"] == "ERROR"
    assert data["message"] == "failed"
    assert "Traceback (most recent call last)" in data["traceback"]
    assert "RuntimeError: boom" in data["traceback"]


@pytest.mark.parametrize(
    "key",
    [
        "authorization",
        "Authorization",
        "password",
        "new_password",
        "token",
        "access",
        "refresh_token",
        "client_secret",
        "API_KEY",
        "cookie",
        "set_cookie",
    ],
)
def test_secret_extras_are_masked(key):
    record = make_record(**{key: "hunter2"})
    out = JsonFormatter().format(record)
    assert "hunter2" not in out
    assert json.loads(out)[key] == "***"


def test_secret_keys_masked_in_nested_extras():
    record = make_record(payload={"email": "a@b.c", "password": "hunter2", "x": [{"token": "t"}]})
    out = JsonFormatter().format(record)
    assert "hunter2" not in out
    data = json.loads(out)
    assert data["payload"] == {"email": "a@b.c", "password": "***", "x": [{"token": "***"}]}


# --- scrub_query ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ""),
        ("page=2&page_size=10", "page=2&page_size=10"),
        ("token=abc", "token=***"),
        ("a=1&TOKEN=abc&b=2", "a=1&TOKEN=***&b=2"),
        ("access=x&refresh=y&password=z", "access=***&refresh=***&password=***"),
        ("key=k&api_key=k2&secret=s&code=c", "key=***&api_key=***&secret=***&code=***"),
        (
            "access_token=x&reset_token=y&new_password=z",
            "access_token=***&reset_token=***&new_password=***",
        ),
        ("keyword=seo&search=x&code_style=y", "keyword=seo&search=x&code_style=y"),
        ("q=a%20b&token=a%3Db&z=1", "q=a%20b&token=***&z=1"),
        ("api%5Fkey=x", "api%5Fkey=***"),
        ("token=a=b=c", "token=***"),
    ],
)
def test_scrub_query(query, expected):
    assert scrub_query(query) == expected


def test_scrub_query_keeps_order():
    query = "z=1&token=t&a=2&password=p&m=3"
    assert scrub_query(query) == "z=1&token=***&a=2&password=***&m=3"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("a&&=b&c", "a&&=b&c"),
        ("&&&", "&&&"),
        ("=", "="),
        ("token", "token"),
        ("token=", "token="),
        ("a=&token=&b=", "a=&token=&b="),
        ("%zz=1&token=%", "%zz=1&token=***"),
        ("&token=x&", "&token=***&"),
    ],
)
def test_scrub_query_malformed_and_blank(query, expected):
    assert scrub_query(query) == expected


# --- log_request ----------------------------------------------------------------------------


class FakeRequest:
    def __init__(self, method: str = "GET", path: str = "/api/v1/x/", query: str = "") -> None:
        self.method = method
        self.path = path
        self.query = query
        self.remote_ip = "10.0.0.9"
        self.uri = f"{path}?{query}" if query else path
        self.headers = {"Authorization": "Bearer SECRET-JWT", "Cookie": "sessionid=SECRET-COOKIE"}
        self.body = b'{"password": "SECRET-BODY"}'

    def request_time(self) -> float:
        return 0.0123456


class FakeHandler:
    def __init__(
        self,
        status: int,
        *,
        query: str = "",
        principal: object = None,
        error_message: str | None = None,
        request_id: str | None = "req-1",
    ) -> None:
        self.request = FakeRequest(query=query)
        self._status = status
        self.principal = principal
        self.error_message = error_message
        if request_id is not None:
            self.request_id = request_id

    def get_status(self) -> int:
        return self._status


@pytest.mark.parametrize(
    ("status", "level"),
    [(200, "INFO"), (302, "INFO"), (404, "WARNING"), (429, "WARNING"), (500, "ERROR")],
)
def test_log_request_levels(stream, status, level):
    log_request(FakeHandler(status))
    (data,) = lines(stream)
    assert data["level"] == level
    assert data["logger"] == "igny8d.access"
    assert data["status"] == status


def test_log_request_fields(stream):
    principal = SimpleNamespace(user_id=5, account_id=9)
    handler = FakeHandler(
        404,
        query="page=2&token=SECRET-TOKEN",
        principal=principal,
        error_message="Not found",
    )
    log_request(handler)
    raw = stream.getvalue()
    for secret in ("SECRET-TOKEN", "SECRET-JWT", "SECRET-COOKIE", "SECRET-BODY"):
        assert secret not in raw
    (data,) = lines(stream)
    assert data["message"] == "404 GET /api/v1/x/?page=2&token=*** 12.35ms"
    assert data["request_id"] == "req-1"
    assert data["method"] == "GET"
    assert data["path"] == "/api/v1/x/?page=2&token=***"
    assert data["duration_ms"] == 12.35
    assert data["user_id"] == 5
    assert data["account_id"] == 9
    assert data["error"] == "Not found"
    assert data["remote_ip"] == "10.0.0.9"
    assert not {"headers", "body", "authorization", "cookie"} & {k.lower() for k in data}


def test_log_request_anonymous_without_query(stream):
    log_request(FakeHandler(200))
    (data,) = lines(stream)
    assert data["path"] == "/api/v1/x/"
    assert data["message"] == "200 GET /api/v1/x/ 12.35ms"
    assert data["user_id"] is None
    assert data["account_id"] is None
    assert data["error"] is None


def test_log_request_falls_back_to_contextvar_request_id(stream):
    token = request_id_var.set("ctx-req")
    try:
        log_request(FakeHandler(200, request_id=None))
    finally:
        request_id_var.reset(token)
    (data,) = lines(stream)
    assert data["request_id"] == "ctx-req"


# --- configure_logging ----------------------------------------------------------------------


def test_configure_logging_twice_does_not_duplicate():
    first = io.StringIO()
    second = io.StringIO()
    configure_logging(stream=first)
    configure_logging(stream=second)
    logging.getLogger("igny8d.test").info("once")
    assert first.getvalue() == ""
    assert [d["message"] for d in lines(second)] == ["once"]


def test_configure_logging_level_filters():
    buf = io.StringIO()
    configure_logging(level="warning", stream=buf)
    log = logging.getLogger("igny8d.test")
    log.info("dropped")
    log.warning("kept")
    assert [d["message"] for d in lines(buf)] == ["kept"]


def test_configure_logging_rejects_unknown_level():
    with pytest.raises(ValueError):
        configure_logging(level="chatty", stream=io.StringIO())


def test_tornado_access_silenced_and_tornado_errors_formatted(stream):
    logging.getLogger("tornado.access").info("200 GET /x?token=leak")
    logging.getLogger("tornado.access").error("500 GET /x?token=leak")
    logging.getLogger("tornado.application").error("Uncaught exception")
    logging.getLogger("tornado.general").warning("Malformed HTTP message")
    data = lines(stream)
    assert "leak" not in stream.getvalue()
    assert [(d["logger"], d["message"]) for d in data] == [
        ("tornado.application", "Uncaught exception"),
        ("tornado.general", "Malformed HTTP message"),
    ]


def test_rotating_file_written_under_log_dir(tmp_path):
    log_dir = tmp_path / "var" / "logs"
    buf = io.StringIO()
    configure_logging(log_dir=log_dir, max_bytes=2000, backups=2, stream=buf)
    log = logging.getLogger("igny8d.test")
    for i in range(60):
        log.info("line %d %s", i, "x" * 50)
    log_file = log_dir / "igny8d.log"
    assert log_file.exists()
    assert (log_dir / "igny8d.log.1").exists()
    assert not (log_dir / "igny8d.log.3").exists()
    for line in log_file.read_text(encoding="utf-8").splitlines():
        assert json.loads(line)["logger"] == "igny8d.test"
    assert len(lines(buf)) == 60


def test_reconfigure_closes_previous_file_handler(tmp_path):
    configure_logging(log_dir=tmp_path, stream=io.StringIO())
    (old,) = [
        h
        for h in logging.getLogger("igny8d").handlers
        if isinstance(h, logging.handlers.RotatingFileHandler)
    ]
    configure_logging(stream=io.StringIO())
    assert old not in logging.getLogger("igny8d").handlers
    assert old.stream is None


def test_scheduler_warnings_are_json_lines_and_its_chatter_is_not_logged(
        stream: io.StringIO) -> None:
    """APScheduler's warnings (a reaper run skipped) were plain text in the JSON log."""
    configure_logging(level="INFO", stream=stream)
    logging.getLogger("apscheduler.scheduler").info("Running job reap")
    logging.getLogger("apscheduler.scheduler").warning("maximum number of running instances")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["message"] for line in lines] == ["maximum number of running instances"]
    assert lines[0]["level"] == "WARNING"
