"""Create the MQTT broker's state: persistent sessions, their subscriptions and queued
messages, and retained messages.

Revision ID: mqtt_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "mqtt_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """The four tables of :mod:`mainflux.adapters.mqtt.state_sql`."""
    op.create_table(
        "mqtt_sessions",
        sa.Column("owner", sa.Text, nullable=False),
        sa.Column("client_id", sa.Text, nullable=False),
        sa.Column("expiry", sa.BigInteger, nullable=True),
        sa.Column("expires_at", sa.Float, nullable=True),
        sa.PrimaryKeyConstraint("owner", "client_id"),
    )
    op.create_table(
        "mqtt_subscriptions",
        sa.Column("owner", sa.Text, nullable=False),
        sa.Column("client_id", sa.Text, nullable=False),
        sa.Column("topic_filter", sa.Text, nullable=False),
        sa.Column("qos", sa.SmallInteger, nullable=False),
        sa.Column("options", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("owner", "client_id", "topic_filter"),
    )
    op.create_table(
        "mqtt_queue",
        sa.Column("owner", sa.Text, nullable=False),
        sa.Column("client_id", sa.Text, nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("record", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("owner", "client_id", "seq"),
    )
    op.create_table(
        "mqtt_retained",
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("record", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("topic"),
    )


def downgrade() -> None:
    """Drop the four tables."""
    for table in ("mqtt_retained", "mqtt_queue", "mqtt_subscriptions", "mqtt_sessions"):
        op.drop_table(table)
