"""Lower-case owners where the users migration lower-cased the account's email.

Users' own migration lower-cases account emails unless two accounts clash; the things
and channels of an account registered with capitals would otherwise drop out of its
lists. An owner is rewritten to its lower-case form only when that cannot hand one
account's things to another: the ``users`` table is in the same database (the
all-in-one), holds the lower-case email and no longer the original spelling, and no
other owner here has the same lower-case form. Connections follow (by ``ON UPDATE
CASCADE`` where foreign keys are enforced, explicitly elsewhere). With users in another
database nothing is rewritten (see docs/compatibility.md).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections import Counter

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_COLUMNS = (
    ("things", "owner"),
    ("channels", "owner"),
    ("connections", "thing_owner"),
    ("connections", "channel_owner"),
)


def upgrade() -> None:
    """Rewrite the owners the users migration lower-cased (see the module doc)."""
    conn = op.get_bind()
    if not sa.inspect(conn).has_table("users"):
        return
    users = sa.table("users", sa.column("email", sa.String))
    emails = set(conn.execute(sa.select(users.c.email)).scalars())
    owners: set[str] = set()
    for table_name, column_name in _COLUMNS[:2]:
        column = sa.table(table_name, sa.column(column_name, sa.String)).c[column_name]
        owners.update(conn.execute(sa.select(column).distinct()).scalars())
    spellings = Counter(owner.lower() for owner in owners)
    moved = {
        owner: owner.lower()
        for owner in owners
        if owner != owner.lower()
        and spellings[owner.lower()] == 1
        and owner.lower() in emails
        and owner not in emails
    }
    for table_name, column_name in _COLUMNS:
        table = sa.table(table_name, sa.column(column_name, sa.String))
        column = table.c[column_name]
        for old, new in moved.items():
            conn.execute(table.update().where(column == old).values({column_name: new}))


def downgrade() -> None:
    """Nothing to undo: the original spelling is not kept."""
