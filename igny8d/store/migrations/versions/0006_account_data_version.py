"""accounts.data_version: bumped by every write to an account's data (list count cache)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN: a batch (copy-and-rename) on SQLite would drop AUTOINCREMENT.
    op.add_column("accounts", sa.Column("data_version", sa.BigInteger(), nullable=False,
                                        server_default=sa.text("0")))


def downgrade() -> None:
    with op.batch_alter_table("accounts", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_column("data_version")
