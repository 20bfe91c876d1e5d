"""Roles, the Actor every service takes, and the Principal a request authenticates as.

Tornado-free: services, job workers and the CLI use the same rules as handlers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from igny8d.errors import PermissionDenied
from igny8d.scope import Scope

Role = Literal["owner", "admin", "editor", "viewer", "system_bot"]

#: owner > admin > editor > viewer > system_bot, as the reference orders them.
ROLE_RANK: dict[str, int] = {"system_bot": 0, "viewer": 1, "editor": 2, "admin": 3, "owner": 4}
ROLES: tuple[str, ...] = tuple(sorted(ROLE_RANK, key=ROLE_RANK.__getitem__, reverse=True))

#: Named permission levels, as the reference's permission classes.
LEVELS: dict[str, str] = {
    "authenticated": "system_bot",  # IsAuthenticatedAndActive + HasTenantAccess
    "viewer": "viewer",  # IsViewerOrAbove
    "editor": "editor",  # IsEditorOrAbove
    "admin": "admin",  # IsAdminOrOwner
    "owner": "owner",
}


def validate_level(level: str) -> str:
    """Fail at import time on a typo in a route's declared level."""
    if level not in LEVELS and level != "superuser":
        raise ValueError(f"unknown permission level {level!r}")
    return level


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: a user of an account with a role and, maybe, site grants.

    A request's Principal is an Actor; a job worker or the CLI builds one with `system()`.
    """

    user_id: int
    account_id: int
    role: str
    is_superuser: bool = False
    #: Sites this actor may see; None means every site of the account.
    site_ids: frozenset[int] | None = None

    @classmethod
    def system(cls, account_id: int, *, user_id: int = 0) -> Actor:
        """The server itself acting for an account (jobs, housekeeping): owner rights there."""
        return cls(user_id=user_id, account_id=account_id, role="owner")

    @property
    def scope(self) -> Scope:
        """The tenant scope every store call made for this actor takes."""
        return Scope(account_id=self.account_id, site_ids=self.site_ids)

    @property
    def rank(self) -> int:
        return ROLE_RANK.get(self.role, -1)

    def at_least(self, role: str) -> bool:
        return self.is_superuser or self.rank >= ROLE_RANK[role]

    def require(self, level: str) -> None:
        """Raise PermissionDenied unless the actor holds `level`."""
        if level == "superuser":
            if not self.is_superuser:
                raise PermissionDenied()
            return
        if not self.at_least(LEVELS[level]):
            raise PermissionDenied()

    def may_assign(self, role: str) -> bool:
        """Nobody makes a user above their own role."""
        return self.is_superuser or ROLE_RANK[role] <= self.rank

    def may_manage(self, role: str) -> bool:
        """Another user may be changed only by a strictly higher rank (the owner manages
        admins; an admin cannot touch another admin)."""
        return self.is_superuser or ROLE_RANK.get(role, 0) < self.rank


@dataclass(frozen=True, slots=True)
class Principal(Actor):
    """The authenticated caller of a request: an Actor plus how they authenticated."""

    email: str = ""
    username: str = ""
    token_version: int = 0
    #: the user's random key, which every token of theirs carries
    auth_key: str = ""
    #: the account's data version at authentication (keys the list count cache)
    data_version: int = 0
    auth_method: str = "jwt"


def grants_apply(role: str) -> bool:
    """Site grants narrow editors and viewers; owners and admins always see every site."""
    return ROLE_RANK.get(role, 0) < ROLE_RANK["admin"]


def effective_site_ids(role: str, grants: frozenset[int]) -> frozenset[int] | None:
    """The sites a role with these grants may see; None means all (also: no grants at all)."""
    if not grants_apply(role) or not grants:
        return None
    return grants
