"""Event streams on Redis Streams (XADD/XRANGE/XREAD), as Go Mainflux writes them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from mainflux.events.stream import Entry


class RedisEventStream:
    """An :class:`~mainflux.events.stream.EventStream` on a Redis server.

    ``maxlen`` trims each stream approximately (``MAXLEN ~``) as Mainflux does; ``0``
    keeps every entry so the stream can be replayed from the start."""

    def __init__(self, url: str, *, maxlen: int = 0) -> None:
        self._redis = aioredis.from_url(url, decode_responses=True)
        self._maxlen = maxlen or None

    async def append(self, stream: str, fields: Mapping[str, str]) -> str:
        entry_id = await self._redis.xadd(
            stream, cast(Any, dict(fields)), maxlen=self._maxlen, approximate=True
        )
        return cast(str, entry_id)

    async def read(
        self, stream: str, after: str = "0-0", count: int = 100, block: float | None = None
    ) -> list[Entry]:
        if block is None:
            if after == "$":
                return []
            rows: Any = await self._redis.xrange(stream, min=f"({after}", count=count)
            return [(entry_id, fields) for entry_id, fields in rows]
        result: Any = await self._redis.xread({stream: after}, count=count, block=int(block * 1000))
        if not result:
            return []
        return [(entry_id, fields) for entry_id, fields in result[0][1]]

    async def create_group(self, stream: str, group: str) -> None:
        """``XGROUP CREATE <stream> <group> $ MKSTREAM``; an existing group is kept."""
        try:
            await self._redis.xgroup_create(stream, group, id="$", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def read_group(
        self, stream: str, group: str, consumer: str, count: int = 100, block: float = 1.0
    ) -> list[Entry]:
        """``XREADGROUP`` from ``0`` (this consumer's pending entries), then from ``>``."""
        pending: Any = await self._redis.xreadgroup(group, consumer, {stream: "0"}, count=count)
        rows = pending[0][1] if pending else []
        if not rows:
            fresh: Any = await self._redis.xreadgroup(
                group, consumer, {stream: ">"}, count=count, block=max(1, int(block * 1000))
            )
            rows = fresh[0][1] if fresh else []
        return [(entry_id, fields or {}) for entry_id, fields in rows]

    async def ack(self, stream: str, group: str, entry_id: str) -> None:
        await self._redis.xack(stream, group, entry_id)

    async def ping(self) -> None:
        """Raise when the server cannot be reached."""
        await self._redis.ping()

    async def close(self) -> None:
        await self._redis.aclose()
