"""mystery calls: kept recordings, second auditors' reviews, score disputes

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

import hotline_core.db

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mystery_calls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("recording_file", sa.String(length=500), nullable=True))

    op.create_table(
        "call_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mystery_call_id", sa.Integer(), nullable=False),
        sa.Column("reviewer_id", sa.Integer(), nullable=False),
        sa.Column("scorecard_id", sa.Integer(), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("total", sa.Float(), nullable=False),
        sa.Column("submitted_at", hotline_core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["mystery_call_id"], ["mystery_calls.id"], name=op.f("fk_call_reviews_mystery_call_id_mystery_calls")
        ),
        sa.ForeignKeyConstraint(["reviewer_id"], ["users.id"], name=op.f("fk_call_reviews_reviewer_id_users")),
        sa.ForeignKeyConstraint(
            ["scorecard_id"], ["scorecards.id"], name=op.f("fk_call_reviews_scorecard_id_scorecards")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_reviews")),
        sa.UniqueConstraint("mystery_call_id", "reviewer_id", name=op.f("uq_call_reviews_mystery_call_id_reviewer_id")),
    )
    with op.batch_alter_table("call_reviews", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_call_reviews_mystery_call_id"), ["mystery_call_id"], unique=False)

    op.create_table(
        "score_disputes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mystery_call_id", sa.Integer(), nullable=False),
        sa.Column("call_score_id", sa.Integer(), nullable=False),
        sa.Column("raised_by", sa.Integer(), nullable=False),
        sa.Column("raised_at", hotline_core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", hotline_core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("correction_score_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["mystery_call_id"], ["mystery_calls.id"], name=op.f("fk_score_disputes_mystery_call_id_mystery_calls")
        ),
        sa.ForeignKeyConstraint(
            ["call_score_id"], ["call_scores.id"], name=op.f("fk_score_disputes_call_score_id_call_scores")
        ),
        sa.ForeignKeyConstraint(["raised_by"], ["users.id"], name=op.f("fk_score_disputes_raised_by_users")),
        sa.ForeignKeyConstraint(["decided_by"], ["users.id"], name=op.f("fk_score_disputes_decided_by_users")),
        sa.ForeignKeyConstraint(
            ["correction_score_id"],
            ["call_scores.id"],
            name=op.f("fk_score_disputes_correction_score_id_call_scores"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_score_disputes")),
    )
    with op.batch_alter_table("score_disputes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_score_disputes_mystery_call_id"), ["mystery_call_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_score_disputes_state"), ["state"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("score_disputes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_score_disputes_state"))
        batch_op.drop_index(batch_op.f("ix_score_disputes_mystery_call_id"))
    op.drop_table("score_disputes")
    with op.batch_alter_table("call_reviews", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_call_reviews_mystery_call_id"))
    op.drop_table("call_reviews")
    with op.batch_alter_table("mystery_calls", schema=None) as batch_op:
        batch_op.drop_column("recording_file")
