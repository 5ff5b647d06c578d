"""cache stamps: a version token for the directory, classifier and routing settings that workers cache

Revision ID: 0019_routing14
Revises: 0015_edge11b
"""

import secrets

import sqlalchemy as sa
from alembic import op

import hotline_core.db

revision = "0019_routing14"
down_revision = "0015_edge11b"
branch_labels = None
depends_on = None


def upgrade() -> None:
    stamps = op.create_table(
        "cache_stamps",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("token", sa.String(length=40), nullable=False),
        sa.Column("changed_at", hotline_core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_cache_stamps")),
    )
    op.bulk_insert(
        stamps, [{"name": "directory", "token": secrets.token_hex(16), "changed_at": hotline_core.db.utcnow()}]
    )


def downgrade() -> None:
    op.drop_table("cache_stamps")
