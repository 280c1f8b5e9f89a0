"""Create ``mf_event_groups``: where each consumer group of the embedded log stands.

Revision ID: events_0002
Revises: events_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "events_0002"
down_revision = "events_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """One row per (stream, group): the last acknowledged entry id."""
    op.create_table(
        "mf_event_groups",
        sa.Column("stream", sa.String(255), nullable=False),
        sa.Column("grp", sa.String(255), nullable=False),
        sa.Column("ms", sa.BigInteger, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("stream", "grp"),
    )


def downgrade() -> None:
    """Drop ``mf_event_groups``."""
    op.drop_table("mf_event_groups")
