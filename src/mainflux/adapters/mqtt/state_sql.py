"""The broker's state in SQLite or PostgreSQL (the all-in-one's database by default).

Four tables made by ``adapters/mqtt/migrations`` (version table
``alembic_version_mqtt``): ``mqtt_sessions``, ``mqtt_subscriptions``, ``mqtt_queue``
and ``mqtt_retained``. A batch of changes is one transaction; runs of changes of one
kind go as one ``executemany``."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from mainflux.adapters.mqtt.persistence import (
    Dequeue,
    DropSession,
    Enqueue,
    Op,
    Retain,
    SaveSession,
    StoredSession,
    StoredState,
    Subscribe,
    Unsubscribe,
)
from mainflux.core.db import migrate
from mainflux.core.health import database_probe

metadata = sa.MetaData()
sessions = sa.Table(
    "mqtt_sessions",
    metadata,
    sa.Column("owner", sa.Text, primary_key=True),
    sa.Column("client_id", sa.Text, primary_key=True),
    sa.Column("expiry", sa.BigInteger),
    sa.Column("expires_at", sa.Float),
)
subscriptions = sa.Table(
    "mqtt_subscriptions",
    metadata,
    sa.Column("owner", sa.Text, primary_key=True),
    sa.Column("client_id", sa.Text, primary_key=True),
    sa.Column("topic_filter", sa.Text, primary_key=True),
    sa.Column("qos", sa.SmallInteger, nullable=False),
    sa.Column("options", sa.BigInteger, nullable=False),
)
queue = sa.Table(
    "mqtt_queue",
    metadata,
    sa.Column("owner", sa.Text, primary_key=True),
    sa.Column("client_id", sa.Text, primary_key=True),
    sa.Column("seq", sa.BigInteger, primary_key=True),
    sa.Column("record", sa.LargeBinary, nullable=False),
)
retained = sa.Table(
    "mqtt_retained",
    metadata,
    sa.Column("topic", sa.Text, primary_key=True),
    sa.Column("record", sa.LargeBinary, nullable=False),
)

_OWNER: Any = sa.bindparam("b_owner")
_CLIENT: Any = sa.bindparam("b_client_id")


def _of(table: sa.Table) -> Any:
    return sa.and_(table.c.owner == _OWNER, table.c.client_id == _CLIENT)


_DELETE_SESSION = sessions.delete().where(_of(sessions))
_DELETE_SUBSCRIPTIONS = subscriptions.delete().where(_of(subscriptions))
_DELETE_QUEUE = queue.delete().where(_of(queue))
_DELETE_SUBSCRIPTION = subscriptions.delete().where(
    _of(subscriptions), subscriptions.c.topic_filter == sa.bindparam("b_filter")
)
_DELETE_MESSAGE = queue.delete().where(_of(queue), queue.c.seq == sa.bindparam("b_seq"))
_DELETE_RETAINED = retained.delete().where(retained.c.topic == sa.bindparam("b_topic"))


class SqlStateStore:
    """A :class:`~mainflux.adapters.mqtt.persistence.StateStore` on SQLAlchemy Core."""

    def __init__(self, engine: AsyncEngine, *, owned: bool = False) -> None:
        """``owned``: the store disposes of ``engine`` when closed."""
        self._engine = engine
        self._owned = owned

    async def ping(self) -> None:
        """Return when the database answers ``SELECT 1``."""
        await database_probe(self._engine)()

    async def create_schema(self) -> None:
        """Apply the migrations of the broker's state."""
        await migrate(self._engine, "mqtt")

    async def load(self) -> StoredState:
        """Every session with its subscriptions and queued messages, and the retained."""
        state = StoredState()
        async with self._engine.connect() as conn:
            by_key: dict[tuple[str, str], StoredSession] = {}
            for row in await conn.execute(sa.select(sessions)):
                stored = StoredSession(row.owner, row.client_id, row.expiry, row.expires_at)
                by_key[(row.owner, row.client_id)] = stored
                state.sessions.append(stored)
            for row in await conn.execute(sa.select(subscriptions)):
                owner = by_key.get((row.owner, row.client_id))
                if owner is not None:
                    owner.subscriptions[row.topic_filter] = (row.qos, row.options)
            ordered = sa.select(queue).order_by(queue.c.owner, queue.c.client_id, queue.c.seq)
            for row in await conn.execute(ordered):
                owner = by_key.get((row.owner, row.client_id))
                if owner is not None:
                    owner.queued.append((row.seq, bytes(row.record)))
            for row in await conn.execute(sa.select(retained)):
                state.retained.append((row.topic, bytes(row.record)))
        return state

    async def apply(self, ops: Sequence[Op]) -> None:
        """Apply ``ops`` in order, in one transaction."""
        async with self._engine.begin() as conn:
            for kind, run in groupby(ops, type):
                await _apply_run(conn, kind, list(run))

    async def close(self) -> None:
        """Dispose of the engine if the store owns it."""
        if self._owned:
            await self._engine.dispose()


async def _apply_run(conn: AsyncConnection, kind: type, run: list[Any]) -> None:
    """Apply consecutive changes of one kind."""
    if kind is Enqueue:  # replaces: a batch sent again after a lost COMMIT answer
        keys = [{"b_owner": o, "b_client_id": c, "b_seq": s} for o, c, s, _ in run]
        await conn.execute(_DELETE_MESSAGE, keys)
        rows = [{"owner": o, "client_id": c, "seq": s, "record": r} for o, c, s, r in run]
        await conn.execute(queue.insert(), rows)
    elif kind is Dequeue:
        keys = [{"b_owner": o, "b_client_id": c, "b_seq": s} for o, c, s in run]
        await conn.execute(_DELETE_MESSAGE, keys)
    elif kind is SaveSession:
        last = {(op.owner, op.client_id): op for op in run}  # the latest of each
        keys = [{"b_owner": o, "b_client_id": c} for o, c in last]
        await conn.execute(_DELETE_SESSION, keys)
        rows = [
            {"owner": o, "client_id": c, "expiry": e, "expires_at": a}
            for o, c, e, a in last.values()
        ]
        await conn.execute(sessions.insert(), rows)
    elif kind is DropSession:
        keys = [{"b_owner": o, "b_client_id": c} for o, c in dict.fromkeys(run)]
        for statement in (_DELETE_SESSION, _DELETE_SUBSCRIPTIONS, _DELETE_QUEUE):
            await conn.execute(statement, keys)
    elif kind is Subscribe:
        latest = {(op.owner, op.client_id, op.topic_filter): op for op in run}
        keys = [{"b_owner": o, "b_client_id": c, "b_filter": f} for o, c, f in latest]
        await conn.execute(_DELETE_SUBSCRIPTION, keys)
        rows = [
            {"owner": o, "client_id": c, "topic_filter": f, "qos": q, "options": x}
            for o, c, f, q, x in latest.values()
        ]
        await conn.execute(subscriptions.insert(), rows)
    elif kind is Unsubscribe:
        keys = [{"b_owner": o, "b_client_id": c, "b_filter": f} for o, c, f in run]
        await conn.execute(_DELETE_SUBSCRIPTION, keys)
    elif kind is Retain:
        latest = {op.topic: op.record for op in run}
        await conn.execute(_DELETE_RETAINED, [{"b_topic": t} for t in latest])
        rows = [{"topic": t, "record": r} for t, r in latest.items() if r is not None]
        if rows:
            await conn.execute(retained.insert(), rows)
