"""The users database as Go Mainflux 0.11 leaves it (migrations ``users_1``, ``users_2``).

Its one table is the one revision ``users_0001`` creates, so adopting it is a stamp:
the bcrypt hashes Go stored (``$2a$``, cost 10) verify as they are."""

from __future__ import annotations

from mainflux.core.db import GoSchema

SCHEMA = GoSchema(
    migrations=frozenset({"users_1", "users_2"}),
    prefix="users_",
    tables={
        "users": {"email": "character varying", "password": "character", "metadata": "jsonb"},
    },
    revision="users_0001",
    ours=frozenset({"users"}),
)
