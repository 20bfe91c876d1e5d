"""keyword search index: FTS5 trigram table on SQLite, pg_trgm GIN index on Postgres

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

Both answer `LIKE '%word%'`-style substring search on `keywords.keyword_norm` without a scan.
They live outside the Core metadata (the drift test skips them by name): SQLite's is a
virtual table kept in step by triggers, Postgres's an operator-class index.
"""

from collections.abc import Sequence

from alembic import op

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

_POSTGRES = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX ix_keywords_keyword_norm_trgm ON keywords "
    "USING gin (keyword_norm gin_trgm_ops)",
]


def upgrade() -> None:
    for statement in _SQLITE if op.get_bind().dialect.name == "sqlite" else _POSTGRES:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("keywords_fts_insert", "keywords_fts_delete", "keywords_fts_update"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS keywords_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_keywords_keyword_norm_trgm")
