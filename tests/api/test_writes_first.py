"""Reads wait, briefly, for this process's resource writes in flight (`WritesFirst`, issue
14 item 3): a write's few dozen turns of the event loop are not each behind every reader's
work. The wait is bounded, so writes cannot starve reads either."""

from __future__ import annotations

import asyncio

from igny8d.context import WritesFirst
from tests.helpers.paths import KEYWORDS


async def test_a_read_waits_for_a_write_in_flight_and_goes_on_when_it_ends(app, client):
    token = await client.owner("first@example.com")
    gate = app.ctx.writes_first
    gate.wait_s = 10.0
    gate.started()  # a write in flight
    try:
        read = asyncio.ensure_future(client.get(KEYWORDS, token=token))
        await asyncio.sleep(0.3)
        assert not read.done() and gate.waited >= 1
    finally:
        gate.ended()
    resp = await asyncio.wait_for(read, 10)
    assert resp.status == 200 and resp.json["count"] == 0


async def test_resource_writes_count_as_writes_and_logins_do_not(app, client):
    gate = app.ctx.writes_first
    seen: list[tuple[str, int]] = []
    started, ended = gate.started, gate.ended

    def record_start() -> None:
        started()
        seen.append(("start", gate.writing))

    def record_end() -> None:
        ended()
        seen.append(("end", gate.writing))

    gate.started, gate.ended = record_start, record_end  # type: ignore[method-assign]
    token = await client.owner("writes@example.com")  # register + login: not resource writes
    assert seen == []
    site = await client.site(token)
    assert seen == [("start", 1), ("end", 0)]
    assert site["id"] and gate.writing == 0


async def test_the_wait_is_bounded() -> None:
    gate = WritesFirst(wait_s=0.05)
    gate.started()
    loop = asyncio.get_running_loop()
    began = loop.time()
    await gate.turn()  # gives up after wait_s: reads are never held by a stream of writes
    assert loop.time() - began >= 0.04
    gate.ended()
    gate.ended()  # an extra end never goes below nothing
    assert gate.writing == 0
    waited = gate.waited
    await gate.turn()  # no write in flight: no wait at all
    assert gate.waited == waited
