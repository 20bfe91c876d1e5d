"""jobs: background work as rows (state, progress meta, result, lease)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import igny8d.store.schema

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # A new table only (plain CREATE TABLE / CREATE INDEX): no existing table is batch-copied.
    op.create_table(
        "jobs",
        sa.Column("id", _ID, nullable=False),
        sa.Column("task_id", sa.String(length=36), nullable=False),
        sa.Column("account_id", _ID, nullable=False),
        sa.Column("user_id", _ID, nullable=True),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("payload", igny8d.store.schema.JSONDoc(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("meta", igny8d.store.schema.JSONDoc(), nullable=False),
        sa.Column("result", igny8d.store.schema.JSONDoc(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(length=100), nullable=True),
        sa.Column("lease_expires_at", igny8d.store.schema.UTCDateTime(timezone=True),
                  nullable=True),
        sa.Column("created_at", igny8d.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", igny8d.store.schema.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", igny8d.store.schema.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", igny8d.store.schema.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"],
                                name=op.f("fk_jobs_account_id_accounts"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_jobs_user_id_users"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
        sa.UniqueConstraint("task_id", name=op.f("uq_jobs_task_id")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_jobs_state_created_at", "jobs", ["state", "created_at"])
    op.create_index("ix_jobs_state_lease_expires_at", "jobs", ["state", "lease_expires_at"])
    op.create_index("ix_jobs_state_finished_at", "jobs", ["state", "finished_at"])
    op.create_index("ix_jobs_account_id_created_at", "jobs", ["account_id", "created_at"])
    op.create_index("ix_jobs_user_id", "jobs", ["user_id"])


def downgrade() -> None:
    op.drop_table("jobs")
