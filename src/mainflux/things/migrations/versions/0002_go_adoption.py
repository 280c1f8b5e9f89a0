"""Complete a things database that Go Mainflux 0.11 made: the channels-of-a-thing index.

``migrate`` stamps such a database at 0001, whose tables it has (see
``go_schema.py``); only the index of 0001 is missing. On a database that 0001 made the
index exists and nothing changes.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``connections_thing`` unless it exists."""
    op.create_index(
        "connections_thing", "connections", ["thing_id", "thing_owner"], if_not_exists=True
    )


def downgrade() -> None:
    """Nothing: the index belongs to 0001."""
