"""HTTP basics: bad input, body limits, path ids, 404/405, request ids, secure-by-default,
security headers, CORS, throttling and the system endpoints (every test on both stores)."""

from __future__ import annotations

import asyncio
import http.client
import json
import re
import socket
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select
from tornado.httpclient import HTTPRequest

from igny8d.handlers import api_routes
from igny8d.store.schema import accounts, users
from tests.helpers.app import RunningApp
from tests.helpers.client import PASSWORD, Client, check_envelope
from tests.helpers.paths import ADMIN, LOGIN, REGISTER, SITES

MB = 1024 * 1024

#: The reference's "Public Endpoints", plus refresh (it carries its own token) and the
#: detail routes of the two public lists.
PUBLIC = {
    ("/api/v1/auth/register/", "post"),
    ("/api/v1/auth/login/", "post"),
    ("/api/v1/auth/refresh/", "post"),
    ("/api/v1/auth/plans/", "get"),
    ("/api/v1/auth/plans/1/", "get"),
    ("/api/v1/auth/industries/", "get"),
    ("/api/v1/auth/industries/1/", "get"),
    ("/api/v1/system/status/", "get"),
    ("/api/v1/system/ping/", "get"),
    # the links a password reset or an invitation mails: whoever holds the token is the user
    ("/api/v1/auth/password_reset/", "post"),
    ("/api/v1/auth/password_reset/confirm/", "post"),
    ("/api/v1/auth/invitations/accept/", "post"),
}
#: Declared public because the refresh token in its body is a credential too (OAuth token
#: revocation); without one it answers 401 like any protected route.
LOGOUT = ("/api/v1/auth/logout/", "post")
_PARAM = re.compile(r"\(\?P<\w+>[^)]*\)")


#: The admin API answers everyone but a superuser with the unknown-path 404.


def declared_operations() -> list[tuple[str, str, bool]]:
    """(concrete path, method, public) for every declared method of every API route."""
    out = []
    for pattern, handler, _ in api_routes():
        path = _PARAM.sub("1", pattern)
        for method in ("get", "post", "put", "patch", "delete"):
            spec = getattr(getattr(handler, method, None), "_endpoint", None)
            if spec is not None:
                out.append((path, method, spec.public))
    return out


async def sites_count(client: Client, token: str) -> int:
    resp = await client.get(SITES, token=token)
    assert resp.status == 200, resp.json
    return resp.json["count"]


async def count_rows(app: RunningApp, table: Any) -> int:
    async with app.ctx.store.read() as conn:
        return (await conn.execute(select(func.count()).select_from(table))).scalar_one()


# -- malformed and ill-typed bodies ----------------------------------------------------------


NOT_OBJECT = "Request body must be a JSON object"


@pytest.mark.parametrize(("body", "error"), [
    (b"{", "JSON parse error"),
    (b'{"name": "x",}', "JSON parse error"),
    (b"\xff\xfe{}", "JSON parse error"),
    (b"[" * 100_000, "JSON parse error"),
    (b"[1, 2]", NOT_OBJECT),
    (b'"a string"', NOT_OBJECT),
    (b"42", NOT_OBJECT),
    (b"null", NOT_OBJECT),
])
async def test_malformed_or_non_object_json_is_400(client, body, error):
    token = await client.owner("ann@example.com")
    for path, kw in ((SITES, {"token": token}), (REGISTER, {})):
        resp = await client.request("POST", path, body=body,
                                    headers={"Content-Type": "application/json"}, **kw)
        assert resp.status == 400, (path, body[:20], resp.json)
        assert resp.error == error
        assert list(resp.errors) == ["body"] and resp.errors["body"][0], resp.json
    assert await sites_count(client, token) == 0


@pytest.mark.parametrize("ctype", [
    "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
    "application/xml",
])
async def test_wrong_content_type_is_415(app, client, ctype):
    token = await client.owner("ann@example.com")
    headers = {"Content-Type": ctype}
    for path, body, kw in (
        (SITES, '{"name": "Blog"}', {"token": token}),
        (SITES, "name=Blog", {"token": token}),
        (REGISTER, json.dumps({"email": "x@example.com", "password": PASSWORD,
                               "password_confirm": PASSWORD}), {}),
    ):
        resp = await client.request("POST", path, body=body, headers=headers, **kw)
        assert resp.status == 415, (path, ctype, resp.json)
        assert "media type" in resp.error.lower()
    assert await sites_count(client, token) == 0
    assert await count_rows(app, users) == 1


async def test_json_content_type_variants_accepted(client):
    token = await client.owner("ann@example.com")
    for i, ctype in enumerate(("application/json; charset=utf-8", "Application/JSON",
                               "application/vnd.api+json")):
        resp = await client.request("POST", SITES, body=json.dumps({"name": f"Site {i}"}),
                                    headers={"Content-Type": ctype}, token=token)
        assert resp.status == 201, (ctype, resp.json)
    assert await sites_count(client, token) == 3


@pytest.mark.parametrize(("payload", "field", "message"), [
    ({}, "name", "This field is required."),
    ({"name": "Blog", "owner_id": 5}, "owner_id", "Unknown field."),
    ({"name": "Blog", "id": 99}, "id", "Unknown field."),
    ({"name": 123}, "name", None),
    ({"name": ["a"]}, "name", None),
    ({"name": ""}, "name", None),
    ({"name": "x" * 151}, "name", None),
    ({"name": "Blog", "industry_id": "abc"}, "industry_id", "A valid integer is required."),
    ({"name": "Blog", "industry_id": 1.5}, "industry_id", "A valid integer is required."),
    ({"name": "Blog", "industry_id": 10**30}, "industry_id", None),
    ({"name": "Blog", "is_active": "maybe"}, "is_active", None),
    ({"name": "Blog", "domain": "not a domain"}, "domain", None),
])
async def test_site_field_errors(client, payload, field, message):
    token = await client.owner("ann@example.com")
    resp = await client.post(SITES, payload, token=token)
    assert resp.status == 400, resp.json
    assert resp.error == "Validation failed"
    assert field in resp.errors, resp.json
    if message:
        assert message in resp.errors[field]
    assert await sites_count(client, token) == 0


async def test_register_field_errors_write_nothing(app, client):
    good = {"email": "new@example.com", "password": PASSWORD, "password_confirm": PASSWORD}
    cases = [
        ({}, {"email", "password", "password_confirm"}),
        ({**good, "password_confirm": "different-9"}, {"password_confirm"}),
        ({**good, "is_superuser": True}, {"is_superuser"}),
        ({**good, "role": "owner"}, {"role"}),
        ({**good, "email": 12}, {"email"}),
        ({**good, "email": "not-an-email"}, {"email"}),
        ({**good, "password": "short", "password_confirm": "short"}, {"password"}),
        ({**good, "username": ""}, {"username"}),
        ({"email": "new@example.com"}, {"password", "password_confirm"}),
    ]
    for payload, fields in cases:
        resp = await client.post(REGISTER, payload)
        assert resp.status == 400, (payload, resp.json)
        assert fields <= set(resp.errors), (payload, resp.errors)
    resp = await client.post(REGISTER, {"email": 1, "password": 2, "extra": 3})
    assert {"email", "password", "password_confirm", "extra"} <= set(resp.errors)  # all at once
    assert await count_rows(app, users) == 0
    assert await count_rows(app, accounts) == 0
    resp = await client.post(LOGIN, {"email": "new@example.com", "password": PASSWORD})
    assert resp.status == 401


async def test_huge_ids_in_bodies_are_4xx(client):
    """Ids beyond BIGINT name nothing: a 400/404 answer, never a driver overflow (500)."""
    token = await client.owner("ann@example.com")
    site = await client.site(token)
    huge = 10**30
    cases = [
        ("POST", SITES, {"name": "B", "industry_id": huge}),
        ("PATCH", f"{SITES}{site['id']}/", {"industry_id": huge}),
        ("POST", "/api/v1/auth/sectors/", {"name": "S", "site_id": huge}),
        ("POST", "/api/v1/auth/users/", {"email": "u@example.com", "password": PASSWORD,
                                         "role": "viewer", "site_ids": [huge]}),
        ("POST", f"{SITES}{site['id']}/select_sectors/", {"sector_ids": [huge]}),
        ("POST", f"{SITES}{site['id']}/select_sectors/", {"sector_ids": [-1]}),
    ]
    for method, path, body in cases:
        resp = await client.request(method, path, json_body=body, token=token)
        assert resp.status in (400, 404), (method, path, resp.status, resp.json)
    resp = await client.post(SITES, {"name": "B", "industry_id": huge}, token=token)
    assert resp.errors == {
        "industry_id": ["Ensure this value is less than or equal to 9223372036854775807."]}
    assert await sites_count(client, token) == 1


# -- body size limits -------------------------------------------------------------------------


def big_json(size: int) -> bytes:
    return b'{"name": "' + b"x" * size + b'"}'


async def test_20mb_body_is_413_envelope(client):
    token = await client.owner("ann@example.com")
    for path, kw in ((SITES, {"token": token}), (REGISTER, {})):
        resp = await client.request("POST", path, body=big_json(20 * MB), **kw,
                                    headers={"Content-Type": "application/json"})
        assert resp.status == 413, resp.json
        assert resp.error == "Request body too large (limit 10 MB)"
    assert await sites_count(client, token) == 0


def _blocking_post(port: int, path: str, body: bytes | Any, headers: dict[str, str],
                   **kw: Any) -> tuple[int, Any, bytes]:
    """A client that writes the whole body before reading (http.client, requests, curl -T)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("POST", path, body=body, headers=headers, **kw)
        resp = conn.getresponse()
        return resp.status, resp.msg, resp.read()
    finally:
        conn.close()


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_oversized_body_413_reaches_a_write_first_client(app, client, chunked):
    """The answer must reach clients that only read after sending: no connection reset."""
    token = await client.owner("ann@example.com")
    payload = big_json(20 * MB)
    body: Any = payload
    if chunked:
        body = (payload[i:i + MB] for i in range(0, len(payload), MB))
    status, headers, raw = await asyncio.to_thread(
        _blocking_post, app.port, SITES, body,
        {"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        encode_chunked=chunked,
    )
    assert status == 413
    parsed = json.loads(raw)
    assert parsed["success"] is False
    assert parsed["error"] == "Request body too large (limit 10 MB)"
    assert parsed["request_id"] == headers["X-Request-ID"]
    assert await sites_count(client, token) == 0


async def test_early_refusal_with_a_large_body_reaches_the_client(app, client):
    """401 (no token) on a 5 MB upload: answered after the body, not as a reset."""
    status, headers, raw = await asyncio.to_thread(
        _blocking_post, app.port, SITES, big_json(5 * MB), {"Content-Type": "application/json"})
    assert status == 401
    assert headers["WWW-Authenticate"].startswith("Bearer")
    assert json.loads(raw)["error"] == "Authentication required"


def _raw_exchange(port: int, head: bytes) -> bytes:
    """Send only the request head and read what comes back until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
        return data


async def test_oversized_body_with_expect_continue_answered_before_upload(app, client):
    head = (f"POST {SITES} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {20 * MB}\r\nExpect: 100-continue\r\n\r\n").encode()
    raw = await asyncio.to_thread(_raw_exchange, app.port, head)
    status_line, _, rest = raw.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1.1 413"), raw[:200]  # no "100 Continue" first
    body = json.loads(rest.partition(b"\r\n\r\n")[2])
    assert body["error"] == "Request body too large (limit 10 MB)"


async def test_body_sent_to_unknown_route_is_404(app, client):
    status, headers, raw = await asyncio.to_thread(
        _blocking_post, app.port, "/api/v1/nope/", big_json(2 * MB),
        {"Content-Type": "application/json"})
    assert status == 404
    assert json.loads(raw)["request_id"] == headers["X-Request-ID"]


async def test_client_gone_mid_body_releases_the_handler(app, client):
    """A client that disconnects half-way through its body leaves no handler waiting."""

    def abort() -> None:
        with socket.create_connection(("127.0.0.1", app.port)) as sock:
            sock.sendall(b"POST /api/v1/auth/register/ HTTP/1.1\r\nHost: x\r\n"
                         b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{")

    for _ in range(3):
        await asyncio.to_thread(abort)
    for _ in range(50):
        await asyncio.sleep(0.02)
        waiting = [t for t in asyncio.all_tasks() if "_execute" in repr(t)]
        if not waiting:
            break
    assert waiting == []
    assert app.ctx.metrics.inflight == 0
    assert (await client.get("/api/v1/system/ping/")).status == 200


async def test_chunked_bodies(client):
    token = await client.owner("ann@example.com")

    async def post_chunks(parts: list[bytes]) -> tuple[int, Any]:
        async def producer(write: Any) -> None:
            for part in parts:
                await write(part)

        req = HTTPRequest(client.base_url + SITES, method="POST", body_producer=producer,
                          headers={"Content-Type": "application/json",
                                   "Authorization": f"Bearer {token}"}, request_timeout=60)
        resp = await client.http.fetch(req, raise_error=False)
        return resp.code, check_envelope(resp)

    status, body = await post_chunks([b"x" * MB] * 12)
    assert status == 413, body
    assert body["error"] == "Request body too large (limit 10 MB)"
    assert await sites_count(client, token) == 0
    status, body = await post_chunks([b'{"name": ', b'"Chunked site"', b"}"])
    assert status == 201, body
    assert body["data"]["name"] == "Chunked site"


async def test_body_just_under_limit_is_not_413(client):
    token = await client.owner("ann@example.com")
    resp = await client.request("POST", SITES, body=big_json(9 * MB), token=token,
                                headers={"Content-Type": "application/json"})
    assert resp.status == 400  # too long a name, but read and validated
    assert "name" in resp.errors


# -- ids in paths ---------------------------------------------------------------------------

BAD_IDS = ["abc", "-1", "0", "1.5", "%D9%A1", "%C2%B2", "%EF%BC%91", "1e3", "0x10",
           "99999999999999999999999", "9223372036854775808", "%20%31"]


async def test_bad_path_ids_are_404(client):
    token = await client.owner("ann@example.com")
    site = await client.site(token)
    for raw in BAD_IDS:
        for method, body in (("GET", None), ("PATCH", {"name": "x"}), ("PUT", {"name": "x"}),
                             ("DELETE", None)):
            resp = await client.request(method, f"{SITES}{raw}/", token=token, json_body=body)
            assert resp.status == 404, (method, raw, resp.json)
        resp = await client.get(f"{SITES}{raw}/sectors/", token=token)
        assert resp.status == 404, (raw, resp.json)
        resp = await client.get(f"/api/v1/auth/plans/{raw}/")
        assert resp.status == 404, (raw, resp.json)
    lst = await client.get(SITES, token=token)
    assert [s["name"] for s in lst.json["results"]] == [site["name"]]


# -- unknown routes and methods, request ids ---------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/nope/", "/api/v1/nope", "/api/v2/x/",
                                  "/api/v1/auth/sites/1/nope/"])
async def test_unknown_route_is_json_404(client, path):
    for method in ("GET", "POST", "DELETE"):
        resp = await client.request(method, path)
        assert resp.status == 404, (method, path)
        assert resp.json["success"] is False
        assert resp.json["request_id"] == resp.headers["X-Request-ID"]
        assert resp.headers["Content-Type"].startswith("application/json")


@pytest.mark.parametrize(("method", "path", "allow"), [
    ("DELETE", REGISTER, "POST, OPTIONS"),
    ("GET", LOGIN, "POST, OPTIONS"),
    ("PUT", "/api/v1/system/ping/", "GET, HEAD, OPTIONS"),
    ("POST", "/api/v1/auth/plans/", "GET, HEAD, OPTIONS"),
    ("DELETE", "/api/v1/auth/plans/1/", "GET, HEAD, OPTIONS"),
    ("PATCH", SITES, "GET, HEAD, POST, OPTIONS"),
    ("FOO", "/api/v1/system/ping/", "GET, HEAD, OPTIONS"),
    ("PUT", SITES, "GET, HEAD, POST, OPTIONS"),  # before authentication: no 401
])
async def test_undeclared_method_is_405_with_allow(client, method, path, allow):
    resp = await client.request(method, path)
    assert resp.status == 405, resp.json
    assert resp.headers["Allow"] == allow
    assert "not allowed" in resp.error


async def test_head_answers_like_get_without_a_body(client):
    resp = await client.request("HEAD", "/api/v1/system/ping/")
    assert resp.status == 200
    assert resp.body == b""
    assert resp.headers["X-Request-ID"]
    anon = await client.request("HEAD", SITES)
    assert anon.status == 401  # HEAD needs what GET needs
    token = await client.owner("head@example.com")
    resp = await client.request("HEAD", SITES, token=token)
    assert resp.status == 200 and resp.body == b""
    assert (await client.request("HEAD", LOGIN)).status == 405  # no GET there


async def test_request_id_is_fresh_uuid4_per_response(client):
    seen = set()
    for path in ("/api/v1/system/ping/", "/api/v1/nope/", SITES):
        resp = await client.get(path)
        rid = uuid.UUID(resp.headers["X-Request-ID"])
        assert rid.version == 4
        seen.add(rid)
    assert len(seen) == 3


@pytest.mark.parametrize("path", ["/api/v1/system/ping/", "/api/v1/nope/", SITES, REGISTER])
async def test_client_request_id_echoed(client, path):
    mine = str(uuid.uuid4())
    resp = await client.request("GET", path, headers={"X-Request-ID": mine})
    assert resp.headers["X-Request-ID"] == mine
    if resp.json is not None:
        assert resp.json["request_id"] == mine


@pytest.mark.parametrize("bad", ["abc", "12345", "x" * 200, "1; DROP TABLE users",
                                 "<script>", "9f1c2e4a-7b3d-4e5f-8a6b-0c1d2e3f4a5bx", " "])
async def test_malformed_request_id_replaced(client, bad):
    resp = await client.get("/api/v1/system/ping/", headers={"X-Request-ID": bad})
    rid = resp.headers["X-Request-ID"]
    assert rid != bad
    assert uuid.UUID(rid).version == 4
    assert resp.json["request_id"] == rid


# -- secure by default --------------------------------------------------------------------------


def test_public_declarations_are_exactly_the_reference_list():
    public = {(path, method) for path, method, is_public in declared_operations() if is_public}
    assert public == PUBLIC | {LOGOUT}


async def test_every_route_is_protected_unless_public(client):
    operations = declared_operations()
    assert len(operations) > 20
    for path, method, _ in operations:
        body = {} if method in ("post", "put", "patch") else None
        resp = await client.request(method.upper(), path, json_body=body)
        if (path, method) in PUBLIC:
            assert resp.status != 401, (method, path, resp.json)
            assert resp.status < 500, (method, path, resp.json)
        elif path.startswith(ADMIN):  # hidden: the unknown-path 404 (tests/test_admin_api.py)
            assert resp.status == 404, (method, path, resp.status, resp.json)
        else:
            assert resp.status == 401, (method, path, resp.status, resp.json)
            assert resp.headers["WWW-Authenticate"].startswith("Bearer")
            assert resp.error == "Authentication required"


async def test_bad_token_everywhere_is_401_but_public_ignores_it(client):
    bad = {"Authorization": "Bearer not-a-jwt"}
    for path, method, _ in declared_operations():
        body = {} if method in ("post", "put", "patch") else None
        resp = await client.request(method.upper(), path, json_body=body, headers=bad)
        if (path, method) in PUBLIC:
            assert resp.status != 401, (method, path, resp.json)
        elif path.startswith(ADMIN):
            assert resp.status == 404, (method, path, resp.json)
        else:
            assert resp.status == 401, (method, path, resp.json)


async def test_url_that_is_not_utf8_is_a_clear_400(client):
    token = await client.owner("utf@example.com")
    for path in ("/api/v1/auth/sites/%ff/", "/api/v1/auth/sites/?search=%ff"):
        resp = await client.get(path, token=token)
        assert resp.status == 400
        assert resp.error == "The URL is not valid UTF-8"


# -- the client address -------------------------------------------------------------------


class _Context:
    def __init__(self, peer: str, rewritten: str) -> None:
        self._orig_remote_ip = peer
        self.remote_ip = rewritten
        self.protocol = "http"


class _Connection:
    def __init__(self, peer: str, rewritten: str) -> None:
        self.context = _Context(peer, rewritten)


def _request_from(peer: str, *forwarded: str) -> Any:
    from tornado.httputil import HTTPHeaders, HTTPServerRequest, RequestStartLine

    headers = HTTPHeaders({"Host": "x"})
    for value in forwarded:
        headers.add("X-Forwarded-For", value)
    rewritten = forwarded[-1].split(",")[-1].strip() if forwarded else peer
    return HTTPServerRequest(start_line=RequestStartLine("GET", "/", "HTTP/1.1"),
                             headers=headers,
                             connection=_Connection(peer, rewritten))  # type: ignore[arg-type]


@pytest.mark.parametrize(("peer", "forwarded", "trusted", "expected"), [
    # no proxy trusted: the peer, whatever the header says (and whatever xheaders made of it)
    ("198.51.100.1", ("203.0.113.9",), (), "198.51.100.1"),
    # a peer that is not a trusted proxy: its header is ignored
    ("198.51.100.1", ("203.0.113.9",), ("10.0.0.0/8",), "198.51.100.1"),
    # behind one trusted proxy: the right-most entry
    ("10.0.0.2", ("6.6.6.6, 203.0.113.9",), ("10.0.0.0/8",), "203.0.113.9"),
    # behind two: skip the trusted hops from the right
    ("10.0.0.2", ("6.6.6.6, 203.0.113.9, 10.0.0.3",), ("10.0.0.0/8",), "203.0.113.9"),
    # several header lines are one list
    ("10.0.0.2", ("6.6.6.6", "203.0.113.9"), ("10.0.0.0/8",), "203.0.113.9"),
    # ports and brackets as some proxies write them
    ("10.0.0.2", ("203.0.113.9:5123",), ("10.0.0.0/8",), "203.0.113.9"),
    ("10.0.0.2", ("[2001:db8::1]:443",), ("10.0.0.0/8",), "2001:db8::1"),
    # garbage where the proxy's entry should be: the proxy itself, nothing to the left
    ("10.0.0.2", ("6.6.6.6, unknown",), ("10.0.0.0/8",), "10.0.0.2"),
    # a trusted proxy with no header: the proxy
    ("10.0.0.2", (), ("10.0.0.0/8",), "10.0.0.2"),
    # every hop trusted: the left-most
    ("10.0.0.2", ("10.0.0.7, 10.0.0.3",), ("10.0.0.0/8",), "10.0.0.7"),
    # a dual-stack socket's IPv4-mapped peer is the IPv4 address
    ("::ffff:10.0.0.2", ("203.0.113.9",), ("10.0.0.0/8",), "203.0.113.9"),
])
def test_client_address(peer: str, forwarded: tuple[str, ...], trusted: tuple[str, ...],
                        expected: str) -> None:
    import ipaddress

    from igny8d.handlers.base import client_address

    networks = tuple(ipaddress.ip_network(t) for t in trusted)
    assert client_address(_request_from(peer, *forwarded), networks) == expected


def test_an_anonymous_endpoint_must_be_public():
    """`anonymous` skips reading credentials: on a non-public route that would let anyone in,
    so the declaration is refused at import time."""
    from igny8d.handlers.base import endpoint

    with pytest.raises(ValueError, match="anonymous endpoint must also be public"):
        endpoint(anonymous=True)
    endpoint(public=True, anonymous=True)  # the health checks' declaration
