"""The console's admin client: an operator's login and the admin API, one method a call.

`AdminClient` is a `tui.session.Session` (transport, tokens, refresh) that logs in as an
operator only and speaks the server's `/api/v1/admin/` endpoints; its failures are the
`tui.errors` exceptions.
"""

from __future__ import annotations

from typing import Any

from tui.errors import ApiError, LoginFailed
from tui.session import ADMIN, API, NOT_OPERATOR, Page, Session


class AdminClient(Session):
    """One operator's session with one server."""

    # -- login ----------------------------------------------------------------------------

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

    async def reactivate_user(self, user_id: int, reason: str = "") -> dict[str, Any]:
        return await self.data("POST", f"{ADMIN}/users/{user_id}/reactivate/",
                               json=_reason_body(reason))

    async def end_sessions(self, user_id: int, reason: str = "") -> dict[str, Any]:
        return await self.data("POST", f"{ADMIN}/users/{user_id}/end_sessions/",
                               json=_reason_body(reason))

    async def auth_links(self, *, purpose: str = "", page: int = 1,
                         page_size: int = 100) -> Page:
        """Pending password-reset and invitation links, newest first (no secrets: a link is
        seen again only by reissuing it)."""
        return await self.page(f"{ADMIN}/auth_links/", purpose=purpose, page=page,
                               page_size=page_size)

    async def reissue_link(self, link_id: int, reason: str = "") -> dict[str, Any]:
        """Replace a pending link (the old one stops working); the answer carries the new
        `link`. Audited as `user.reissue_link`."""
        return await self.data("POST", f"{ADMIN}/auth_links/{link_id}/reissue/",
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


def _reason_body(reason: str) -> dict[str, str]:
    return {"reason": reason.strip()} if reason.strip() else {}


def _login_sentence(exc: ApiError) -> str:
    """The login screen's message: the server's sentence, worded for an operator."""
    if exc.status == 401 and exc.error.lower().startswith("invalid credentials"):
        return "Wrong email or password."
    return exc.describe()
