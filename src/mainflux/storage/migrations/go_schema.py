"""The message database as Go Mainflux 0.11's postgres writer or reader leaves it
(migration ``messages_1``).

Its ``messages`` table has the columns of revision 0001 with other types: ``channel``
and ``publisher`` are UUID, ``subtopic`` VARCHAR(254), and ``data_value`` BYTEA when
the writer made the table, TEXT when the reader started first. Revision 0002 converts
them and adds the indexes and the ``json_messages`` table."""

from __future__ import annotations

from mainflux.core.db import GoSchema

_FLOAT = "double precision"

SCHEMA = GoSchema(
    migrations=frozenset({"messages_1"}),
    prefix="messages_",
    tables={
        "messages": {
            "id": "uuid",
            "channel": "uuid",
            "subtopic": "character varying",
            "publisher": "uuid",
            "protocol": "text",
            "name": "text",
            "unit": "text",
            "value": _FLOAT,
            "string_value": "text",
            "bool_value": "boolean",
            "data_value": ("bytea", "text"),
            "sum": _FLOAT,
            "time": _FLOAT,
            "update_time": _FLOAT,
        },
    },
    revision="0001",
    ours=frozenset({"messages", "json_messages"}),
)
