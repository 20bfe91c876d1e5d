"""list_changes: what each version of a searched table's list changed, so a kept search
total outlives writes that cannot change it

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from igny8d.store.schema import UTCDateTime

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "list_changes",
        sa.Column("account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  nullable=False),
        sa.Column("table_name", sa.String(length=64), nullable=False),
        sa.Column("version", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("texts", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"],
                                name=op.f("fk_list_changes_account_id_accounts"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("account_id", "table_name", "version",
                                name=op.f("pk_list_changes")),
    )
    op.create_index(op.f("ix_list_changes_created_at"), "list_changes", ["created_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_list_changes_created_at"), table_name="list_changes")
    op.drop_table("list_changes")
