"""The message repository: batched idempotent writes and filtered reads, SQLite and PostgreSQL.

Every row's ``id`` is derived from the message that carried it (see :func:`record_ids`),
so storing the same message twice (a redelivery after a crash) inserts nothing the
second time. PostgreSQL batches go in with one binary ``COPY`` per table (a single
atomic statement, the cheapest way in for both client and server); when the primary
key refuses the batch (some rows are stored already, after a redelivery) it goes in
again as ``INSERT ... SELECT FROM unnest(...) ON CONFLICT DO NOTHING``. SQLite batches
go straight to the pooled connection's driver as one ``executemany`` of
``INSERT ... ON CONFLICT DO NOTHING`` and a commit, in the value formats SQLAlchemy uses
for these columns (ids as 32 hex digits), which keeps the cost of a small batch low:
in the all-in-one every publish waits for the commit of its batch."""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
import uuid
from collections.abc import Sequence
from typing import Any, Final

import asyncpg
import msgspec
import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from mainflux.consumers.models import Page, PageQuery
from mainflux.consumers.schema import messages
from mainflux.core import errors
from mainflux.messaging.envelope import Message
from mainflux.transformers.json import JSONMessage
from mainflux.transformers.senml import SenMLRecord

SenMLRow = tuple[uuid.UUID, SenMLRecord]
JSONRow = tuple[uuid.UUID, JSONMessage]

#: PostgreSQL error classes caused by the data itself: retrying cannot help.
_DATA_SQLSTATES: Final = ("22", "23", "54")

#: ``messages`` columns in the order of a PostgreSQL row tuple: the id, then the
#: fields of :class:`SenMLRecord` in declaration order (see :func:`_senml_tuple`).
_SENML_COLUMNS: Final = ("id", *SenMLRecord.__struct_fields__)
_DATA_VALUE: Final = _SENML_COLUMNS.index("data_value")
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
_JSON_COLUMNS: Final = ("id", "channel", "subtopic", "publisher", "protocol", "created", "payload")
_JSON_TYPES: Final = ("uuid", "text", "text", "text", "text", "int8", "jsonb")


def _upsert(table: str, columns: Sequence[str], types: Sequence[str]) -> str:
    arrays = ", ".join(f"${i}::{t}[]" for i, t in enumerate(types, 1))
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM unnest({arrays})"
        " ON CONFLICT (id) DO NOTHING"
    )


_PG_SENML: Final = _upsert("messages", _SENML_COLUMNS, [_SENML_TYPES[c] for c in _SENML_COLUMNS])
_PG_JSON: Final = _upsert("json_messages", _JSON_COLUMNS, _JSON_TYPES)


def _sqlite_insert(table: str, columns: Sequence[str]) -> str:
    marks = ", ".join("?" for _ in columns)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks}) ON CONFLICT (id) DO NOTHING"
    )


_SQLITE_SENML: Final = _sqlite_insert("messages", _SENML_COLUMNS)
_SQLITE_JSON: Final = _sqlite_insert("json_messages", _JSON_COLUMNS)

try:  # asyncpg's UUID: the type it decodes uuid columns to, built in C (10x uuid.UUID)
    from asyncpg.pgproto.pgproto import UUID as _FastUUID
except ImportError:  # pragma: no cover - other asyncpg builds
    _FastUUID = None


def record_ids(msg: Message, count: int) -> list[uuid.UUID]:
    """Stable ids for the ``count`` records of ``msg``.

    Derived (SHA-1, UUID version 5 layout) from the channel, subtopic, publisher,
    protocol, creation time, payload and the record's position, so a redelivered
    message maps onto the rows it already has."""
    head = (
        f"{msg.channel}\x00{msg.subtopic}\x00{msg.publisher}\x00{msg.protocol}\x00{msg.created}\x00"
    )
    data = head.encode() + msg.payload
    if count == 1:  # the common case: one hash, no copy
        return [_uuid5_layout(hashlib.sha1(data + b"\x00\x00\x00\x00").digest())]
    base = hashlib.sha1(data)
    ids = []
    for index in range(count):
        digest = base.copy()
        digest.update(index.to_bytes(4, "big"))
        ids.append(_uuid5_layout(digest.digest()))
    return ids


def _uuid5_layout(digest: bytes) -> uuid.UUID:
    raw = bytearray(digest[:16])
    raw[6] = (raw[6] & 0x0F) | 0x50
    raw[8] = (raw[8] & 0x3F) | 0x80
    if _FastUUID is not None:
        return _FastUUID(bytes(raw))
    return uuid.UUID(bytes=bytes(raw))


async def _pg_store(
    pg: asyncpg.Connection, senml: list[tuple[Any, ...]], json: list[tuple[Any, ...]]
) -> None:
    """Store both row lists atomically: COPY first, the idempotent INSERT when it conflicts."""
    if senml and json:
        async with pg.transaction():
            await _pg_copy(pg, "messages", _SENML_COLUMNS, _PG_SENML, senml)
            await _pg_copy(pg, "json_messages", _JSON_COLUMNS, _PG_JSON, json)
    elif senml:  # one statement is atomic on its own: no BEGIN/COMMIT round trips
        await _pg_copy(pg, "messages", _SENML_COLUMNS, _PG_SENML, senml)
    else:
        await _pg_copy(pg, "json_messages", _JSON_COLUMNS, _PG_JSON, json)


async def _pg_copy(
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
    return str(exc.sqlstate or "").startswith(_DATA_SQLSTATES)


def is_data_error(exc: BaseException) -> bool:
    """Whether a database error is caused by the rows themselves (not by an outage)."""
    if not isinstance(exc, sa.exc.DBAPIError) or exc.connection_invalidated:
        return False
    state = getattr(exc.orig, "sqlstate", None)
    if state:
        return str(state).startswith(_DATA_SQLSTATES)
    return isinstance(exc, sa.exc.IntegrityError | sa.exc.DataError)


class MessageRepository:
    """Stores SenML records and JSON objects; reads pages of SenML records."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"

    async def save(self, senml: Sequence[SenMLRow], json: Sequence[JSONRow] = ()) -> None:
        """Insert the rows in one transaction; rows already stored are skipped.

        Raises ``ServiceUnavailable`` when the database cannot be reached and
        ``MalformedEntity`` when the database refuses the data itself."""
        if not senml and not json:
            return
        if self._postgres:
            await self._save_postgres(senml, json)
            return
        await self._save_sqlite(senml, json)

    async def _save_sqlite(self, senml: Sequence[SenMLRow], json: Sequence[JSONRow]) -> None:
        """One ``executemany`` per table and a commit on the driver; see the module doc."""
        senml_rows = [_sqlite_senml(row) for row in senml]
        json_rows = [_sqlite_json(row) for row in json]
        try:
            async with self._engine.connect() as conn:
                raw = await conn.get_raw_connection()
                db: Any = raw.driver_connection  # an aiosqlite connection
                try:
                    if senml_rows:
                        await db.executemany(_SQLITE_SENML, senml_rows)
                    if json_rows:
                        await db.executemany(_SQLITE_JSON, json_rows)
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

    async def _save_postgres(self, senml: Sequence[SenMLRow], json: Sequence[JSONRow]) -> None:
        """COPY the rows through the pooled connection's asyncpg driver; see the module doc."""
        senml_rows = [_senml_tuple(row) for row in senml]
        json_rows = [_json_tuple(row) for row in json]
        try:
            async with self._engine.connect() as conn:
                raw = await conn.get_raw_connection()
                pg: asyncpg.Connection = raw.driver_connection  # type: ignore[assignment]
                try:
                    await _pg_store(pg, senml_rows, json_rows)
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

    async def read(self, channel: str, query: PageQuery) -> Page:
        """Return a page of the channel's records, newest first, and the filtered total.

        Raises ``ServiceUnavailable`` when the database cannot be reached."""
        where = _conditions(channel, query)
        c = messages.c
        page = (
            sa.select(
                c.channel,
                c.subtopic,
                c.publisher,
                c.protocol,
                c.name,
                c.unit,
                c.time,
                c.update_time,
                c.value,
                c.string_value,
                c.data_value,
                c.bool_value,
                c.sum,
            )
            .where(*where)
            .order_by(c.time.desc())
            .limit(query.limit)
            .offset(query.offset)
        )
        count = sa.select(sa.func.count()).select_from(messages).where(*where)
        try:
            async with self._engine.connect() as conn:
                rows = (await conn.execute(page)).all()
                total = (await conn.execute(count)).scalar_one()
        except (TimeoutError, sa.exc.DBAPIError, OSError) as exc:
            raise errors.ServiceUnavailable("message database unavailable") from exc
        return Page(total, query.offset, query.limit, [_view(row) for row in rows])


def _conditions(channel: str, q: PageQuery) -> list[sa.ColumnElement[bool]]:
    c = messages.c
    where: list[sa.ColumnElement[bool]] = [c.channel == channel]
    for column, wanted in (
        (c.subtopic, q.subtopic),
        (c.publisher, q.publisher),
        (c.protocol, q.protocol),
        (c.name, q.name),
        (c.string_value, q.string_value),
        (c.bool_value, q.bool_value),
    ):
        if wanted is not None:
            where.append(column == wanted)
    if q.data_value is not None:
        where.append(c.data_value == q.data_value.encode())
    if q.value is not None:
        where.append(_compare(c.value, q.comparator, q.value))
    if q.from_time is not None:
        where.append(c.time >= q.from_time)
    if q.to_time is not None:
        where.append(c.time < q.to_time)
    return where


def _compare(column: sa.ColumnElement[Any], comparator: str, value: float) -> Any:
    if comparator == "lt":
        return column < value
    if comparator == "le":
        return column <= value
    if comparator == "gt":
        return column > value
    if comparator == "ge":
        return column >= value
    return column == value


def _view(row: sa.Row[Any] | Any) -> dict[str, Any]:
    """A stored record in the readers' JSON shape; empty fields are left out."""
    out: dict[str, Any] = {}
    for key in ("channel", "subtopic", "publisher", "protocol", "name", "unit"):
        value = getattr(row, key)
        if value:
            out[key] = value
    if row.time:
        out["time"] = row.time
    if row.update_time:
        out["update_time"] = row.update_time
    if row.value is not None:
        out["value"] = row.value
    if row.string_value is not None:
        out["string_value"] = row.string_value
    if row.data_value is not None:
        out["data_value"] = bytes(row.data_value).decode("utf-8", "replace")
    if row.bool_value is not None:
        out["bool_value"] = row.bool_value
    if row.sum is not None:
        out["sum"] = row.sum
    return out


def _sqlite_senml(row: SenMLRow) -> tuple[Any, ...]:
    """A ``messages`` row in :data:`_SENML_COLUMNS` order, as SQLAlchemy stores it in
    SQLite: the id as 32 hex digits, ``data_value`` as bytes."""
    rid, r = row
    values = (rid.hex, *msgspec.structs.astuple(r))
    if r.data_value is None:
        return values
    return (*values[:_DATA_VALUE], r.data_value.encode(), *values[_DATA_VALUE + 1 :])


def _senml_tuple(row: SenMLRow) -> tuple[Any, ...]:
    """A ``messages`` row in :data:`_SENML_COLUMNS` order (``data_value`` as bytes)."""
    rid, r = row
    values = (rid, *msgspec.structs.astuple(r))
    if r.data_value is None:
        return values
    return (*values[:_DATA_VALUE], r.data_value.encode(), *values[_DATA_VALUE + 1 :])


def _sqlite_json(row: JSONRow) -> tuple[Any, ...]:
    """A ``json_messages`` row in :data:`_JSON_COLUMNS` order, as SQLAlchemy stores it in
    SQLite: the id as 32 hex digits, the payload as JSON text."""
    rid, m = row
    return (
        rid.hex,
        m.channel,
        m.subtopic,
        m.publisher,
        m.protocol,
        m.created,
        orjson.dumps(m.payload).decode(),
    )


def _json_tuple(row: JSONRow) -> tuple[Any, ...]:
    """A ``json_messages`` row in :data:`_JSON_COLUMNS` order (payload as JSON text)."""
    rid, m = row
    return (
        rid,
        m.channel,
        m.subtopic,
        m.publisher,
        m.protocol,
        m.created,
        orjson.dumps(m.payload).decode(),
    )
