"""Create the message tables and the indexes the readers' filters use.

Revision ID: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``messages`` (Mainflux 0.11 columns) and ``json_messages``."""
    op.create_table(
        "messages",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("subtopic", sa.Text),
        sa.Column("publisher", sa.Text),
        sa.Column("protocol", sa.Text),
        sa.Column("name", sa.Text),
        sa.Column("unit", sa.Text),
        sa.Column("value", sa.Float(53)),
        sa.Column("string_value", sa.Text),
        sa.Column("bool_value", sa.Boolean),
        sa.Column("data_value", sa.LargeBinary),
        sa.Column("sum", sa.Float(53)),
        sa.Column("time", sa.Float(53)),
        sa.Column("update_time", sa.Float(53)),
    )
    op.create_index("ix_messages_channel_time", "messages", ["channel", "time"])
    op.create_index("ix_messages_channel_name_time", "messages", ["channel", "name", "time"])
    op.create_index(
        "ix_messages_channel_subtopic_time", "messages", ["channel", "subtopic", "time"]
    )
    op.create_index(
        "ix_messages_channel_publisher_time", "messages", ["channel", "publisher", "time"]
    )
    op.create_table(
        "json_messages",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("subtopic", sa.Text),
        sa.Column("publisher", sa.Text),
        sa.Column("protocol", sa.Text),
        sa.Column("created", sa.BigInteger, nullable=False),
        sa.Column("payload", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=False),
    )
    op.create_index("ix_json_messages_channel_created", "json_messages", ["channel", "created"])


def downgrade() -> None:
    """Drop both tables."""
    op.drop_table("json_messages")
    op.drop_table("messages")
