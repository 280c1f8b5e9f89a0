"""Create ``mf_events``, the table of the embedded event log.

Earlier releases created the same table without a migration; on such a database this
revision adopts the table as it is, so only the version record is added.

Revision ID: events_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "events_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``mf_events`` unless an earlier release already did."""
    if sa.inspect(op.get_bind()).has_table("mf_events"):
        return
    op.create_table(
        "mf_events",
        sa.Column("stream", sa.String(255), nullable=False),
        sa.Column("ms", sa.BigInteger, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("fields", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("stream", "ms", "seq"),
    )


def downgrade() -> None:
    """Drop ``mf_events``."""
    op.drop_table("mf_events")
