"""billing: the credit ledger (credit_transactions) and what each charge paid for (credit_usage)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import igny8d.store.schema

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = igny8d.store.schema.UTCDateTime(timezone=True)


def upgrade() -> None:
    # New tables only (plain CREATE TABLE / CREATE INDEX): no existing table is batch-copied.
    op.create_table(
        "credit_transactions",
        sa.Column("id", _ID, nullable=False),
        sa.Column("account_id", _ID, nullable=False),
        sa.Column("user_id", _ID, nullable=True),
        sa.Column("transaction_type", sa.String(length=20), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("balance_after", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"],
                                name=op.f("fk_credit_transactions_account_id_accounts"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_credit_transactions_user_id_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_transactions")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_credit_transactions_account_id_created_at", "credit_transactions",
                    ["account_id", "created_at"])
    op.create_index("ix_credit_transactions_account_id_transaction_type_created_at",
                    "credit_transactions", ["account_id", "transaction_type", "created_at"])
    op.create_index("ix_credit_transactions_account_id_reference", "credit_transactions",
                    ["account_id", "reference"])
    op.create_index("ix_credit_transactions_user_id", "credit_transactions", ["user_id"])

    op.create_table(
        "credit_usage",
        sa.Column("id", _ID, nullable=False),
        sa.Column("account_id", _ID, nullable=False),
        sa.Column("user_id", _ID, nullable=True),
        sa.Column("transaction_id", _ID, nullable=False),
        sa.Column("operation_type", sa.String(length=30), nullable=False),
        sa.Column("credits_used", sa.Integer(), nullable=False),
        sa.Column("credits_refunded", sa.Integer(), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("cost", sa.Float(), nullable=True),
        sa.Column("tokens", sa.Integer(), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"],
                                name=op.f("fk_credit_usage_account_id_accounts"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_credit_usage_user_id_users"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["transaction_id"], ["credit_transactions.id"],
                                name=op.f("fk_credit_usage_transaction_id_credit_transactions"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_usage")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_credit_usage_account_id_created_at", "credit_usage",
                    ["account_id", "created_at"])
    op.create_index("ix_credit_usage_account_id_operation_type_created_at", "credit_usage",
                    ["account_id", "operation_type", "created_at"])
    op.create_index("ix_credit_usage_account_id_reference", "credit_usage",
                    ["account_id", "reference"])
    op.create_index("ix_credit_usage_transaction_id", "credit_usage", ["transaction_id"])
    op.create_index("ix_credit_usage_user_id", "credit_usage", ["user_id"])


def downgrade() -> None:
    op.drop_table("credit_usage")
    op.drop_table("credit_transactions")
