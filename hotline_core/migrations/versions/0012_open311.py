"""Open311 GeoReport v2: API keys, the requests filed through it, client updates, service attributes

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 21:40:00
"""

import sqlalchemy as sa
from alembic import op

import hotline_core.db

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("categories") as batch_op:
        batch_op.add_column(sa.Column("open311_attributes", sa.JSON(), nullable=False, server_default="[]"))
    op.create_table(
        "open311_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("key_prefix", sa.String(length=12), nullable=False),
        sa.Column("rate_limit", sa.String(length=40), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", hotline_core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("rotated_at", hotline_core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", hotline_core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", hotline_core.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_open311_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_open311_keys_key_hash")),
        sa.UniqueConstraint("name", name=op.f("uq_open311_keys_name")),
    )
    op.create_table(
        "open311_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=40), nullable=False),
        sa.Column("service_code", sa.String(length=64), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("long", sa.Float(), nullable=True),
        sa.Column("address_string", sa.String(length=500), nullable=True),
        sa.Column("address_id", sa.String(length=100), nullable=True),
        sa.Column("zipcode", sa.String(length=20), nullable=True),
        sa.Column("media_url", sa.String(length=1000), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("device_id", sa.String(length=200), nullable=True),
        sa.Column("account_id", sa.String(length=200), nullable=True),
        sa.Column("created_at", hotline_core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["key_id"], ["open311_keys.id"], name=op.f("fk_open311_requests_key_id_open311_keys")),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name=op.f("fk_open311_requests_ticket_id_tickets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_open311_requests")),
        sa.UniqueConstraint("ticket_id", name=op.f("uq_open311_requests_ticket_id")),
        sa.UniqueConstraint("token", name=op.f("uq_open311_requests_token")),
    )
    op.create_index(op.f("ix_open311_requests_key_id"), "open311_requests", ["key_id"], unique=False)
    op.create_table(
        "open311_client_updates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=100), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("created_at", hotline_core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["ticket_events.id"], name=op.f("fk_open311_client_updates_event_id_ticket_events")
        ),
        sa.ForeignKeyConstraint(
            ["key_id"], ["open311_keys.id"], name=op.f("fk_open311_client_updates_key_id_open311_keys")
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_open311_client_updates_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_open311_client_updates")),
        sa.UniqueConstraint("key_id", "external_id", name=op.f("uq_open311_client_updates_key_id_external_id")),
    )
    op.create_index(
        op.f("ix_open311_client_updates_ticket_id"), "open311_client_updates", ["ticket_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_open311_client_updates_ticket_id"), table_name="open311_client_updates")
    op.drop_table("open311_client_updates")
    op.drop_index(op.f("ix_open311_requests_key_id"), table_name="open311_requests")
    op.drop_table("open311_requests")
    op.drop_table("open311_keys")
    with op.batch_alter_table("categories") as batch_op:
        batch_op.drop_column("open311_attributes")
