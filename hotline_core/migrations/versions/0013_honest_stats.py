"""honest statistics: clock stop and due times on the ticket facts, judged when read

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 21:40:00
"""

import sqlalchemy as sa
from alembic import op

from hotline_core.db import UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

COLUMNS = ("signed_at", "contacted_at", "responded_at", "resolved_at", "sign_due_at", "resolve_due_at")


def upgrade() -> None:
    with op.batch_alter_table("ticket_facts") as batch:
        for name in COLUMNS:
            batch.add_column(sa.Column(name, UTCDateTime(timezone=True), nullable=True))
    # Facts built before this revision lack the times: rebuild them all on the next refresh.
    op.execute("DELETE FROM directory_settings WHERE key = 'stats_watermark'")


def downgrade() -> None:
    with op.batch_alter_table("ticket_facts") as batch:
        for name in COLUMNS:
            batch.drop_column(name)
