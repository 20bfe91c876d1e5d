"""Input and output schemas of the auth module (bodies are strict: unknown fields are refused)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    field_validator,
    model_validator,
)

RoleName = Literal["owner", "admin", "editor", "viewer", "system_bot"]
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class _EmailFormat:
    """Marks a string field `format: email` in the document; kept through `partial_model`
    (it is metadata, not the FieldInfo a PATCH body rebuilds)."""

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: Any) -> Any:
        schema = handler(core_schema)
        schema["format"] = "email"
        return schema


#: An email address (checked by `_email` where it is input).
Email = Annotated[str, _EmailFormat()]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _email(value: str) -> str:
    value = value.strip().lower()
    if len(value) > 254 or not _EMAIL.match(value):
        raise ValueError("Enter a valid email address.")
    return value


def _confirmed(password: str | None, confirm: str | None, field: str) -> None:
    """A confirmation, when sent, must match (it may be left out where the API allows)."""
    if confirm is not None and password != confirm:
        raise ValueError(f"{field}: Passwords do not match.")


def _password(value: str) -> str:
    if len(value) < 8:
        raise ValueError("Password must be at least 8 characters.")
    if len(value) > 1024:
        raise ValueError("Password must be at most 1024 characters.")
    if value.isdigit():
        raise ValueError("Password cannot be entirely numeric.")
    return value


class RegisterBody(Body):
    email: Email
    password: str
    password_confirm: str
    username: str | None = Field(None, min_length=1, max_length=150)
    account_name: str | None = Field(None, min_length=1, max_length=150)

    _check_email = field_validator("email")(_email)
    _check_password = field_validator("password")(_password)

    @model_validator(mode="after")
    def _confirmed(self) -> RegisterBody:
        if self.password != self.password_confirm:
            raise ValueError("password_confirm: Passwords do not match.")
        return self


class LoginBody(Body):
    email: Email = Field(max_length=254)
    password: str = Field(max_length=1024)
    session: StrictBool = Field(False, description="Also set a session cookie (the admin-panel "
                          "fallback); token clients leave this off")


class RefreshBody(Body):
    refresh: str = Field(max_length=4096)


class LogoutBody(Body):
    refresh: str | None = Field(None, max_length=4096)


class ChangePasswordBody(Body):
    old_password: str = Field(max_length=1024)
    new_password: str
    new_password_confirm: str

    _check_password = field_validator("new_password")(_password)

    @model_validator(mode="after")
    def _confirmed(self) -> ChangePasswordBody:
        if self.new_password != self.new_password_confirm:
            raise ValueError("new_password_confirm: Passwords do not match.")
        return self


class PasswordResetBody(Body):
    email: Email = Field(max_length=254)

    _check_email = field_validator("email")(_email)


class PasswordResetConfirmBody(Body):
    token: str = Field(min_length=1, max_length=200)
    new_password: str
    new_password_confirm: str | None = None

    _check_password = field_validator("new_password")(_password)

    @model_validator(mode="after")
    def _confirm(self) -> PasswordResetConfirmBody:
        _confirmed(self.new_password, self.new_password_confirm, "new_password_confirm")
        return self


class InvitationAcceptBody(Body):
    token: str = Field(min_length=1, max_length=200)
    password: str
    password_confirm: str | None = None

    _check_password = field_validator("password")(_password)

    @model_validator(mode="after")
    def _confirm(self) -> InvitationAcceptBody:
        _confirmed(self.password, self.password_confirm, "password_confirm")
        return self


class AccountBrief(BaseModel):
    id: int
    name: str
    slug: str
    status: str
    credits: int
    plan: str


class UserOut(BaseModel):
    id: int
    email: Email
    username: str
    role: RoleName
    is_active: bool
    account_id: int
    site_ids: list[int] = Field(description="Site grants; empty means every site")
    active_site_id: int | None
    last_login: dt.datetime | None
    created_at: dt.datetime


class UserWithAccount(UserOut):
    is_superuser: bool
    account: AccountBrief


class SiteBrief(BaseModel):
    id: int
    name: str
    slug: str
    domain: str | None
    is_active: bool


class MeUser(UserWithAccount):
    accessible_sites: list[SiteBrief]


class UserEnvelope(BaseModel):
    user: UserWithAccount


class MeEnvelope(BaseModel):
    user: MeUser


class TokenPair(BaseModel):
    user: UserWithAccount
    access: str
    refresh: str
    access_expires_at: dt.datetime
    refresh_expires_at: dt.datetime


class UserCreateBody(Body):
    email: Email
    username: str | None = Field(None, min_length=1, max_length=150)
    password: str
    password_confirm: str | None = None
    role: RoleName = "viewer"
    site_ids: list[int] | None = Field(None, max_length=1000)
    is_active: bool = True

    _check_email = field_validator("email")(_email)
    _check_password = field_validator("password")(_password)

    @model_validator(mode="after")
    def _confirm(self) -> UserCreateBody:
        _confirmed(self.password, self.password_confirm, "password_confirm")
        return self


class UserUpdateBody(Body):
    email: Email
    username: str | None = Field(None, min_length=1, max_length=150)
    role: RoleName
    site_ids: list[int] | None = Field(None, max_length=1000)
    is_active: bool = True
    password: str | None = None
    password_confirm: str | None = None

    _check_email = field_validator("email")(_email)

    @field_validator("password")
    @classmethod
    def _check_password(cls, value: str | None) -> str | None:
        return None if value is None else _password(value)

    @model_validator(mode="after")
    def _confirm(self) -> UserUpdateBody:
        _confirmed(self.password, self.password_confirm, "password_confirm")
        return self


class InviteBody(Body):
    email: Email
    role: RoleName = "viewer"
    site_ids: list[int] | None = Field(None, max_length=1000)

    _check_email = field_validator("email")(_email)


class ActivateBody(Body):
    password: str | None = None
    password_confirm: str | None = None

    @field_validator("password")
    @classmethod
    def _check_password(cls, value: str | None) -> str | None:
        return None if value is None else _password(value)

    @model_validator(mode="after")
    def _confirm(self) -> ActivateBody:
        _confirmed(self.password, self.password_confirm, "password_confirm")
        return self


class AccountOut(BaseModel):
    id: int
    name: str
    slug: str
    status: Literal["active", "suspended"]
    credits: int
    plan_id: int
    plan: str
    created_at: dt.datetime
    updated_at: dt.datetime


class AccountCreateBody(Body):
    name: str = Field(min_length=1, max_length=150)
    plan_id: int | None = None
    credits: int | None = Field(None, ge=0, le=10**9)
    status: Literal["active", "suspended"] = "active"


class AccountUpdateBody(Body):
    name: str = Field(min_length=1, max_length=150)
    plan_id: int | None = None
    credits: int | None = Field(None, ge=0, le=10**9)
    status: Literal["active", "suspended"] | None = None


class SiteOut(BaseModel):
    id: int
    account_id: int
    name: str
    slug: str
    domain: str | None
    industry_id: int | None
    description: str
    is_active: bool
    sectors_count: int
    created_at: dt.datetime
    updated_at: dt.datetime


class SiteBody(Body):
    name: str = Field(min_length=1, max_length=150)
    domain: str | None = Field(None, max_length=255)
    industry_id: int | None = None
    description: str = Field("", max_length=5000)
    is_active: bool = True

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        host = re.sub(r"^https?://", "", value.lower()).rstrip("/")
        if not re.fullmatch(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+"
                            r"(:\d{1,5})?(/.*)?", host):
            raise ValueError("Enter a valid domain, like example.com.")
        return host


class SectorOut(BaseModel):
    id: int
    account_id: int
    site_id: int
    name: str
    slug: str
    industry_sector_id: int | None
    description: str
    is_active: bool
    created_at: dt.datetime
    updated_at: dt.datetime


class SectorCreateBody(Body):
    name: str = Field(min_length=1, max_length=150)
    site_id: int
    industry_sector_id: int | None = None
    description: str = Field("", max_length=5000)
    is_active: bool = True


class SectorUpdateBody(Body):
    name: str = Field(min_length=1, max_length=150)
    industry_sector_id: int | None = None
    description: str = Field("", max_length=5000)
    is_active: bool = True


class SelectSectorsBody(Body):
    sector_ids: list[int] = Field(max_length=1000)


class SiteWithSectors(SiteOut):
    sectors: list[SectorOut]


class PlanOut(BaseModel):
    id: int
    slug: str
    name: str
    description: str
    price_monthly: str
    monthly_credits: int
    max_sites: int
    max_users: int
    max_keywords: int
    max_sectors_per_site: int
    max_clusters: int
    is_active: bool


class IndustrySectorOut(BaseModel):
    id: int
    slug: str
    name: str
    description: str


class IndustryOut(BaseModel):
    id: int
    slug: str
    name: str
    description: str
    is_active: bool
    sectors: list[IndustrySectorOut]


class MessageOnly(BaseModel):
    detail: str | None = None
