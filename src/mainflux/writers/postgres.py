"""The PostgreSQL message store: batches in by binary ``COPY``, idempotent on redelivery.

Each batch goes in with one ``COPY`` per table (a single atomic statement, the
cheapest way in for both client and server) on the pooled connection's asyncpg driver.
When the primary key refuses the batch (some rows are stored already, after a
redelivery) it goes in again as ``INSERT ... SELECT FROM unnest(...) ON CONFLICT DO
NOTHING``, which skips the stored ones."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any, Final

import asyncpg
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from mainflux.core import errors
from mainflux.writers.rows import JSONRow, SenMLRow
from mainflux.writers.sql import (
    DATA_SQLSTATES,
    JSON_COLUMNS,
    SENML_COLUMNS,
    is_data_error,
    json_values,
    senml_values,
)

_SENML_TYPES: Final = {
    "id": "uuid",
    "channel": "text",
    "subtopic": "text",
    "publisher": "text",
    "protocol": "text",
    "name": "text",
    "unit": "text",
    "time": "float8",
    "update_time": "float8",
    "value": "float8",
    "string_value": "text",
    "data_value": "bytea",
    "bool_value": "bool",
    "sum": "float8",
}
_JSON_TYPES: Final = ("uuid", "text", "text", "text", "text", "int8", "jsonb")


def _upsert(table: str, columns: Sequence[str], types: Sequence[str]) -> str:
    arrays = ", ".join(f"${i}::{t}[]" for i, t in enumerate(types, 1))
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM unnest({arrays})"
        " ON CONFLICT (id) DO NOTHING"
    )


_UPSERT_SENML: Final = _upsert("messages", SENML_COLUMNS, [_SENML_TYPES[c] for c in SENML_COLUMNS])
_UPSERT_JSON: Final = _upsert("json_messages", JSON_COLUMNS, _JSON_TYPES)


class PostgresStore:
    """Stores SenML records and JSON objects in PostgreSQL (see the module docstring)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def save(self, senml: Sequence[SenMLRow], json: Sequence[JSONRow] = ()) -> None:
        """Insert the rows in one transaction; rows already stored are skipped.

        Raises ``ServiceUnavailable`` when the database cannot be reached and
        ``MalformedEntity`` when the database refuses the data itself."""
        if not senml and not json:
            return
        senml_rows = [senml_values(rid, r) for rid, r in senml]
        json_rows = [json_values(rid, m) for rid, m in json]
        try:
            async with self._engine.connect() as conn:
                raw = await conn.get_raw_connection()
                pg: asyncpg.Connection = raw.driver_connection  # type: ignore[assignment]
                try:
                    await _store(pg, senml_rows, json_rows)
                except BaseException as exc:
                    if not (isinstance(exc, asyncpg.PostgresError) and _is_data_state(exc)):
                        # Lost, or left half-way through a COPY: never reuse it.
                        with contextlib.suppress(Exception):
                            await conn.invalidate()
                    raise
        except asyncpg.PostgresError as exc:
            if _is_data_state(exc):
                raise errors.MalformedEntity(f"rows refused by the database: {exc}") from exc
            raise errors.ServiceUnavailable("message database unavailable") from exc
        except (TimeoutError, sa.exc.DBAPIError, asyncpg.InterfaceError, OSError) as exc:
            if is_data_error(exc):
                raise errors.MalformedEntity(f"rows refused by the database: {exc}") from exc
            raise errors.ServiceUnavailable("message database unavailable") from exc


async def _store(
    pg: asyncpg.Connection, senml: list[tuple[Any, ...]], json: list[tuple[Any, ...]]
) -> None:
    """Store both row lists atomically: COPY first, the idempotent INSERT when it conflicts."""
    if senml and json:
        async with pg.transaction():
            await _copy(pg, "messages", SENML_COLUMNS, _UPSERT_SENML, senml)
            await _copy(pg, "json_messages", JSON_COLUMNS, _UPSERT_JSON, json)
    elif senml:  # one statement is atomic on its own: no BEGIN/COMMIT round trips
        await _copy(pg, "messages", SENML_COLUMNS, _UPSERT_SENML, senml)
    else:
        await _copy(pg, "json_messages", JSON_COLUMNS, _UPSERT_JSON, json)


async def _copy(
    pg: asyncpg.Connection,
    table: str,
    columns: Sequence[str],
    upsert: str,
    rows: list[tuple[Any, ...]],
) -> None:
    try:
        if pg.is_in_transaction():
            async with pg.transaction():  # a savepoint: a refused COPY undoes only itself
                await pg.copy_records_to_table(table, records=rows, columns=columns)
        else:
            await pg.copy_records_to_table(table, records=rows, columns=columns)
        return
    except asyncpg.UniqueViolationError:
        pass  # some rows are stored already (a redelivery): insert the others, below
    await pg.execute(upsert, *(list(column) for column in zip(*rows, strict=True)))


def _is_data_state(exc: asyncpg.PostgresError) -> bool:
    return str(exc.sqlstate or "").startswith(DATA_SQLSTATES)
