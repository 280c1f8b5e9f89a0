"""Event streams on Redis Streams (XADD/XRANGE/XREAD), as Go Mainflux writes them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from mainflux.events.retention import age_bound
from mainflux.events.stream import Entry, id_key


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

    async def trim(self, stream: str, *, max_entries: int, max_age: float) -> int:
        """``XTRIM <stream> MINID`` at the oldest entry the bounds keep, or at the oldest
        entry a consumer group still needs when that is older: its oldest pending
        entry, else the first after its last delivered one."""
        keep = await self._bounds_keep(stream, max_entries, max_age)
        if keep is None:
            return 0
        try:
            groups: Any = await self._redis.xinfo_groups(stream)
        except ResponseError:  # no such stream
            return 0
        for group in groups:
            ms, seq = id_key(str(group["last-delivered-id"]))
            needed = (ms, seq + 1)
            if group["pending"]:
                summary: Any = await self._redis.xpending(stream, group["name"])
                needed = min(needed, id_key(str(summary["min"])))
            keep = min(keep, needed)
        dropped = await self._redis.execute_command(
            "XTRIM", stream, "MINID", f"{keep[0]}-{keep[1]}"
        )
        return int(dropped)

    async def _bounds_keep(
        self, stream: str, max_entries: int, max_age: float
    ) -> tuple[int, int] | None:
        """The oldest entry the bounds keep (``None``: they keep everything)."""
        keeps: list[tuple[int, int]] = []
        if max_entries:
            newest: Any = await self._redis.xrevrange(stream, count=max_entries)
            if len(newest) == max_entries:
                keeps.append(id_key(newest[-1][0]))
        if (aged := age_bound(max_age)) is not None:
            keeps.append(aged)
        return max(keeps) if keeps else None

    async def ping(self) -> None:
        """Raise when the server cannot be reached."""
        await self._redis.ping()

    async def close(self) -> None:
        await self._redis.aclose()
