"""The authn database as Go Mainflux 0.11 leaves it (migration ``authn``).

Its ``keys`` table is the one revision ``authn_0001`` creates, so adopting it is a
stamp: API keys Go issued stay valid under the same ``MF_AUTHN_SECRET``."""

from __future__ import annotations

from mainflux.core.db import GoSchema

SCHEMA = GoSchema(
    migrations=frozenset({"authn"}),
    prefix="authn",
    tables={
        "keys": {
            "id": "uuid",
            "type": "smallint",
            "issuer": "character varying",
            "issued_at": "timestamp without time zone",
            "expires_at": "timestamp without time zone",
        },
    },
    revision="authn_0001",
    ours=frozenset({"keys"}),
)
