"""comments: delegates' comments on draft documents (góp ý dự thảo), their answers, and the per-meeting setting

Revision ID: 0010_comments
Revises: 0009_questions
Create Date: 2026-12-04 03:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0010_comments'
down_revision = "0009_questions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('draft_comment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('page_no', sa.Integer(), nullable=True),
    sa.Column('quote', sa.Text(), nullable=False),
    sa.Column('rects', sa.JSON(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('answer', sa.Text(), nullable=False),
    sa.Column('answered_by', sa.String(length=120), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('answered_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['document_id'], ['document.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['participant_id'], ['participant.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('draft_comment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_draft_comment_document_id'), ['document_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_draft_comment_meeting_id'), ['meeting_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_draft_comment_participant_id'), ['participant_id'], unique=False)
    op.create_table('comment_setting',
    sa.Column('meeting_id', sa.Integer(), nullable=False),
    sa.Column('shared_with_delegates', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['meeting_id'], ['meeting.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('meeting_id')
    )


def downgrade() -> None:
    op.drop_table('comment_setting')
    with op.batch_alter_table('draft_comment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_draft_comment_participant_id'))
        batch_op.drop_index(batch_op.f('ix_draft_comment_meeting_id'))
        batch_op.drop_index(batch_op.f('ix_draft_comment_document_id'))
    op.drop_table('draft_comment')
