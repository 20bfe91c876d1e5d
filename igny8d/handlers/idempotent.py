"""The handler side of `Idempotency-Key` (services/idempotency.py): read the header, replay a
kept answer, write an answer as kept."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncConnection
from tornado import httputil

from igny8d.handlers.base import APIHandler
from igny8d.services import idempotency


class IdempotentHandler(APIHandler):
    """A handler whose writing POSTs take an `Idempotency-Key` (the resource layer's: AI
    actions, creates, bulk actions, the keyword import)."""

    def idempotency_key(self, content: Callable[[], bytes] | None = None
                        ) -> idempotency.Keyed | None:
        """The request's key with whose it is and what it asks (400 for a malformed key).

        `content` gives what stands for the body where the raw bytes do not identify the
        request (a multipart form: clients draw a new boundary for every send, retries
        included); called only when a key was sent (it may hash a 20 MB file)."""
        key = idempotency.parse_key(self.request.headers.get(idempotency.HEADER))
        if key is None:
            return None
        actor = self.actor
        return idempotency.Keyed(actor.account_id, actor.user_id, key, idempotency.fingerprint(
            self.request.method or "POST", self.request.path,
            self.body if content is None else content()))

    async def answer_once(self, work: Callable[[AsyncConnection], Awaitable[idempotency.Answer]],
                          keyed: idempotency.Keyed | None) -> None:
        """Replay the key's kept answer, or run `work` (`run_once`)."""
        if not await self.replayed(keyed):
            await self.run_once(work, keyed)

    async def run_once(self, work: Callable[[AsyncConnection], Awaitable[idempotency.Answer]],
                       keyed: idempotency.Keyed | None) -> None:
        """Run `work` in one transaction with the key's claim and answer (`idempotency.once`;
        a concurrent twin waits and replays) and send what it answers. For a handler that
        checked `replayed` itself before costlier preparation."""
        self.send_answer(*await idempotency.once(self.ctx.store, keyed, work))

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


def form_content(fields: dict[str, list[str]], files: dict[str, list[httputil.HTTPFile]]
                 ) -> bytes:
    """A form as canonical JSON, for its fingerprint: the fields, and each file by its name,
    media type and SHA-256 (the same file sent again is the same request whatever the
    multipart boundary or the parts' order)."""
    doc = {"fields": {k: sorted(v) for k, v in fields.items()},
           "files": {k: sorted([f.filename, f.content_type, hashlib.sha256(f.body).hexdigest()]
                               for f in parts) for k, parts in files.items()}}
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
