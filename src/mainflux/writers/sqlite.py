"""The SQLite message store of the all-in-one: one ``executemany`` and a commit per batch.

Batches go straight to the pooled connection's aiosqlite driver as one
``executemany`` of ``INSERT ... ON CONFLICT DO NOTHING`` per table and a commit, in
the value formats SQLAlchemy uses for these columns (ids as 32 hex digits, so the
readers' queries find them), which keeps the cost of a small batch low: in the
all-in-one every publish waits for the commit of its batch."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Sequence
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from mainflux.core import errors
from mainflux.writers.rows import JSONRow, SenMLRow
from mainflux.writers.sql import (
    JSON_COLUMNS,
    SENML_COLUMNS,
    is_data_error,
    json_values,
    senml_values,
)


def _insert(table: str, columns: Sequence[str]) -> str:
    marks = ", ".join("?" for _ in columns)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks}) ON CONFLICT (id) DO NOTHING"
    )


_INSERT_SENML: Final = _insert("messages", SENML_COLUMNS)
_INSERT_JSON: Final = _insert("json_messages", JSON_COLUMNS)


class SQLiteStore:
    """Stores SenML records and JSON objects in SQLite (see the module docstring)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def save(self, senml: Sequence[SenMLRow], json: Sequence[JSONRow] = ()) -> None:
        """Insert the rows in one transaction; rows already stored are skipped.

        Raises ``ServiceUnavailable`` when the database cannot be used and
        ``MalformedEntity`` when it refuses the data itself."""
        if not senml and not json:
            return
        senml_rows = [senml_values(rid.hex, r) for rid, r in senml]
        json_rows = [json_values(rid.hex, m) for rid, m in json]
        try:
            async with self._engine.connect() as conn:
                raw = await conn.get_raw_connection()
                db: Any = raw.driver_connection  # an aiosqlite connection
                try:
                    if senml_rows:
                        await db.executemany(_INSERT_SENML, senml_rows)
                    if json_rows:
                        await db.executemany(_INSERT_JSON, json_rows)
                    await db.commit()
                except Exception:
                    with contextlib.suppress(Exception):
                        await db.rollback()
                    raise
        except (sqlite3.IntegrityError, sqlite3.DataError) as exc:
            raise errors.MalformedEntity(f"rows refused by the database: {exc}") from exc
        except (sqlite3.Error, TimeoutError, sa.exc.DBAPIError, OSError) as exc:
            if is_data_error(exc):
                raise errors.MalformedEntity(f"rows refused by the database: {exc}") from exc
            raise errors.ServiceUnavailable("message database unavailable") from exc
