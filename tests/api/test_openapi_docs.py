"""The OpenAPI document (generated from the route declarations) and the offline docs pages."""

from __future__ import annotations

import json
import os
import re
import struct
import subprocess
import sys
import uuid
from html.parser import HTMLParser
from typing import Any

import pytest
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from igny8d import __version__
from igny8d.handlers import api_routes
from igny8d.openapi import ERROR_STATUSES, build_document, operations
from tests.helpers.paths import ROOT

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
                assert ("401" in op["responses"]) == (401 in spec.errors), (path, method)
                assert "403" not in op["responses"], (path, method)
            else:
                assert {"bearerAuth": []} in op["security"], (path, method)
                assert "401" in op["responses"], (path, method)
    assert public == {
        ("/api/v1/auth/register/", "post"), ("/api/v1/auth/login/", "post"),
        ("/api/v1/auth/refresh/", "post"), ("/api/v1/auth/logout/", "post"),
        ("/api/v1/auth/password_reset/", "post"),
        ("/api/v1/auth/password_reset/confirm/", "post"),
        ("/api/v1/auth/invitations/accept/", "post"), ("/api/v1/auth/plans/", "get"),
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
            media = spec.request_content_type or "application/json"
            body = op["requestBody"]["content"][media]["schema"]
            assert body["$ref"].split("/")[-1] in schemas
        status = str(spec.status)
        assert status in op["responses"], (path, method)
        if spec.status != 204 and not spec.content_type:
            ref = op["responses"][status]["content"]["application/json"]["schema"]["$ref"]
            envelope = schemas[ref.split("/")[-1]]
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


@pytest.mark.subprocess
async def test_cli_openapi_prints_the_served_document(client, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "igny8d", "openapi", "--data-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("IGNY8_")},
             "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == await fetch_schema(client)


# -- versions, names and error statuses (issue 5, items 12 and 17) ---------------------------


async def test_info_version_is_the_api_version(client):
    doc = await fetch_schema(client)
    assert doc["info"]["version"] == "1.0.0"
    assert doc["info"]["x-server-version"] == __version__


VERBS = {("list", "get"): "list", ("list", "post"): "create", ("detail", "get"): "retrieve",
         ("detail", "put"): "update", ("detail", "patch"): "partial_update",
         ("detail", "delete"): "destroy"}


def test_operation_ids_read_like_the_api():
    doc = build_document(api_routes())
    ids = {(path, m): op["operationId"] for path, item in doc["paths"].items()
           for m, op in item.items()}
    assert len(set(ids.values())) == len(ids)
    for op in operations(api_routes()):
        op_id = ids[(op.path, op.method)]
        assert re.fullmatch(r"[a-z][a-z0-9_]*", op_id), op_id
        assert "handler" not in op_id, op_id
        words = "_".join(seg for seg in op.path.removeprefix("/api/v1/").split("/")
                         if seg and not seg.startswith("{")).replace("-", "_")
        assert op_id.startswith(words), (op_id, words)
        if op.kind in ("list", "detail"):
            assert op_id == f"{words}_{VERBS[(op.kind, op.method)]}", op_id
    # The names a client author sees (drf-spectacular's vocabulary).
    assert ids[("/api/v1/auth/login/", "post")] == "auth_login"
    assert ids[("/api/v1/auth/register/", "post")] == "auth_register"
    assert ids[("/api/v1/auth/me/", "get")] == "auth_me"
    assert ids[("/api/v1/auth/change-password/", "post")] == "auth_change_password"
    assert ids[("/api/v1/auth/sites/", "get")] == "auth_sites_list"
    assert ids[("/api/v1/auth/sites/", "post")] == "auth_sites_create"
    assert ids[("/api/v1/auth/sites/{id}/", "get")] == "auth_sites_retrieve"
    assert ids[("/api/v1/auth/sites/{id}/", "put")] == "auth_sites_update"
    assert ids[("/api/v1/auth/sites/{id}/", "patch")] == "auth_sites_partial_update"
    assert ids[("/api/v1/auth/sites/{id}/", "delete")] == "auth_sites_destroy"
    assert ids[("/api/v1/auth/sites/{id}/select_sectors/", "post")] == \
        "auth_sites_select_sectors"
    assert ids[("/api/v1/system/ping/", "get")] == "system_ping"


def test_component_names_read_like_the_api():
    doc = build_document(api_routes())
    schemas = doc["components"]["schemas"]
    for name in ("TokenPair", "TokenPairResponse", "LoginRequest", "Site", "SiteRequest",
                 "PatchedSiteRequest", "SiteResponse", "PaginatedSiteList", "Sector",
                 "SectorListResponse", "User", "PaginatedUserList", "ErrorEnvelope"):
        assert name in schemas, name
    for name, schema in schemas.items():
        assert not re.search(r"Handler|Out$|Body$", name), name
        assert schema.get("title", name) == name, (name, schema.get("title"))
    # Every success answer is a named envelope, so a generated client gets named models.
    for path, item in doc["paths"].items():
        for method, op in item.items():
            for code, response in op["responses"].items():
                content = response.get("content", {}).get("application/json")
                if code.startswith("2") and content:
                    assert set(content["schema"]) == {"$ref"}, (path, method)


def expected_error_statuses(op) -> set[int]:
    """The rules of igny8d/openapi.py's error_statuses, spelled out independently."""
    spec = op.spec
    codes = set(spec.errors)
    if spec.throttle != "none":  # health checks are not throttled
        codes.add(429)
    if not spec.public:
        codes |= {401, 403}
    if spec.body is not None:
        codes |= {400, 413, 415}
    if spec.query:
        codes.add(400)
    if spec.paginated or "{" in op.path:
        codes.add(404)
    res = op.resource
    body_fields = set(spec.body.model_fields) if spec.body is not None else set()
    global_refs = {name for name, ref in getattr(getattr(res, "service", None), "refs", {}).items()
                   if ref.level == "global"}
    if any(f == "ids" or f.endswith(("_id", "_ids")) for f in body_fields - global_refs):
        codes.add(404)  # a body that names other objects by id
    if res is not None and res.spec.unique:
        unique = {f for cols, f, _ in res.spec.unique} | \
            {c for cols, _, _ in res.spec.unique for c in cols}
        if op.method == "post" and (op.kind == "list" or spec.status == 201):
            codes.add(409)
        if op.kind == "detail" and op.method in ("put", "patch") and body_fields & unique:
            codes.add(409)
    if op.method in ("post", "put", "patch", "delete"):
        codes.add(507)  # a full disk under the store
    if getattr(spec, "idempotent", False):
        codes.add(409)  # an Idempotency-Key already used for another request
    return codes


async def test_every_operation_lists_its_derived_error_statuses(client):
    doc = await fetch_schema(client)
    for op in operations(api_routes()):
        responses = doc["paths"][op.path][op.method]["responses"]
        errors = {int(c) for c in responses if int(c) >= 400}
        assert errors == expected_error_statuses(op), (op.method, op.path, sorted(errors))
        for code in errors:
            assert responses[str(code)] == {"$ref": f"#/components/responses/E{code}"}
    for code in ERROR_STATUSES:
        assert f"E{code}" in doc["components"]["responses"], code
    for code in (402, 409, 413, 415, 503, 507):
        assert f"E{code}" in doc["components"]["responses"], code


def test_known_error_statuses_are_documented():
    """Statuses the derivation cannot see, declared with `errors=` on the endpoint."""
    doc = build_document(api_routes())

    def codes(path: str, method: str) -> set[str]:
        return set(doc["paths"][path][method]["responses"])

    assert "401" in codes("/api/v1/auth/login/", "post")  # wrong password
    assert "401" in codes("/api/v1/auth/refresh/", "post")  # bad, expired or revoked token
    assert "409" in codes("/api/v1/auth/register/", "post")  # duplicate email or username
    assert "409" in codes("/api/v1/auth/users/invite/", "post")  # a create (201): derived
    assert "409" in codes("/api/v1/auth/users/", "post")
    assert "409" in codes("/api/v1/auth/sites/", "post")
    assert "409" in codes("/api/v1/auth/sectors/", "post")
    assert "503" in codes("/api/v1/system/status/", "get")  # database unreachable


def _probe_path(path: str) -> str:
    return re.sub(r"{(\w+)}", lambda m: str(uuid.uuid4()) if m.group(1) != "id"
                  else "999999", path)


#: Operations whose probe with the owner's token would end the probing session.
_SESSION_ENDING = {("/api/v1/auth/logout/", "post")}


async def test_error_paths_answer_documented_statuses(client):
    """Walk the route table and provoke the error paths: every status the server answers is
    one the document lists for that operation (no credentials, a body that is not JSON, a
    body with an unknown field, an empty body, a missing object, a page out of range, a bad
    ordering)."""
    doc = await fetch_schema(client)
    token = await client.owner("walker@example.com")
    seen: dict[int, int] = {}
    for op in operations(api_routes()):
        documented = {int(c) for c in doc["paths"][op.path][op.method]["responses"]}
        path = _probe_path(op.path)
        method = op.method.upper()
        probes: list[dict[str, object]] = [{}]
        if op.spec.body is not None:
            probes += [{"json_body": {}}, {"json_body": {"no_such_field_x": 1}},
                       {"body": "hello", "headers": {"Content-Type": "text/plain"}}]
        if op.spec.paginated:
            probes += [{"query": "?page=9999"}, {"query": "?page=0"}]
        if "ordering" in op.spec.query:
            probes.append({"query": "?ordering=no_such_column"})
        for probe in probes:
            query = str(probe.pop("query", ""))
            for auth in ({}, {"token": token}):
                if auth and (op.path, op.method) in _SESSION_ENDING:
                    continue
                resp = await client.request(method, path + query, **auth, **probe)  # type: ignore[arg-type]
                seen[resp.status] = seen.get(resp.status, 0) + 1
                assert resp.status in documented, (
                    method, path + query, bool(auth), probe, resp.status, resp.json)
    # The probes reached the error paths, not only the happy ones.
    assert {400, 401, 403, 404, 415} <= set(seen), seen


# -- the docs pages ---------------------------------------------------------------------------


#: What a browser fetches from another host while rendering a page or running its scripts:
#: an element source (src: in the bundles' JSX, src= in markup), a CSS url() or @import, a
#: fetch() or XHR. Links a reader may click (<a href>) and URLs in comments, JSON-schema ids
#: and XML namespaces are not fetched, so they do not count.
_FETCHED = [
    re.compile(r"""\bsrc\s*[:=]\s*["'`]\s*(?:https?:)?//"""),
    re.compile(r"""\burl\(\s*["']?\s*(?:https?:)?//"""),
    re.compile(r"""@import\s+(?:url\()?\s*["']?\s*(?:https?:)?//"""),
    re.compile(r"""\bfetch\(\s*["'`]\s*(?:https?:)?//"""),
    re.compile(r"""\.open\(\s*["'`][A-Z]+["'`]\s*,\s*["'`]\s*(?:https?:)?//"""),
]
#: A content delivery host anywhere in the code (outside /*! license banners */).
_CDN = re.compile(r"""(?:https?:)?//[\w.-]*(?:\bcdn\.|unpkg\.com|jsdelivr\.net|"""
                  r"""googleapis\.com|gstatic\.com)""")
_LICENSE_BANNER = re.compile(r"/\*!.*?\*/", re.S)


def outside_fetches(text: str) -> list[str]:
    """Every place in `text` that makes a browser fetch from another host."""
    code = _LICENSE_BANNER.sub("", text)
    found = [code[m.start():m.end() + 60] for rx in _FETCHED for m in rx.finditer(code)]
    found += [code[max(m.start() - 60, 0):m.end() + 40] for m in _CDN.finditer(code)]
    return found


def test_outside_fetch_detector_is_not_vacuous():
    """The bundle as shipped loads Redocly's logo from its CDN; the detector sees it."""
    from igny8d.handlers.docs import REDOC_BUNDLE, asset_root

    shipped = (asset_root() / REDOC_BUNDLE).read_text(encoding="utf-8")
    hits = outside_fetches(shipped)
    assert any("cdn.redoc.ly" in h for h in hits), hits
    assert outside_fetches('<img src="https://x.example/a.png">')
    assert outside_fetches("a{background:url(//x.example/a.png)}")
    assert outside_fetches('fetch("https://x.example/api")')
    assert not outside_fetches('<a href="https://redocly.com/redoc/">docs</a>')
    assert not outside_fetches("/*! see https://cdn.example/license */")
    assert not outside_fetches('{"$schema":"https://json-schema.org/draft/2020-12/schema"}')


@pytest.mark.parametrize(("page", "title"), [("/api/docs/", "Swagger UI"),
                                             ("/api/redoc/", "ReDoc")])
async def test_docs_pages_are_offline(client, page, title):
    """The page and everything it loads (scripts, styles, icon) come from this server, and
    none of them makes the browser fetch from another host when it renders."""
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
    links = [v for tag, v in parser.refs if tag == "link"]
    assert scripts, html
    assert "/favicon.ico" in links, html
    for _, value in parser.refs:
        assert value.startswith("/"), value
        assert not value.startswith("//"), value
    for url in scripts + links:
        asset = await client.get(url)
        assert asset.status == 200, url
        assert asset.body.strip(), url
        ctype = asset.headers["Content-Type"]
        if url.endswith(".js"):
            assert "javascript" in ctype, (url, ctype)
            assert len(asset.body) > 1000, url
        elif url.endswith(".css"):
            assert ctype.startswith("text/css"), (url, ctype)
        elif url.endswith(".ico"):
            assert ctype == "image/x-icon", (url, ctype)
        assert asset.headers["X-Content-Type-Options"] == "nosniff"
        assert asset.headers["Server"] == "igny8d"
        if url.endswith((".js", ".css")):
            text = asset.body.decode("utf-8")
            assert not outside_fetches(text), (url, outside_fetches(text)[:5])


async def test_redoc_bundle_is_served_without_the_cdn_logo(client):
    from igny8d.handlers.docs import REDOC_BUNDLE, asset_root

    resp = await client.get("/api/docs/assets/" + REDOC_BUNDLE)
    assert resp.status == 200
    served = resp.body.decode("utf-8")
    shipped = (asset_root() / REDOC_BUNDLE).read_text(encoding="utf-8")
    assert "cdn.redoc.ly" not in served
    assert "API docs by Redocly" in served  # the credit stays, only its remote logo goes
    assert abs(len(served) - len(shipped)) < 200  # one URL replaced, nothing else
    assert resp.headers["Cache-Control"].startswith("public")
    again = await client.request("GET", "/api/docs/assets/" + REDOC_BUNDLE,
                                 headers={"If-None-Match": resp.headers["ETag"]})
    assert again.status == 304


async def test_favicon_is_served(client):
    resp = await client.get("/favicon.ico")
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "image/x-icon"
    assert resp.headers["Server"] == "igny8d"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    reserved, kind, count = struct.unpack("<HHH", resp.body[:6])
    assert (reserved, kind, count) == (0, 1, 1)
    width, height, _, _, _, bpp, size, offset = struct.unpack("<BBBBHHII", resp.body[6:22])
    assert (width, height, bpp) == (32, 32, 32)
    assert resp.body[offset:offset + 8] == b"\x89PNG\r\n\x1a\n"
    assert offset + size == len(resp.body)
    head = await client.request("HEAD", "/favicon.ico")
    assert head.status == 200 and not head.body
    refused = await client.post("/favicon.ico", {})
    assert refused.status == 405
    assert refused.headers["Allow"] == "GET, HEAD"


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
