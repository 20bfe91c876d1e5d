"""keyword search index: FTS5 trigram table on SQLite, pg_trgm GIN index on Postgres

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

Both answer `LIKE '%word%'`-style substring search on `keywords.keyword_norm` without a scan.
They live outside the Core metadata (the drift test skips them by name): SQLite's is a
virtual table kept in step by triggers, Postgres's an operator-class index.
"""

import logging
from collections.abc import Sequence

from alembic import op
from sqlalchemy.exc import DBAPIError

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQLITE = [
    "CREATE VIRTUAL TABLE keywords_fts USING fts5(keyword_norm, content='keywords', "
    "content_rowid='id', tokenize='trigram')",
    "INSERT INTO keywords_fts(keywords_fts) VALUES ('rebuild')",
    "CREATE TRIGGER keywords_fts_insert AFTER INSERT ON keywords BEGIN "
    "INSERT INTO keywords_fts(rowid, keyword_norm) VALUES (new.id, new.keyword_norm); END",
    "CREATE TRIGGER keywords_fts_delete AFTER DELETE ON keywords BEGIN "
    "INSERT INTO keywords_fts(keywords_fts, rowid, keyword_norm) "
    "VALUES ('delete', old.id, old.keyword_norm); END",
    "CREATE TRIGGER keywords_fts_update AFTER UPDATE OF keyword_norm ON keywords BEGIN "
    "INSERT INTO keywords_fts(keywords_fts, rowid, keyword_norm) "
    "VALUES ('delete', old.id, old.keyword_norm); "
    "INSERT INTO keywords_fts(rowid, keyword_norm) VALUES (new.id, new.keyword_norm); END",
]

_POSTGRES_INDEX = ("CREATE INDEX ix_keywords_keyword_norm_trgm ON keywords "
                  "USING gin (keyword_norm gin_trgm_ops)")

log = logging.getLogger("alembic.runtime.migration")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for statement in _SQLITE:
            op.execute(statement)
        return
    # A Postgres without the contrib package, or a role that may not create the extension,
    # gets no index: search then tests each row (the same answers, slower), and the
    # migration goes on. The savepoint keeps a refusal from ending the transaction.
    available = bind.exec_driver_sql(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'").first()
    if available is None:
        log.warning("pg_trgm is not available: keyword search runs without its index")
        return
    try:
        with bind.begin_nested():
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except DBAPIError as exc:
        log.warning("pg_trgm could not be created (%s): keyword search runs without its "
                    "index", str(exc.orig).splitlines()[0])
        return
    op.execute(_POSTGRES_INDEX)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("keywords_fts_insert", "keywords_fts_delete", "keywords_fts_update"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS keywords_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_keywords_keyword_norm_trgm")
