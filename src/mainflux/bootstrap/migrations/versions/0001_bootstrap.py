"""Configs, their channels, unknown bootstrap attempts and parked events.

The tables carry a ``bootstrap_`` prefix so they share a database with the things
service in the all-in-one (Mainflux's own ``channels``/``connections`` would collide).

Revision ID: bootstrap_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "bootstrap_0001"
down_revision = None
branch_labels = None
depends_on = None

_JSON = sa.JSON()


def upgrade() -> None:
    """Create the four tables."""
    op.create_table(
        "bootstrap_configs",
        sa.Column("thing_id", sa.String(36), primary_key=True),
        sa.Column("owner", sa.String(254), nullable=False),
        sa.Column("name", sa.String(1024), nullable=False),
        sa.Column("thing_key", sa.String(4096), nullable=False),
        sa.Column("external_id", sa.String(1024), nullable=False, unique=True),
        sa.Column("external_key", sa.String(1024), nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("client_cert", sa.Text, nullable=False),
        sa.Column("client_key", sa.Text, nullable=False),
        sa.Column("ca_cert", sa.Text, nullable=False),
        sa.Column("state", sa.SmallInteger, nullable=False),
    )
    op.create_index("bootstrap_configs_owner", "bootstrap_configs", ["owner"])
    op.create_table(
        "bootstrap_config_channels",
        sa.Column(
            "thing_id",
            sa.String(36),
            sa.ForeignKey("bootstrap_configs.thing_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("channel_id", sa.String(36), primary_key=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("name", sa.String(1024), nullable=False),
        sa.Column("metadata", _JSON),
    )
    op.create_index(
        "bootstrap_config_channels_channel", "bootstrap_config_channels", ["channel_id"]
    )
    op.create_table(
        "bootstrap_unknown_configs",
        sa.Column("external_id", sa.String(1024), primary_key=True),
        sa.Column("external_key", sa.Text, nullable=False),
    )
    op.create_table(
        "bootstrap_parked_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("stream", sa.String(255), nullable=False),
        sa.Column("entry_id", sa.String(64), nullable=False),
        sa.Column("fields", sa.Text, nullable=False),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("parked_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    """Drop the tables."""
    op.drop_table("bootstrap_parked_events")
    op.drop_table("bootstrap_unknown_configs")
    op.drop_index("bootstrap_config_channels_channel", table_name="bootstrap_config_channels")
    op.drop_table("bootstrap_config_channels")
    op.drop_index("bootstrap_configs_owner", table_name="bootstrap_configs")
    op.drop_table("bootstrap_configs")
