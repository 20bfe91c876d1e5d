"""The handler side of `Idempotency-Key` (services/idempotency.py): read the header, replay a
kept answer, write an answer as kept."""

from __future__ import annotations

from igny8d.handlers.base import APIHandler
from igny8d.services import idempotency


class IdempotentHandler(APIHandler):
    """A handler whose creating POSTs take an `Idempotency-Key` (the resource layer's)."""

    def idempotency_key(self) -> idempotency.Keyed | None:
        """The request's key with whose it is and what it asks (400 for a malformed key)."""
        key = idempotency.parse_key(self.request.headers.get(idempotency.HEADER))
        if key is None:
            return None
        actor = self.actor
        return idempotency.Keyed(actor.account_id, actor.user_id, key, idempotency.fingerprint(
            self.request.method or "POST", self.request.path, self.body))

    async def replayed(self, keyed: idempotency.Keyed | None) -> bool:
        """Answer the kept answer of a key already used for this request (409 for another
        request); False when the request is to be run."""
        found = await idempotency.replay(self.ctx.store, keyed) if keyed else None
        if found is not None:
            self.send_answer(found, True)
        return found is not None

    def send_answer(self, answer: idempotency.Answer, replayed: bool) -> None:
        for name, value in answer.headers.items():
            self.set_header(name, value)
        if replayed:
            self.set_header(idempotency.REPLAYED_HEADER, "true")
        self.ok(answer.data, answer.message, status=answer.status)
