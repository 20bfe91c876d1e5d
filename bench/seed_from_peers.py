"""Build igny8d's embedded database for the bench from the peers' shared peers.sqlite3.

    .venv/bin/python bench/seed_from_peers.py --peers-db /tmp/igny8d-peers/peers.sqlite3 \
        --data-dir /tmp/igny8d-peers/igny8d-data

Rebuilds from scratch on every run (idempotent): removes the data dir's igny8d.db (and its
-wal/-shm), applies igny8d's own migrations (`Store.migrate()`, what `igny8d migrate` does),
then imports the peers' accounts and users through igny8d's store functions
(`igny8d.store.accounts`). Password hashes are copied as they are: the peers store Django's
`bcrypt_sha256$` format at bcrypt cost 12, which is igny8d's own format, so
owner@acme.example / password123 logs in on igny8d exactly as on the peers (and pays the
same ~0.2 s of bcrypt per login). Account slugs are set to the peers' slugs, and ids come out
equal to the peers' ids on a fresh database, so login answers are comparable.

The peers' sites, sectors, clusters and keywords are not imported yet: igny8d has no
keyword tables until the planner lands. Needs igny8d importable (run it with the repo's
.venv python). The data dir's generated secret_key is kept between runs.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PEERS_DIR = REPO.parent / "shared" / "peers"
CHECK_EMAIL, CHECK_PASSWORD = "owner@acme.example", "password123"


def read_peers(peers_db: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The peers' accounts and users (schema: SCHEMA at the top of the peers' seed.py)."""
    # Read-only URI: never create or touch the shared database.
    con = sqlite3.connect(f"file:{peers_db}?mode=ro", uri=True)
    con.row_factory = sqlite3.Row
    try:
        accounts = [dict(r) for r in con.execute(
            "SELECT id, name, slug FROM accounts ORDER BY id")]
        users = [dict(r) for r in con.execute(
            "SELECT id, account_id, email, username, password, role, is_active"
            " FROM users ORDER BY id")]
    finally:
        con.close()
    return accounts, users


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


async def build(
    url: str, peer_accounts: list[dict[str, Any]], peer_users: list[dict[str, Any]],
    plan_slug: str, check: bool,
) -> dict[str, Any]:
    from sqlalchemy import update

    from igny8d.security import PasswordHasher
    from igny8d.store import accounts as store
    from igny8d.store.engine import Store
    from igny8d.store.schema import accounts as accounts_table

    db = Store.from_url(url)
    account_ids: dict[int, int] = {}
    user_ids: dict[int, int] = {}
    try:
        await db.migrate()
        revision = await db.current_revision()
        async with db.begin() as conn:
            plan = await store.plan_by_slug(conn, plan_slug)
            for acc in peer_accounts:
                row = await store.create_account(conn, name=acc["name"], plan=plan)
                # igny8d derives the slug from the name ("acme-inc"); keep the peers' ("acme")
                # so the login answer's account summary is the same.
                await conn.execute(update(accounts_table)
                                   .where(accounts_table.c.id == row["id"])
                                   .values(slug=acc["slug"]))
                account_ids[acc["id"]] = row["id"]
            for user in peer_users:
                row = await store.create_user(
                    conn, account_id=account_ids[user["account_id"]], email=user["email"],
                    username=user["username"], password_hash=user["password"],
                    role=user["role"], is_active=bool(user["is_active"]),
                )
                user_ids[user["id"]] = row["id"]
        if check:
            async with db.read() as conn:
                found = await store.find_user_by_email(conn, CHECK_EMAIL)
            hasher = PasswordHasher()
            if found is None or not await hasher.verify(CHECK_PASSWORD, found.password_hash):
                raise SystemExit(f"check failed: {CHECK_EMAIL} / {CHECK_PASSWORD} does not verify")
    finally:
        await db.close()
    return {
        "revision": revision,
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
    peer_accounts, peer_users = read_peers(a.peers_db)
    if not peer_accounts or not peer_users:
        print(f"{a.peers_db}: no accounts or users (was the peers' seed.py run?)",
              file=sys.stderr)
        return 1
    url, db_path = fresh_database(a.data_dir)
    info = asyncio.run(build(url, peer_accounts, peer_users, a.plan, check=not a.no_check))
    notes = [f"{len(info['accounts'])} accounts, {len(info['users'])} users from {a.peers_db}"]
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
