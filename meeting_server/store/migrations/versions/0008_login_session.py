"""login_session: server-side sessions; the cookie carries a random session id, not the join token

Revision ID: 0008_login_session
Revises: 0007_signing
Create Date: 2026-12-03 21:50:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0008_login_session'
down_revision = "0007_signing"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('login_session',
    sa.Column('id_hash', sa.String(length=64), nullable=False),
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.Integer(), nullable=False),
    sa.Column('last_seen', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id_hash')
    )
    with op.batch_alter_table('login_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_session_token'), ['token'], unique=False)
        batch_op.create_index(batch_op.f('ix_login_session_last_seen'), ['last_seen'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('login_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_session_last_seen'))
        batch_op.drop_index(batch_op.f('ix_login_session_token'))
    op.drop_table('login_session')
