"""The Redis access cache: Mainflux's key layout and every invalidation, on real Redis."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncEngine

from mainflux.core.db import create_engine
from mainflux.core.errors import ServiceUnavailable, Unauthorized
from mainflux.things.cache import RedisAccessCache
from mainflux.things.main import build_service
from mainflux.things.models import Channel, Thing
from mainflux.things.service import Service
from mainflux.things.singleuser import SingleUserAuth
from tests.servers import free_port

TOKEN = "user-token"


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


@pytest.fixture
async def cache(redis_url: str) -> AsyncIterator[RedisAccessCache]:
    cache = RedisAccessCache(redis_url)
    yield cache
    await cache.close()


@pytest.fixture
async def engine(sqlite_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(sqlite_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def svc(engine: AsyncEngine, cache: RedisAccessCache) -> Service:
    return await build_service(engine, SingleUserAuth("u@example.com", TOKEN), None, cache)


def _id() -> str:
    return str(uuid.uuid4())


async def test_entries_use_mainflux_keys(cache: RedisAccessCache, redis: aioredis.Redis) -> None:
    key, thing_id, channel_id = _id(), _id(), _id()
    assert await cache.thing_id(key) is None
    generation = await cache.generation()
    await cache.save_thing(key, thing_id, generation)
    await cache.connect(channel_id, thing_id, generation)
    assert await redis.get(f"thing_key:{key}") == thing_id
    assert await redis.get(f"thing:{thing_id}") == key
    assert await redis.sismember(f"channel:{channel_id}", thing_id)
    assert await cache.thing_id(key) == thing_id
    assert await cache.is_connected(channel_id, thing_id)


async def test_forgetting_drops_keys_and_memberships(
    cache: RedisAccessCache, redis: aioredis.Redis
) -> None:
    key, thing_id, c1, c2 = _id(), _id(), _id(), _id()
    await cache.save_thing(key, thing_id, await cache.generation())
    await cache.connect(c1, thing_id, await cache.generation())
    await cache.connect(c2, thing_id, await cache.generation())
    await cache.forget_thing(thing_id, "some-other-key", [c1])
    assert await redis.exists(f"thing_key:{key}", f"thing:{thing_id}") == 0
    assert not await redis.sismember(f"channel:{c1}", thing_id)
    assert await redis.sismember(f"channel:{c2}", thing_id)
    await cache.disconnect(c2, thing_id)
    assert not await cache.is_connected(c2, thing_id)
    await cache.connect(c1, thing_id, await cache.generation())
    await cache.forget_channel(c1)
    assert await redis.exists(f"channel:{c1}") == 0


async def test_an_unreachable_redis_is_service_unavailable() -> None:
    cache = RedisAccessCache(f"redis://127.0.0.1:{free_port()}/0")
    with pytest.raises(ServiceUnavailable):
        await cache.thing_id("k")
    with pytest.raises(ServiceUnavailable):
        await cache.ping()
    await cache.close()


async def test_the_service_fills_and_invalidates_redis(svc: Service, redis: aioredis.Redis) -> None:
    k1, k2, k3 = _id(), _id(), _id()
    t1, t2, t3 = await svc.create_things(TOKEN, [Thing(key=k1), Thing(key=k2), Thing(key=k3)])
    c1, c2 = await svc.create_channels(TOKEN, [Channel(), Channel()])
    await svc.connect(TOKEN, [c1.id, c2.id], [t1.id, t2.id, t3.id])
    for channel in (c1, c2):
        for thing in (t1, t2, t3):
            assert await svc.can_access_by_key(channel.id, thing.key) == thing.id
    assert await redis.get(f"thing_key:{k1}") == t1.id
    assert await redis.smembers(f"channel:{c1.id}") == {t1.id, t2.id, t3.id}

    await svc.update_key(TOKEN, t1.id, "renewed-" + k1)
    assert await redis.exists(f"thing_key:{k1}", f"thing:{t1.id}") == 0
    with pytest.raises(Unauthorized):
        await svc.can_access_by_key(c1.id, k1)
    assert await svc.can_access_by_key(c1.id, "renewed-" + k1) == t1.id

    await svc.disconnect(TOKEN, c1.id, t3.id)
    assert not await redis.sismember(f"channel:{c1.id}", t3.id)
    with pytest.raises(Unauthorized):
        await svc.can_access_by_id(c1.id, t3.id)

    await svc.remove_thing(TOKEN, t2.id)
    assert await redis.exists(f"thing_key:{k2}", f"thing:{t2.id}") == 0
    assert not await redis.sismember(f"channel:{c1.id}", t2.id)
    assert not await redis.sismember(f"channel:{c2.id}", t2.id)
    with pytest.raises(Unauthorized):
        await svc.can_access_by_id(c2.id, t2.id)

    await svc.remove_channel(TOKEN, c2.id)
    assert await redis.exists(f"channel:{c2.id}") == 0
    with pytest.raises(Unauthorized):
        await svc.can_access_by_key(c2.id, k3)
    assert await svc.can_access_by_key(c1.id, "renewed-" + k1) == t1.id


async def test_every_invalidation_moves_the_generation_on(cache: RedisAccessCache) -> None:
    thing_id, channel_id = _id(), _id()
    seen = [await cache.generation()]
    await cache.forget_thing(thing_id, _id(), [channel_id])
    seen.append(await cache.generation())
    await cache.disconnect(channel_id, thing_id)
    seen.append(await cache.generation())
    await cache.forget_channel(channel_id)
    seen.append(await cache.generation())
    assert seen == sorted(set(seen)), seen


async def test_a_fill_with_an_old_generation_stores_nothing(
    cache: RedisAccessCache, redis: aioredis.Redis
) -> None:
    key, thing_id, channel_id = _id(), _id(), _id()
    before = await cache.generation()
    await cache.disconnect(_id(), _id())  # any invalidation in between
    await cache.save_thing(key, thing_id, before)
    await cache.connect(channel_id, thing_id, before)
    assert await redis.exists(f"thing_key:{key}", f"thing:{thing_id}", f"channel:{channel_id}") == 0


async def test_entries_expire_after_the_ttl(redis_url: str, redis: aioredis.Redis) -> None:
    cache = RedisAccessCache(redis_url, ttl=120)
    key, thing_id, channel_id = _id(), _id(), _id()
    try:
        await cache.save_thing(key, thing_id, await cache.generation())
        await cache.connect(channel_id, thing_id, await cache.generation())
        for name in (f"thing_key:{key}", f"thing:{thing_id}", f"channel:{channel_id}"):
            assert 0 < await redis.ttl(name) <= 120, name
        # A set keeps the expiry of its first fill: re-adding members does not extend it.
        await redis.expire(f"channel:{channel_id}", 50)
        await cache.connect(channel_id, _id(), await cache.generation())
        assert 0 < await redis.ttl(f"channel:{channel_id}") <= 50
    finally:
        await cache.close()


def test_a_ttl_below_one_second_is_refused(redis_url: str) -> None:
    with pytest.raises(ValueError, match="ttl"):
        RedisAccessCache(redis_url, ttl=0)
