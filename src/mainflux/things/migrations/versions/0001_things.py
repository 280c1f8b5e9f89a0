"""Things, channels and their connections, as Mainflux's things_1..things_3.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_UUID = sa.String(36).with_variant(postgresql.UUID(as_uuid=False), "postgresql")
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    """Create the three tables and the index for channels-of-a-thing lookups."""
    op.create_table(
        "things",
        sa.Column("id", _UUID, primary_key=True),
        sa.Column("owner", sa.String(254), primary_key=True),
        sa.Column("key", sa.String(4096), nullable=False, unique=True),
        sa.Column("name", sa.String(1024)),
        sa.Column("metadata", _JSON),
    )
    op.create_table(
        "channels",
        sa.Column("id", _UUID, primary_key=True),
        sa.Column("owner", sa.String(254), primary_key=True),
        sa.Column("name", sa.String(1024)),
        sa.Column("metadata", _JSON),
    )
    op.create_table(
        "connections",
        sa.Column("channel_id", _UUID, primary_key=True),
        sa.Column("channel_owner", sa.String(254), primary_key=True),
        sa.Column("thing_id", _UUID, primary_key=True),
        sa.Column("thing_owner", sa.String(254), primary_key=True),
        sa.ForeignKeyConstraint(
            ["channel_id", "channel_owner"],
            ["channels.id", "channels.owner"],
            ondelete="CASCADE",
            onupdate="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["thing_id", "thing_owner"],
            ["things.id", "things.owner"],
            ondelete="CASCADE",
            onupdate="CASCADE",
        ),
    )
    op.create_index("connections_thing", "connections", ["thing_id", "thing_owner"])


def downgrade() -> None:
    """Drop the tables."""
    op.drop_index("connections_thing", table_name="connections")
    op.drop_table("connections")
    op.drop_table("channels")
    op.drop_table("things")
