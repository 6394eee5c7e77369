"""Taught classes: a chat's few-shot classes (``/teach``), moved here from Redis.

Revision ID: 0002_taught_classes
Revises: 0001_feedback
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_taught_classes"
down_revision = "0001_feedback"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``taught_classes`` (``core/taught_store.py`` describes it): one row per chat and casefolded name."""
    op.create_table(
        "taught_classes",
        sa.Column("platform", sa.String(16), primary_key=True),
        sa.Column("chat_id", sa.String(120), primary_key=True),
        sa.Column("name_key", sa.String(160), primary_key=True),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("embedding", sa.LargeBinary, nullable=False),
        sa.Column("shots", sa.Integer, nullable=False),
        sa.Column("model", sa.String(200)),
        sa.Column("version", sa.SmallInteger, nullable=False),
        sa.Column("taught_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    """Drop it (every chat's classes with it)."""
    op.drop_table("taught_classes")
