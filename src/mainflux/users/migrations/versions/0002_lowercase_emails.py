"""Lower-case stored emails, which are compared case-insensitively from now on.

Each email becomes its lower-case form (Python's ``str.lower``, the rule the service
applies), unless another account has the same lower-case form: such accounts stay as
they are, for an operator to merge; only the one already in lower case can log in.

Revision ID: users_0002
"""

from __future__ import annotations

from collections import Counter

import sqlalchemy as sa
from alembic import op

revision = "users_0002"
down_revision = "users_0001"
branch_labels = None
depends_on = None

_users = sa.table("users", sa.column("email", sa.String))


def upgrade() -> None:
    """Lower-case every email whose lower-case form no other account shares."""
    conn = op.get_bind()
    emails = list(conn.execute(sa.select(_users.c.email)).scalars())
    counts = Counter(email.lower() for email in emails)
    for email in emails:
        lowered = email.lower()
        if lowered != email and counts[lowered] == 1:
            conn.execute(_users.update().where(_users.c.email == email).values(email=lowered))


def downgrade() -> None:
    """Nothing to undo: the original spelling is not kept."""
