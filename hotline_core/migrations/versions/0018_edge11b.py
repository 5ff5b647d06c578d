"""web acknowledgements: one row per number, claimed atomically (one acknowledgement per window)

Revision ID: 0015_edge11b
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

import hotline_core.db

revision = "0015_edge11b"
down_revision = "0015_units13"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_acknowledgements",
        sa.Column("phone", sa.String(length=40), nullable=False),
        sa.Column("sent_at", hotline_core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("phone", name=op.f("pk_web_acknowledgements")),
    )


def downgrade() -> None:
    op.drop_table("web_acknowledgements")
