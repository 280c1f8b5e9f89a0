"""Add ``revocations`` and lower-case the issuers of stored API keys.

``revocations`` holds, per user (lower-cased email), the moment up to which every key
of theirs is void: a password change or reset records it. Emails are compared
case-insensitively from this revision on, so ``keys.issuer`` is lower-cased (Python's
``str.lower``, the same rule the services apply).

Revision ID: authn_0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "authn_0002"
down_revision = "authn_0001"
branch_labels = None
depends_on = None

_keys = sa.table("keys", sa.column("id", sa.Uuid(as_uuid=False)), sa.column("issuer", sa.String))


def upgrade() -> None:
    """Create ``revocations``; lower-case ``keys.issuer`` where no other row holds it."""
    op.create_table(
        "revocations",
        sa.Column("issuer", sa.String(254), nullable=False),
        sa.Column("revoked_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("issuer"),
    )
    conn = op.get_bind()
    rows = conn.execute(sa.select(_keys.c.id, _keys.c.issuer)).all()
    taken = {(str(row.id), row.issuer) for row in rows}
    for row in rows:
        lowered = row.issuer.lower()
        if lowered != row.issuer and (str(row.id), lowered) not in taken:
            conn.execute(
                _keys.update()
                .where(_keys.c.id == row.id, _keys.c.issuer == row.issuer)
                .values(issuer=lowered)
            )
            taken.add((str(row.id), lowered))


def downgrade() -> None:
    """Drop ``revocations`` (issuers stay lower-cased)."""
    op.drop_table("revocations")
