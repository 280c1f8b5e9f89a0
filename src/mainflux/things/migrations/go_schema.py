"""The things database as Go Mainflux 0.11 leaves it (``things_1`` to ``things_3``).

The tables are those of revision 0001 (``things_2`` and ``things_3`` turned the
metadata columns from JSON into JSONB); revision 0002 adds the index Go lacks."""

from __future__ import annotations

from mainflux.core.db import GoSchema

_VARCHAR = "character varying"

SCHEMA = GoSchema(
    migrations=frozenset({"things_1", "things_2", "things_3"}),
    prefix="things_",
    tables={
        "things": {
            "id": "uuid",
            "owner": _VARCHAR,
            "key": _VARCHAR,
            "name": _VARCHAR,
            "metadata": "jsonb",
        },
        "channels": {"id": "uuid", "owner": _VARCHAR, "name": _VARCHAR, "metadata": "jsonb"},
        "connections": {
            "channel_id": "uuid",
            "channel_owner": _VARCHAR,
            "thing_id": "uuid",
            "thing_owner": _VARCHAR,
        },
    },
    revision="0001",
    ours=frozenset({"things", "channels", "connections"}),
)
