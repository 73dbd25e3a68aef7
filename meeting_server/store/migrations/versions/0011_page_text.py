"""document_page_text: each page's text as headings and paragraphs for reading mode on a phone (PDF text or OCR)

Revision ID: 0011_page_text
Revises: 0010_comments
Create Date: 2026-12-04 03:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0011_page_text'
down_revision = "0010_comments"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('document_page_text',
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.Column('page_no', sa.Integer(), nullable=False),
    sa.Column('blocks', sa.Text(), nullable=False),
    sa.Column('source', sa.String(length=8), nullable=False),
    sa.ForeignKeyConstraint(['document_id'], ['document.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('document_id', 'page_no')
    )


def downgrade() -> None:
    op.drop_table('document_page_text')
