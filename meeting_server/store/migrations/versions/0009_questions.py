"""questions: question time (chất vấn), and follow-up or debate requests to speak linked to a question

Revision ID: 0009_questions
Revises: 0008_login_session
Create Date: 2026-12-04 02:50:00
"""
from alembic import op
import sqlalchemy as sa
import meeting_server.store.tables


revision = '0009_questions'
down_revision = '0008_login_session'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('question',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('addressee_name', sa.String(length=120), nullable=False),
    sa.Column('addressee_title', sa.String(length=200), nullable=False),
    sa.Column('topic', sa.String(length=200), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('on_paper', sa.Boolean(), nullable=False),
    sa.Column('filed_at', meeting_server.store.tables.UTCDateTime(), nullable=False),
    sa.Column('filed_by', sa.String(length=120), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('agenda_item_id', sa.Integer(), nullable=True),
    sa.Column('called_at', meeting_server.store.tables.UTCDateTime(), nullable=True),
    sa.Column('answer_started_at', meeting_server.store.tables.UTCDateTime(), nullable=True),
    sa.Column('ended_at', meeting_server.store.tables.UTCDateTime(), nullable=True),
    sa.Column('ended_by', sa.String(length=120), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=True),
    sa.Column('written_answer_at', meeting_server.store.tables.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['agenda_item_id'], ['agenda_item.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['participant_id'], ['participant.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('question', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_question_meeting_id'), ['meeting_id'], unique=False)
        batch_op.create_index('uq_question_called', ['meeting_id'], unique=True,
                              sqlite_where=sa.text("status = 'called'"), postgresql_where=sa.text("status = 'called'"))
    with op.batch_alter_table('speak_request', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=20), server_default='speak', nullable=False))
        batch_op.add_column(sa.Column('question_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_speak_request_question_id', 'question', ['question_id'], ['id'],
                                    ondelete='SET NULL')


def downgrade() -> None:
    with op.batch_alter_table('speak_request', schema=None) as batch_op:
        batch_op.drop_constraint('fk_speak_request_question_id', type_='foreignkey')
        batch_op.drop_column('question_id')
        batch_op.drop_column('kind')
    with op.batch_alter_table('question', schema=None) as batch_op:
        batch_op.drop_index('uq_question_called', sqlite_where=sa.text("status = 'called'"),
                            postgresql_where=sa.text("status = 'called'"))
        batch_op.drop_index(batch_op.f('ix_question_meeting_id'))
    op.drop_table('question')
