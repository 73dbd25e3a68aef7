"""minutes: versions of a meeting's minutes (draft texts, then the frozen signed PDF)

Revision ID: 0003_minutes
Revises: 0002_speakers
"""

import sqlalchemy as sa
from alembic import op

import meeting_server.store.tables

revision = "0003_minutes"
down_revision = "0002_speakers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "minutes_draft",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("previous_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("texts", sa.JSON(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("updated_at", meeting_server.store.tables.UTCDateTime(), nullable=False),
        sa.Column("finalized_at", meeting_server.store.tables.UTCDateTime(), nullable=True),
        sa.Column("finalized_by", sa.String(length=120), nullable=False),
        sa.Column("record_json", sa.Text(), nullable=True),
        sa.Column("record_sha256", sa.String(length=64), nullable=False),
        sa.Column("audit_head", sa.String(length=64), nullable=False),
        sa.Column("pdf_path", sa.String(length=300), nullable=False),
        sa.Column("pdf_sha256", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["meeting_id"], ["meeting.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["previous_id"], ["minutes_draft.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("meeting_id", "version", name="uq_minutes_version"),
    )
    with op.batch_alter_table("minutes_draft", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_minutes_draft_meeting_id"), ["meeting_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("minutes_draft", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_minutes_draft_meeting_id"))
    op.drop_table("minutes_draft")
