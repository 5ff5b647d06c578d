"""inside a unit: the officer an assignment is given to; escalation steps skipped by a catching-up sweep

Revision ID: 0015_units13
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015_units13"
down_revision = "0015_citizens13"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("officer_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(op.f("fk_assignments_officer_id_users"), "users", ["officer_id"], ["id"])
    with op.batch_alter_table("escalation_steps", schema=None) as batch_op:
        batch_op.add_column(sa.Column("outcome", sa.String(length=20), server_default="sent", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("escalation_steps", schema=None) as batch_op:
        batch_op.drop_column("outcome")
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("fk_assignments_officer_id_users"), type_="foreignkey")
        batch_op.drop_column("officer_id")
