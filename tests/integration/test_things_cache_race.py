"""A cache fill racing with an invalidation: the read's answer is returned, never cached.

The repository below answers from real SQLite, then holds its answer until the test
lets it go; in between the test changes the key, removes the thing or disconnects it.
Each case runs on the in-process cache and on real Redis."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from mainflux.core.db import create_engine, migrate
from mainflux.core.errors import Unauthorized
from mainflux.things.cache import InMemoryAccessCache, RedisAccessCache
from mainflux.things.models import Channel, Thing
from mainflux.things.ports import AccessCache
from mainflux.things.service import ThingsService
from mainflux.things.singleuser import SingleUserAuth
from mainflux.things.store import SqlThingsRepository

TOKEN = "user-token"
WAIT = 10.0


class HeldRepository(SqlThingsRepository):
    """The SQL repository whose access reads, once :meth:`hold` is called, wait after
    reading until :attr:`release` is set (and say so through :attr:`answered`)."""

    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__(engine)
        self.holding = False
        self.answered = asyncio.Event()
        self.release = asyncio.Event()

    def hold(self) -> None:
        self.holding = True

    async def _held(self) -> None:
        if self.holding:
            self.holding = False
            self.answered.set()
            await asyncio.wait_for(self.release.wait(), WAIT)

    async def thing_id_by_key(self, key: str) -> str:
        thing_id = await super().thing_id_by_key(key)
        await self._held()
        return thing_id

    async def has_connection(self, channel_id: str, thing_id: str) -> bool:
        connected = await super().has_connection(channel_id, thing_id)
        await self._held()
        return connected


@pytest.fixture
async def engine(sqlite_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(sqlite_url)
    await migrate(engine, "things")
    yield engine
    await engine.dispose()


@pytest.fixture(params=["memory", "redis"])
async def cache(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[AccessCache]:
    cache: AccessCache = (
        InMemoryAccessCache() if request.param == "memory" else RedisAccessCache(redis_url)
    )
    yield cache
    await cache.close()


@pytest.fixture
def repo(engine: AsyncEngine) -> HeldRepository:
    return HeldRepository(engine)


@pytest.fixture
def svc(repo: HeldRepository, cache: AccessCache) -> ThingsService:
    return ThingsService(SingleUserAuth("u@example.com", TOKEN), repo, cache)


async def _connected_thing(svc: ThingsService) -> tuple[Thing, Channel]:
    [thing] = await svc.create_things(TOKEN, [Thing(key=str(uuid.uuid4()))])
    [channel] = await svc.create_channels(TOKEN, [Channel()])
    await svc.connect(TOKEN, [channel.id], [thing.id])
    return thing, channel


async def test_a_key_changed_during_the_read_is_not_cached(
    svc: ThingsService, repo: HeldRepository, cache: AccessCache
) -> None:
    thing, _ = await _connected_thing(svc)
    repo.hold()
    reading = asyncio.create_task(svc.identify(thing.key))
    await asyncio.wait_for(repo.answered.wait(), WAIT)
    await svc.update_key(TOKEN, thing.id, "renewed-" + thing.key)
    repo.release.set()

    assert await reading == thing.id  # answered from before the change
    assert await cache.thing_id(thing.key) is None
    with pytest.raises(Unauthorized):
        await svc.identify(thing.key)
    assert await svc.identify("renewed-" + thing.key) == thing.id


async def test_a_thing_removed_during_the_read_is_not_cached(
    svc: ThingsService, repo: HeldRepository, cache: AccessCache
) -> None:
    thing, channel = await _connected_thing(svc)
    repo.hold()
    reading = asyncio.create_task(svc.identify(thing.key))
    await asyncio.wait_for(repo.answered.wait(), WAIT)
    await svc.remove_thing(TOKEN, thing.id)
    repo.release.set()

    assert await reading == thing.id
    assert await cache.thing_id(thing.key) is None
    with pytest.raises(Unauthorized):
        await svc.can_access_by_key(channel.id, thing.key)


async def test_a_connection_removed_during_the_read_is_not_cached(
    svc: ThingsService, repo: HeldRepository, cache: AccessCache
) -> None:
    thing, channel = await _connected_thing(svc)
    repo.hold()
    reading = asyncio.create_task(svc.can_access_by_id(channel.id, thing.id))
    await asyncio.wait_for(repo.answered.wait(), WAIT)
    await svc.disconnect(TOKEN, channel.id, thing.id)
    repo.release.set()

    await reading  # answered from before the disconnect
    assert not await cache.is_connected(channel.id, thing.id)
    with pytest.raises(Unauthorized):
        await svc.can_access_by_id(channel.id, thing.id)


async def test_a_channel_removed_during_the_read_is_not_cached(
    svc: ThingsService, repo: HeldRepository, cache: AccessCache
) -> None:
    thing, channel = await _connected_thing(svc)
    repo.hold()
    reading = asyncio.create_task(svc.can_access_by_id(channel.id, thing.id))
    await asyncio.wait_for(repo.answered.wait(), WAIT)
    await svc.remove_channel(TOKEN, channel.id)
    repo.release.set()

    await reading
    assert not await cache.is_connected(channel.id, thing.id)
    with pytest.raises(Unauthorized):
        await svc.can_access_by_id(channel.id, thing.id)


async def test_a_read_with_no_change_in_between_is_cached(
    svc: ThingsService, repo: HeldRepository, cache: AccessCache
) -> None:
    thing, channel = await _connected_thing(svc)
    assert await svc.can_access_by_key(channel.id, thing.key) == thing.id
    assert await cache.thing_id(thing.key) == thing.id
    assert await cache.is_connected(channel.id, thing.id)
