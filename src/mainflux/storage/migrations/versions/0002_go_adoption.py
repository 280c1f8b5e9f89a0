"""Give a message database that Go Mainflux 0.11 made the shape of revision 0001.

``migrate`` stamps such a database at 0001 (see ``go_schema.py``). Go's ``messages``
has ``channel`` and ``publisher`` as UUID, ``subtopic`` as VARCHAR(254) and
``data_value`` as BYTEA or, when Go's reader created the table, TEXT; it has none of
the readers' indexes and no ``json_messages``. This revision converts the columns in
one ALTER TABLE (one rewrite of the table: a large table takes a while), keeping every
row: UUIDs become their usual text form, text data values their UTF-8 bytes. Then it
creates what is missing. On a database that 0001 made there is nothing to do.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_INDEXES = (
    ("ix_messages_channel_time", ("channel", "time")),
    ("ix_messages_channel_name_time", ("channel", "name", "time")),
    ("ix_messages_channel_subtopic_time", ("channel", "subtopic", "time")),
    ("ix_messages_channel_publisher_time", ("channel", "publisher", "time")),
)


def _conversions(bind: sa.Connection) -> list[str]:
    rows = bind.execute(
        sa.text(
            "SELECT column_name, data_type, is_nullable FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = 'messages'"
        )
    )
    columns = {name: (data_type, nullable == "YES") for name, data_type, nullable in rows}
    changes = [
        f"ALTER COLUMN {name} TYPE text USING {name}::text"
        for name in ("channel", "subtopic", "publisher")
        if columns[name][0] != "text"
    ]
    if columns["data_value"][0] == "text":
        changes.append("ALTER COLUMN data_value TYPE bytea USING convert_to(data_value, 'UTF8')")
    if columns["channel"][1]:
        changes.append("ALTER COLUMN channel SET NOT NULL")
    return changes


def upgrade() -> None:
    """Convert Go's column types, then add the indexes and ``json_messages`` if missing."""
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":  # Go Mainflux only ran on PostgreSQL
        return
    changes = _conversions(bind)
    if changes:
        op.execute("ALTER TABLE messages " + ", ".join(changes))
    for name, columns in _INDEXES:
        op.create_index(name, "messages", list(columns), if_not_exists=True)
    if not sa.inspect(bind).has_table("json_messages"):
        op.create_table(
            "json_messages",
            sa.Column("id", sa.Uuid, primary_key=True),
            sa.Column("channel", sa.Text, nullable=False),
            sa.Column("subtopic", sa.Text),
            sa.Column("publisher", sa.Text),
            sa.Column("protocol", sa.Text),
            sa.Column("created", sa.BigInteger, nullable=False),
            sa.Column("payload", JSONB(), nullable=False),
        )
        op.create_index("ix_json_messages_channel_created", "json_messages", ["channel", "created"])


def downgrade() -> None:
    """Nothing: the converted types and the tables belong to 0001."""
