"""Scope: whose data a query may touch. Shared by the store, the services and the actor."""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class Scope:
    """An account, optionally only some of its sites, optionally one site or sector of those.

    `site_ids=None` means every site of the account (the caller's grants);
    `account_id=None` is the operator's cross-tenant scope (superusers only) and must be asked
    for explicitly. `site_id`/`sector_id` narrow a query to one site or sector (the
    reference's SiteSectorModelViewSet query parameters) without widening the grants.
    """

    account_id: int | None
    site_ids: frozenset[int] | None = None
    site_id: int | None = None
    sector_id: int | None = None

    @classmethod
    def everything(cls) -> Scope:
        return cls(account_id=None, site_ids=None)

    def narrow(self, *, site_id: int | None = None, sector_id: int | None = None) -> Scope:
        """The same grants, limited to one site and/or sector."""
        return replace(self, site_id=site_id if site_id is not None else self.site_id,
                       sector_id=sector_id if sector_id is not None else self.sector_id)
