"""The message repository: batched idempotent writes and filtered reads, SQLite and PostgreSQL.

Every row's ``id`` is derived from the message that carried it (see :func:`record_ids`),
so storing the same message twice (a redelivery after a crash) inserts nothing the
second time. PostgreSQL batches go in as one ``INSERT ... SELECT FROM unnest(...)``
statement per table; SQLite uses ``executemany``."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from typing import Any, Final

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from mainflux.consumers.models import Page, PageQuery
from mainflux.consumers.schema import json_messages, messages
from mainflux.core import errors
from mainflux.messaging.envelope import Message
from mainflux.transformers.json import JSONMessage
from mainflux.transformers.senml import SenMLRecord

SenMLRow = tuple[uuid.UUID, SenMLRecord]
JSONRow = tuple[uuid.UUID, JSONMessage]

#: PostgreSQL error classes caused by the data itself: retrying cannot help.
_DATA_SQLSTATES: Final = ("22", "23", "54")

_PG_SENML: Final = sa.text(
    "INSERT INTO messages (id, channel, subtopic, publisher, protocol, name, unit, value,"
    " string_value, bool_value, data_value, sum, time, update_time)"
    " SELECT * FROM unnest(CAST(:id AS uuid[]), CAST(:channel AS text[]),"
    " CAST(:subtopic AS text[]), CAST(:publisher AS text[]), CAST(:protocol AS text[]),"
    " CAST(:name AS text[]), CAST(:unit AS text[]), CAST(:value AS float8[]),"
    " CAST(:string_value AS text[]), CAST(:bool_value AS bool[]), CAST(:data_value AS bytea[]),"
    " CAST(:sum AS float8[]), CAST(:time AS float8[]), CAST(:update_time AS float8[]))"
    " ON CONFLICT (id) DO NOTHING"
)
_PG_JSON: Final = sa.text(
    "INSERT INTO json_messages (id, channel, subtopic, publisher, protocol, created, payload)"
    " SELECT * FROM unnest(CAST(:id AS uuid[]), CAST(:channel AS text[]),"
    " CAST(:subtopic AS text[]), CAST(:publisher AS text[]), CAST(:protocol AS text[]),"
    " CAST(:created AS int8[]), CAST(:payload AS jsonb[]))"
    " ON CONFLICT (id) DO NOTHING"
)


def record_ids(msg: Message, count: int) -> list[uuid.UUID]:
    """Stable ids for the ``count`` records of ``msg``.

    Derived (SHA-1, UUID version 5 layout) from the channel, subtopic, publisher,
    protocol, creation time, payload and the record's position, so a redelivered
    message maps onto the rows it already has."""
    base = hashlib.sha1(
        b"\x00".join(
            (
                msg.channel.encode(),
                msg.subtopic.encode(),
                msg.publisher.encode(),
                msg.protocol.encode(),
                str(msg.created).encode(),
                msg.payload,
            )
        )
    )
    ids = []
    for index in range(count):
        digest = base.copy()
        digest.update(index.to_bytes(4, "big"))
        raw = bytearray(digest.digest()[:16])
        raw[6] = (raw[6] & 0x0F) | 0x50
        raw[8] = (raw[8] & 0x3F) | 0x80
        ids.append(uuid.UUID(bytes=bytes(raw)))
    return ids


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
        try:
            async with self._engine.begin() as conn:
                if self._postgres:
                    if senml:
                        await conn.execute(_PG_SENML, _senml_columns(senml))
                    if json:
                        await conn.execute(_PG_JSON, _json_columns(json))
                else:
                    if senml:
                        stmt = sqlite_insert(messages).on_conflict_do_nothing()
                        await conn.execute(stmt, [_senml_row(r) for r in senml])
                    if json:
                        stmt = sqlite_insert(json_messages).on_conflict_do_nothing()
                        await conn.execute(stmt, [_json_row(r) for r in json])
        except (TimeoutError, sa.exc.DBAPIError, OSError) as exc:
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


def _view(row: sa.Row[Any]) -> dict[str, Any]:
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


def _data(value: str | None) -> bytes | None:
    return None if value is None else value.encode()


def _senml_row(row: SenMLRow) -> dict[str, Any]:
    rid, r = row
    return {
        "id": rid,
        "channel": r.channel,
        "subtopic": r.subtopic,
        "publisher": r.publisher,
        "protocol": r.protocol,
        "name": r.name,
        "unit": r.unit,
        "value": r.value,
        "string_value": r.string_value,
        "bool_value": r.bool_value,
        "data_value": _data(r.data_value),
        "sum": r.sum,
        "time": r.time,
        "update_time": r.update_time,
    }


def _senml_columns(rows: Sequence[SenMLRow]) -> dict[str, list[Any]]:
    records = [r for _, r in rows]
    return {
        "id": [rid for rid, _ in rows],
        "channel": [r.channel for r in records],
        "subtopic": [r.subtopic for r in records],
        "publisher": [r.publisher for r in records],
        "protocol": [r.protocol for r in records],
        "name": [r.name for r in records],
        "unit": [r.unit for r in records],
        "value": [r.value for r in records],
        "string_value": [r.string_value for r in records],
        "bool_value": [r.bool_value for r in records],
        "data_value": [_data(r.data_value) for r in records],
        "sum": [r.sum for r in records],
        "time": [r.time for r in records],
        "update_time": [r.update_time for r in records],
    }


def _json_row(row: JSONRow) -> dict[str, Any]:
    rid, m = row
    return {
        "id": rid,
        "channel": m.channel,
        "subtopic": m.subtopic,
        "publisher": m.publisher,
        "protocol": m.protocol,
        "created": m.created,
        "payload": m.payload,
    }


def _json_columns(rows: Sequence[JSONRow]) -> dict[str, list[Any]]:
    msgs = [m for _, m in rows]
    return {
        "id": [rid for rid, _ in rows],
        "channel": [m.channel for m in msgs],
        "subtopic": [m.subtopic for m in msgs],
        "publisher": [m.publisher for m in msgs],
        "protocol": [m.protocol for m in msgs],
        "created": [m.created for m in msgs],
        "payload": [orjson.dumps(m.payload).decode() for m in msgs],
    }
