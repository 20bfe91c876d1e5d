"""The OpenAPI document (generated from the route declarations) and the offline docs pages."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from igny8d.handlers import api_routes
from igny8d.openapi import build_document

_PARAM = re.compile(r"\(\?P<(\w+)>[^)]*\)")
METHODS = ("get", "post", "put", "patch", "delete")


def declared() -> list[tuple[str, str, Any, type]]:
    """(OpenAPI path, method, EndpointSpec, handler) of every declared API operation."""
    out = []
    for pattern, handler, _ in api_routes():
        path = _PARAM.sub(lambda m: "{" + m.group(1) + "}", pattern)
        for method in METHODS:
            spec = getattr(getattr(handler, method, None), "_endpoint", None)
            if spec is not None:
                out.append((path, method, spec, handler))
    return out


async def fetch_schema(client: Any) -> dict[str, Any]:
    resp = await client.get("/api/schema/")
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("application/vnd.oai.openapi+json")
    return json.loads(resp.body)


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href", "spec-url") and value:
                self.refs.append((tag, value))


# -- the document -------------------------------------------------------------------------------


async def test_schema_is_valid_openapi_31(client):
    doc = await fetch_schema(client)
    assert doc["openapi"].startswith("3.1")
    validate(doc)  # raises on any violation


def test_document_builds_and_validates_offline():
    doc = build_document(api_routes(), server_url="https://api.example/")
    validate(doc)
    assert doc["servers"] == [{"url": "https://api.example/"}]


def test_validator_is_not_vacuous():
    doc = build_document(api_routes())
    doc["paths"]["/api/v1/system/ping/"]["get"]["responses"] = "nope"
    with pytest.raises(OpenAPIValidationError):
        validate(doc)


async def test_every_declared_operation_is_documented(client):
    doc = await fetch_schema(client)
    ops = declared()
    assert len(ops) > 20
    expected = {(path, method) for path, method, _, _ in ops}
    documented = {(path, method) for path, item in doc["paths"].items()
                  for method in item if method in METHODS}
    assert documented == expected
    op_ids = [op["operationId"] for item in doc["paths"].values()
              for m, op in item.items() if m in METHODS]
    assert len(op_ids) == len(set(op_ids))


async def test_path_parameters_are_declared(client):
    doc = await fetch_schema(client)
    for path, item in doc["paths"].items():
        names = set(re.findall(r"{(\w+)}", path))
        for method, op in item.items():
            declared_params = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert declared_params == names, (path, method)


async def test_security_scheme_and_public_operations(client):
    doc = await fetch_schema(client)
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
        "description": schemes["bearerAuth"]["description"]}
    by_op = {(p, m): spec for p, m, spec, _ in declared()}
    public = set()
    for path, item in doc["paths"].items():
        for method, op in item.items():
            spec = by_op[(path, method)]
            if spec.public:
                public.add((path, method))
                assert op["security"] == [], (path, method)
                assert "401" not in op["responses"]
            else:
                assert {"bearerAuth": []} in op["security"], (path, method)
                assert "401" in op["responses"], (path, method)
    assert public == {
        ("/api/v1/auth/register/", "post"), ("/api/v1/auth/login/", "post"),
        ("/api/v1/auth/refresh/", "post"), ("/api/v1/auth/plans/", "get"),
        ("/api/v1/auth/plans/{id}/", "get"), ("/api/v1/auth/industries/", "get"),
        ("/api/v1/auth/industries/{id}/", "get"), ("/api/v1/system/status/", "get"),
        ("/api/v1/system/ping/", "get"),
    }


async def test_operations_describe_bodies_and_envelopes(client):
    doc = await fetch_schema(client)
    schemas = doc["components"]["schemas"]
    for path, method, spec, _ in declared():
        op = doc["paths"][path][method]
        assert op["summary"], (path, method)
        assert op["x-throttle-scope"] == spec.throttle
        if spec.body is not None:
            body = op["requestBody"]["content"]["application/json"]["schema"]
            assert body["$ref"].split("/")[-1] in schemas
        status = str(spec.status)
        assert status in op["responses"], (path, method)
        if spec.status != 204 and not spec.content_type:
            envelope = op["responses"][status]["content"]["application/json"]["schema"]
            assert envelope["properties"]["success"]["const"] is True
            assert "request_id" in envelope["required"]
            assert ("results" if spec.paginated else "data") in envelope["required"]
    # Every $ref resolves.
    text = json.dumps(doc)
    for ref in set(re.findall(r'"\$ref": "#/components/(\w+)/([^"]+)"', text)):
        assert ref[1] in doc["components"][ref[0]], ref
    assert "ErrorEnvelope" in schemas


async def test_login_and_register_documented_as_in_the_reference(client):
    doc = await fetch_schema(client)
    login = doc["paths"]["/api/v1/auth/login/"]["post"]
    ref = login["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    body = doc["components"]["schemas"][ref.split("/")[-1]]
    assert set(body["required"]) == {"email", "password"}
    lst = doc["paths"]["/api/v1/auth/plans/"]["get"]
    params = {p["name"] for p in lst["parameters"]}
    assert {"page", "page_size"} <= params


async def test_schema_is_stable_between_requests(client):
    assert await fetch_schema(client) == await fetch_schema(client)


async def test_cli_openapi_prints_the_served_document(client, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "igny8d", "openapi", "--data-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("IGNY8_")},
             "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == await fetch_schema(client)


# -- the docs pages ---------------------------------------------------------------------------


@pytest.mark.parametrize(("page", "title"), [("/api/docs/", "Swagger UI"),
                                             ("/api/redoc/", "ReDoc")])
async def test_docs_pages_are_offline(client, page, title):
    resp = await client.get(page)
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/html")
    html = resp.body.decode()
    assert title in html
    assert "/api/schema/" in html
    assert not re.search(r"https?://", html), "docs HTML must not reference other hosts"
    parser = _Refs()
    parser.feed(html)
    scripts = [v for tag, v in parser.refs if tag == "script"]
    styles = [v for tag, v in parser.refs if tag == "link"]
    assert scripts, html
    for _, value in parser.refs:
        assert value.startswith("/"), value
        assert not value.startswith("//"), value
    for url in scripts + styles:
        asset = await client.get(url)
        assert asset.status == 200, url
        assert len(asset.body) > 1000 or url.endswith(".png"), url
        assert asset.body.strip(), url
        ctype = asset.headers["Content-Type"]
        if url.endswith(".js"):
            assert "javascript" in ctype, (url, ctype)
        elif url.endswith(".css"):
            assert ctype.startswith("text/css"), (url, ctype)
        assert asset.headers["X-Content-Type-Options"] == "nosniff"
        assert asset.headers["Server"] == "igny8d"


async def test_swagger_ui_does_not_call_the_online_validator(client):
    """Swagger UI's default validatorUrl is validator.swagger.io (a third-party call with the
    schema URL); the page must switch it off."""
    html = (await client.get("/api/docs/")).body.decode()
    assert re.search(r"validatorUrl:\s*null", html), html


async def test_docs_pages_need_no_auth_and_reject_writes(client):
    for page in ("/api/docs/", "/api/redoc/", "/api/schema/"):
        assert (await client.get(page)).status == 200
        resp = await client.post(page, {})
        assert resp.status == 405
        assert resp.headers["Allow"] == "GET, HEAD, OPTIONS"


async def test_missing_asset_is_404_without_version(client):
    resp = await client.get("/api/docs/assets/nope.js")
    assert resp.status == 404
    assert resp.headers["Server"] == "igny8d"
    resp = await client.get("/api/docs/assets/../../../../etc/passwd")
    assert resp.status in (403, 404)
    assert b"root:" not in resp.body
