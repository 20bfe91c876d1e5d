"""keywords(account_id, status, volume): a status-filtered list ordered by volume reads in order

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain CREATE INDEX (no batch): a batch copy on SQLite would drop AUTOINCREMENT.
    op.create_index("ix_keywords_account_id_status_volume", "keywords",
                    ["account_id", "status", "volume"])


def downgrade() -> None:
    op.drop_index("ix_keywords_account_id_status_volume", table_name="keywords")
