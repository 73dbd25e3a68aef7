"""device_session: which cards have a screen connected now, for every server process

Revision ID: 0006_device_session
Revises: 0005_voting
Create Date: 2026-12-03 18:00:00
"""
from alembic import op
import sqlalchemy as sa
import meeting_server.store.tables


revision = '0006_device_session'
down_revision = "0005_voting"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('device_session',
    sa.Column('sid', sa.String(length=64), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('pid', sa.Integer(), nullable=False),
    sa.Column('connected_at', meeting_server.store.tables.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['participant_id'], ['participant.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('sid')
    )
    with op.batch_alter_table('device_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_device_session_participant_id'), ['participant_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('device_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_device_session_participant_id'))
    op.drop_table('device_session')
