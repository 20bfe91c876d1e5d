"""A test client that checks the reference's envelope invariants on every response."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from typing import Any

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest, HTTPResponse

PASSWORD = "correct-horse-9"


@dataclass
class Response:
    status: int
    headers: Any
    body: bytes
    json: Any

    @property
    def data(self) -> Any:
        return self.json["data"]

    @property
    def error(self) -> str:
        return self.json["error"]

    @property
    def errors(self) -> dict[str, list[str]]:
        return self.json.get("errors") or {}


def check_envelope(resp: HTTPResponse) -> Any:
    """Every JSON response: request_id in body equals X-Request-ID; success matches status."""
    rid = resp.headers.get("X-Request-ID")
    assert rid, f"no X-Request-ID on {resp.code} {resp.effective_url}"
    uuid.UUID(rid)
    assert resp.headers.get("X-Content-Type-Options") == "nosniff"
    if resp.code == 204 or resp.request.method == "HEAD":
        assert not resp.body, "204 and HEAD answers have an empty body"
        return None
    ctype = resp.headers.get("Content-Type", "")
    if not ctype.startswith("application/json"):
        return None
    body = json.loads(resp.body)
    assert isinstance(body, dict), body
    assert body.get("request_id") == rid, (body, rid)
    assert isinstance(body.get("success"), bool), body
    assert body["success"] is (resp.code < 400), (resp.code, body)
    if not body["success"]:
        assert isinstance(body.get("error"), str) and body["error"], body
        if "errors" in body:
            assert isinstance(body["errors"], dict), body
            for msgs in body["errors"].values():
                assert isinstance(msgs, list) and all(isinstance(x, str) for x in msgs), body
    if resp.code == 401:
        assert resp.headers.get("WWW-Authenticate", "").startswith("Bearer"), resp.headers
    if resp.code == 429:
        assert resp.headers.get("Retry-After"), resp.headers
    return body


def multipart(fields: dict[str, Any], files: dict[str, tuple[str, bytes]] | None = None
              ) -> tuple[bytes, dict[str, str]]:
    """A multipart/form-data body of `fields` and `files` (name: (filename, CSV bytes)), and
    its Content-Type header."""
    boundary = "igny8-" + uuid.uuid4().hex
    out = b""
    for name, value in fields.items():
        out += (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                f"{value}\r\n").encode()
    for name, (filename, data) in (files or {}).items():
        out += (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                f'filename="{filename}"\r\nContent-Type: text/csv\r\n\r\n').encode()
        out += data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return out, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


class Client:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = AsyncHTTPClient(force_instance=True, max_body_size=64 * 1024 * 1024)

    def close(self) -> None:
        self.http.close()

    async def request(
        self, method: str, path: str, *, json_body: Any = None, token: str | None = None,
        headers: dict[str, str] | None = None, body: bytes | str | None = None,
        basic: tuple[str, str] | None = None,
    ) -> Response:
        hdrs = dict(headers or {})
        if token:
            hdrs["Authorization"] = f"Bearer {token}"
        if basic:
            raw = base64.b64encode(f"{basic[0]}:{basic[1]}".encode()).decode()
            hdrs["Authorization"] = f"Basic {raw}"
        if json_body is not None:
            body = json.dumps(json_body)
            hdrs.setdefault("Content-Type", "application/json")
        if body is None and method in ("POST", "PUT", "PATCH"):
            body = b""
        req = HTTPRequest(
            self.base_url + path, method=method, headers=hdrs, body=body,
            allow_nonstandard_methods=True, request_timeout=60, follow_redirects=False,
        )
        try:
            resp = await self.http.fetch(req, raise_error=False)
        except HTTPClientError as exc:  # pragma: no cover - raise_error=False
            assert exc.response is not None
            resp = exc.response
        parsed = check_envelope(resp)
        return Response(resp.code, resp.headers, resp.body or b"", parsed)

    async def get(self, path: str, **kw: Any) -> Response:
        return await self.request("GET", path, **kw)

    async def post(self, path: str, json_body: Any = None, **kw: Any) -> Response:
        return await self.request("POST", path, json_body=json_body, **kw)

    async def put(self, path: str, json_body: Any = None, **kw: Any) -> Response:
        return await self.request("PUT", path, json_body=json_body, **kw)

    async def patch(self, path: str, json_body: Any = None, **kw: Any) -> Response:
        return await self.request("PATCH", path, json_body=json_body, **kw)

    async def delete(self, path: str, **kw: Any) -> Response:
        return await self.request("DELETE", path, **kw)

    # -- account helpers --------------------------------------------------------------------

    async def register(self, email: str, password: str = PASSWORD, **extra: Any) -> Response:
        resp = await self.post("/api/v1/auth/register/", {
            "email": email, "password": password, "password_confirm": password, **extra,
        })
        assert resp.status == 201, resp.json
        return resp

    async def login(self, email: str, password: str = PASSWORD) -> dict[str, Any]:
        resp = await self.post("/api/v1/auth/login/", {"email": email, "password": password})
        assert resp.status == 200, resp.json
        return resp.data

    async def owner(self, email: str) -> str:
        """Register a new account and return its owner's access token."""
        await self.register(email)
        return (await self.login(email))["access"]

    async def member(self, owner_token: str, email: str, role: str,
                     site_ids: list[int] | None = None) -> str:
        """Create a user of the owner's account with `role`; return their access token."""
        body: dict[str, Any] = {"email": email, "password": PASSWORD, "role": role}
        if site_ids is not None:
            body["site_ids"] = site_ids
        resp = await self.post("/api/v1/auth/users/", body, token=owner_token)
        assert resp.status == 201, resp.json
        return (await self.login(email))["access"]

    async def site(self, token: str, name: str = "Main site", **extra: Any) -> dict[str, Any]:
        resp = await self.post("/api/v1/auth/sites/", {"name": name, **extra}, token=token)
        assert resp.status == 201, resp.json
        return resp.data

    async def sector(self, token: str, site_id: int, name: str = "Sector A") -> dict[str, Any]:
        resp = await self.post("/api/v1/auth/sectors/", {"name": name, "site_id": site_id},
                               token=token)
        assert resp.status == 201, resp.json
        return resp.data
