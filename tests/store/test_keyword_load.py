"""The import's bulk keyword load (store/keywords.py `insert_keywords`, from BULK_FAST_MIN
rows): the same rows as one INSERT per row would give, in the file's order, and on SQLite
every AFTER INSERT trigger of the keywords table still takes effect and is still there."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select, text

from igny8d.store import versions
from igny8d.store.errors import UniqueViolation
from igny8d.store.keywords import BULK_FAST_MIN, KeywordLoad, _as_bulk, insert_keywords
from igny8d.store.schema import keywords

N = BULK_FAST_MIN + 500
SIDE = ("CREATE TABLE side (kid INTEGER, norm TEXT)",
        "CREATE TRIGGER side_copy AFTER INSERT ON keywords BEGIN "
        "INSERT INTO side(kid, norm) VALUES (new.id, upper(new.keyword_norm)); "
        "INSERT INTO side(kid, norm) VALUES (-new.id, new.status); END",
        # a WHEN clause: not rewritten, stays in place and fires per row
        "CREATE TRIGGER side_when AFTER INSERT ON keywords WHEN new.volume = 7 BEGIN "
        "INSERT INTO side(kid, norm) VALUES (0, 'seven'); END")


def _rows(prefix: str, n: int = N) -> list[KeywordLoad]:
    return [KeywordLoad(f"{prefix} Kw {i}", f"{prefix.lower()} kw {i}", i, i % 101,
                        ("commercial", None)[i % 2], ("active", "pending")[i % 2])
            for i in range(n)]


async def _sector(client) -> tuple[int, int, int]:
    token = await client.owner("load@example.com")
    site = await client.site(token)
    sector = await client.sector(token, site["id"])
    return site["account_id"], site["id"], sector["id"]


async def _triggers(app) -> set[str]:
    async with app.ctx.store.read() as conn:
        return set((await conn.execute(text(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' "
            "AND tbl_name = 'keywords'"))).scalars())


async def test_bulk_load_writes_the_rows_in_order(app, client):
    account_id, site_id, sector_id = await _sector(client)
    async with app.ctx.store.read() as conn:
        before = await conn.run_sync(versions.read, account_id, "keywords", sector_id)
        whole = await conn.run_sync(versions.read, account_id, "keywords", None)
    rows = _rows("Load")
    async with app.ctx.store.begin() as conn:
        assert await insert_keywords(conn, account_id=account_id, site_id=site_id,
                                     sector_id=sector_id, rows=rows) == N
    async with app.ctx.store.read() as conn:
        got = (await conn.execute(select(keywords).where(keywords.c.sector_id == sector_id)
                                  .order_by(keywords.c.id))).mappings().all()
        # the sector's and the whole table's list versions move: no cached total outlives it
        after = await conn.run_sync(versions.read, account_id, "keywords", sector_id)
        assert after[0] > before[0]
        assert (await conn.run_sync(versions.read, account_id, "keywords", None))[0] > whole[0]
    assert [KeywordLoad(*(r[f] for f in KeywordLoad._fields)) for r in got] == rows
    assert {(r["account_id"], r["site_id"], r["seed_keyword_id"], r["cluster_id"],
             r["cluster_source"]) for r in got} == {(account_id, site_id, None, None, None)}
    stamps = {r["created_at"] for r in got} | {r["updated_at"] for r in got}
    assert len(stamps) == 1
    stamp = stamps.pop()
    assert stamp.utcoffset() == dt.timedelta(0)
    assert abs(dt.datetime.now(dt.UTC) - stamp) < dt.timedelta(minutes=5)


async def test_sqlite_load_applies_and_keeps_every_insert_trigger(app, client):
    if app.ctx.store.dialect != "sqlite":
        pytest.skip("SQLite's triggers")
    account_id, site_id, sector_id = await _sector(client)
    async with app.ctx.store.begin() as conn:
        for statement in SIDE:
            await conn.exec_driver_sql(statement)
    before = await _triggers(app)
    assert {"keywords_fts_insert", "side_copy", "side_when"} <= before
    rows = _rows("Side")
    async with app.ctx.store.begin() as conn:
        await insert_keywords(conn, account_id=account_id, site_id=site_id,
                              sector_id=sector_id, rows=rows)
    assert await _triggers(app) == before
    async with app.ctx.store.read() as conn:
        ids = list((await conn.execute(select(keywords.c.id).where(
            keywords.c.sector_id == sector_id).order_by(keywords.c.id))).scalars())
        side = (await conn.execute(text("SELECT kid, norm FROM side"))).all()
        fts = (await conn.execute(text(
            "SELECT rowid FROM keywords_fts WHERE keywords_fts MATCH :q"),
            {"q": '"side kw 2345"'})).scalars().all()
    pairs = list(zip(ids, rows, strict=True))
    assert sorted(side) == sorted([(i, r.keyword_norm.upper()) for i, r in pairs]
                                  + [(-i, r.status) for i, r in pairs] + [(0, "seven")])
    assert fts == [ids[2345]]
    # a load that fails (a keyword the sector has) leaves nothing and every trigger
    with pytest.raises(UniqueViolation):
        async with app.ctx.store.begin() as conn:
            await insert_keywords(conn, account_id=account_id, site_id=site_id,
                                  sector_id=sector_id, rows=[*_rows("Other"), rows[0]])
    assert await _triggers(app) == before
    async with app.ctx.store.read() as conn:
        assert (await conn.execute(select(func.count()).select_from(keywords).where(
            keywords.c.sector_id == sector_id))).scalar_one() == N


def test_only_plain_copying_insert_triggers_are_rewritten() -> None:
    plain = ("CREATE TRIGGER t AFTER INSERT ON keywords BEGIN "
             "INSERT INTO f(rowid, keyword_norm) VALUES (new.id, new.keyword_norm); END")
    assert _as_bulk(plain) == [
        "INSERT INTO f(rowid, keyword_norm) SELECT new.id, new.keyword_norm FROM keywords "
        "AS new WHERE new.id > :before ORDER BY new.id"]
    assert _as_bulk(plain.replace("ON keywords", 'ON "keywords" FOR EACH ROW')) is not None
    for other in (plain.replace("AFTER", "BEFORE"),
                  plain.replace("ON keywords", "ON clusters"),
                  plain.replace("INSERT ON", "UPDATE OF keyword_norm ON"),
                  plain.replace("BEGIN", "WHEN new.volume > 0 BEGIN"),
                  plain.replace("END", "UPDATE x SET y = 1; END"),
                  plain.replace("VALUES (new.id, new.keyword_norm)",
                                "SELECT new.id, new.keyword_norm"),
                  plain.replace("(new.id, new.keyword_norm)", "(new.id, 'a'), (-new.id, 'b')"),
                  plain.replace("INSERT INTO", "INSERT OR IGNORE INTO")):
        assert _as_bulk(other) is None, other


async def test_postgres_load_leaves_the_planner_statistics(app, client):
    """After a COPY the planner must not think the table empty (it chose scans for 50k rows
    it estimated at 29): the load ANALYZEs what it wrote."""
    if app.ctx.store.dialect != "postgresql":
        pytest.skip("Postgres's planner statistics")
    account_id, site_id, sector_id = await _sector(client)
    async with app.ctx.store.begin() as conn:
        await insert_keywords(conn, account_id=account_id, site_id=site_id,
                              sector_id=sector_id, rows=_rows("Stats"))
    async with app.ctx.store.read() as conn:
        estimate = (await conn.execute(text(
            "SELECT reltuples FROM pg_class WHERE relname = 'keywords'"))).scalar_one()
    assert estimate >= N * 0.9
