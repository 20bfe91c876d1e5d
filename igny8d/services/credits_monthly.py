"""The monthly credit grant: every active account gets its plan's credits once per UTC month.

- **Top-up, not add.** The grant raises the balance to the plan's `monthly_credits` when it is
  below ("credits reset monthly"); a balance at or above it (an operator's grant, a plan
  change down) is left as it is — the grant never takes credits away. Unused free credits do
  not pile up month after month, and what an operator granted is never lost.
- **One per account and month.** Each grant is a `monthly_grant` transaction with the
  reference `monthly:YYYY-MM`, written in one transaction that first locks the account row
  (`lock_account`: `FOR UPDATE` on Postgres; SQLite's write lock) and then looks for that
  reference: several processes on one Postgres, a rerun the same day, a restart — the second
  finds the first's row (READ COMMITTED reads it after the lock is released) and does
  nothing. An account already at the plan's credits still gets a row (amount 0), so a
  balance spent later in the month is not topped up a second time.
- **The first month is registration's.** An account starts with its plan's credits
  (`store/accounts.create_account`), so accounts created in the current month are skipped;
  their first grant is on the next month's first run.
- Suspended accounts are skipped; one reactivated later in the month is granted on the next
  daily run. The `monthly_grant` setting turns the whole thing off.

The scheduler (`igny8d/scheduler.py`) runs this daily and once at start; it grants whatever is
due for the current month, so a box that was down on the 1st catches up when it comes back.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from igny8d.services import billing
from igny8d.store import accounts as account_store
from igny8d.store import admin as admin_store
from igny8d.store import billing as billing_store
from igny8d.store.writes import touch_accounts

if TYPE_CHECKING:
    from igny8d.settings import Settings
    from igny8d.store.engine import Store

log = logging.getLogger("igny8d.billing")

TRANSACTION_TYPE = "monthly_grant"
#: accounts looked up per query (each is then granted in its own short transaction)
BATCH = 500


class GrantDeps(Protocol):
    @property
    def store(self) -> Store: ...
    @property
    def settings(self) -> Settings: ...


def month_bounds(at: dt.datetime | None = None) -> tuple[dt.datetime, dt.datetime]:
    """[first instant of the UTC month of `at` (default now), first instant of the next)."""
    now = (at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    start = dt.datetime(now.year, now.month, 1, tzinfo=dt.UTC)
    end = dt.datetime(now.year + (now.month == 12), now.month % 12 + 1, 1, tzinfo=dt.UTC)
    return start, end


def reference_for(at: dt.datetime) -> str:
    """`monthly:YYYY-MM` of the UTC month `at` falls in."""
    return f"monthly:{at.astimezone(dt.UTC):%Y-%m}"


@dataclass
class GrantReport:
    month: str
    #: accounts that got a grant row this run (topped up or already at their plan's credits)
    granted: int = 0
    #: credits added in total
    credits: int = 0
    enabled: bool = True


async def grant_account(store: Store, account_id: int, *, month_start: dt.datetime) -> int | None:
    """Grant one account its month, in one transaction; the credits added (0 when it was at
    or above its plan's), or None when nothing was due (granted already, not active, or
    created this month)."""
    reference = reference_for(month_start)
    async with store.begin() as conn:
        account = await account_store.lock_account(conn, account_id)
        if (account["status"] != "active" or account["created_at"] >= month_start
                or await admin_store.has_monthly_grant(conn, account_id, reference)):
            return None
        plan_credits = int(account["monthly_credits"])
        balance = int(account["credits"])
        month = reference.removeprefix("monthly:")
        amount = max(0, plan_credits - balance)
        if amount > 0:
            await billing.grant(
                conn, account_id, amount=amount, transaction_type=TRANSACTION_TYPE,
                reference=reference,
                description=f"Monthly credits {month}: topped up to the "
                            f"{account['plan_name']} plan's {plan_credits}")
            return amount
        # Nothing to add, but the month is done: a marker row (the ledger's sum is unchanged).
        await touch_accounts(conn, billing_store.TRANSACTIONS, [account_id])
        await billing_store.insert_transaction(
            conn, account_id=account_id, user_id=None, transaction_type=TRANSACTION_TYPE,
            amount=0, balance_after=balance, reference=reference,
            description=f"Monthly credits {month}: the balance is already at or above the "
                        f"{account['plan_name']} plan's {plan_credits}")
        return 0


async def grant_monthly_credits(deps: GrantDeps, *, at: dt.datetime | None = None,
                                batch: int = BATCH) -> GrantReport:
    """Grant every account what is due for the UTC month of `at` (default now)."""
    start, _end = month_bounds(at)
    report = GrantReport(month=f"{start:%Y-%m}", enabled=deps.settings.monthly_grant)
    if not report.enabled:
        return report
    after = 0
    while True:
        async with deps.store.read() as conn:
            due = await admin_store.accounts_due_grant(
                conn, reference=reference_for(start), created_before=start, after_id=after,
                limit=batch)
        for account_id in due:
            added = await grant_account(deps.store, account_id, month_start=start)
            if added is not None:
                report.granted += 1
                report.credits += added
        if len(due) < batch:
            break
        after = due[-1]
    if report.granted:
        log.info("monthly credits granted", extra={"month": report.month,
                                                   "accounts": report.granted,
                                                   "credits": report.credits})
    return report
