"""signing: each signer's own step on a prepared minutes PDF, and PIN-sealed signer keys

Revision ID: 0007_signing
Revises: 0006_device_session
Create Date: 2026-12-03 17:55:00
"""
from alembic import op
import sqlalchemy as sa
import meeting_server.store.tables


revision = '0007_signing'
down_revision = "0006_device_session"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('minutes_draft', schema=None) as batch_op:
        batch_op.add_column(sa.Column('prepared_at', meeting_server.store.tables.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('prepared_by', sa.String(length=120), nullable=False, server_default=""))
        batch_op.add_column(sa.Column('prepared_path', sa.String(length=300), nullable=False, server_default=""))
        batch_op.add_column(sa.Column('prepared_sha256', sa.String(length=64), nullable=False, server_default=""))
        batch_op.add_column(sa.Column('prepared_pages', sa.Integer(), nullable=False, server_default="0"))
    op.create_table('minutes_signature',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('draft_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('field', sa.String(length=40), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=True),
    sa.Column('signer_name', sa.String(length=120), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('method', sa.String(length=20), nullable=False),
    sa.Column('signed_at', meeting_server.store.tables.UTCDateTime(), nullable=True),
    sa.Column('cert_subject', sa.Text(), nullable=False),
    sa.Column('pdf_path', sa.String(length=300), nullable=False),
    sa.Column('pdf_sha256', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['draft_id'], ['minutes_draft.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['participant_id'], ['participant.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('draft_id', 'role', name='uq_minutes_signature_role')
    )
    with op.batch_alter_table('minutes_signature', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_minutes_signature_draft_id'), ['draft_id'], unique=False)
    op.create_table('signer_key',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('person_name', sa.String(length=120), nullable=False),
    sa.Column('cert_pem', sa.Text(), nullable=False),
    sa.Column('sealed_key', sa.LargeBinary(), nullable=False),
    sa.Column('failed_attempts', sa.Integer(), nullable=False),
    sa.Column('locked_until', meeting_server.store.tables.UTCDateTime(), nullable=True),
    sa.Column('created_at', meeting_server.store.tables.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('role', 'person_name', name='uq_signer_key_person')
    )


def downgrade() -> None:
    op.drop_table('signer_key')
    with op.batch_alter_table('minutes_signature', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_minutes_signature_draft_id'))
    op.drop_table('minutes_signature')
    with op.batch_alter_table('minutes_draft', schema=None) as batch_op:
        batch_op.drop_column('prepared_pages')
        batch_op.drop_column('prepared_sha256')
        batch_op.drop_column('prepared_path')
        batch_op.drop_column('prepared_by')
        batch_op.drop_column('prepared_at')
