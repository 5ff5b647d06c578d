"""the operator's desk and evidence: categories' safety advice, why a Twilio media file is not kept yet

Revision ID: 0015_desk13
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015_desk13"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("categories", schema=None) as batch_op:
        batch_op.add_column(sa.Column("safety_advice_zh", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("safety_advice_en", sa.Text(), nullable=True))
    with op.batch_alter_table("attachments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fetch_error", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("attachments", schema=None) as batch_op:
        batch_op.drop_column("fetch_error")
    with op.batch_alter_table("categories", schema=None) as batch_op:
        batch_op.drop_column("safety_advice_en")
        batch_op.drop_column("safety_advice_zh")
