"""Access caches for the things service: in-process, or Redis with Mainflux's keys.

Redis layout (as Go Mainflux's things cache): ``thing_key:<key>`` holds the thing id,
``thing:<id>`` holds the key, and the set ``channel:<id>`` holds the ids of the things
connected to the channel. Unlike Mainflux, entries are dropped on key change, on thing
removal (also from channel sets), on channel removal and on disconnect, and they expire:
keys ``ttl`` seconds after they were filled, a channel's set ``ttl`` seconds after its
first member was added (``MF_THINGS_CACHE_TTL``, :data:`DEFAULT_TTL`), so an entry that
missed an invalidation (say, Redis was briefly unreachable) does not live for ever.

Fills cannot bring back what an invalidation removed. Every invalidation moves a
generation counter on (in Redis ``thing_cache_generation``, moved in the same
transaction as the deletions); the service reads it before asking the database and
passes it to :meth:`save_thing`/:meth:`connect`, which store only when it has not moved
(checked and stored atomically by a Lua script). A read that raced with a key change, a
removal or a disconnect is thus answered but not cached."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Final

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from mainflux.core.errors import ServiceUnavailable
from mainflux.things.ports import AccessCache

__all__ = ["DEFAULT_TTL", "AccessCache", "InMemoryAccessCache", "RedisAccessCache"]

#: Seconds a Redis entry lives after it was filled (``MF_THINGS_CACHE_TTL``).
DEFAULT_TTL: Final = 300
#: Connections to Redis an access cache opens at most.
DEFAULT_CONNECTIONS: Final = 32
_POOL_WAIT: Final = 30.0  # seconds a check waits for a free connection

#: The Redis key of the generation counter that every invalidation moves on.
GENERATION_KEY: Final = "thing_cache_generation"

# KEYS: generation, thing_key:<key>, thing:<id>; ARGV: expected generation, id, key, ttl.
_SAVE_THING: Final = """
if (redis.call('GET', KEYS[1]) or '0') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[4])
redis.call('SET', KEYS[3], ARGV[3], 'EX', ARGV[4])
return 1
"""

# KEYS: generation, channel:<id>; ARGV: expected generation, thing id, ttl. The set's
# expiry is set when it has none, so no member outlives ``ttl`` by being re-added.
_CONNECT: Final = """
if (redis.call('GET', KEYS[1]) or '0') ~= ARGV[1] then return 0 end
redis.call('SADD', KEYS[2], ARGV[2])
if redis.call('TTL', KEYS[2]) < 0 then redis.call('EXPIRE', KEYS[2], ARGV[3]) end
return 1
"""


class InMemoryAccessCache:
    """An :class:`AccessCache` in this process's memory (the all-in-one's default)."""

    def __init__(self) -> None:
        self._ids: dict[str, str] = {}
        self._keys: dict[str, str] = {}
        self._channels: dict[str, set[str]] = {}
        self._generation = 0

    async def generation(self) -> int:
        return self._generation

    async def thing_id(self, key: str) -> str | None:
        return self._ids.get(key)

    async def save_thing(self, key: str, thing_id: str, generation: int) -> None:
        if generation != self._generation:
            return
        self._ids[key] = thing_id
        self._keys[thing_id] = key

    async def forget_thing(self, thing_id: str, key: str, channel_ids: Iterable[str] = ()) -> None:
        self._generation += 1
        self._ids.pop(key, None)
        cached = self._keys.pop(thing_id, None)
        if cached is not None:
            self._ids.pop(cached, None)
        for channel_id in channel_ids:
            self._channels.get(channel_id, set()).discard(thing_id)

    async def is_connected(self, channel_id: str, thing_id: str) -> bool:
        return thing_id in self._channels.get(channel_id, ())

    async def connect(self, channel_id: str, thing_id: str, generation: int) -> None:
        if generation == self._generation:
            self._channels.setdefault(channel_id, set()).add(thing_id)

    async def disconnect(self, channel_id: str, thing_id: str) -> None:
        self._generation += 1
        members = self._channels.get(channel_id)
        if members is not None:
            members.discard(thing_id)
            if not members:
                del self._channels[channel_id]

    async def forget_channel(self, channel_id: str) -> None:
        self._generation += 1
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

    Entries expire ``ttl`` seconds after they were filled. Connects lazily, at most
    ``connections`` connections (a burst of access checks queues for them instead of
    opening one connection per check); a Redis failure is ``ServiceUnavailable``."""

    def __init__(
        self, url: str, *, ttl: int = DEFAULT_TTL, connections: int = DEFAULT_CONNECTIONS
    ) -> None:
        if ttl < 1:
            raise ValueError("ttl must be at least one second")
        pool = aioredis.BlockingConnectionPool.from_url(
            url, decode_responses=True, max_connections=connections, timeout=_POOL_WAIT
        )
        self._redis = aioredis.Redis.from_pool(pool)  # closed with it
        self._ttl = ttl
        self._save_thing = self._redis.register_script(_SAVE_THING)
        self._connect = self._redis.register_script(_CONNECT)

    async def generation(self) -> int:
        with _unavailable():
            value = await self._redis.get(GENERATION_KEY)
        return int(value or 0)

    async def thing_id(self, key: str) -> str | None:
        with _unavailable():
            value = await self._redis.get(f"thing_key:{key}")
        return None if value is None else str(value)

    async def save_thing(self, key: str, thing_id: str, generation: int) -> None:
        with _unavailable():
            await self._save_thing(
                keys=[GENERATION_KEY, f"thing_key:{key}", f"thing:{thing_id}"],
                args=[generation, thing_id, key, self._ttl],
            )

    async def forget_thing(self, thing_id: str, key: str, channel_ids: Iterable[str] = ()) -> None:
        with _unavailable():
            cached = await self._redis.get(f"thing:{thing_id}")
            keys = {f"thing_key:{key}", f"thing:{thing_id}"}
            if cached is not None:
                keys.add(f"thing_key:{cached!s}")
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incr(GENERATION_KEY)
                pipe.delete(*keys)
                for channel_id in channel_ids:
                    pipe.srem(f"channel:{channel_id}", thing_id)
                await pipe.execute()

    async def is_connected(self, channel_id: str, thing_id: str) -> bool:
        with _unavailable():
            return bool(await self._redis.sismember(f"channel:{channel_id}", thing_id))

    async def connect(self, channel_id: str, thing_id: str, generation: int) -> None:
        with _unavailable():
            await self._connect(
                keys=[GENERATION_KEY, f"channel:{channel_id}"],
                args=[generation, thing_id, self._ttl],
            )

    async def disconnect(self, channel_id: str, thing_id: str) -> None:
        with _unavailable():
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incr(GENERATION_KEY)
                pipe.srem(f"channel:{channel_id}", thing_id)
                await pipe.execute()

    async def forget_channel(self, channel_id: str) -> None:
        with _unavailable():
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incr(GENERATION_KEY)
                pipe.delete(f"channel:{channel_id}")
                await pipe.execute()

    async def ping(self) -> None:
        """Raise ``ServiceUnavailable`` when Redis cannot be reached."""
        with _unavailable():
            await self._redis.ping()

    async def close(self) -> None:
        await self._redis.aclose()


_check_memory: type[AccessCache] = InMemoryAccessCache
_check_redis: type[AccessCache] = RedisAccessCache
