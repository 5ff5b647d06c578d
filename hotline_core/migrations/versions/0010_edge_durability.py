"""edge durability: outbox claims, per-event retry backoff for inbound events

Revision ID: 0010
Revises: 0006
Create Date: 2026-12-01 22:00:00
"""

import sqlalchemy as sa
from alembic import op

import hotline_core.db

revision = "0010"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_messages") as batch:
        batch.add_column(sa.Column("claimed_at", hotline_core.db.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table("inbound_events") as batch:
        batch.add_column(sa.Column("next_attempt_at", hotline_core.db.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("failed_at", hotline_core.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("inbound_events") as batch:
        batch.drop_column("failed_at")
        batch.drop_column("next_attempt_at")
    with op.batch_alter_table("outbox_messages") as batch:
        batch.drop_column("claimed_at")
