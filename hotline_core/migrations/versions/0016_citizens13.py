"""citizens are never stranded: the SMS conversation's "new complaint" mark

Revision ID: 0015_citizens13
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

import hotline_core.db

revision = "0015_citizens13"
down_revision = "0015_desk13"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sms_conversations",
        sa.Column("phone", sa.String(length=40), nullable=False),
        sa.Column("new_since", hotline_core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", hotline_core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("phone", name=op.f("pk_sms_conversations")),
    )


def downgrade() -> None:
    op.drop_table("sms_conversations")
