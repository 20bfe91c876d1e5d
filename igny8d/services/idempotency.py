"""Idempotency-Key: a retried AI action, create, bulk action or import pays and writes once.

A request carrying a key runs its work in one transaction that also claims the key and
keeps the answer (`once`): a crash leaves either both the charge/job/row and the key, or
neither. A retry with the same key and the same request (method, path, canonical JSON body;
for a form, its fields and files as `handlers.idempotent.form_content` reads them) by the
same user of the same account within `TTL` gets the first answer again, marked
replayed; a different request with that key is a 409. A retry sent while the first is still
in its transaction waits for it (the key's row lock) and then replays its answer. Errors are
not kept: a 4xx rolls the transaction back with the key, so the client may fix the cause
(top up the balance, correct the body) and retry with the same key.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d import envelope
from igny8d.errors import Conflict, ValidationFailed
from igny8d.store import idempotency as key_store
from igny8d.store.engine import Store
from igny8d.store.writes import now

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
#: how long a key's answer is kept (and the key cannot be used for another request)
TTL = dt.timedelta(hours=24)
MAX_KEY = 255

DIFFERENT = "This Idempotency-Key was already used with a different request."
IN_FLIGHT = "A request with this Idempotency-Key is still in progress; retry shortly."


@dataclass(frozen=True)
class Keyed:
    """Who sent which key for which request (its fingerprint)."""

    account_id: int
    user_id: int
    key: str
    fingerprint: str


@dataclass(frozen=True)
class Answer:
    """A success answer as kept for replays: status, envelope data and message, and the
    headers that name what was made (`Location`)."""

    status: int
    data: Any
    message: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """As kept: the data as the envelope writes it (timestamps, decimals as strings), so
        a replay's body is the first one's."""
        return {"data": json.loads(envelope.dumps(self.data)), "message": self.message,
                "headers": self.headers}

    @classmethod
    def from_json(cls, status: int, doc: dict[str, Any]) -> Answer:
        return cls(status, doc.get("data"), doc.get("message"), dict(doc.get("headers") or {}))


def parse_key(raw: str | None) -> str | None:
    """The header's key: 1..255 printable ASCII characters (400 otherwise); None if absent."""
    if raw is None:
        return None
    if not raw or len(raw) > MAX_KEY or not all(" " <= c <= "~" for c in raw) \
            or not raw.strip():
        raise ValidationFailed(errors={HEADER: [
            f"Send 1 to {MAX_KEY} printable ASCII characters."]})
    return raw


def fingerprint(method: str, path: str, body: bytes) -> str:
    """SHA-256 of method, path and the body as canonical JSON (keys sorted, no spaces), so
    that key order and whitespace do not make two equal requests differ; a body that is not
    JSON is hashed as sent."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":"),
                               ensure_ascii=False).encode() if body.strip() else b""
    except (ValueError, RecursionError):
        canonical = body
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), canonical):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def _check(row: key_store.KeyRow | None, keyed: Keyed) -> Answer | None:
    if row is None or row.expires_at <= now():
        return None
    if row.fingerprint != keyed.fingerprint:
        raise Conflict(DIFFERENT, errors={HEADER: [DIFFERENT]})
    if row.status is None or row.response is None:
        raise Conflict(IN_FLIGHT, errors={HEADER: [IN_FLIGHT]})
    return Answer.from_json(row.status, row.response)


async def replay(store: Store, keyed: Keyed) -> Answer | None:
    """The kept answer for this key and request; None when the key is new (or expired);
    409 when it was used for a different request."""
    async with store.read() as conn:
        row = await key_store.find(conn, keyed.account_id, keyed.user_id, keyed.key)
    return _check(row, keyed)


async def once(store: Store, keyed: Keyed | None,
               work: Callable[[AsyncConnection], Awaitable[Answer]]) -> tuple[Answer, bool]:
    """Run `work` in one transaction with the key's claim and answer; (answer, replayed).

    Without a key, just the transaction. The key is claimed first, so a concurrent request
    with the same key waits on it rather than doing the work, then replays what was kept.
    """
    if keyed is None:
        async with store.begin() as conn:
            return await work(conn), False
    try:
        async with store.begin() as conn:
            row_id = await key_store.claim(
                conn, account_id=keyed.account_id, user_id=keyed.user_id, key=keyed.key,
                fingerprint=keyed.fingerprint, ttl=TTL)
            answer = await work(conn)
            await key_store.answer(conn, row_id, answer.status, answer.as_json())
        return answer, False
    except key_store.KeyTaken:
        found = await replay(store, keyed)
        if found is None:  # taken, then expired or its account deleted meanwhile
            raise Conflict(IN_FLIGHT, errors={HEADER: [IN_FLIGHT]}) from None
        return found, True


async def purge_expired(store: Store) -> int:
    """Delete keys past their TTL (the scheduler's housekeeping)."""
    async with store.begin() as conn:
        return await key_store.purge_expired(conn)
