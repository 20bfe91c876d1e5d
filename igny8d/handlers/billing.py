"""Billing: credit balance, usage (list, get, summary, limits) and transactions (admin/owner).

All read-only: credits change only through the ledger (`services/billing.py`), which AI
actions, job hooks and the monthly grant call inside their own transactions.
"""

from __future__ import annotations

import datetime as dt

from igny8d.errors import ValidationFailed
from igny8d.handlers.base import APIHandler, endpoint
from igny8d.handlers.resource import Action, Filter, Resource, ResourceHandler
from igny8d.schemas import billing as m
from igny8d.services import billing as billing_service
from igny8d.services.billing import OPERATION_TYPES, TRANSACTION_TYPES
from igny8d.services.billing import TRANSACTIONS as TRANSACTION_SERVICE
from igny8d.services.billing import USAGE as USAGE_SERVICE

TAG = "billing"
THROTTLE = "billing"
_DATES = {"start_date": "From this day on (YYYY-MM-DD, inclusive)",
          "end_date": "Up to this day (YYYY-MM-DD, inclusive)"}


def _day(h: APIHandler, name: str) -> dt.date | None:
    raw = h.query(name)
    if raw is None:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed(errors={name: ["Enter a date as YYYY-MM-DD."]}) from None


class BalanceHandler(APIHandler):
    @endpoint(throttle=THROTTLE, summary="Your account's credit balance", response=m.BalanceOut,
              tags=(TAG,))
    async def get(self) -> None:
        async with self.ctx.store.read() as conn:
            data = await billing_service.balance(conn, self.actor)
        self.ok(data)


async def usage_summary(h: ResourceHandler) -> None:
    start, end = _day(h, "start_date"), _day(h, "end_date")
    async with h.ctx.store.read() as conn:
        data = await billing_service.usage_summary(conn, h.actor, start=start, end=end)
    h.ok(data)


async def usage_limits(h: ResourceHandler) -> None:
    async with h.ctx.store.read() as conn:
        data = await billing_service.usage_limits(conn, h.actor)
    h.ok(data)


#: The period filters usage and transactions share (inclusive dates).
_PERIOD = {"start_date": Filter("created_at", "date_from", description=_DATES["start_date"]),
           "end_date": Filter("created_at", "date_to", description=_DATES["end_date"])}

USAGE = Resource(
    name="usage", prefix="/api/v1/billing/credits/usage/", service=USAGE_SERVICE,
    output=m.UsageOut,
    filters={"operation_type": Filter("operation_type", "choice", OPERATION_TYPES,
                                      "Filter by operation type (comma-separated for several)"),
             **_PERIOD},
    ordering={"created_at": "created_at", "credits_used": "credits_used", "id": "id"},
    default_ordering="-created_at", read_level="authenticated", throttle=THROTTLE,
    read_only=True, methods=frozenset({"list", "retrieve"}), tag=TAG,
    actions=[
        Action("summary", usage_summary, method="get", level="authenticated",
               response=m.UsageSummaryOut, query=_DATES,
               summary="Credits used per operation type in a period (default: this month)"),
        Action("limits", usage_limits, method="get", level="authenticated",
               response=m.UsageLimitsOut,
               summary="Your plan's limits with current counts, and this month's credits"),
    ],
)

TRANSACTIONS = Resource(
    name="transactions", prefix="/api/v1/billing/credits/transactions/",
    service=TRANSACTION_SERVICE, output=m.TransactionOut,
    filters={"transaction_type": Filter("transaction_type", "choice", TRANSACTION_TYPES,
                                        "Filter by type (comma-separated for several)"),
             **_PERIOD},
    ordering={"created_at": "created_at", "amount": "amount", "id": "id"},
    default_ordering="-created_at", read_level="admin", throttle=THROTTLE,
    read_only=True, methods=frozenset({"list", "retrieve"}), tag=TAG,
)

RESOURCES = [USAGE, TRANSACTIONS]

# The classes the resource layer generates, by name (grep finds them here).
UsageSummaryHandler = USAGE.handler("UsageSummaryHandler")
UsageLimitsHandler = USAGE.handler("UsageLimitsHandler")
UsageListHandler = USAGE.handler("UsageListHandler")
UsageDetailHandler = USAGE.handler("UsageDetailHandler")
TransactionsListHandler = TRANSACTIONS.handler("TransactionsListHandler")
TransactionsDetailHandler = TRANSACTIONS.handler("TransactionsDetailHandler")

default_handlers = [
    (r"/api/v1/billing/credits/balance/balance/", BalanceHandler),
    *USAGE.routes(UsageSummaryHandler, UsageLimitsHandler, UsageListHandler,
                  UsageDetailHandler),
    *TRANSACTIONS.routes(TransactionsListHandler, TransactionsDetailHandler),
]
