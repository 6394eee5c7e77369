"""Feedback: results reacted to, their candidates' embeddings, 👍/👎 votes and U/V/🔄 choices.

Revision ID: 0001_feedback
Revises:
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_feedback"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the four tables (``core/feedback_store.py`` describes them)."""
    op.create_table(
        "feedback_results",
        sa.Column("job_id", sa.String(80), primary_key=True),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("chat_key", sa.String(120), nullable=False),
        sa.Column("user_hash", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("model", sa.String(200)),
        sa.Column("request", sa.Text, nullable=False),
        sa.Column("prompt_embedding", sa.LargeBinary),
        sa.Column("at", sa.Float, nullable=False),
    )
    op.create_index("ix_feedback_results_user", "feedback_results", ["platform", "user_hash"])
    op.create_index("ix_feedback_results_at", "feedback_results", ["at"])
    op.create_table(
        "feedback_candidates",
        sa.Column(
            "job_id", sa.String(80), sa.ForeignKey("feedback_results.job_id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("idx", sa.Integer, primary_key=True),
        sa.Column("embedding", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "feedback_votes",
        sa.Column(
            "job_id", sa.String(80), sa.ForeignKey("feedback_results.job_id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("platform", sa.String(16), primary_key=True),
        sa.Column("user_hash", sa.String(32), primary_key=True),
        sa.Column("chat_key", sa.String(120), nullable=False),
        sa.Column("value", sa.SmallInteger, nullable=False),
        sa.Column("at", sa.Float, nullable=False),
    )
    op.create_index("ix_feedback_votes_user", "feedback_votes", ["platform", "user_hash"])
    op.create_index("ix_feedback_votes_at", "feedback_votes", ["at"])
    op.create_table(
        "feedback_choices",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "job_id",
            sa.String(80),
            sa.ForeignKey("feedback_results.job_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("user_hash", sa.String(32), nullable=False),
        sa.Column("chat_key", sa.String(120), nullable=False),
        sa.Column("verb", sa.String(8), nullable=False),
        sa.Column("chosen", sa.Integer),
        sa.Column("at", sa.Float, nullable=False),
    )
    op.create_index("ix_feedback_choices_user", "feedback_choices", ["platform", "user_hash"])
    op.create_index("ix_feedback_choices_at", "feedback_choices", ["at"])
    op.create_index("ix_feedback_choices_job", "feedback_choices", ["job_id"])


def downgrade() -> None:
    """Drop them (every row with them)."""
    for table in ("feedback_choices", "feedback_votes", "feedback_candidates", "feedback_results"):
        op.drop_table(table)
