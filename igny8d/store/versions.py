"""List versions: what a cached list total (and its kept ids) is keyed on, per (account,
table, sector), bumped in the same transaction as the write that changes those rows.

A write to one sector's keywords bumps (keywords, that sector) and (keywords, whole table):
lists of other sectors and of other tables keep their cached totals. A write whose sectors
are not known cheaply bumps (table, SOME): every sector's lists of that table. A delete also
bumps the tables whose rows its foreign keys cascade to or set NULL (`dependents`), since
their lists' filters (`cluster_id=…`) may change. The account's `data_version` stays the
epoch of everything (plan and status changes, operator writes).

The versions live in the database, so every process behind a load balancer sees a write as
soon as it commits; what a process keeps is only the memory.

A searched table (one with a search index: keywords) also logs, per version of its whole
list, what the write changed as its search sees it (`list_changes`: the rows' searched
texts, old and new; None when not known). A kept search total whose version is behind is
carried forward when no logged change between the two versions contains every search word
(`changes`, `affects`): ten keywords added a second no longer throw away the kept pages of
every other search. A missing version (another table's bump, a purged log) or an unknown
change is a miss, as without the log.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from functools import cache

from sqlalchemy import Connection, Table, bindparam, delete, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from igny8d.store.schema import accounts, list_changes, list_versions, metadata

#: `sector_id` of the whole table's version (lists not narrowed to one sector)
WHOLE = 0
#: `sector_id` of "some sectors changed, which is not known": every sector's lists
SOME = -1

#: a write of more rows than this logs its change as not known (a bulk import)
TEXTS_MAX = 200
#: versions further apart than this are not looked through (a miss)
CHANGES_MAX = 256
#: how long a change is kept (`purge_changes`): a kept total older than that is a miss
CHANGES_KEPT = dt.timedelta(hours=1)
_SEP = "\x1e"

lv = list_versions.c
lc = list_changes.c

_NARROW = (select(lv.sector_id, lv.version)
           .where(lv.account_id == bindparam("account_id"),
                  lv.table_name == bindparam("table_name"),
                  lv.sector_id.in_([bindparam("sector_id"), SOME])))
_WHOLE = (select(lv.version)
          .where(lv.account_id == bindparam("account_id"),
                 lv.table_name == bindparam("table_name"), lv.sector_id == WHOLE))


def read(conn: Connection, account_id: int, table_name: str,
         sector_id: int | None) -> tuple[int, ...]:
    """The versions a list of `table_name` depends on: the whole table's, or (narrowed to
    one sector) that sector's and SOME's. One primary-key read; a missing row is 0.
    Synchronous (`Store.read_now`)."""
    if sector_id is None:
        value = conn.execute(_WHOLE, {"account_id": account_id,
                                      "table_name": table_name}).scalar()
        return (int(value or 0),)
    got = {int(s): v for s, v in conn.execute(
        _NARROW, {"account_id": account_id, "table_name": table_name, "sector_id": sector_id})}
    return (int(got.get(sector_id, 0)), int(got.get(SOME, 0)))


async def lock_accounts(conn: AsyncConnection, account_ids: Iterable[int]) -> None:
    """Take the account rows first (one lock order for every writer, no deadlocks on
    Postgres). On SQLite the write transaction (BEGIN IMMEDIATE) already holds the
    database: nothing to do."""
    if conn.dialect.name == "sqlite":
        return
    ids = sorted(set(account_ids))
    if ids:
        await conn.execute(select(accounts.c.id).where(accounts.c.id.in_(ids))
                           .order_by(accounts.c.id).with_for_update())


async def bump(conn: AsyncConnection, account_ids: Iterable[int],
               changed: dict[str, Iterable[int | None] | None],
               texts: Mapping[str, Sequence[str] | None] | None = None) -> None:
    """Bump the versions of the lists of `changed` (table name → the sectors its write
    touched, None: not known) in these accounts: the whole table's and each sector's given
    (SOME for None or unknown). One upsert statement. Called with the account rows taken
    (`lock_accounts`) — or, the one exception (`users.touch_user`: a login, an accepted
    invitation), without them as the last statement of its transaction, so that it waits on
    nothing while holding the version row. A table in `texts` (a searched one) also logs its
    whole list's new version with what changed (None: not known)."""
    accs = sorted(set(account_ids))
    keys: list[tuple[str, int]] = []
    for table_name, sectors in sorted(changed.items()):
        wanted: set[int] = {WHOLE}
        if sectors is None:
            wanted.add(SOME)
        else:
            wanted.update(SOME if s is None else int(s) for s in sectors)
        keys.extend((table_name, s) for s in sorted(wanted))
    if not accs or not keys:
        return
    rows = [{"account_id": a, "table_name": t, "sector_id": s, "version": 1}
            for a in accs for t, s in keys]
    upsert = sqlite_insert if conn.dialect.name == "sqlite" else pg_insert
    stmt = upsert(list_versions).values(rows)
    stmt = stmt.on_conflict_do_update(
        index_elements=[lv.account_id, lv.table_name, lv.sector_id],
        set_={"version": lv.version + 1})
    if not texts:
        await conn.execute(stmt)
        return
    bumped = (await conn.execute(stmt.returning(
        lv.account_id, lv.table_name, lv.sector_id, lv.version))).all()
    stamp = dt.datetime.now(dt.UTC)
    logged = [{"account_id": a, "table_name": t, "version": v, "created_at": stamp,
               "texts": None if texts[t] is None else _SEP.join(texts[t] or ())}
              for a, t, s, v in bumped if s == WHOLE and t in texts]
    if logged:
        await conn.execute(insert(list_changes), logged)


@cache
def dependents(table_name: str) -> frozenset[str]:
    """The tables whose rows a delete from `table_name` changes through foreign keys
    (ON DELETE CASCADE, followed on; SET NULL, one step), itself included."""
    out = {table_name}
    followed = {table_name}
    todo = [table_name]
    while todo:
        parent = todo.pop()
        for table in metadata.tables.values():
            for fk in table.foreign_keys:
                if fk.column.table.name != parent:
                    continue
                rule = (fk.ondelete or "").upper()
                if rule in ("CASCADE", "SET NULL"):
                    out.add(table.name)
                if rule == "CASCADE" and table.name not in followed:
                    followed.add(table.name)
                    todo.append(table.name)
    return frozenset(out)


def has_sectors(table: Table) -> bool:
    return "sector_id" in table.c


_CHANGES = (select(lc.version, lc.texts)
            .where(lc.account_id == bindparam("account_id"),
                   lc.table_name == bindparam("table_name"),
                   lc.version > bindparam("since"), lc.version <= bindparam("upto")))


def changes(conn: Connection, account_id: int, table_name: str, since: int,
            upto: int) -> list[str] | None:
    """The searched texts the versions after `since` up to `upto` of a table's whole list
    changed; None when one of them is not logged or not known (then anything may have
    changed). One index range read. Synchronous (`Store.read_now`)."""
    if upto <= since or upto - since > CHANGES_MAX:
        return None
    rows = conn.execute(_CHANGES, {"account_id": account_id, "table_name": table_name,
                                   "since": since, "upto": upto}).all()
    if len(rows) != upto - since or any(texts is None for _, texts in rows):
        return None
    return [text for _, texts in rows for text in str(texts).split(_SEP) if text]


def _fold(text: str) -> str:
    """Case and accents away, wider than any store's search folds (SQLite's LIKE, FTS5's
    trigram folding, Postgres' lower): what matches there matches here too."""
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def affects(words: Sequence[str], texts: Iterable[str]) -> bool:
    """Whether a change of rows with these searched texts may change the results of a
    search for `words` (every word a substring): when some text holds every word, or a
    word is not plain ASCII (its folding is left to the store). Errs on yes."""
    if not words or not all(w.isascii() for w in words):
        return True
    folded = [_fold(w) for w in words]
    return any(all(w in found for w in folded) for found in map(_fold, texts))


async def purge_changes(conn: AsyncConnection, *, before: dt.datetime) -> int:
    """Forget logged changes older than `before` (a total kept that long is recounted)."""
    result = await conn.execute(delete(list_changes).where(lc.created_at < before))
    return int(result.rowcount or 0)
