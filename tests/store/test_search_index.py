"""Keyword search through the full-text index (SQLite FTS5 trigram, Postgres pg_trgm) gives
exactly the rows a LIKE scan gives, and stays in step with inserts, updates and deletes."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, update

from igny8d.scope import Scope
from igny8d.store.keywords import KEYWORDS
from igny8d.store.rows import list_rows
from igny8d.store.schema import keywords
from igny8d.store.specs import search_clauses
from igny8d.store.writes import insert_many

WORDS = ["Running Shoes", "trail running shoes", "shoe rack", "100% cotton socks",
         "under_score tips", 'the "best" boots', "Café crème", "ab", "shoes shoes"]


async def _seed(app, client) -> tuple[int, int, int]:
    token = await client.owner("search@example.com")
    site = await client.site(token)
    sector = await client.sector(token, site["id"])
    rows = [{"account_id": site["account_id"], "site_id": site["id"], "sector_id": sector["id"],
             "keyword": w, "keyword_norm": " ".join(w.lower().split()), "volume": i,
             "difficulty": 0, "status": "active"} for i, w in enumerate(WORDS)]
    async with app.ctx.store.begin() as conn:
        await insert_many(conn, KEYWORDS, rows)
    return site["account_id"], site["id"], sector["id"]


async def _found(app, account_id: int, term: str) -> set[str]:
    where = search_clauses(KEYWORDS, term.split(), ("keyword",),
                           dialect=app.ctx.store.dialect)
    async with app.ctx.store.read() as conn:
        rows = await list_rows(conn, KEYWORDS, scope=Scope(account_id), where=where)
    return {r["keyword"] for r in rows}


def _expected(term: str) -> set[str]:
    words = term.lower().split()
    return {w for w in WORDS if all(t in " ".join(w.lower().split()) for t in words)}


@pytest.mark.parametrize("term", ["shoes", "SHOE", "running shoes", "unning", "ab", "a",
                                  "100%", "%", "under_", "_", '"best"', 'the "', "café",
                                  "CRÈME", "zzz", "shoes rack", "o"])
async def test_indexed_search_equals_a_scan(app, client, term):
    account_id, _, _ = await _seed(app, client)
    assert await _found(app, account_id, term) == _expected(term)


async def test_index_follows_updates_and_deletes(app, client):
    account_id, _, _ = await _seed(app, client)
    async with app.ctx.store.begin() as conn:
        await conn.execute(update(keywords).where(keywords.c.keyword == "shoe rack")
                           .values(keyword="boot rack", keyword_norm="boot rack"))
        await conn.execute(delete(keywords).where(keywords.c.keyword == "Running Shoes"))
    assert await _found(app, account_id, "rack") == {"boot rack"}
    assert await _found(app, account_id, "shoe") == {"trail running shoes", "shoes shoes"}
