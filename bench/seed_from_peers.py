"""Build igny8d's embedded database for the bench from the peers' shared peers.sqlite3.

    .venv/bin/python bench/seed_from_peers.py --peers-db /tmp/igny8d-peers/peers.sqlite3 \
        --data-dir /tmp/igny8d-peers/igny8d-data

Rebuilds from scratch on every run (idempotent): removes the data dir's igny8d.db (and its
-wal/-shm), applies igny8d's own migrations (`Store.migrate()`, what `igny8d migrate` does),
then imports the peers' accounts and users through igny8d's store functions
(`igny8d.store.accounts`, `igny8d.store.users`). Password hashes are copied as they are: the
peers store Django's `bcrypt_sha256$` format at bcrypt cost 12, which is igny8d's own format, so
owner@acme.example / password123 logs in on igny8d exactly as on the peers (and pays the
same ~0.2 s of bcrypt per login). Account slugs are set to the peers' slugs, and ids come out
equal to the peers' ids on a fresh database, so login answers are comparable.

Then the peers' sites, sectors, clusters and keywords, with the peers' ids, into igny8d's own
tables (igny8d.store.schema) in batched Core inserts (igny8d.store.writes.insert_many):

* keywords keep `keyword`, `volume`, `difficulty`, `intent`, `cluster_id`, `site_id`,
  `sector_id`, `created_at`/`updated_at` (so the default `-created_at` page is the peers'
  page); `keyword_norm` is the text lower-cased with white space folded;
* statuses: the peers have `new active mapped archived`, igny8d `active pending archived`:
  `active` and `archived` stay, `new` and `mapped` become `pending` (so `status=active` selects
  exactly the peers' rows: the bench's keywords_filtered still has the peers' 249 matches);
* igny8d refuses the same keyword twice in a sector (unique `(sector_id, keyword_norm)`); the
  peers' generator repeats ~5.9 % of its phrases within a sector. Those repeats keep their
  text, id and every listed field; only their `keyword_norm` gets k invisible separators
  (U+2063) appended for the k-th repeat, so the row count (50,000 per account), every page,
  count and search answer stay the peers'. A search for U+2063 is the one thing that differs.

Ends with `ANALYZE`, like the peers' seed.py. Needs igny8d importable (run it with the repo's
.venv python). The data dir's generated secret_key is kept between runs.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PEERS_DIR = REPO.parent / "shared" / "peers"
CHECK_EMAIL, CHECK_PASSWORD = "owner@acme.example", "password123"


#: the peers' keyword statuses -> igny8d's (active, pending, archived); see the docstring
STATUS_MAP = {"active": "active", "archived": "archived", "new": "pending", "mapped": "pending"}
#: appended (k times for the k-th repeat) to keyword_norm of a phrase repeated in one sector
REPEAT_MARK = "\u2063"
BATCH = 5000


def read_peers(peers_db: Path) -> dict[str, list[dict[str, Any]]]:
    """The peers' tables (schema: SCHEMA at the top of the peers' seed.py), as dicts."""
    queries = {
        "accounts": "SELECT id, name, slug FROM accounts ORDER BY id",
        "users": "SELECT id, account_id, email, username, password, role, is_active"
                 " FROM users ORDER BY id",
        "sites": "SELECT id, account_id, name, domain, created_at FROM sites ORDER BY id",
        "sectors": "SELECT id, account_id, site_id, name, created_at FROM sectors ORDER BY id",
        "clusters": "SELECT id, account_id, site_id, sector_id, name, status, created_at"
                    " FROM clusters ORDER BY id",
        "keywords": "SELECT id, account_id, site_id, sector_id, cluster_id, keyword, volume,"
                    " difficulty, intent, status, created_at, updated_at"
                    " FROM keywords ORDER BY id",
    }
    # Read-only URI: never create or touch the shared database.
    con = sqlite3.connect(f"file:{peers_db}?mode=ro", uri=True)
    con.row_factory = sqlite3.Row
    try:
        return {name: [dict(r) for r in con.execute(sql)] for name, sql in queries.items()}
    finally:
        con.close()


def peer_time(value: str) -> dt.datetime:
    """The peers store UTC as 'YYYY-MM-DD HH:MM:SS'; igny8d's store wants aware datetimes."""
    return dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC)


def keyword_norm(text: str) -> str:
    return " ".join(text.lower().split())


def keyword_rows(peer_keywords: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """igny8d rows for the peers' keywords, and how many repeats got a marked keyword_norm."""
    seen: dict[tuple[int, str], int] = {}
    rows, repeats = [], 0
    for k in peer_keywords:
        norm = keyword_norm(k["keyword"])
        n = seen.get((k["sector_id"], norm), 0)
        seen[(k["sector_id"], norm)] = n + 1
        if n:
            repeats += 1
        rows.append({
            "id": k["id"], "account_id": k["account_id"], "site_id": k["site_id"],
            "sector_id": k["sector_id"], "keyword": k["keyword"],
            "keyword_norm": norm + REPEAT_MARK * n, "seed_keyword_id": None,
            "volume": k["volume"], "difficulty": k["difficulty"], "intent": k["intent"],
            "status": STATUS_MAP[k["status"]], "cluster_id": k["cluster_id"],
            "cluster_source": "manual" if k["cluster_id"] is not None else None,
            "created_at": peer_time(k["created_at"]), "updated_at": peer_time(k["updated_at"]),
        })
    return rows, repeats


def remove_database(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def fresh_database(data_dir: Path) -> tuple[str, Path]:
    """Empty the data dir's embedded database; returns its SQLAlchemy URL and path."""
    from igny8d.settings import load_settings

    # env={}: an IGNY8_DATABASE_URL or IGNY8_CONFIG in the caller's environment must not
    # redirect the rebuild to another database; the bench database is the embedded file.
    settings = load_settings(env={}, data_dir=data_dir.resolve())
    db_path = data_dir.resolve() / "igny8d.db"
    data_dir.mkdir(parents=True, exist_ok=True)
    remove_database(db_path)
    return settings.effective_database_url, db_path


async def build(url: str, peers: dict[str, list[dict[str, Any]]], plan_slug: str,
                check: bool) -> dict[str, Any]:
    from sqlalchemy import update

    from igny8d.security import PasswordHasher
    from igny8d.store import accounts as store
    from igny8d.store import reference as reference_store
    from igny8d.store import users as user_store
    from igny8d.store.clusters import CLUSTERS
    from igny8d.store.engine import Store
    from igny8d.store.keywords import KEYWORDS
    from igny8d.store.schema import accounts as accounts_table
    from igny8d.store.sectors import SECTORS
    from igny8d.store.sites import SITES
    from igny8d.store.writes import insert_many
    from igny8d.text import slugify

    db = Store.from_url(url)
    account_ids: dict[int, int] = {}
    user_ids: dict[int, int] = {}
    counts: dict[str, int] = {}
    try:
        await db.migrate()
        revision = await db.current_revision()
        async with db.begin() as conn:
            plan = await reference_store.plan_by_slug(conn, plan_slug)
            for acc in peers["accounts"]:
                row = await store.create_account(conn, name=acc["name"], plan=plan)
                # igny8d derives the slug from the name ("acme-inc"); keep the peers' ("acme")
                # so the login answer's account summary is the same.
                await conn.execute(update(accounts_table)
                                   .where(accounts_table.c.id == row["id"])
                                   .values(slug=acc["slug"]))
                account_ids[acc["id"]] = row["id"]
            for user in peers["users"]:
                row = await user_store.create_user(
                    conn, account_id=account_ids[user["account_id"]], email=user["email"],
                    username=user["username"], password_hash=user["password"],
                    role=user["role"], is_active=bool(user["is_active"]),
                )
                user_ids[user["id"]] = row["id"]
            if any(k != v for k, v in account_ids.items()):
                raise SystemExit(f"account ids differ from the peers' ({account_ids}): the "
                                 "sites, sectors and keywords keep the peers' ids, so the "
                                 "database must be fresh")
            # Sites, sectors, clusters, keywords: the peers' ids, so pages, counts and
            # results_digest compare one to one.
            counts["sites"] = await insert_many(conn, SITES, [
                {"id": s["id"], "account_id": s["account_id"], "name": s["name"],
                 "slug": slugify(s["name"]), "domain": s["domain"], "description": "",
                 "is_active": True, "created_at": peer_time(s["created_at"]),
                 "updated_at": peer_time(s["created_at"])} for s in peers["sites"]])
            counts["sectors"] = await insert_many(conn, SECTORS, [
                {"id": s["id"], "account_id": s["account_id"], "site_id": s["site_id"],
                 "name": s["name"], "slug": slugify(s["name"]), "description": "",
                 "is_active": True, "created_at": peer_time(s["created_at"]),
                 "updated_at": peer_time(s["created_at"])} for s in peers["sectors"]])
            counts["clusters"] = await insert_many(conn, CLUSTERS, [
                {"id": c["id"], "account_id": c["account_id"], "site_id": c["site_id"],
                 "sector_id": c["sector_id"], "name": c["name"], "description": "",
                 "status": c["status"], "created_at": peer_time(c["created_at"]),
                 "updated_at": peer_time(c["created_at"])} for c in peers["clusters"]])
            rows, counts["repeats"] = keyword_rows(peers["keywords"])
            counts["keywords"] = await insert_many(conn, KEYWORDS, rows, batch=BATCH)
        async with db.begin() as conn:
            await conn.exec_driver_sql("ANALYZE")
        if check:
            async with db.read() as conn:
                found = await user_store.find_user_by_email(conn, CHECK_EMAIL)
            hasher = PasswordHasher()
            if found is None or not await hasher.verify(CHECK_PASSWORD, found.password_hash):
                raise SystemExit(f"check failed: {CHECK_EMAIL} / {CHECK_PASSWORD} does not verify")
    finally:
        await db.close()
    return {
        "revision": revision, "counts": counts,
        "accounts": account_ids, "users": user_ids,
        "same_ids": all(k == v for k, v in (*account_ids.items(), *user_ids.items())),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--peers-db", type=Path, default=PEERS_DIR / "peers.sqlite3",
                    help="the peers' seeded database (default: %(default)s)")
    ap.add_argument("--data-dir", type=Path, required=True,
                    help="igny8d data dir to (re)build; igny8d.db is written there")
    ap.add_argument("--plan", default="scale", help="igny8d plan of the imported accounts")
    ap.add_argument("--no-check", action="store_true",
                    help=f"skip the final bcrypt check of {CHECK_EMAIL} (~0.2 s)")
    a = ap.parse_args()
    if not a.peers_db.is_file():
        print(f"no peers database at {a.peers_db}: run the peers' setup_all.sh (or seed.py)",
              file=sys.stderr)
        return 1
    peers = read_peers(a.peers_db)
    if not peers["accounts"] or not peers["users"]:
        print(f"{a.peers_db}: no accounts or users (was the peers' seed.py run?)",
              file=sys.stderr)
        return 1
    url, db_path = fresh_database(a.data_dir)
    t0 = time.monotonic()
    info = asyncio.run(build(url, peers, a.plan, check=not a.no_check))
    c = info["counts"]
    notes = [f"{len(info['accounts'])} accounts, {len(info['users'])} users, {c['sites']} sites, "
             f"{c['sectors']} sectors, {c['clusters']} clusters, {c['keywords']:,} keywords "
             f"({c['repeats']:,} repeated phrases with a marked keyword_norm) from {a.peers_db} "
             f"in {time.monotonic() - t0:.1f} s"]
    if not info["same_ids"]:
        notes.append(f"ids differ from the peers': accounts {info['accounts']}, "
                     f"users {info['users']}")
    if not a.no_check:
        notes.append(f"{CHECK_EMAIL} / {CHECK_PASSWORD} verifies")
    print(f"seeded {db_path} (revision {info['revision']}): " + "; ".join(notes),
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
