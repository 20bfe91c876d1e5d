"""The console's HTTP client: login, token refresh and the admin API, over httpx.

It knows the server only by its HTTP API (the console runs against remote boxes too) and keeps
the tokens in memory only: nothing is written to disk, and `close()` logs the session out.
Every failure is one of three exceptions the screens handle: `Unreachable` (no answer: the
banner and the reconnect loop), `SessionEnded` (the refresh token was refused: log in again)
and `ApiError` (the server answered an error: its sentence is shown).
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

DEFAULT_URL = "http://127.0.0.1:8000"
API = "/api/v1"
ADMIN = f"{API}/admin"
#: the path prefix of every admin API call (what the console itself polls)
ADMIN_PREFIX = f"{ADMIN}/"
#: Refresh the access token this long before it expires (tokens last 15 minutes by default).
REFRESH_MARGIN_S = 60.0
NOT_OPERATOR = "This account is not an operator (superuser)."


class ConsoleError(Exception):
    """Anything the console shows as a sentence instead of a traceback."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Unreachable(ConsoleError):
    """No HTTP answer: refused, reset, timed out, or a proxy saying the server is gone."""


class SessionEnded(ConsoleError):
    """The server no longer takes our tokens (refresh refused, user or account deactivated)."""


class LoginFailed(ConsoleError):
    """Wrong email or password, a disabled user, or a non-operator."""


class ApiError(ConsoleError):
    """The server answered with an error envelope."""

    def __init__(self, status: int, error: str, errors: dict[str, list[str]] | None = None,
                 request_id: str | None = None) -> None:
        self.status = status
        self.error = error
        self.errors = errors or {}
        self.request_id = request_id
        super().__init__(self.describe())

    def describe(self) -> str:
        """The error and its field sentences on one line, e.g. for a 400's `errors.amount`."""
        details = "; ".join(f"{name}: {' '.join(msgs)}" if name not in ("", "non_field_errors")
                            else " ".join(msgs) for name, msgs in self.errors.items())
        return f"{self.error} ({details})" if details else self.error


class Throttled(ApiError):
    """429: the operator's `system_admin` budget is spent; `retry_after` seconds to wait."""

    def __init__(self, retry_after: float, error: str, request_id: str | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(429, error, None, request_id)


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


class AdminClient:
    """One operator's session with one server."""

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

    async def login(self, email: str, password: str) -> dict[str, Any]:
        """Log in as an operator; the user object on success.

        A non-superuser is refused here, and its fresh session ended at once, rather than
        left to meet the admin API's 404 on every screen.
        """
        resp = await self._send("POST", f"{API}/auth/login/",
                                json={"email": email.strip(), "password": password})
        if resp.status_code in (400, 401):
            try:
                self._body(resp)
            except ApiError as exc:
                raise LoginFailed(_login_sentence(exc)) from None
        self._keep(self._body(resp)["data"])
        if not self.user.get("is_superuser"):
            await self.logout()
            raise LoginFailed(NOT_OPERATOR)
        try:
            await self.overview(window_s=60)
        except ApiError as exc:
            if exc.status != 404:
                raise
            await self.logout()
            raise LoginFailed("This server has no admin API at /api/v1/admin/ "
                              "(an older igny8d?).") from None
        return self.user

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

    # -- admin API ------------------------------------------------------------------------

    async def overview(self, window_s: int = 300) -> dict[str, Any]:
        return await self.data("GET", f"{ADMIN}/overview/", params={"window_s": str(window_s)})

    async def jobs(self, *, state: str = "", kind: str = "", account_id: str | int = "",
                   page: int = 1, page_size: int = 100) -> Page:
        return await self.page(f"{ADMIN}/jobs/", state=state, kind=kind,
                               account_id=account_id, page=page, page_size=page_size)

    async def job(self, task_id: str) -> dict[str, Any]:
        return await self.data("GET", f"{ADMIN}/jobs/{task_id}/")

    async def cancel_job(self, task_id: str, reason: str = "") -> dict[str, Any]:
        return await self.data("POST", f"{ADMIN}/jobs/{task_id}/cancel/", json=_reason_body(reason))

    async def retry_job(self, task_id: str, reason: str = "") -> dict[str, Any]:
        return await self.data("POST", f"{ADMIN}/jobs/{task_id}/retry/", json=_reason_body(reason))

    async def accounts(self, *, search: str = "", status: str = "", plan: str = "",
                       page: int = 1, page_size: int = 100) -> Page:
        return await self.page(f"{ADMIN}/accounts/", search=search, status=status, plan=plan,
                               page=page, page_size=page_size)

    async def account(self, account_id: int) -> dict[str, Any]:
        return await self.data("GET", f"{ADMIN}/accounts/{account_id}/")

    async def grant_credits(self, account_id: int, amount: int, reason: str) -> dict[str, Any]:
        """A negative amount revokes; the server refuses a balance below zero (400)."""
        return await self.data("POST", f"{ADMIN}/accounts/{account_id}/grant_credits/",
                               json={"amount": amount, "reason": reason})

    async def change_plan(self, account_id: int, plan: str, reason: str = "") -> dict[str, Any]:
        return await self.data("POST", f"{ADMIN}/accounts/{account_id}/change_plan/",
                               json={"plan": plan, **_reason_body(reason)})

    async def suspend(self, account_id: int, reason: str = "") -> dict[str, Any]:
        return await self.data("POST", f"{ADMIN}/accounts/{account_id}/suspend/",
                               json=_reason_body(reason))

    async def reactivate(self, account_id: int, reason: str = "") -> dict[str, Any]:
        return await self.data("POST", f"{ADMIN}/accounts/{account_id}/reactivate/",
                               json=_reason_body(reason))

    async def plans(self) -> list[dict[str, Any]]:
        """The plans an account can be moved to (the public plan list)."""
        body = await self.request("GET", f"{API}/auth/plans/", params={"page_size": "100"})
        return list(body.get("results") or [])

    async def users(self, *, search: str = "", account_id: str | int = "",
                    is_active: bool | None = None, page: int = 1, page_size: int = 100) -> Page:
        return await self.page(f"{ADMIN}/users/", search=search, account_id=account_id,
                               is_active=is_active, page=page, page_size=page_size)

    async def user_detail(self, user_id: int) -> dict[str, Any]:
        return await self.data("GET", f"{ADMIN}/users/{user_id}/")

    async def deactivate_user(self, user_id: int, reason: str = "") -> dict[str, Any]:
        return await self.data("POST", f"{ADMIN}/users/{user_id}/deactivate/",
                               json=_reason_body(reason))

    async def end_sessions(self, user_id: int, reason: str = "") -> dict[str, Any]:
        return await self.data("POST", f"{ADMIN}/users/{user_id}/end_sessions/",
                               json=_reason_body(reason))

    async def requests(self, *, status: str = "", path: str = "", account_id: str | int = "",
                       method: str = "", exclude_path: str = "", page: int = 1,
                       page_size: int = 100) -> Page:
        """`exclude_path`: path prefixes to leave out, comma-separated (`ADMIN_PREFIX`
        hides the admin API's calls: the console's own polling)."""
        return await self.page(f"{ADMIN}/requests/", status=status, path=path,
                               account_id=account_id, method=method,
                               exclude_path=exclude_path, page=page, page_size=page_size)

    async def request_detail(self, request_id: str) -> dict[str, Any]:
        return await self.data("GET", f"{ADMIN}/requests/{request_id.strip()}/")

    async def audit(self, *, action: str = "", account_id: str | int = "",
                    target_type: str = "", page: int = 1, page_size: int = 100) -> Page:
        return await self.page(f"{ADMIN}/audit/", action=action, account_id=account_id,
                               target_type=target_type, page=page, page_size=page_size)


def normalize_url(url: str) -> str:
    """`localhost:8000` or `http://box/` → `http://localhost:8000`, `http://box`."""
    url = url.strip() or DEFAULT_URL
    if "://" not in url:
        url = f"http://{url}"
    return url.rstrip("/")


def _reason_body(reason: str) -> dict[str, str]:
    return {"reason": reason.strip()} if reason.strip() else {}


def _is_json(resp: httpx.Response) -> bool:
    return str(resp.headers.get("Content-Type", "")).startswith("application/json")


def _reason(exc: httpx.TransportError) -> str:
    text = str(exc).strip()
    if isinstance(exc, httpx.ConnectError):
        return "connection refused" if "refused" in text.lower() or not text else text
    return text or type(exc).__name__


def _login_sentence(exc: ApiError) -> str:
    """The login screen's message: the server's sentence, worded for an operator."""
    if exc.status == 401 and exc.error.lower().startswith("invalid credentials"):
        return "Wrong email or password."
    return exc.describe()


def _retry_after(resp: httpx.Response) -> float:
    """Seconds the server asks us to wait (Retry-After, else X-Throttle-Reset), 1..300."""
    for name in ("Retry-After", "X-Throttle-Reset"):
        try:
            return min(300.0, max(1.0, float(resp.headers.get(name, ""))))
        except ValueError:
            continue
    return 30.0
