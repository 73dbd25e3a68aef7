"""device_session.owner: the server process holding a connection, named as a lease owner, so that whether it still
runs is known on any box (its process lease, domain/leases.process), not only by its pid on this one

Revision ID: 0014_device_owner
Revises: 0013_leases
Create Date: 2026-12-04 13:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0014_device_owner'
down_revision = "0013_leases"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('device_session', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owner', sa.String(length=80), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('device_session', schema=None) as batch_op:
        batch_op.drop_column('owner')
