"""The admin API (`/api/v1/admin/`): the operators' console speaks only this.

Plain handlers, not the resource layer: these read across tenants through `store/admin.py`,
never through the tenant scoping path the resource layer is built on. Each method parses the
request, calls one function of `services/admin.py` and presents the result.

Hidden from everyone but a superuser: admission (`AdminHandler._admit`) first looks for a
superuser's JWT bearer token and, short of one, answers exactly what an unknown path answers
(the JSON 404 of `API404Handler`) — for anonymous callers, other users, bad or expired tokens,
session cookies and Basic credentials, any method, before throttling (a 429 or throttle
headers would give the route away) and before the body is read. A superuser is then
admitted as on every route, throttled in the `system_admin` scope.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import ValidationError

from igny8d.envelope import PAGE_QUERY_DOC
from igny8d.errors import DomainError, NotFound, ValidationFailed
from igny8d.handlers.base import APIHandler, endpoint, parse_id
from igny8d.handlers.bodies import validation_errors
from igny8d.permissions import Principal
from igny8d.schemas import admin as m
from igny8d.services import admin as service
from igny8d.services.admin import Operator, Page

TAG = "admin"
THROTTLE = "system_admin"
PREFIX = "/api/v1/admin/"
Q = TypeVar("Q", bound=m.Query)
F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


@dataclass(frozen=True)
class _NoTable:
    unique: tuple[Any, ...] = ()


@dataclass(frozen=True)
class Collection:
    """What the OpenAPI document needs to name a collection's operations like a resource's
    (`admin_accounts_list`, `admin_accounts_retrieve`): its prefix. Not a Resource: no
    table spec, no generic CRUD, no tenant scope."""

    prefix: str
    spec: _NoTable = field(default_factory=_NoTable)


def admin_endpoint(**kwargs: Any) -> Callable[[F], F]:
    """Every admin operation: superuser level, `system_admin` scope, the `admin` tag, and 404
    among its answers (what everyone else gets)."""
    kwargs.setdefault("errors", ())
    kwargs["errors"] = (*kwargs["errors"], 404)
    return endpoint(level="superuser", throttle=THROTTLE, tags=(TAG,), **kwargs)


class AdminHandler(APIHandler):
    """Admission that hides the route from anyone but a superuser; helpers for the rest."""

    _operator: Principal | None = None

    async def _admit(self) -> None:
        if not await self._superuser():
            raise NotFound("Not found")  # word for word what API404Handler answers
        await super()._admit()

    async def _superuser(self) -> bool:
        """A valid JWT bearer token of an active superuser; nothing else is looked at."""
        scheme, _, token = self.request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip() or not self.ctx.settings.auth_jwt:
            return False
        try:
            principal = await self._from_jwt(token.strip())
        except DomainError:  # bad, expired or revoked token; inactive user; busy database
            return False
        if not principal.is_superuser:
            return False
        self._operator = principal
        return True

    async def _authenticate(self) -> Principal | None:
        return self._operator  # resolved once, by _superuser()

    @property
    def operator(self) -> Operator:
        actor = self.actor
        return Operator.of(actor, email=actor.email, request_id=self.request_id)

    def query_model(self, model: type[Q]) -> Q:
        """The query string validated into `model` (400 naming the parameter)."""
        raw: dict[str, Any] = {name: value for name in model.model_fields
                               if name not in model.repeatable
                               and (value := self.query(name)) is not None}
        for name in model.repeatable:
            values = [v for v in self.get_query_arguments(name) if v.strip()]
            if values:
                raw[name] = values
        try:
            return model.model_validate(raw)
        except ValidationError as exc:
            raise ValidationFailed(errors=validation_errors(exc)) from None

    def page_args(self) -> Page:
        return Page(*self.page_request())

    def listing(self, page: Page, found: service.Listing) -> None:
        count, results = found
        self.page(results, count=count, page=page.number, page_size=page.size)


# -- overview ------------------------------------------------------------------------------------


class OverviewHandler(AdminHandler):
    @admin_endpoint(summary="The box at a glance: version, database, jobs by state, and "
                    "this process's traffic over a window", response=m.AdminOverviewOut,
                    query_model=m.OverviewQuery,
                    query={"window_s": f"Seconds of traffic ({m.WINDOW_MIN}..{m.WINDOW_MAX}, "
                           f"default {m.WINDOW_DEFAULT})"})
    async def get(self) -> None:
        query = self.query_model(m.OverviewQuery)
        self.ok(await service.overview(self.ctx, self.operator, query))


# -- accounts ------------------------------------------------------------------------------------

ACCOUNTS = Collection(f"{PREFIX}accounts/")


class AccountsHandler(AdminHandler):
    @admin_endpoint(summary="Accounts of every tenant, by id", response=m.AdminAccountOut,
                    query_model=m.AccountsQuery,
                    paginated=True, query={
                        **PAGE_QUERY_DOC, "search": "A substring of the name or slug",
                        "status": "active or suspended", "plan": "A plan's slug"})
    async def get(self) -> None:
        query, page = self.query_model(m.AccountsQuery), self.page_args()
        self.listing(page, await service.list_accounts(self.ctx, self.operator, query, page))


class AccountHandler(AdminHandler):
    @admin_endpoint(summary="One account: plan and limits, counts, this month's usage, its "
                    "last transactions", response=m.AdminAccountDetailOut)
    async def get(self, id: str) -> None:
        self.ok(await service.get_account(self.ctx, self.operator, parse_id(id)))


class GrantCreditsHandler(AdminHandler):
    @admin_endpoint(summary="Grant (amount > 0) or revoke (< 0) credits through the ledger, "
                    "never below zero", body=m.GrantCreditsBody, response=m.AdminGrantOut)
    async def post(self, id: str) -> None:
        body = self.parse(m.GrantCreditsBody)
        self.ok(await service.grant_credits(self.ctx, self.operator, parse_id(id), body))


class ChangePlanHandler(AdminHandler):
    @admin_endpoint(summary="Move the account to another plan (its limits apply at once)",
                    body=m.ChangePlanBody, response=m.AdminAccountDetailOut, errors=(409,))
    async def post(self, id: str) -> None:
        body = self.parse(m.ChangePlanBody)
        self.ok(await service.change_plan(self.ctx, self.operator, parse_id(id), body))


class SuspendHandler(AdminHandler):
    @admin_endpoint(summary="Suspend an active account: its users are refused at once",
                    body=m.ReasonBody, response=m.AdminAccountDetailOut, errors=(409,))
    async def post(self, id: str) -> None:
        body = self.parse(m.ReasonBody)
        self.ok(await service.suspend(self.ctx, self.operator, parse_id(id), body))


class ReactivateHandler(AdminHandler):
    @admin_endpoint(summary="Reactivate a suspended account", body=m.ReasonBody,
                    response=m.AdminAccountDetailOut, errors=(409,))
    async def post(self, id: str) -> None:
        body = self.parse(m.ReasonBody)
        self.ok(await service.reactivate(self.ctx, self.operator, parse_id(id), body))


# -- users ----------------------------------------------------------------------------------------

USERS = Collection(f"{PREFIX}users/")


class UsersHandler(AdminHandler):
    @admin_endpoint(summary="Users of every account, by id", response=m.AdminUserOut,
                    query_model=m.UsersQuery,
                    paginated=True, query={
                        **PAGE_QUERY_DOC, "search": "A substring of the email or username",
                        "account_id": "Only this account's users",
                        "is_active": "true or false"})
    async def get(self) -> None:
        query, page = self.query_model(m.UsersQuery), self.page_args()
        self.listing(page, await service.list_users(self.ctx, self.operator, query, page))


class UserHandler(AdminHandler):
    @admin_endpoint(summary="One user, with their live sessions", response=m.AdminUserDetailOut)
    async def get(self, id: str) -> None:
        self.ok(await service.get_user(self.ctx, self.operator, parse_id(id)))


class DeactivateHandler(AdminHandler):
    @admin_endpoint(summary="Deactivate a user: every session ended, every token refused",
                    body=m.ReasonBody, response=m.AdminUserDetailOut, errors=(409,))
    async def post(self, id: str) -> None:
        body = self.parse(m.ReasonBody)
        self.ok(await service.deactivate_user(self.ctx, self.operator, parse_id(id), body))


class ReactivateUserHandler(AdminHandler):
    @admin_endpoint(summary="Reactivate a deactivated user: they can log in again",
                    body=m.ReasonBody, response=m.AdminUserDetailOut, errors=(409,))
    async def post(self, id: str) -> None:
        body = self.parse(m.ReasonBody)
        self.ok(await service.reactivate_user(self.ctx, self.operator, parse_id(id), body))


class EndSessionsHandler(AdminHandler):
    @admin_endpoint(summary="End every session of a user (their tokens stop working)",
                    body=m.ReasonBody, response=m.AdminEndSessionsOut)
    async def post(self, id: str) -> None:
        body = self.parse(m.ReasonBody)
        self.ok(await service.end_sessions(self.ctx, self.operator, parse_id(id), body))


# -- jobs -----------------------------------------------------------------------------------------

JOBS = Collection(f"{PREFIX}jobs/")


class JobsHandler(AdminHandler):
    @admin_endpoint(summary="Background jobs of every account, newest first",
                    response=m.AdminJobOut, paginated=True,
                    query_model=m.JobsQuery, query={
                        **PAGE_QUERY_DOC, "state": "A state, or several comma-separated",
                        "kind": "A job kind (auto_cluster, …)",
                        "account_id": "Only this account's jobs"})
    async def get(self) -> None:
        query, page = self.query_model(m.JobsQuery), self.page_args()
        self.listing(page, await service.list_jobs(self.ctx, self.operator, query, page))


class JobHandler(AdminHandler):
    @admin_endpoint(summary="One job with its progress, payload and result",
                    response=m.AdminJobDetailOut)
    async def get(self, task_id: str) -> None:
        self.ok(await service.get_job(self.ctx, self.operator, task_id))


class CancelJobHandler(AdminHandler):
    @admin_endpoint(summary="Cancel a pending or running job (its credits are refunded)",
                    body=m.ReasonBody, response=m.AdminJobDetailOut, errors=(409,))
    async def post(self, task_id: str) -> None:
        body = self.parse(m.ReasonBody)
        self.ok(await service.cancel_job(self.ctx, self.operator, task_id, body))


class RetryJobHandler(AdminHandler):
    @admin_endpoint(summary="Run a failed job again, charging its credits again",
                    body=m.ReasonBody, response=m.AdminJobDetailOut, errors=(402, 409))
    async def post(self, task_id: str) -> None:
        body = self.parse(m.ReasonBody)
        self.ok(await service.retry_job(self.ctx, self.operator, task_id, body))


# -- recent requests -------------------------------------------------------------------------------

REQUESTS = Collection(f"{PREFIX}requests/")


class RequestsHandler(AdminHandler):
    @admin_endpoint(summary="This process's recent requests, newest first",
                    response=m.AdminRequestOut, paginated=True,
                    query_model=m.RequestsQuery, query={
                        **PAGE_QUERY_DOC, "status": "A status (404) or a class (4xx)",
                        "path": "A substring of the path (case-insensitive)",
                        "exclude_path": "Leave out requests whose path starts with this "
                        "prefix (case-sensitive); repeat the parameter or separate prefixes "
                        "with commas, at most 20 (e.g. /api/v1/admin/ hides the console's "
                        "own polling)",
                        "account_id": "The caller's account", "method": "GET, POST, …"})
    async def get(self) -> None:
        query, page = self.query_model(m.RequestsQuery), self.page_args()
        self.listing(page, service.list_requests(self.ctx, self.operator, query, page))


class RequestHandler(AdminHandler):
    @admin_endpoint(summary="One recent request by its request id, with its log lines",
                    response=m.AdminRequestDetailOut)
    async def get(self, request_id: str) -> None:
        self.ok(service.get_request(self.ctx, self.operator, request_id))


# -- the audit log ---------------------------------------------------------------------------------

AUDIT = Collection(f"{PREFIX}audit/")


class AuditHandler(AdminHandler):
    @admin_endpoint(summary="Every admin action, newest first", response=m.AdminAuditOut,
                    query_model=m.AuditQuery,
                    paginated=True, query={
                        **PAGE_QUERY_DOC, "action": "e.g. account.grant_credits",
                        "account_id": "The account concerned", "target_type":
                        "account, user or job", "actor_user_id": "The operator who acted"})
    async def get(self) -> None:
        query, page = self.query_model(m.AuditQuery), self.page_args()
        self.listing(page, await service.list_audit(self.ctx, self.operator, query, page))


# -- pending password-reset and invitation links ---------------------------------------------------

AUTH_LINKS = Collection(f"{PREFIX}auth_links/")


class AuthLinksHandler(AdminHandler):
    @admin_endpoint(summary="Pending password-reset and invitation links, newest first (to "
                    "hand over when no mail goes out)", response=m.AdminAuthLinkOut,
                    paginated=True, query_model=m.AuthLinksQuery, query={
                        **PAGE_QUERY_DOC, "purpose": "password_reset or invitation"})
    async def get(self) -> None:
        query, page = self.query_model(m.AuthLinksQuery), self.page_args()
        self.listing(page, await service.list_auth_links(self.ctx, self.operator, query, page))


class ReissueAuthLinkHandler(AdminHandler):
    @admin_endpoint(summary="Replace a pending link and answer with the new one (audited)",
                    body=m.ReasonBody, response=m.AdminAuthLinkIssuedOut)
    async def post(self, id: str) -> None:
        body = self.parse(m.ReasonBody)
        self.ok(await service.reissue_auth_link(self.ctx, self.operator, parse_id(id), body))


_ID = "(?P<id>[^/]+)"
_TASK = "(?P<task_id>[^/]+)"

default_handlers = [
    (f"{PREFIX}overview/", OverviewHandler),
    (f"{ACCOUNTS.prefix}{_ID}/grant_credits/", GrantCreditsHandler, {"resource": ACCOUNTS}),
    (f"{ACCOUNTS.prefix}{_ID}/change_plan/", ChangePlanHandler, {"resource": ACCOUNTS}),
    (f"{ACCOUNTS.prefix}{_ID}/suspend/", SuspendHandler, {"resource": ACCOUNTS}),
    (f"{ACCOUNTS.prefix}{_ID}/reactivate/", ReactivateHandler, {"resource": ACCOUNTS}),
    (ACCOUNTS.prefix, AccountsHandler, {"resource": ACCOUNTS}),
    (f"{ACCOUNTS.prefix}{_ID}/", AccountHandler, {"resource": ACCOUNTS}),
    (f"{USERS.prefix}{_ID}/deactivate/", DeactivateHandler, {"resource": USERS}),
    (f"{USERS.prefix}{_ID}/reactivate/", ReactivateUserHandler, {"resource": USERS}),
    (f"{USERS.prefix}{_ID}/end_sessions/", EndSessionsHandler, {"resource": USERS}),
    (USERS.prefix, UsersHandler, {"resource": USERS}),
    (f"{USERS.prefix}{_ID}/", UserHandler, {"resource": USERS}),
    (f"{JOBS.prefix}{_TASK}/cancel/", CancelJobHandler, {"resource": JOBS}),
    (f"{JOBS.prefix}{_TASK}/retry/", RetryJobHandler, {"resource": JOBS}),
    (JOBS.prefix, JobsHandler, {"resource": JOBS}),
    (f"{JOBS.prefix}{_TASK}/", JobHandler, {"resource": JOBS}),
    (REQUESTS.prefix, RequestsHandler, {"resource": REQUESTS}),
    (f"{REQUESTS.prefix}(?P<request_id>[^/]+)/", RequestHandler, {"resource": REQUESTS}),
    (AUDIT.prefix, AuditHandler, {"resource": AUDIT}),
    (AUTH_LINKS.prefix, AuthLinksHandler, {"resource": AUTH_LINKS}),
    (f"{AUTH_LINKS.prefix}{_ID}/reissue/", ReissueAuthLinkHandler, {"resource": AUTH_LINKS}),
]
