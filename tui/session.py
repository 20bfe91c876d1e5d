"""One operator's HTTP session with one server: the transport, the tokens and their refresh.

It knows the server only by its HTTP API (the console runs against remote boxes too) and keeps
the tokens in memory only: nothing is written to disk, and `close()` logs the session out.
Failures come out as `tui.errors` exceptions; the admin API's calls are `tui.client`'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from tui.errors import ApiError, ConsoleError, SessionEnded, Throttled, Unreachable

DEFAULT_URL = "http://127.0.0.1:8000"
API = "/api/v1"
ADMIN = f"{API}/admin"
#: the path prefix of every admin API call (what the console itself polls)
ADMIN_PREFIX = f"{ADMIN}/"
#: Refresh the access token this long before it expires (tokens last 15 minutes by default).
REFRESH_MARGIN_S = 60.0
NOT_OPERATOR = "This account is not an operator (superuser)."


@dataclass(frozen=True)
class Page:
    """One page of a list answer."""

    count: int
    results: list[dict[str, Any]]
    next: str | None = None
    previous: str | None = None


@dataclass
class Tokens:
    access: str
    refresh: str
    access_expires_at: float  # unix seconds
    refresh_expires_at: float


def _when(value: Any) -> float:
    """An ISO 8601 time (with Z) as unix seconds."""
    return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def _params(**values: Any) -> dict[str, str]:
    """Query parameters without the empty ones (an empty filter means no filter)."""
    out: dict[str, str] = {}
    for key, value in values.items():
        if value is None or value == "":
            continue
        out[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return out


class Session:
    """One operator's tokens with one server, and the authenticated calls they make."""

    def __init__(
        self, base_url: str = DEFAULT_URL, *, timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.base_url = normalize_url(base_url)
        self.http = httpx.AsyncClient(
            base_url=self.base_url, transport=transport,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            headers={"Accept": "application/json", "User-Agent": "igny8d-console"},
        )
        self.clock = clock
        self.tokens: Tokens | None = None
        self.user: dict[str, Any] = {}
        self._refreshing = asyncio.Lock()

    # -- transport ------------------------------------------------------------------------

    async def _send(self, method: str, path: str, *, params: Mapping[str, str] | None = None,
                    json: Any = None, token: str | None = None,
                    limit_s: float | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            resp = await self.http.request(
                method, path, params=params, json=json, headers=headers,
                timeout=httpx.USE_CLIENT_DEFAULT if limit_s is None else limit_s)
        except httpx.TimeoutException:
            raise Unreachable(f"{self.base_url} did not answer in time") from None
        except httpx.TransportError as exc:
            raise Unreachable(f"cannot reach {self.base_url}: {_reason(exc)}") from None
        if resp.status_code in (502, 504) or (
                resp.status_code == 503 and not _is_json(resp)):
            raise Unreachable(f"{self.base_url} answered {resp.status_code}")
        return resp

    @staticmethod
    def _body(resp: httpx.Response) -> dict[str, Any]:
        """The envelope, or an ApiError for an error answer (or one that is not ours)."""
        try:
            body = resp.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise ApiError(resp.status_code, f"Unexpected answer ({resp.status_code}) "
                           "- is this an igny8d server?")
        if resp.status_code == 429:
            raise Throttled(_retry_after(resp), str(body.get("error") or "Throttled"),
                            body.get("request_id"))
        if resp.status_code >= 400 or body.get("success") is False:
            errors = body.get("errors") if isinstance(body.get("errors"), dict) else {}
            raise ApiError(resp.status_code, str(body.get("error") or resp.reason_phrase),
                           {str(k): [str(m) for m in (v if isinstance(v, list) else [v])]
                            for k, v in (errors or {}).items()},
                           body.get("request_id"))
        return body

    async def request(self, method: str, path: str, *, params: Mapping[str, str] | None = None,
                      json: Any = None) -> dict[str, Any]:
        """An authenticated call; the token is refreshed first when it is about to expire.

        The admin API answers 404, not 401, to a token it does not take (it hides itself),
        so an admin 404 is checked against `auth/me/`: a token the server refuses is
        refreshed and the call made once more; a genuine 404 (an unknown job) is returned.
        """
        token = await self._fresh_access()
        resp = await self._send(method, path, params=params, json=json, token=token)
        if self._maybe_refused(resp, path) and not await self._token_works(token):
            token = await self._fresh_access(force=True)
            resp = await self._send(method, path, params=params, json=json, token=token)
            if self._maybe_refused(resp, path) and not await self._token_works(token):
                self.tokens = None
                raise SessionEnded("The server ended this session: log in again.")
        return self._body(resp)

    @staticmethod
    def _maybe_refused(resp: httpx.Response, path: str) -> bool:
        return resp.status_code == 401 or (resp.status_code == 404 and path.startswith(ADMIN))

    async def _token_works(self, token: str) -> bool:
        """Whether the server still takes `token` as an operator's."""
        resp = await self._send("GET", f"{API}/auth/me/", token=token)
        if resp.status_code == 401:
            return False
        user = (self._body(resp).get("data") or {}).get("user") or {}
        if not user.get("is_superuser"):
            self.tokens = None
            raise SessionEnded(NOT_OPERATOR.replace("is not", "is no longer"))
        return True

    async def data(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        value = (await self.request(method, path, **kw)).get("data")
        return value if isinstance(value, dict) else {}

    async def page(self, url: str, /, **filters: Any) -> Page:
        body = await self.request("GET", url, params=_params(**filters))
        return Page(int(body.get("count") or 0), list(body.get("results") or []),
                    body.get("next"), body.get("previous"))

    # -- session --------------------------------------------------------------------------

    @property
    def logged_in(self) -> bool:
        return self.tokens is not None

    def _keep(self, data: dict[str, Any]) -> None:
        self.tokens = Tokens(str(data["access"]), str(data["refresh"]),
                             _when(data["access_expires_at"]), _when(data["refresh_expires_at"]))
        if isinstance(data.get("user"), dict):
            self.user = data["user"]
    async def _fresh_access(self, *, force: bool = False) -> str:
        if self.tokens is None:
            raise SessionEnded("Not logged in.")
        if not force and self.tokens.access_expires_at - self.clock() > REFRESH_MARGIN_S:
            return self.tokens.access
        stale = self.tokens.access
        async with self._refreshing:  # one refresh for every worker that noticed
            if self.tokens is None:
                raise SessionEnded("Not logged in.")
            if self.tokens.access != stale:
                return self.tokens.access
            resp = await self._send("POST", f"{API}/auth/refresh/",
                                    json={"refresh": self.tokens.refresh})
            if resp.status_code in (400, 401):
                self.tokens = None
                raise SessionEnded("The session expired or was ended: log in again.")
            self._keep(self._body(resp)["data"])
            return self.tokens.access

    async def refresh(self) -> None:
        """Exchange the refresh token now (the app also calls this on a timer)."""
        await self._fresh_access(force=True)

    async def logout(self) -> None:
        """End the session on the server (best effort) and forget the tokens."""
        tokens, self.tokens = self.tokens, None
        if tokens is None:
            return
        with contextlib.suppress(ConsoleError):
            await self._send("POST", f"{API}/auth/logout/", json={"refresh": tokens.refresh},
                             token=tokens.access, limit_s=2.0)

    async def close(self) -> None:
        try:
            await self.logout()
        finally:
            await self.http.aclose()

    async def ping(self) -> bool:
        """Whether the server answers at all (the reconnect loop's probe)."""
        resp = await self._send("GET", f"{API}/system/ping/")
        return resp.status_code < 500


def normalize_url(url: str) -> str:
    """`localhost:8000` or `http://box/` → `http://localhost:8000`, `http://box`."""
    url = url.strip() or DEFAULT_URL
    if "://" not in url:
        url = f"http://{url}"
    return url.rstrip("/")


def _is_json(resp: httpx.Response) -> bool:
    return str(resp.headers.get("Content-Type", "")).startswith("application/json")


def _reason(exc: httpx.TransportError) -> str:
    text = str(exc).strip()
    if isinstance(exc, httpx.ConnectError):
        return "connection refused" if "refused" in text.lower() or not text else text
    return text or type(exc).__name__


def _retry_after(resp: httpx.Response) -> float:
    """Seconds the server asks us to wait (Retry-After, else X-Throttle-Reset), 1..300."""
    for name in ("Retry-After", "X-Throttle-Reset"):
        try:
            return min(300.0, max(1.0, float(resp.headers.get(name, ""))))
        except ValueError:
            continue
    return 30.0
