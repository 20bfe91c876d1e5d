"""The admin audit log: one row per admin action, written in the action's own transaction.

`record` is called by every action of `services/admin.py` with the connection that makes the
change, so the change and its audit row commit together or not at all. A row keeps who acted
(user id and email, kept when that user is deleted later: no foreign keys), what was done
(`action`), on what (`target_type`, `target_id`, the account concerned), the state before and
after (small JSON snapshots of what the action changes), the operator's reason and the
request id of the call (to find its request record and log lines).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.store import admin as store

log = logging.getLogger("igny8d.admin")

#: Every action the admin API audits.
ACTIONS: tuple[str, ...] = (
    "account.grant_credits", "account.revoke_credits", "account.change_plan",
    "account.suspend", "account.reactivate", "user.deactivate", "user.reactivate",
    "user.end_sessions", "user.reissue_link", "job.cancel", "job.retry",
)
TARGET_TYPES: tuple[str, ...] = ("account", "user", "job")

AUDIT_FIELDS = ("id", "actor_user_id", "actor_email", "action", "target_type", "target_id",
                "account_id", "before", "after", "reason", "request_id", "created_at")


@dataclass(frozen=True, slots=True)
class Entry:
    """What one action records (the actor and request come from the Operator)."""

    action: str
    target_type: str
    target_id: str | int
    account_id: int | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str = ""


async def record(conn: AsyncConnection, *, actor_user_id: int | None, actor_email: str,
                 request_id: str | None, entry: Entry) -> dict[str, Any]:
    """Write the audit row in the caller's transaction; returns it."""
    if entry.action not in ACTIONS or entry.target_type not in TARGET_TYPES:
        raise ValueError(f"unknown audit action {entry.action!r} on {entry.target_type!r}")
    row = await store.insert_audit(conn, {
        "actor_user_id": actor_user_id, "actor_email": actor_email, "action": entry.action,
        "target_type": entry.target_type, "target_id": str(entry.target_id),
        "account_id": entry.account_id, "before": entry.before, "after": entry.after,
        "reason": entry.reason, "request_id": request_id,
    })
    # Also in the request's log lines (the console's request lookup shows what was done).
    log.info("admin action %s on %s %s", entry.action, entry.target_type, entry.target_id,
             extra={"audit_id": row["id"], "actor_user_id": actor_user_id,
                    "account_id": entry.account_id})
    return row


def present(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row.get(k) for k in AUDIT_FIELDS}
