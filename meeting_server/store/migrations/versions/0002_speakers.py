"""speakers: requests to speak and the default speaking time

Revision ID: 0002_speakers
Revises: 0001_initial
Create Date: 2026-11-24 04:35:36.605716
"""
from alembic import op
import sqlalchemy as sa
import meeting_server.store.tables

revision = '0002_speakers'
down_revision = '0001_initial'
branch_labels = None
depends_on = None

def upgrade() -> None:

    op.create_table('speaker_setting',
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('default_limit_s', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('meeting_id')
    )
    op.create_table('speak_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('agenda_item_id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('requested_at', meeting_server.store.tables.UTCDateTime(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('started_at', meeting_server.store.tables.UTCDateTime(), nullable=True),
    sa.Column('ended_at', meeting_server.store.tables.UTCDateTime(), nullable=True),
    sa.Column('limit_s', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['agenda_item_id'], ['agenda_item.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['participant_id'], ['participant.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('speak_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_speak_request_meeting_id'), ['meeting_id'], unique=False)
        batch_op.create_index('uq_speak_request_open', ['participant_id', 'agenda_item_id'], unique=True, sqlite_where=sa.text("status IN ('waiting', 'speaking')"), postgresql_where=sa.text("status IN ('waiting', 'speaking')"))
        batch_op.create_index('uq_speak_request_speaking', ['meeting_id'], unique=True, sqlite_where=sa.text("status = 'speaking'"), postgresql_where=sa.text("status = 'speaking'"))

def downgrade() -> None:

    with op.batch_alter_table('speak_request', schema=None) as batch_op:
        batch_op.drop_index('uq_speak_request_speaking', sqlite_where=sa.text("status = 'speaking'"), postgresql_where=sa.text("status = 'speaking'"))
        batch_op.drop_index('uq_speak_request_open', sqlite_where=sa.text("status IN ('waiting', 'speaking')"), postgresql_where=sa.text("status IN ('waiting', 'speaking')"))
        batch_op.drop_index(batch_op.f('ix_speak_request_meeting_id'))

    op.drop_table('speak_request')
    op.drop_table('speaker_setting')

