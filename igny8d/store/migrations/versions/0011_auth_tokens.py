"""auth_tokens: password-reset and invitation links (sha256 of the secret at rest)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import igny8d.store.schema

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('auth_tokens',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('purpose', sa.String(length=16), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('expires_at', igny8d.store.schema.UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', igny8d.store.schema.UTCDateTime(timezone=True), nullable=True),
    sa.Column('voided_at', igny8d.store.schema.UTCDateTime(timezone=True), nullable=True),
    sa.Column('mailed_at', igny8d.store.schema.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', igny8d.store.schema.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_auth_tokens_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auth_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_auth_tokens_token_hash')),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('auth_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_auth_tokens_user_id'), ['user_id'], unique=False)
        batch_op.create_index('ix_auth_tokens_user_id_purpose', ['user_id', 'purpose'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('auth_tokens', schema=None) as batch_op:
        batch_op.drop_index('ix_auth_tokens_user_id_purpose')
        batch_op.drop_index(batch_op.f('ix_auth_tokens_user_id'))
    op.drop_table('auth_tokens')
