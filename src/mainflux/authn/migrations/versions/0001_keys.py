"""Create the ``keys`` table of API keys (Mainflux's ``authn`` migration).

Revision ID: authn_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "authn_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``keys``."""
    op.create_table(
        "keys",
        sa.Column("id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("type", sa.SmallInteger),
        sa.Column("issuer", sa.String(254), nullable=False),
        sa.Column("issued_at", sa.DateTime, nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=True),
        sa.PrimaryKeyConstraint("id", "issuer"),
    )


def downgrade() -> None:
    """Drop ``keys``."""
    op.drop_table("keys")
