"""Schemas of the admin API (`/api/v1/admin/`): query filters, action bodies, outputs.

The query models are also the typed input of `services/admin.py` (the handler validates the
query string into them; a bad value is a 400 naming the parameter). Output models are named
`Admin…` so their OpenAPI components never meet the tenant API's (`Account`, `User`).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from igny8d.schemas.ai import TaskMeta
from igny8d.schemas.auth import Email
from igny8d.schemas.billing import TransactionOut
from igny8d.schemas.planner import ID_MAX

REASON_MAX = 500
#: a grant or revoke moves at most this many credits (a typo must not make a billion)
AMOUNT_MAX = 100_000_000
JOB_STATES = ("PENDING", "PROGRESS", "SUCCESS", "FAILURE", "REVOKED")
WINDOW_MIN, WINDOW_MAX, WINDOW_DEFAULT = 60, 3600, 300


def _text(value: str | None) -> str | None:
    if value is not None and "\x00" in value:
        raise ValueError("Null characters are not allowed.")
    return value


# -- query filters ------------------------------------------------------------------------------


class Query(BaseModel):
    """Query parameters: blank ones are dropped before validation (absent). A parameter
    named in `repeatable` may come several times; the handler hands over every value."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, frozen=True)
    repeatable: ClassVar[frozenset[str]] = frozenset()


class OverviewQuery(Query):
    window_s: int = Field(WINDOW_DEFAULT, ge=WINDOW_MIN, le=WINDOW_MAX)


class AccountsQuery(Query):
    search: str | None = Field(None, max_length=200)
    status: Literal["active", "suspended"] | None = None
    plan: str | None = Field(None, max_length=50)

    _clean = field_validator("search", "plan")(_text)


class UsersQuery(Query):
    search: str | None = Field(None, max_length=200)
    account_id: int | None = Field(None, ge=1, le=ID_MAX)
    is_active: bool | None = None

    _clean = field_validator("search")(_text)


class JobsQuery(Query):
    #: one state or several, comma-separated
    state: tuple[str, ...] = Field((), json_schema_extra={
        "items": {"type": "string", "enum": list(JOB_STATES)}})
    kind: str | None = Field(None, max_length=64)
    account_id: int | None = Field(None, ge=1, le=ID_MAX)

    _clean = field_validator("kind")(_text)

    @field_validator("state", mode="before")
    @classmethod
    def _states(cls, value: Any) -> tuple[str, ...]:
        if value is None:
            return ()
        parts = value.split(",") if isinstance(value, str) else list(value)
        states = tuple(dict.fromkeys(str(p).strip().upper() for p in parts if str(p).strip()))
        bad = [s for s in states if s not in JOB_STATES]
        if bad:
            raise ValueError(f"Select a valid choice. {bad[0]} is not one of the available "
                             f"choices ({', '.join(JOB_STATES)}).")
        return states


_STATUS_CLASS = re.compile(r"^([1-5])xx$", re.IGNORECASE)


#: `exclude_path` prefixes per request, at most
EXCLUDE_PATHS_MAX = 20


class RequestsQuery(Query):
    repeatable: ClassVar[frozenset[str]] = frozenset({"exclude_path"})

    #: an exact status (`404`) or a class (`4xx`)
    status: str | None = Field(None, max_length=3)
    path: str | None = Field(None, max_length=500)
    #: path prefixes to leave out (case-sensitive, as paths are): repeated or comma-separated
    exclude_path: tuple[str, ...] = Field((), max_length=EXCLUDE_PATHS_MAX)
    account_id: int | None = Field(None, ge=1, le=ID_MAX)
    method: str | None = Field(None, max_length=10)

    _clean = field_validator("path")(_text)

    @field_validator("exclude_path", mode="before")
    @classmethod
    def _prefixes(cls, value: Any) -> tuple[str, ...]:
        values = [value] if isinstance(value, str) else list(value or ())
        out: list[str] = []
        for raw in values:
            for part in str(raw).split(","):
                part = part.strip()
                if not part:
                    continue
                if "\x00" in part:
                    raise ValueError("Null characters are not allowed.")
                if len(part) > 500:
                    raise ValueError("Ensure each path has at most 500 characters.")
                if part not in out:
                    out.append(part)
        return tuple(out)

    def excluded(self, path: str) -> bool:
        """Whether `path` starts with one of the `exclude_path` prefixes."""
        return path.startswith(self.exclude_path) if self.exclude_path else False

    @field_validator("status")
    @classmethod
    def _status(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if _STATUS_CLASS.match(value):
            return value.lower()
        if value.isdigit() and 100 <= int(value) <= 599:
            return value
        raise ValueError("Enter a status (e.g. 404) or a class (2xx, 3xx, 4xx, 5xx).")

    @field_validator("method")
    @classmethod
    def _method(cls, value: str | None) -> str | None:
        return value.upper() if value else None

    def status_range(self) -> tuple[int, int] | None:
        """[low, high] of the statuses asked for, or None for any."""
        if self.status is None:
            return None
        if self.status.endswith("xx"):
            low = int(self.status[0]) * 100
            return low, low + 99
        return int(self.status), int(self.status)


class AuthLinksQuery(Query):
    purpose: Literal["password_reset", "invitation"] | None = None


class AdminAuthLinkOut(BaseModel):
    """A pending password-reset or invitation link (its secret is not kept: reissue it)."""

    id: int
    user_id: int
    email: Email
    account_id: int
    purpose: str
    created_at: dt.datetime
    expires_at: dt.datetime
    mailed: bool
    mailed_at: dt.datetime | None


class AdminAuthLinkIssuedOut(AdminAuthLinkOut):
    link: str


class AuditQuery(Query):
    action: str | None = Field(None, max_length=64)
    account_id: int | None = Field(None, ge=1, le=ID_MAX)
    target_type: str | None = Field(None, max_length=32)
    actor_user_id: int | None = Field(None, ge=1, le=ID_MAX)

    _clean = field_validator("action", "target_type")(_text)


# -- bodies ----------------------------------------------------------------------------------------


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ReasonBody(Body):
    """Every action takes an optional reason; it is kept in the audit log."""

    reason: str | None = Field(None, max_length=REASON_MAX)

    _clean = field_validator("reason")(_text)


class GrantCreditsBody(Body):
    """A positive amount grants, a negative one revokes (never below a zero balance)."""

    amount: int = Field(ge=-AMOUNT_MAX, le=AMOUNT_MAX)
    reason: str = Field(min_length=1, max_length=REASON_MAX)

    _clean = field_validator("reason")(_text)

    @field_validator("amount")
    @classmethod
    def _nonzero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("Ensure this value is not zero (negative revokes).")
        return value


class ChangePlanBody(Body):
    plan: str = Field(min_length=1, max_length=50, description="The slug of an active plan")
    reason: str | None = Field(None, max_length=REASON_MAX)

    _clean = field_validator("plan", "reason")(_text)


# -- outputs ---------------------------------------------------------------------------------------


class AdminDatabase(BaseModel):
    dialect: Literal["sqlite", "postgresql"]
    ok: bool
    latency_ms: float | None


class AdminJobCounts(BaseModel):
    PENDING: int
    PROGRESS: int
    SUCCESS: int
    FAILURE: int
    REVOKED: int


class AdminStatusClasses(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    c2xx: int = Field(alias="2xx")
    c3xx: int = Field(alias="3xx")
    c4xx: int = Field(alias="4xx")
    c5xx: int = Field(alias="5xx")


class AdminTraffic(BaseModel):
    window_s: float
    requests: int
    requests_per_s: float
    error_rate: float = Field(description="Share of 5xx answers, 0..1")
    p50_ms: float | None
    p99_ms: float | None
    throttled: int
    by_class: AdminStatusClasses


class AdminTrafficPoint(BaseModel):
    t: int = Field(description="Unix seconds of the 10 s bucket's start")
    requests: int
    errors: int
    throttled: int
    p50_ms: float | None
    p99_ms: float | None


class AdminOverviewOut(BaseModel):
    version: str
    api_version: str
    uptime_s: float
    pid: int
    rss_mb: float | None
    database: AdminDatabase
    jobs: AdminJobCounts
    accounts: int
    users: int
    traffic: AdminTraffic
    series: list[AdminTrafficPoint]
    per_process: bool = Field(description="traffic and series are this process's only")


class AdminPlanSummary(BaseModel):
    id: int
    slug: str
    name: str


class AdminPlan(AdminPlanSummary):
    monthly_credits: int
    max_sites: int
    max_users: int
    max_keywords: int
    max_clusters: int


class AdminAccountOut(BaseModel):
    id: int
    name: str
    slug: str
    status: str
    plan: AdminPlanSummary
    credits: int
    users_count: int
    created_at: dt.datetime


class AdminUsage(BaseModel):
    credits_used: int = Field(description="Credits charged this month (before refunds)")
    credits_refunded: int
    by_operation: dict[str, int] = Field(description="Net credits per operation type")



class AdminAccountDetailOut(BaseModel):
    id: int
    name: str
    slug: str
    status: str
    plan: AdminPlan
    credits: int
    users_count: int
    created_at: dt.datetime
    sites_count: int
    keywords_count: int
    usage_this_month: AdminUsage
    recent_transactions: list[TransactionOut]


class AdminGrantTransaction(BaseModel):
    id: int
    transaction_type: str
    amount: int
    balance_after: int
    description: str
    created_at: dt.datetime


class AdminGrantOut(BaseModel):
    account_id: int
    credits: int = Field(description="The balance after the grant or revoke")
    transaction: AdminGrantTransaction


class AdminUserOut(BaseModel):
    id: int
    email: Email
    username: str
    account_id: int
    account_name: str
    role: str
    is_active: bool
    is_superuser: bool
    last_login: dt.datetime | None
    created_at: dt.datetime


class AdminUserDetailOut(AdminUserOut):
    sessions: int = Field(description="Live login sessions (refresh-token families)")


class AdminEndSessionsOut(BaseModel):
    user_id: int
    sessions_ended: int


class AdminJobMeta(TaskMeta):
    """The progress meta as task_progress shows it, plus whatever else a kind wrote."""

    model_config = ConfigDict(extra="allow")


class AdminJobOut(BaseModel):
    task_id: str
    kind: str
    state: Literal["PENDING", "PROGRESS", "SUCCESS", "FAILURE", "REVOKED"]
    account_id: int
    user_id: int | None
    attempts: int
    max_attempts: int
    meta: AdminJobMeta
    error: str | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    updated_at: dt.datetime


class AdminJobDetailOut(AdminJobOut):
    payload: dict[str, Any]
    result: dict[str, Any] | None


class AdminRequestOut(BaseModel):
    request_id: str
    method: str
    path: str
    route: str
    status: int
    duration_ms: float
    user_id: int | None
    account_id: int | None
    at: dt.datetime
    throttled: bool


class AdminLogLine(BaseModel):
    model_config = ConfigDict(extra="allow")

    at: dt.datetime
    level: str
    logger: str
    message: str


class AdminRequestDetailOut(AdminRequestOut):
    log: list[AdminLogLine]


class AdminAuditOut(BaseModel):
    id: int
    actor_user_id: int | None
    actor_email: Email
    action: str
    target_type: str
    target_id: str
    account_id: int | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str
    request_id: str | None
    created_at: dt.datetime
