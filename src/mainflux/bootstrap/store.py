"""The bootstrap repository on SQLAlchemy Core, for SQLite and PostgreSQL alike.

Tables (made by ``bootstrap/migrations``): ``bootstrap_configs``, the channels of each
config with the name and metadata kept of them (``bootstrap_config_channels``, removed
with their config), ``bootstrap_unknown_configs`` and ``bootstrap_parked_events``.
Database errors become domain errors here: a taken external id or thing is
``Conflict``, an unmatched row ``NotFound``, an unreachable database
``ServiceUnavailable``."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Final

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from mainflux.bootstrap.models import (
    Config,
    ConfigChannel,
    ConfigFilter,
    Metadata,
    Page,
    State,
    UnknownConfig,
)
from mainflux.core.errors import Conflict, MalformedEntity, ServiceUnavailable
from mainflux.core.errors import NotFound as NotFoundError

#: Unknown bootstrap attempts kept at most, unless configured.
DEFAULT_MAX_UNKNOWN: Final = 10_000

schema = sa.MetaData()
configs = sa.Table(
    "bootstrap_configs",
    schema,
    sa.Column("thing_id", sa.String(36), primary_key=True),
    sa.Column("owner", sa.String(254), nullable=False),
    sa.Column("name", sa.String(1024), nullable=False),
    sa.Column("thing_key", sa.String(4096), nullable=False),
    sa.Column("external_id", sa.String(1024), nullable=False, unique=True),
    sa.Column("external_key", sa.String(1024), nullable=False),
    sa.Column("content", sa.Text, nullable=False),
    sa.Column("client_cert", sa.Text, nullable=False),
    sa.Column("client_key", sa.Text, nullable=False),
    sa.Column("ca_cert", sa.Text, nullable=False),
    sa.Column("state", sa.SmallInteger, nullable=False),
)
config_channels = sa.Table(
    "bootstrap_config_channels",
    schema,
    sa.Column(
        "thing_id",
        sa.String(36),
        sa.ForeignKey("bootstrap_configs.thing_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("channel_id", sa.String(36), primary_key=True),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("name", sa.String(1024), nullable=False),
    sa.Column("metadata", sa.JSON(none_as_null=True)),
)
unknown_configs = sa.Table(
    "bootstrap_unknown_configs",
    schema,
    sa.Column("external_id", sa.String(1024), primary_key=True),
    sa.Column("external_key", sa.Text, nullable=False),
)
parked_events = sa.Table(
    "bootstrap_parked_events",
    schema,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("stream", sa.String(255), nullable=False),
    sa.Column("entry_id", sa.String(64), nullable=False),
    sa.Column("fields", sa.Text, nullable=False),
    sa.Column("error", sa.Text, nullable=False),
    sa.Column("parked_at", sa.Float, nullable=False),
)


@contextmanager
def _translated() -> Iterator[None]:
    """Turn database failures into domain errors."""
    try:
        yield
    except sa.exc.IntegrityError:
        raise Conflict() from None
    except sa.exc.DataError:
        raise MalformedEntity() from None
    except (sa.exc.OperationalError, sa.exc.InterfaceError, OSError):
        raise ServiceUnavailable("database unavailable") from None


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _config(row: Any, channels: list[ConfigChannel] | None = None) -> Config:
    return Config(
        thing_id=row.thing_id,
        owner=row.owner,
        name=row.name,
        thing_key=row.thing_key,
        external_id=row.external_id,
        external_key=row.external_key,
        channels=channels or [],
        content=row.content,
        client_cert=row.client_cert,
        client_key=row.client_key,
        ca_cert=row.ca_cert,
        state=State(row.state),
    )


def _channel_rows(thing_id: str, channels: Sequence[ConfigChannel]) -> list[dict[str, Any]]:
    return [
        {
            "thing_id": thing_id,
            "channel_id": c.id,
            "position": i,
            "name": c.name,
            "metadata": c.metadata,
        }
        for i, c in enumerate(channels)
    ]


class SqlConfigRepository:
    """A :class:`~mainflux.bootstrap.ports.ConfigRepository` on an async engine;
    at most ``max_unknown`` unknown attempts are kept."""

    def __init__(self, engine: AsyncEngine, *, max_unknown: int = DEFAULT_MAX_UNKNOWN) -> None:
        self._engine = engine
        self._max_unknown = max_unknown

    async def save(self, config: Config) -> None:
        row = {
            "thing_id": config.thing_id,
            "owner": config.owner,
            "name": config.name,
            "thing_key": config.thing_key,
            "external_id": config.external_id,
            "external_key": config.external_key,
            "content": config.content,
            "client_cert": config.client_cert,
            "client_key": config.client_key,
            "ca_cert": config.ca_cert,
            "state": int(config.state),
        }
        with _translated():
            async with self._engine.begin() as conn:
                await conn.execute(configs.insert(), row)
                if config.channels:
                    await conn.execute(
                        config_channels.insert(), _channel_rows(config.thing_id, config.channels)
                    )
                await conn.execute(
                    unknown_configs.delete().where(
                        unknown_configs.c.external_id == config.external_id
                    )
                )

    async def _channels(self, conn: AsyncConnection, thing_id: str) -> list[ConfigChannel]:
        c = config_channels.c
        query = sa.select(config_channels).where(c.thing_id == thing_id).order_by(c.position)
        rows = (await conn.execute(query)).all()
        return [ConfigChannel(r.channel_id, r.name, r.metadata) for r in rows]

    async def _one(self, where: sa.ColumnElement[bool]) -> Config:
        with _translated():
            async with self._engine.connect() as conn:
                row = (await conn.execute(sa.select(configs).where(where))).first()
                if row is None:
                    raise NotFoundError()
                return _config(row, await self._channels(conn, row.thing_id))

    async def retrieve(self, owner: str, thing_id: str) -> Config:
        return await self._one(sa.and_(configs.c.thing_id == thing_id, configs.c.owner == owner))

    async def retrieve_by_external_id(self, external_id: str) -> Config:
        return await self._one(configs.c.external_id == external_id)

    async def list_configs(self, owner: str, filter: ConfigFilter, offset: int, limit: int) -> Page:
        c = configs.c
        where = [c.owner == owner]
        if filter.name:
            where.append(
                sa.func.lower(c.name).like(f"%{_escape_like(filter.name.lower())}%", escape="\\")
            )
        if filter.state is not None:
            where.append(c.state == int(filter.state))
        if filter.external_id:
            where.append(c.external_id == filter.external_id)
        if filter.thing_id:
            where.append(c.thing_id == filter.thing_id.lower())
        if filter.thing_key:
            where.append(c.thing_key == filter.thing_key)
        query = sa.select(configs).where(*where).order_by(c.thing_id).offset(offset).limit(limit)
        count = sa.select(sa.func.count()).select_from(configs).where(*where)
        with _translated():
            async with self._engine.connect() as conn:
                rows = (await conn.execute(query)).all()
                total = (await conn.execute(count)).scalar_one()
        return Page(total, offset, limit, [_config(r) for r in rows])

    async def _update_one(self, owner: str, thing_id: str, values: Mapping[str, Any]) -> None:
        c = configs.c
        query = configs.update().where(c.thing_id == thing_id, c.owner == owner).values(**values)
        with _translated():
            async with self._engine.begin() as conn:
                result = await conn.execute(query)
        if result.rowcount == 0:
            raise NotFoundError()

    async def update(self, owner: str, thing_id: str, name: str, content: str) -> None:
        await self._update_one(owner, thing_id, {"name": name, "content": content})

    async def update_certs(
        self, owner: str, thing_id: str, client_cert: str, client_key: str, ca_cert: str
    ) -> None:
        values = {"client_cert": client_cert, "client_key": client_key, "ca_cert": ca_cert}
        await self._update_one(owner, thing_id, values)

    async def update_channels(
        self, owner: str, thing_id: str, channels: Sequence[ConfigChannel]
    ) -> None:
        c = configs.c
        exists = sa.select(c.thing_id).where(c.thing_id == thing_id, c.owner == owner)
        with _translated():
            async with self._engine.begin() as conn:
                if (await conn.execute(exists)).first() is None:
                    raise NotFoundError()
                await conn.execute(
                    config_channels.delete().where(config_channels.c.thing_id == thing_id)
                )
                if channels:
                    await conn.execute(config_channels.insert(), _channel_rows(thing_id, channels))

    async def change_state(self, owner: str, thing_id: str, state: State) -> None:
        await self._update_one(owner, thing_id, {"state": int(state)})

    async def remove(self, owner: str, thing_id: str) -> bool:
        c = configs.c
        with _translated():
            async with self._engine.begin() as conn:
                result = await conn.execute(
                    configs.delete().where(c.thing_id == thing_id, c.owner == owner)
                )
        return bool(result.rowcount)

    async def save_unknown(self, external_id: str, external_key: str) -> None:
        u = unknown_configs.c
        with _translated():
            async with self._engine.begin() as conn:
                known = sa.select(u.external_id).where(u.external_id == external_id)
                if (await conn.execute(known)).first() is not None:
                    return
                count = sa.select(sa.func.count()).select_from(unknown_configs)
                if (await conn.execute(count)).scalar_one() >= self._max_unknown:
                    return
                try:
                    async with conn.begin_nested():
                        await conn.execute(
                            unknown_configs.insert().values(
                                external_id=external_id, external_key=external_key
                            )
                        )
                except sa.exc.IntegrityError:
                    return  # saved by a concurrent attempt

    async def list_unknown(self, offset: int, limit: int) -> Page:
        u = unknown_configs.c
        query = sa.select(unknown_configs).order_by(u.external_id).offset(offset).limit(limit)
        count = sa.select(sa.func.count()).select_from(unknown_configs)
        with _translated():
            async with self._engine.connect() as conn:
                rows = (await conn.execute(query)).all()
                total = (await conn.execute(count)).scalar_one()
        return Page(
            total, offset, limit, [UnknownConfig(r.external_id, r.external_key) for r in rows]
        )

    # applied from the things event stream

    async def remove_thing(self, thing_id: str) -> None:
        with _translated():
            async with self._engine.begin() as conn:
                await conn.execute(configs.delete().where(configs.c.thing_id == thing_id))

    async def deactivate(self, thing_id: str, channel_id: str) -> None:
        member = sa.select(config_channels.c.channel_id).where(
            config_channels.c.thing_id == thing_id, config_channels.c.channel_id == channel_id
        )
        query = (
            configs.update()
            .where(configs.c.thing_id == thing_id, sa.exists(member))
            .values(state=int(State.INACTIVE))
        )
        with _translated():
            async with self._engine.begin() as conn:
                await conn.execute(query)

    async def update_channel(self, channel_id: str, name: str, metadata: Metadata | None) -> None:
        query = (
            config_channels.update()
            .where(config_channels.c.channel_id == channel_id)
            .values(name=name, metadata=metadata)
        )
        with _translated():
            async with self._engine.begin() as conn:
                await conn.execute(query)

    async def remove_channel(self, channel_id: str) -> None:
        query = config_channels.delete().where(config_channels.c.channel_id == channel_id)
        with _translated():
            async with self._engine.begin() as conn:
                await conn.execute(query)

    async def park(self, stream: str, entry_id: str, fields: Mapping[str, str], error: str) -> None:
        row = {
            "stream": stream,
            "entry_id": entry_id,
            "fields": orjson.dumps(dict(fields)).decode(),
            "error": error,
            "parked_at": time.time(),
        }
        with _translated():
            async with self._engine.begin() as conn:
                await conn.execute(parked_events.insert(), row)

    async def parked(self) -> list[tuple[str, str, dict[str, str], str]]:
        """Every parked event: stream, entry id, fields and error, oldest first."""
        query = sa.select(parked_events).order_by(parked_events.c.id)
        with _translated():
            async with self._engine.connect() as conn:
                rows = (await conn.execute(query)).all()
        return [(r.stream, r.entry_id, orjson.loads(r.fields), r.error) for r in rows]
