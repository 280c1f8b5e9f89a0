"""Access caches for the things service: in-process, or Redis with Mainflux's keys.

Redis layout (as Go Mainflux's things cache): ``thing_key:<key>`` holds the thing id,
``thing:<id>`` holds the key, and the set ``channel:<id>`` holds the ids of the things
connected to the channel. Unlike Mainflux, entries are dropped on key change, on thing
removal (also from channel sets), on channel removal and on disconnect."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from mainflux.core.errors import ServiceUnavailable
from mainflux.things.ports import AccessCache

__all__ = ["AccessCache", "InMemoryAccessCache", "RedisAccessCache"]


class InMemoryAccessCache:
    """An :class:`AccessCache` in this process's memory (the all-in-one's default)."""

    def __init__(self) -> None:
        self._ids: dict[str, str] = {}
        self._keys: dict[str, str] = {}
        self._channels: dict[str, set[str]] = {}

    async def thing_id(self, key: str) -> str | None:
        return self._ids.get(key)

    async def save_thing(self, key: str, thing_id: str) -> None:
        self._ids[key] = thing_id
        self._keys[thing_id] = key

    async def forget_thing(self, thing_id: str, key: str, channel_ids: Iterable[str] = ()) -> None:
        self._ids.pop(key, None)
        cached = self._keys.pop(thing_id, None)
        if cached is not None:
            self._ids.pop(cached, None)
        for channel_id in channel_ids:
            self._channels.get(channel_id, set()).discard(thing_id)

    async def is_connected(self, channel_id: str, thing_id: str) -> bool:
        return thing_id in self._channels.get(channel_id, ())

    async def connect(self, channel_id: str, thing_id: str) -> None:
        self._channels.setdefault(channel_id, set()).add(thing_id)

    async def disconnect(self, channel_id: str, thing_id: str) -> None:
        members = self._channels.get(channel_id)
        if members is not None:
            members.discard(thing_id)
            if not members:
                del self._channels[channel_id]

    async def forget_channel(self, channel_id: str) -> None:
        self._channels.pop(channel_id, None)

    async def close(self) -> None:
        self._ids.clear()
        self._keys.clear()
        self._channels.clear()


@contextmanager
def _unavailable() -> Iterator[None]:
    try:
        yield
    except (RedisError, OSError):
        raise ServiceUnavailable("access cache unavailable") from None


class RedisAccessCache:
    """An :class:`AccessCache` on Redis, shared by every things instance.

    Connects lazily; a Redis failure is ``ServiceUnavailable``."""

    def __init__(self, url: str) -> None:
        self._redis = aioredis.from_url(url, decode_responses=True)

    async def thing_id(self, key: str) -> str | None:
        with _unavailable():
            value = await self._redis.get(f"thing_key:{key}")
        return None if value is None else str(value)

    async def save_thing(self, key: str, thing_id: str) -> None:
        with _unavailable():
            await self._redis.mset({f"thing_key:{key}": thing_id, f"thing:{thing_id}": key})

    async def forget_thing(self, thing_id: str, key: str, channel_ids: Iterable[str] = ()) -> None:
        with _unavailable():
            cached = await self._redis.get(f"thing:{thing_id}")
            keys = {f"thing_key:{key}", f"thing:{thing_id}"}
            if cached is not None:
                keys.add(f"thing_key:{cached!s}")
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.delete(*keys)
                for channel_id in channel_ids:
                    pipe.srem(f"channel:{channel_id}", thing_id)
                await pipe.execute()

    async def is_connected(self, channel_id: str, thing_id: str) -> bool:
        with _unavailable():
            return bool(await self._redis.sismember(f"channel:{channel_id}", thing_id))

    async def connect(self, channel_id: str, thing_id: str) -> None:
        with _unavailable():
            await self._redis.sadd(f"channel:{channel_id}", thing_id)

    async def disconnect(self, channel_id: str, thing_id: str) -> None:
        with _unavailable():
            await self._redis.srem(f"channel:{channel_id}", thing_id)

    async def forget_channel(self, channel_id: str) -> None:
        with _unavailable():
            await self._redis.delete(f"channel:{channel_id}")

    async def ping(self) -> None:
        """Raise ``ServiceUnavailable`` when Redis cannot be reached."""
        with _unavailable():
            await self._redis.ping()

    async def close(self) -> None:
        await self._redis.aclose()


_check_memory: type[AccessCache] = InMemoryAccessCache
_check_redis: type[AccessCache] = RedisAccessCache
