"""Event streams on Redis Streams (XADD/XRANGE/XREAD), as Go Mainflux writes them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import redis.asyncio as aioredis

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

    async def ping(self) -> None:
        """Raise when the server cannot be reached."""
        await self._redis.ping()

    async def close(self) -> None:
        await self._redis.aclose()
