"""lease: one owner at a time across server processes (the countdown of a poll, processing an upload)

Revision ID: 0013_leases
Revises: 0012_resolutions
Create Date: 2026-12-04 10:00:00
"""
from alembic import op
import sqlalchemy as sa

from meeting_server.store.tables import UTCDateTime


revision = '0013_leases'
down_revision = "0012_resolutions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('lease',
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('owner', sa.String(length=80), nullable=False),
    sa.Column('expires_at', UTCDateTime(), nullable=False),
    sa.Column('taken_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    with op.batch_alter_table('lease', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lease_owner'), ['owner'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('lease', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lease_owner'))
    op.drop_table('lease')
