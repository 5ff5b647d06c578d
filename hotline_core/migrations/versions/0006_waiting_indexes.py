"""inbound events and tickets waiting for a job: partial indexes

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 22:50:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    waiting = sa.text("processed_at IS NULL")
    op.create_index(
        "ix_inbound_events_waiting",
        "inbound_events",
        ["id"],
        unique=False,
        postgresql_where=waiting,
        sqlite_where=waiting,
    )
    op.create_index(
        "ix_tickets_waiting", "tickets", ["id"], unique=False, postgresql_where=waiting, sqlite_where=waiting
    )


def downgrade() -> None:
    op.drop_index("ix_tickets_waiting", table_name="tickets")
    op.drop_index("ix_inbound_events_waiting", table_name="inbound_events")
