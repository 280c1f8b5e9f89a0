"""The message store's tables as the writers and the readers use them (the revisions
under ``migrations/`` create them).

``messages`` keeps Mainflux 0.11's columns (§18) so its tools and queries work on it;
``channel``, ``publisher`` and ``subtopic`` are text so non-UUID publishers (twins) and
long subtopics can be stored.
The ``id`` is derived from the message, which makes every insert idempotent.
``json_messages`` holds the objects of plain JSON payloads."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

metadata = sa.MetaData()

messages = sa.Table(
    "messages",
    metadata,
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

#: Indexes for the readers' filters (created by migration 0001); every query is per
#: channel, newest first.
MESSAGE_INDEXES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ix_messages_channel_time", ("channel", "time")),
    ("ix_messages_channel_name_time", ("channel", "name", "time")),
    ("ix_messages_channel_subtopic_time", ("channel", "subtopic", "time")),
    ("ix_messages_channel_publisher_time", ("channel", "publisher", "time")),
)


json_messages = sa.Table(
    "json_messages",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("channel", sa.Text, nullable=False),
    sa.Column("subtopic", sa.Text),
    sa.Column("publisher", sa.Text),
    sa.Column("protocol", sa.Text),
    sa.Column("created", sa.BigInteger, nullable=False),
    sa.Column("payload", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=False),
)
