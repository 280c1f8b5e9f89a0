"""The port between a writer and its storage engine, and the choice of engine.

A new engine (InfluxDB, MongoDB, TimescaleDB...) is a module with a class that has
:meth:`MessageStore.save`; :func:`open_store` is the one place that picks it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from mainflux.writers.postgres import PostgresStore
from mainflux.writers.rows import JSONRow, SenMLRow
from mainflux.writers.sqlite import SQLiteStore


class MessageStore(Protocol):
    """Where a writer puts rows."""

    async def save(self, senml: Sequence[SenMLRow], json: Sequence[JSONRow] = ()) -> None:
        """Store the rows in one transaction, skipping those already there.

        Raises ``ServiceUnavailable`` (retry later) or ``MalformedEntity`` (bad rows)."""
        ...


def open_store(engine: AsyncEngine) -> MessageStore:
    """The message store for ``engine``'s database: PostgreSQL or SQLite.

    The schema must exist (:func:`mainflux.storage.migrate.migrate_messages`).
    Raises ``ValueError`` for another database."""
    dialect = engine.dialect.name
    if dialect == "postgresql":
        return PostgresStore(engine)
    if dialect == "sqlite":
        return SQLiteStore(engine)
    raise ValueError(f"no message store for {dialect} databases")
