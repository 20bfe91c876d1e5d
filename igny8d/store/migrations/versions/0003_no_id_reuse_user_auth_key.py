"""ids are never reused (SQLite AUTOINCREMENT); a random per-user auth key bound into tokens

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Parents first: each copy must find the rows it references (foreign keys are off while
#: Store.migrate runs on SQLite, and checked again after).
_TENANT_TABLES = ("accounts", "users", "sites", "sectors", "site_user_access")

users = sa.table("users", sa.column("id"), sa.column("auth_key"))


def upgrade() -> None:
    bind = op.get_bind()
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("auth_key", sa.String(32), nullable=True))
    ids = [row.id for row in bind.execute(sa.select(users.c.id))]
    for user_id in ids:
        bind.execute(users.update().where(users.c.id == user_id)
                     .values(auth_key=secrets.token_hex(16)))
    with op.batch_alter_table("users") as batch:
        batch.alter_column("auth_key", existing_type=sa.String(32), nullable=False)
    if bind.dialect.name == "sqlite":
        for name in _TENANT_TABLES:
            with op.batch_alter_table(name, recreate="always",
                                      table_kwargs={"sqlite_autoincrement": True}):
                pass


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("auth_key")
