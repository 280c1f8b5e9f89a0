"""The embedded event log: streams kept in a table of the service's own database.

Used by the all-in-one when no Redis is configured, so events survive restarts with
nothing else installed. Entry ids follow Redis's ``<ms>-<seq>`` form. The table comes
from Alembic migrations under ``events/migrations``, like every service's tables."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from mainflux.core.db import migrate
from mainflux.events.retention import age_bound
from mainflux.events.stream import Entry, id_key

#: The table's shape for queries; its schema is made by ``events/migrations``.
metadata = sa.MetaData()
events_table = sa.Table(
    "mf_events",
    metadata,
    sa.Column("stream", sa.String(255), primary_key=True),
    sa.Column("ms", sa.BigInteger, primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("fields", sa.Text, nullable=False),
)
#: Where each consumer group stands (``events/migrations`` makes it too).
groups_metadata = sa.MetaData()
groups_table = sa.Table(
    "mf_event_groups",
    groups_metadata,
    sa.Column("stream", sa.String(255), primary_key=True),
    sa.Column("grp", sa.String(255), primary_key=True),
    sa.Column("ms", sa.BigInteger, nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
)


class SqlEventStream:
    """An :class:`~mainflux.events.stream.EventStream` stored in SQLite or PostgreSQL.

    Readers in the same process are woken on append; readers elsewhere poll.

    Consumer groups keep one position per group: the last acknowledged entry. Reading
    returns the entries after it, so whatever was read but not acknowledged comes back
    first. Acknowledging an entry moves the position to it; the group's consumers are
    expected to acknowledge in order (the bootstrap sync does: an entry it cannot
    apply is parked and then acknowledged)."""

    def __init__(self, engine: AsyncEngine, *, poll_interval: float = 0.2) -> None:
        self._engine = engine
        self._poll = poll_interval
        self._lock = asyncio.Lock()
        self._last: dict[str, tuple[int, int]] = {}
        self._appended = asyncio.Condition()

    async def create_schema(self) -> None:
        """Apply the event log's migrations (version table ``alembic_version_events``).

        A database whose ``mf_events`` table an earlier release made without a
        migration keeps it as it is: the first revision only records itself."""
        await migrate(self._engine, "events")

    async def append(self, stream: str, fields: Mapping[str, str]) -> str:
        async with self._lock:
            last = self._last.get(stream) or await self._load_last(stream)
            now = int(time.time() * 1000)
            ms, seq = (now, 0) if now > last[0] else (last[0], last[1] + 1)
            async with self._engine.begin() as conn:
                await conn.execute(
                    events_table.insert().values(
                        stream=stream, ms=ms, seq=seq, fields=orjson.dumps(dict(fields)).decode()
                    )
                )
            self._last[stream] = (ms, seq)
        async with self._appended:
            self._appended.notify_all()
        return f"{ms}-{seq}"

    async def _load_last(self, stream: str) -> tuple[int, int]:
        query = (
            sa.select(events_table.c.ms, events_table.c.seq)
            .where(events_table.c.stream == stream)
            .order_by(events_table.c.ms.desc(), events_table.c.seq.desc())
            .limit(1)
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return (row.ms, row.seq) if row else (0, 0)

    async def _last_id(self, stream: str) -> str:
        ms, seq = self._last.get(stream) or await self._load_last(stream)
        return f"{ms}-{seq}"

    async def _fetch(self, stream: str, after: str, count: int) -> list[Entry]:
        ms, seq = id_key(after)
        c = events_table.c
        query = (
            sa.select(c.ms, c.seq, c.fields)
            .where(c.stream == stream)
            .where(sa.or_(c.ms > ms, sa.and_(c.ms == ms, c.seq > seq)))
            .order_by(c.ms, c.seq)
            .limit(count)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [(f"{r.ms}-{r.seq}", orjson.loads(r.fields)) for r in rows]

    async def read(
        self, stream: str, after: str = "0-0", count: int = 100, block: float | None = None
    ) -> list[Entry]:
        if after == "$":
            if block is None:
                return []
            after = await self._last_id(stream)
        entries = await self._fetch(stream, after, count)
        if entries or block is None:
            return entries
        deadline = time.monotonic() + block
        while not entries and (remaining := deadline - time.monotonic()) > 0:
            async with self._appended:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._appended.wait(), min(remaining, self._poll))
            entries = await self._fetch(stream, after, count)
        return entries

    async def create_group(self, stream: str, group: str) -> None:
        g = groups_table.c
        async with self._lock, self._engine.begin() as conn:
            found = (
                await conn.execute(sa.select(g.ms).where(g.stream == stream, g.grp == group))
            ).first()
            if found is None:
                ms, seq = self._last.get(stream) or await self._load_last(stream)
                await conn.execute(
                    groups_table.insert().values(stream=stream, grp=group, ms=ms, seq=seq)
                )

    async def _group_position(self, stream: str, group: str) -> str:
        g = groups_table.c
        query = sa.select(g.ms, g.seq).where(g.stream == stream, g.grp == group)
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            raise LookupError(f"no consumer group {group!r} on {stream!r}")
        return f"{row.ms}-{row.seq}"

    async def read_group(
        self, stream: str, group: str, consumer: str, count: int = 100, block: float = 1.0
    ) -> list[Entry]:
        after = await self._group_position(stream, group)
        return await self.read(stream, after, count, block)

    async def ack(self, stream: str, group: str, entry_id: str) -> None:
        ms, seq = id_key(entry_id)
        g = groups_table.c
        query = (
            groups_table.update()
            .where(g.stream == stream, g.grp == group)
            .where(sa.or_(g.ms < ms, sa.and_(g.ms == ms, g.seq < seq)))
            .values(ms=ms, seq=seq)
        )
        async with self._engine.begin() as conn:
            await conn.execute(query)

    async def trim(self, stream: str, *, max_entries: int, max_age: float) -> int:
        """Delete the entries beyond the newest ``max_entries`` or older than
        ``max_age`` seconds, but none after the position of a consumer group of the
        stream (the entries it has not acknowledged)."""
        c, g = events_table.c, groups_table.c
        async with self._engine.begin() as conn:
            keeps: list[tuple[int, int]] = []
            if max_entries:
                query = (
                    sa.select(c.ms, c.seq)
                    .where(c.stream == stream)
                    .order_by(c.ms.desc(), c.seq.desc())
                    .offset(max_entries - 1)
                    .limit(1)
                )
                row = (await conn.execute(query)).first()
                if row is not None:
                    keeps.append((row.ms, row.seq))
            if (aged := age_bound(max_age)) is not None:
                keeps.append(aged)
            if not keeps:
                return 0
            keep = max(keeps)
            groups = await conn.execute(sa.select(g.ms, g.seq).where(g.stream == stream))
            for position in groups:
                keep = min(keep, (position.ms, position.seq + 1))
            ms, seq = keep
            result = await conn.execute(
                events_table.delete()
                .where(c.stream == stream)
                .where(sa.or_(c.ms < ms, sa.and_(c.ms == ms, c.seq < seq)))
            )
        return int(result.rowcount or 0)

    async def close(self) -> None:
        return None
