"""poll.backed_up_at: the backup after a poll's close is done (made, or tried and logged), so that a closed poll
whose backup is still due is seen by every process and made by another one if the process that closed it died
first (realtime/voting.adopt_backups, under the lease `poll:<id>:backup`). Polls closed before this revision count
as done: their backup was made, or lost, under the old rule.

Revision ID: 0015_poll_backup
Revises: 0014_device_owner
Create Date: 2026-12-04 18:10:00
"""
from alembic import op
import sqlalchemy as sa

from meeting_server.store.tables import UTCDateTime


revision = '0015_poll_backup'
down_revision = "0014_device_owner"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('poll', schema=None) as batch_op:
        batch_op.add_column(sa.Column('backed_up_at', UTCDateTime(), nullable=True))
    op.execute("UPDATE poll SET backed_up_at = COALESCE(closed_at, created_at) WHERE state = 'closed'")


def downgrade() -> None:
    with op.batch_alter_table('poll', schema=None) as batch_op:
        batch_op.drop_column('backed_up_at')
