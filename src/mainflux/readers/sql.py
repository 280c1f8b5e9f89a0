"""The SQL message reader: filtered pages of stored SenML records, SQLite and PostgreSQL.

One SQLAlchemy Core query over :data:`mainflux.storage.schema.messages` serves both
engines; every filter narrows the page and the total alike, and the indexes of the
schema's first revision cover the per-channel, newest-first order."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from mainflux.core import errors
from mainflux.readers.models import Page, PageQuery
from mainflux.storage.schema import messages


class SQLReader:
    """Reads pages of a channel's SenML records."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

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
