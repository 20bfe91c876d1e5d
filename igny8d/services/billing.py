"""Credits: prices, the ledger (charge, refund, grant) and the billing reads.

Tornado-free: AI actions, job hooks, the scheduler's monthly grant and the CLI call these with
a connection inside their own transaction, so a charge and the work it pays for commit
together or not at all.

The ledger's rules:
- a balance never goes below zero: each change is one conditional UPDATE of the account row
  (`store/billing.change_balance`); a charge the balance does not cover is refused with
  `InsufficientCredits` (402) and writes nothing;
- every change is a `credit_transactions` row with its signed amount and the balance it left,
  so an account's transaction amounts add up to its balance minus its starting balance;
- a charge also writes a `credit_usage` row (what was paid for); a refund never deletes it but
  raises its `credits_refunded` (never above `credits_used`), and refunding again what was
  already refunded gives nothing back (a job's failure hook may run twice).
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.errors import InsufficientCredits, ValidationFailed
from igny8d.permissions import Actor
from igny8d.services.base import ResourceService
from igny8d.settings import Settings
from igny8d.store import billing as store

# -- prices -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Price:
    """`credits` for every `per` units (rounded up for a part)."""

    credits: int
    per: int
    unit: str


#: Default prices per AI operation. A free account (1,000 credits a month) runs the whole
#: pipeline for a site of 100 keywords: 100 keywords clustered (100) + 10 ideas (50) + 10
#: articles of 1,500 words (450) + 40 image prompts (40) + 40 images (200) = 840 credits.
PRICES: dict[str, Price] = {
    "clustering": Price(1, 1, "keyword"),
    "ideas": Price(5, 1, "idea"),
    "content": Price(3, 100, "word"),
    "image_prompts": Price(1, 1, "image prompt"),
    "images": Price(5, 1, "image"),
}

OPERATION_TYPES: tuple[str, ...] = tuple(PRICES)
TRANSACTION_TYPES: tuple[str, ...] = ("charge", "refund", "grant", "monthly_grant",
                                      "adjustment")
GRANT_TYPES = ("grant", "monthly_grant", "adjustment")


def prices(settings: Settings | None = None) -> dict[str, Price]:
    """The price list in force: the `price_*` settings, or the defaults without settings."""
    if settings is None:
        return PRICES
    return {name: Price(getattr(settings, f"price_{name}"), p.per, p.unit)
            for name, p in PRICES.items()}


def price(operation_type: str, units: int, settings: Settings | None = None) -> int:
    """Credits for `units` of an operation (keywords, ideas, words, prompts, images), at the
    settings' prices (the defaults when no settings are given)."""
    if operation_type not in PRICES:
        raise ValueError(f"unknown operation type {operation_type!r}")
    if units < 0:
        raise ValueError("units must not be negative")
    p = prices(settings)[operation_type]
    return math.ceil(units * p.credits / p.per)


# -- the ledger ----------------------------------------------------------------------------------

Who = Actor | int


def _who(who: Who) -> tuple[int, int | None]:
    """(account id, user id) of an actor, or of a bare account id (the server acting)."""
    if isinstance(who, Actor):
        return who.account_id, (who.user_id or None)
    return int(who), None


async def charge(
    conn: AsyncConnection, who: Who, *, amount: int, operation_type: str, description: str,
    reference: str | None = None, units: int = 0, cost: float | None = None,
    tokens: int | None = None,
) -> dict[str, Any]:
    """Take `amount` credits for an operation, atomically, or refuse (InsufficientCredits).

    Returns the transaction row (type `charge`, negative amount, `balance_after`) with the
    id of the usage row it wrote (`usage_id`).
    """
    if operation_type not in PRICES:
        raise ValueError(f"unknown operation type {operation_type!r}")
    if amount <= 0:
        raise ValueError("a charge takes a positive amount")
    account_id, user_id = _who(who)
    after = await store.change_balance(conn, account_id, -amount)
    if after is None:
        have = (await store.balance(conn, account_id))["credits"]
        raise InsufficientCredits(errors={"credits": [
            f"This needs {amount} credits; the balance is {have}."]})
    row = await store.insert_transaction(
        conn, account_id=account_id, user_id=user_id, transaction_type="charge",
        amount=-amount, balance_after=after, description=description, reference=reference)
    usage = await store.insert_usage(
        conn, account_id=account_id, user_id=user_id, transaction_id=row["id"],
        operation_type=operation_type, credits_used=amount, units=units, cost=cost,
        tokens=tokens, description=description, reference=reference)
    return {**row, "usage_id": usage["id"]}


async def refund(
    conn: AsyncConnection, who: Who, *, reference: str | None = None,
    usage_id: int | None = None, amount: int | None = None, description: str = "Refund",
) -> list[dict[str, Any]]:
    """Give back what charges named by `reference` (a job's task_id) or `usage_id` took and
    was not refunded yet; `amount` caps the total (a partial refund). One `refund` transaction
    per usage row; nothing left to refund → []. The account row is locked first, so two
    concurrent refunds of one charge give it back once."""
    if reference is None and usage_id is None:
        raise ValueError("refund needs a reference or a usage id")
    if amount is not None and amount <= 0:
        raise ValueError("a refund takes a positive amount")
    account_id, user_id = _who(who)
    await store.lock_balance(conn, account_id)
    left = amount
    out: list[dict[str, Any]] = []
    for usage in await store.refundable_usage(conn, account_id, usage_id=usage_id,
                                              reference=reference):
        n = usage["credits_used"] - usage["credits_refunded"]
        if left is not None:
            n = min(n, left)
        if n <= 0:
            break
        after = await store.change_balance(conn, account_id, n)
        assert after is not None  # adding credits cannot go below zero
        await store.add_refunded(conn, usage["id"], n)
        out.append({**await store.insert_transaction(
            conn, account_id=account_id, user_id=user_id, transaction_type="refund",
            amount=n, balance_after=after, description=description,
            reference=usage["reference"] or f"usage:{usage['id']}"), "usage_id": usage["id"]})
        if left is not None:
            left -= n
    return out


async def grant(
    conn: AsyncConnection, who: Who, *, amount: int, transaction_type: str = "grant",
    description: str = "", reference: str | None = None,
) -> dict[str, Any]:
    """Add credits (`grant`, `monthly_grant`), or change them either way (`adjustment`,
    which may be negative but never takes the balance below zero: InsufficientCredits)."""
    if transaction_type not in GRANT_TYPES:
        raise ValueError(f"not a grant type: {transaction_type!r}")
    if amount == 0 or (amount < 0 and transaction_type != "adjustment"):
        raise ValueError("a grant takes a positive amount (an adjustment a non-zero one)")
    account_id, user_id = _who(who)
    after = await store.change_balance(conn, account_id, amount)
    if after is None:
        have = (await store.balance(conn, account_id))["credits"]
        raise InsufficientCredits(errors={"credits": [
            f"An adjustment of {amount} would leave a negative balance ({have})."]})
    return await store.insert_transaction(
        conn, account_id=account_id, user_id=user_id, transaction_type=transaction_type,
        amount=amount, balance_after=after, description=description, reference=reference)


async def refund_job(conn: AsyncConnection, job: Any, reason: str) -> None:
    """A `JobKind` failure/revocation hook: give back what the job's task_id was charged."""
    await refund(conn, int(job.account_id), reference=str(job.task_id),
                 description=f"Refund: {reason}"[:500])


async def record_usage_cost(conn: AsyncConnection, account_id: int, reference: str, *,
                            tokens: int, cost: float) -> int:
    """Put what the provider reported (tokens, cost in USD) on the usage rows of a charge's
    reference (an AI job's task_id), in the job's final transaction; how many rows.

    A free operation (price 0) has no usage row, so nothing is recorded for it."""
    return await store.set_usage_cost(conn, account_id, reference, tokens=int(tokens),
                                      cost=float(cost))


# -- periods -------------------------------------------------------------------------------------


def month_of(day: dt.date) -> tuple[dt.date, dt.date]:
    first = day.replace(day=1)
    return first, day.replace(day=calendar.monthrange(day.year, day.month)[1])


def period(start: dt.date | None, end: dt.date | None) -> tuple[dt.date, dt.date]:
    """[start, end] in whole UTC days. A missing start is the first day of the end's month
    (or this month's); a missing end the last day of the start's month (or this month's)."""
    today = dt.datetime.now(dt.UTC).date()
    first = start or month_of(end or today)[0]
    last = end or month_of(start or today)[1]
    if first > last:
        raise ValidationFailed(errors={"end_date": ["end_date must not be before start_date."]})
    return first, last


def _bounds(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    return (dt.datetime.combine(start, dt.time.min, dt.UTC),
            dt.datetime.combine(end, dt.time.max, dt.UTC))


# -- reads ---------------------------------------------------------------------------------------


async def balance(conn: AsyncConnection, actor: Actor) -> dict[str, Any]:
    """The reference's shape. `credits_remaining` is what can still be spent: the balance
    itself (charges are taken from it when they happen)."""
    acc = await store.balance(conn, actor.account_id)
    start, end = _bounds(*month_of(dt.datetime.now(dt.UTC).date()))
    used = await store.net_usage(conn, actor.account_id, start=start, end=end)
    return {"credits": acc["credits"], "plan_credits_per_month": acc["monthly_credits"],
            "credits_used_this_month": used, "credits_remaining": acc["credits"]}


async def usage_summary(
    conn: AsyncConnection, actor: Actor, *, start: dt.date | None = None,
    end: dt.date | None = None,
) -> dict[str, Any]:
    """Totals per operation type for the period (default: this month); every type is listed."""
    first, last = period(start, end)
    totals = await store.usage_totals(conn, actor.account_id, start=_bounds(first, last)[0],
                                      end=_bounds(first, last)[1])
    zero = {"count": 0, "units": 0, "credits_charged": 0, "credits_refunded": 0,
            "credits_used": 0}
    by_type = {op: totals.get(op, dict(zero)) for op in OPERATION_TYPES}
    return {
        "start_date": first.isoformat(), "end_date": last.isoformat(),
        "total_operations": sum(t["count"] for t in by_type.values()),
        "total_credits_used": sum(t["credits_used"] for t in by_type.values()),
        "by_operation_type": by_type,
    }


async def usage_limits(conn: AsyncConnection, actor: Actor) -> dict[str, Any]:
    """The plan's limits with the account's current counts, and this month's credits."""
    acc = await store.balance(conn, actor.account_id)
    counts = await store.resource_counts(conn, actor.account_id)
    start, end = _bounds(*month_of(dt.datetime.now(dt.UTC).date()))
    used = await store.net_usage(conn, actor.account_id, start=start, end=end)

    def limit(name: str, key: str) -> dict[str, int]:
        return {"limit": int(acc[key]), "used": counts[name],
                "remaining": max(int(acc[key]) - counts[name], 0)}

    return {
        "plan": acc["plan"], "plan_name": acc["plan_name"],
        "sites": limit("sites", "max_sites"), "users": limit("users", "max_users"),
        "keywords": limit("keywords", "max_keywords"),
        "clusters": limit("clusters", "max_clusters"),
        "max_sectors_per_site": int(acc["max_sectors_per_site"]),
        "credits": {"limit": int(acc["monthly_credits"]), "used": used,
                    "remaining": int(acc["credits"])},
    }


USAGE_FIELDS = ("id", "operation_type", "credits_used", "credits_refunded", "units", "cost",
                "tokens", "description", "reference", "transaction_id", "user_id",
                "created_at")
TRANSACTION_FIELDS = ("id", "transaction_type", "amount", "balance_after", "description",
                      "reference", "user_id", "created_at")

#: Read-only resources: rows are written only by charge / refund / grant above.
USAGE = ResourceService(store.USAGE, fields=USAGE_FIELDS)
TRANSACTIONS = ResourceService(store.TRANSACTIONS, fields=TRANSACTION_FIELDS)
