"""resolution: the register of resolutions (number and date of issue of a poll that passed)

Revision ID: 0012_resolutions
Revises: 0011_page_text
Create Date: 2026-12-04 03:00:00
"""
from alembic import op
import sqlalchemy as sa

from meeting_server.store.tables import UTCDateTime


revision = '0012_resolutions'
down_revision = "0011_page_text"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('resolution',
    sa.Column('poll_id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('issued_on', sa.String(length=10), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['document_id'], ['document.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['poll_id'], ['poll.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('poll_id')
    )
    with op.batch_alter_table('resolution', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_resolution_meeting_id'), ['meeting_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('resolution', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_resolution_meeting_id'))
    op.drop_table('resolution')
