"""The dict-and-prefix router picks the same handler as Tornado's in-order matching."""

from __future__ import annotations

import re

import pytest
from tornado.httputil import HTTPHeaders, HTTPServerRequest, RequestStartLine

from igny8d.app import make_app
from igny8d.context import AppContext
from igny8d.handlers import api_routes
from igny8d.settings import Settings

_GROUP = re.compile(r"\(\?P<\w+>[^)]*\)")


def _paths() -> list[str]:
    out = []
    for pattern, _handler, _kw in api_routes():
        for filler in ("1", "bulk_delete", "x"):
            out.append(_GROUP.sub(filler, pattern))
    return [*out, "/api/v1/nope/", "/api/v1/auth/sites/1/nope/", "/api/docs/assets/x.js"]


@pytest.fixture(scope="module")
def application(tmp_path_factory):
    ctx = AppContext.build(Settings(secret_key="k" * 40, data_dir=tmp_path_factory.mktemp("r")))
    return make_app(ctx)


@pytest.mark.parametrize("path", _paths())
def test_fast_router_agrees_with_tornado(application, path):
    request = HTTPServerRequest(start_line=RequestStartLine("GET", path, "HTTP/1.1"),
                                headers=HTTPHeaders({"Host": "localhost"}))
    fast = application.find_handler(request)
    linear = application.default_router.find_handler(request)
    if linear is None:
        assert fast.handler_class.__name__ == "API404Handler"
    else:
        assert fast.handler_class is linear.handler_class
        assert fast.path_kwargs == linear.path_kwargs
