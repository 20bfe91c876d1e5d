"""keyword list indexes end in id: a page ordered by (column, id) reads in index order

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06

Every list order ends in the id (equal values keep one order across pages). On SQLite an
index already ends in the rowid; on Postgres it did not, so a page ordered by created_at read
and sorted all the rows sharing a created_at — an import stamps every row alike, which made
the default page of 50k imported keywords an incremental sort of 25k rows (measured: 9 ms
of server time, vs 0.1 ms read in order). Same names, the id added.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: name -> the columns before the id
_INDEXES = {
    "ix_keywords_account_id_created_at": ["account_id", "created_at"],
    "ix_keywords_account_id_volume": ["account_id", "volume"],
    "ix_keywords_account_id_difficulty": ["account_id", "difficulty"],
    "ix_keywords_account_id_status_created_at": ["account_id", "status", "created_at"],
    "ix_keywords_account_id_status_volume": ["account_id", "status", "volume"],
}


def upgrade() -> None:
    # Plain DROP/CREATE INDEX (no batch): a batch copy on SQLite would drop AUTOINCREMENT.
    for name, columns in _INDEXES.items():
        op.drop_index(name, table_name="keywords")
        op.create_index(name, "keywords", [*columns, "id"])


def downgrade() -> None:
    for name, columns in _INDEXES.items():
        op.drop_index(name, table_name="keywords")
        op.create_index(name, "keywords", columns)
