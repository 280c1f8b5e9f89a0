"""The things repository on SQLAlchemy Core, for SQLite and PostgreSQL alike.

Tables ``things``, ``channels`` and ``connections`` follow Mainflux's schema (composite
keys with the owner, cascading foreign keys); migrations create them. Database errors
become domain errors here: a taken key is ``Conflict``, a foreign key violation or an
unmatched row is ``NotFound``, an unreachable database is ``ServiceUnavailable``.

The access lookups (:meth:`SqlThingsRepository.thing_id_by_key`,
:meth:`SqlThingsRepository.has_connection`) asked concurrently are answered by one query
per batch (:class:`~mainflux.core.batch.Batched`): a burst of devices connecting at once
costs a few queries, not one each.

The metadata filter is JSON containment: PostgreSQL's JSONB ``@>``; on SQLite the
same answer is computed in Python by :func:`json_contains`."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncEngine

from mainflux.core.batch import Batched
from mainflux.core.db import is_sqlite
from mainflux.core.errors import (
    Conflict,
    MainfluxError,
    MalformedEntity,
    NotFound,
    ServiceUnavailable,
)
from mainflux.things.models import Channel, Metadata, Page, Thing

_UUID = sa.String(36).with_variant(postgresql.UUID(as_uuid=False), "postgresql")
_JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")

schema = sa.MetaData()
things_table = sa.Table(
    "things",
    schema,
    sa.Column("id", _UUID, primary_key=True),
    sa.Column("owner", sa.String(254), primary_key=True),
    sa.Column("key", sa.String(4096), nullable=False, unique=True),
    sa.Column("name", sa.String(1024)),
    sa.Column("metadata", _JSON),
)
channels_table = sa.Table(
    "channels",
    schema,
    sa.Column("id", _UUID, primary_key=True),
    sa.Column("owner", sa.String(254), primary_key=True),
    sa.Column("name", sa.String(1024)),
    sa.Column("metadata", _JSON),
)
connections_table = sa.Table(
    "connections",
    schema,
    sa.Column("channel_id", _UUID, primary_key=True),
    sa.Column("channel_owner", sa.String(254), primary_key=True),
    sa.Column("thing_id", _UUID, primary_key=True),
    sa.Column("thing_owner", sa.String(254), primary_key=True),
    sa.ForeignKeyConstraint(
        ["channel_id", "channel_owner"],
        ["channels.id", "channels.owner"],
        ondelete="CASCADE",
        onupdate="CASCADE",
    ),
    sa.ForeignKeyConstraint(
        ["thing_id", "thing_owner"],
        ["things.id", "things.owner"],
        ondelete="CASCADE",
        onupdate="CASCADE",
    ),
)

_FK_VIOLATION = "23503"
_UNIQUE_VIOLATION = "23505"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def json_contains(document: Any, pattern: Any) -> bool:
    """Whether ``document`` contains ``pattern`` as PostgreSQL's JSONB ``@>`` decides.

    Objects contain objects whose every key is contained; arrays contain arrays whose
    every element is contained in some element; scalars must be equal (numbers compare
    by value, booleans are not numbers)."""
    if isinstance(pattern, dict):
        return isinstance(document, dict) and all(
            key in document and json_contains(document[key], value)
            for key, value in pattern.items()
        )
    if isinstance(pattern, list):
        return isinstance(document, list) and all(
            any(json_contains(item, wanted) for item in document) for wanted in pattern
        )
    if _is_number(pattern):
        return _is_number(document) and document == pattern
    return type(document) is type(pattern) and document == pattern


@contextmanager
def _translated() -> Iterator[None]:
    """Turn database failures into domain errors."""
    try:
        yield
    except sa.exc.IntegrityError as exc:
        raise _integrity_error(exc) from None
    except sa.exc.DataError:
        raise MalformedEntity() from None
    except (sa.exc.OperationalError, sa.exc.InterfaceError, OSError):
        raise ServiceUnavailable("database unavailable") from None


def _integrity_error(exc: sa.exc.IntegrityError) -> MainfluxError:
    code = getattr(exc.orig, "pgcode", None) or getattr(exc.orig, "sqlstate", None)
    text = str(exc.orig)
    if code == _FK_VIOLATION or "FOREIGN KEY" in text:
        return NotFound()
    if code == _UNIQUE_VIOLATION or "UNIQUE" in text:
        return Conflict()
    return MalformedEntity()


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _thing(row: Any) -> Thing:
    return Thing(
        id=row.id,
        owner=row.owner,
        key=row.key,
        name=row.name or "",
        metadata=row.metadata if row.metadata is not None else {},
    )


def _channel(row: Any) -> Channel:
    return Channel(id=row.id, owner=row.owner, name=row.name or "", metadata=row.metadata)


class SqlThingsRepository:
    """A :class:`~mainflux.things.ports.ThingsRepository` on an async SQLAlchemy engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._sqlite = is_sqlite(engine)
        self._ids_by_key: Batched[str, str] = Batched(self._ids_of_keys)
        self._connected: Batched[tuple[str, str], bool] = Batched(self._connected_pairs)

    # things

    async def save_things(self, things: Sequence[Thing]) -> None:
        rows = [
            {"id": t.id, "owner": t.owner, "key": t.key, "name": t.name, "metadata": t.metadata}
            for t in things
        ]
        with _translated():
            async with self._engine.begin() as conn:
                await conn.execute(things_table.insert(), rows)

    async def update_thing(self, owner: str, thing_id: str, name: str, metadata: Metadata) -> None:
        t = things_table.c
        query = (
            things_table.update()
            .where(t.id == thing_id, t.owner == owner)
            .values(name=name, metadata=metadata)
        )
        await self._update_one(query)

    async def update_key(self, owner: str, thing_id: str, key: str) -> None:
        t = things_table.c
        query = things_table.update().where(t.id == thing_id, t.owner == owner).values(key=key)
        await self._update_one(query)

    async def _update_one(self, query: sa.Executable) -> None:
        with _translated():
            async with self._engine.begin() as conn:
                result = await conn.execute(query)
        if result.rowcount == 0:
            raise NotFound()

    async def retrieve_thing(self, owner: str, thing_id: str) -> Thing:
        t = things_table.c
        query = sa.select(things_table).where(t.id == thing_id, t.owner == owner)
        with _translated():
            async with self._engine.connect() as conn:
                row = (await conn.execute(query)).first()
        if row is None:
            raise NotFound()
        return _thing(row)

    async def thing_id_by_key(self, key: str) -> str:
        thing_id = await self._ids_by_key.get(key)
        if thing_id is None:
            raise NotFound()
        return thing_id

    async def _ids_of_keys(self, keys: list[str]) -> dict[str, str]:
        t = things_table.c
        query = sa.select(t.key, t.id).where(t.key.in_(keys))
        with _translated():
            async with self._engine.connect() as conn:
                return {key: str(thing_id) for key, thing_id in await conn.execute(query)}

    async def list_things(
        self, owner: str, offset: int, limit: int, name: str, metadata: Metadata | None
    ) -> Page[Thing]:
        query = sa.select(things_table).where(things_table.c.owner == owner)
        return await self._filtered_page(things_table, query, _thing, offset, limit, name, metadata)

    async def list_things_by_channel(
        self, owner: str, channel_id: str, offset: int, limit: int
    ) -> Page[Thing]:
        t, c = things_table.c, connections_table.c
        joined = things_table.join(
            connections_table, sa.and_(c.thing_id == t.id, c.thing_owner == t.owner)
        )
        query = (
            sa.select(things_table)
            .select_from(joined)
            .where(c.channel_id == channel_id, c.channel_owner == owner)
        )
        return await self._page(query, t.id, _thing, offset, limit)

    async def remove_thing(self, owner: str, thing_id: str) -> bool:
        t = things_table.c
        return await self._delete(things_table.delete().where(t.id == thing_id, t.owner == owner))

    # channels

    async def save_channels(self, channels: Sequence[Channel]) -> None:
        rows = [
            {"id": c.id, "owner": c.owner, "name": c.name, "metadata": c.metadata} for c in channels
        ]
        with _translated():
            async with self._engine.begin() as conn:
                await conn.execute(channels_table.insert(), rows)

    async def update_channel(
        self, owner: str, channel_id: str, name: str, metadata: Metadata | None
    ) -> None:
        c = channels_table.c
        query = (
            channels_table.update()
            .where(c.id == channel_id, c.owner == owner)
            .values(name=name, metadata=metadata)
        )
        await self._update_one(query)

    async def retrieve_channel(self, owner: str, channel_id: str) -> Channel:
        c = channels_table.c
        query = sa.select(channels_table).where(c.id == channel_id, c.owner == owner)
        with _translated():
            async with self._engine.connect() as conn:
                row = (await conn.execute(query)).first()
        if row is None:
            raise NotFound()
        return _channel(row)

    async def list_channels(
        self, owner: str, offset: int, limit: int, name: str, metadata: Metadata | None
    ) -> Page[Channel]:
        query = sa.select(channels_table).where(channels_table.c.owner == owner)
        return await self._filtered_page(
            channels_table, query, _channel, offset, limit, name, metadata
        )

    async def list_channels_by_thing(
        self, owner: str, thing_id: str, offset: int, limit: int
    ) -> Page[Channel]:
        ch, c = channels_table.c, connections_table.c
        joined = channels_table.join(
            connections_table, sa.and_(c.channel_id == ch.id, c.channel_owner == ch.owner)
        )
        query = (
            sa.select(channels_table)
            .select_from(joined)
            .where(c.thing_id == thing_id, c.thing_owner == owner)
        )
        return await self._page(query, ch.id, _channel, offset, limit)

    async def channel_ids_of_thing(self, owner: str, thing_id: str) -> list[str]:
        c = connections_table.c
        query = sa.select(c.channel_id).where(c.thing_id == thing_id, c.thing_owner == owner)
        with _translated():
            async with self._engine.connect() as conn:
                return [str(value) for value in (await conn.execute(query)).scalars()]

    async def remove_channel(self, owner: str, channel_id: str) -> bool:
        c = channels_table.c
        query = channels_table.delete().where(c.id == channel_id, c.owner == owner)
        return await self._delete(query)

    # connections

    async def connect(
        self, owner: str, channel_ids: Sequence[str], thing_ids: Sequence[str]
    ) -> None:
        rows = [
            {"channel_id": c, "channel_owner": owner, "thing_id": t, "thing_owner": owner}
            for c in channel_ids
            for t in thing_ids
        ]
        with _translated():
            async with self._engine.begin() as conn:
                await conn.execute(connections_table.insert(), rows)

    async def disconnect(self, owner: str, channel_id: str, thing_id: str) -> None:
        c = connections_table.c
        query = connections_table.delete().where(
            c.channel_id == channel_id,
            c.channel_owner == owner,
            c.thing_id == thing_id,
            c.thing_owner == owner,
        )
        if not await self._delete(query):
            raise NotFound()

    async def has_connection(self, channel_id: str, thing_id: str) -> bool:
        return bool(await self._connected.get((channel_id, thing_id)))

    async def _connected_pairs(self, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], bool]:
        c = connections_table.c
        query = (
            sa.select(c.channel_id, c.thing_id)
            .where(sa.tuple_(c.channel_id, c.thing_id).in_(pairs))
            .distinct()
        )
        with _translated():
            async with self._engine.connect() as conn:
                return {(str(ch), str(th)): True for ch, th in await conn.execute(query)}

    # helpers

    async def _delete(self, query: sa.Executable) -> bool:
        with _translated():
            async with self._engine.begin() as conn:
                result = await conn.execute(query)
        return bool(result.rowcount)

    async def _page(
        self, query: sa.Select, order: Any, convert: Any, offset: int, limit: int
    ) -> Page[Any]:
        count = sa.select(sa.func.count()).select_from(query.subquery())
        with _translated():
            async with self._engine.connect() as conn:
                total = (await conn.execute(count)).scalar_one()
                rows = await conn.execute(query.order_by(order).offset(offset).limit(limit))
        return Page(total, offset, limit, [convert(row) for row in rows])

    async def _filtered_page(
        self,
        table: sa.Table,
        query: sa.Select,
        convert: Any,
        offset: int,
        limit: int,
        name: str,
        metadata: Metadata | None,
    ) -> Page[Any]:
        if self._sqlite and (metadata or not name.isascii()):
            return await self._python_filtered_page(
                table, query, convert, offset, limit, name, metadata
            )
        if name:
            pattern = f"%{_escape_like(name.lower())}%"
            query = query.where(sa.func.lower(table.c.name).like(pattern, escape="\\"))
        if metadata:
            query = query.where(
                table.c.metadata.op("@>")(sa.bindparam(None, metadata, type_=postgresql.JSONB))
            )
        return await self._page(query, table.c.id, convert, offset, limit)

    async def _python_filtered_page(
        self,
        table: sa.Table,
        query: sa.Select,
        convert: Any,
        offset: int,
        limit: int,
        name: str,
        metadata: Metadata | None,
    ) -> Page[Any]:
        """SQLite: SQL's ``lower`` folds only ASCII and there is no ``@>``, so the
        owner's rows are filtered here with PostgreSQL's semantics."""
        needle = name.lower()
        with _translated():
            async with self._engine.connect() as conn:
                rows = await conn.execute(query.order_by(table.c.id))
                matches = [
                    row
                    for row in rows
                    if needle in (row.name or "").lower()
                    and json_contains(row.metadata or {}, metadata or {})
                ]
        return Page(
            len(matches), offset, limit, [convert(r) for r in matches[offset : offset + limit]]
        )
