"""The adapters' access cache: hits cost nothing, events and max age revoke."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Mapping

import pytest

from mainflux.adapters.access import THINGS_STREAM, CachedThingAccess, Revocation, Revoked
from mainflux.core.db import create_engine
from mainflux.core.errors import ServiceUnavailable, Unauthorized
from mainflux.events.redis import RedisEventStream
from mainflux.events.sql import SqlEventStream
from mainflux.events.stream import Entry, EventStream
from tests.servers import restartable_redis


class Things:
    """An in-memory things service answering access questions."""

    def __init__(self) -> None:
        self.keys: dict[str, str] = {}
        self.links: set[tuple[str, str]] = set()
        self.calls = 0
        self.down = False
        self.gate: asyncio.Event | None = None

    def add(self, thing: str, key: str, *channels: str) -> None:
        self.keys[key] = thing
        self.links.update((c, thing) for c in channels)

    async def _enter(self) -> None:
        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.down:
            raise ServiceUnavailable()

    async def can_access_by_key(self, channel_id: str, key: str) -> str:
        await self._enter()
        thing = self.keys.get(key)
        if thing is None or (channel_id, thing) not in self.links:
            raise Unauthorized()
        return thing

    async def can_access_by_id(self, channel_id: str, thing_id: str) -> None:
        await self._enter()
        if (channel_id, thing_id) not in self.links:
            raise Unauthorized()

    async def identify(self, key: str) -> str:
        await self._enter()
        if key not in self.keys:
            raise Unauthorized()
        return self.keys[key]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["redis", "sql"])
async def events(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[EventStream]:  # type: ignore[no-untyped-def]
    if request.param == "redis":
        stream: EventStream = RedisEventStream(request.getfixturevalue("redis_url"))
        yield stream
        await stream.close()
    else:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'events.db'}")
        sql = SqlEventStream(engine, poll_interval=0.05)
        await sql.create_schema()
        yield sql
        await sql.close()
        await engine.dispose()


async def tailing(cache: CachedThingAccess, events: EventStream, stream: str) -> asyncio.Task:
    """Start the cache's tail and wait until it sees new entries."""
    task = asyncio.create_task(cache.run(block=0.2))
    for _ in range(200):
        await events.append(stream, {"operation": "noop"})
        await asyncio.sleep(0.02)
        if cache.events_seen:
            return task
    raise AssertionError("the cache never started tailing the stream")


async def until_refused(cache: CachedThingAccess, channel: str, key: str) -> None:
    for _ in range(250):
        try:
            await cache.can_access_by_key(channel, key)
        except Unauthorized:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("access was never revoked")


INVALIDATING: list[tuple[str, object]] = [
    ("thing.remove", lambda t, c: {"operation": "thing.remove", "id": t}),
    (
        "thing.disconnect",
        lambda t, c: {"operation": "thing.disconnect", "chan_id": c, "thing_id": t},
    ),
    ("channel.remove", lambda t, c: {"operation": "channel.remove", "id": c}),
    ("thing.update (key)", lambda t, c: {"operation": "thing.update", "id": t}),
]


@pytest.mark.parametrize("event", [e[1] for e in INVALIDATING], ids=[e[0] for e in INVALIDATING])
async def test_an_event_revokes_a_cached_answer(events: EventStream, event) -> None:  # type: ignore[no-untyped-def]
    stream = f"mainflux.things.{uuid.uuid4().hex}"
    things = Things()
    things.add("thing-1", "key-1", "chan-1")
    cache = CachedThingAccess(things, events, stream=stream, max_age=3600, negative_max_age=3600)
    task = await tailing(cache, events, stream)
    try:
        assert await cache.can_access_by_key("chan-1", "key-1") == "thing-1"
        assert await cache.can_access_by_key("chan-1", "key-1") == "thing-1"
        assert things.calls == 1, "the second answer came from the cache"
        things.keys.clear()  # the things service revokes ...
        things.links.clear()
        assert await cache.can_access_by_key("chan-1", "key-1") == "thing-1", "still cached"
        fields: Mapping[str, str] = event("thing-1", "chan-1")
        await events.append(stream, fields)  # ... and says so
        await until_refused(cache, "chan-1", "key-1")
    finally:
        task.cancel()


async def test_a_connect_event_lifts_a_cached_refusal(events: EventStream) -> None:
    stream = f"mainflux.things.{uuid.uuid4().hex}"
    things = Things()
    things.add("thing-1", "key-1")
    cache = CachedThingAccess(things, events, stream=stream, max_age=3600, negative_max_age=3600)
    task = await tailing(cache, events, stream)
    try:
        with pytest.raises(Unauthorized):
            await cache.can_access_by_key("chan-1", "key-1")
        things.links.add(("chan-1", "thing-1"))
        with pytest.raises(Unauthorized):
            await cache.can_access_by_key("chan-1", "key-1")
        assert things.calls == 1, "the refusal was cached"
        await events.append(
            stream, {"operation": "thing.connect", "chan_id": "chan-1", "thing_id": "thing-1"}
        )
        for _ in range(250):
            try:
                assert await cache.can_access_by_key("chan-1", "key-1") == "thing-1"
                break
            except Unauthorized:
                await asyncio.sleep(0.02)
        else:
            raise AssertionError("the connection never took effect")
    finally:
        task.cancel()


async def test_without_events_answers_expire_after_max_age() -> None:
    things = Things()
    things.add("thing-1", "key-1", "chan-1")
    clock = Clock()
    cache = CachedThingAccess(things, None, clock=clock)
    assert await cache.can_access_by_key("chan-1", "key-1") == "thing-1"
    things.keys.clear()
    clock.now += 0.5
    assert await cache.can_access_by_key("chan-1", "key-1") == "thing-1"
    assert things.calls == 1
    clock.now += 0.6  # past the default one second
    with pytest.raises(Unauthorized):
        await cache.can_access_by_key("chan-1", "key-1")
    assert things.calls == 2


async def test_refusals_are_cached_for_their_own_max_age() -> None:
    things = Things()
    clock = Clock()
    cache = CachedThingAccess(things, None, clock=clock, negative_max_age=1.0)
    for _ in range(5):
        with pytest.raises(Unauthorized):
            await cache.can_access_by_key("chan-1", "wrong")
    assert things.calls == 1, "a wrong key costs one call per max age"
    things.add("thing-1", "wrong", "chan-1")
    clock.now += 1.1
    assert await cache.can_access_by_key("chan-1", "wrong") == "thing-1"


async def test_an_empty_key_is_refused_without_a_call() -> None:
    things = Things()
    cache = CachedThingAccess(things, None)
    with pytest.raises(Unauthorized):
        await cache.can_access_by_key("chan-1", "")
    with pytest.raises(Unauthorized):
        await cache.identify("")
    assert things.calls == 0


async def test_unavailability_is_never_cached() -> None:
    things = Things()
    things.add("thing-1", "key-1", "chan-1")
    things.down = True
    cache = CachedThingAccess(things, None)
    with pytest.raises(ServiceUnavailable):
        await cache.can_access_by_key("chan-1", "key-1")
    things.down = False
    assert await cache.can_access_by_key("chan-1", "key-1") == "thing-1"


async def test_concurrent_misses_share_one_call() -> None:
    things = Things()
    things.add("thing-1", "key-1", "chan-1")
    things.gate = asyncio.Event()
    cache = CachedThingAccess(things, None)
    waiting = [asyncio.create_task(cache.can_access_by_key("chan-1", "key-1")) for _ in range(20)]
    await asyncio.sleep(0.01)
    things.gate.set()
    assert await asyncio.gather(*waiting) == ["thing-1"] * 20
    assert things.calls == 1


async def test_an_answer_racing_an_invalidation_is_not_cached() -> None:
    things = Things()
    things.add("thing-1", "key-1", "chan-1")
    things.gate = asyncio.Event()
    cache = CachedThingAccess(things, None, max_age=3600)
    pending = asyncio.create_task(cache.can_access_by_key("chan-1", "key-1"))
    await asyncio.sleep(0.01)
    cache.invalidate({"operation": "thing.remove", "id": "thing-1"})
    things.gate.set()
    assert await pending == "thing-1"
    things.keys.clear()
    with pytest.raises(Unauthorized):
        await cache.can_access_by_key("chan-1", "key-1")


async def test_by_id_and_identify_are_cached_and_invalidated() -> None:
    things = Things()
    things.add("thing-1", "key-1", "chan-1")
    cache = CachedThingAccess(things, None, max_age=3600)
    await cache.can_access_by_id("chan-1", "thing-1")
    await cache.can_access_by_id("chan-1", "thing-1")
    assert await cache.identify("key-1") == "thing-1"
    assert await cache.identify("key-1") == "thing-1"
    assert things.calls == 2
    things.links.clear()
    things.keys.clear()
    cache.invalidate({"operation": "thing.disconnect", "chan_id": "chan-1", "thing_id": "thing-1"})
    cache.invalidate({"operation": "thing.update", "id": "thing-1"})
    with pytest.raises(Unauthorized):
        await cache.can_access_by_id("chan-1", "thing-1")
    with pytest.raises(Unauthorized):
        await cache.identify("key-1")


async def test_a_broken_stream_clears_the_cache_and_retries() -> None:
    class Broken:
        reads = 0

        async def append(self, stream: str, fields: Mapping[str, str]) -> str:
            return "0-1"

        async def read(
            self, stream: str, after: str = "0-0", count: int = 100, block: float | None = None
        ) -> list[Entry]:
            Broken.reads += 1
            if Broken.reads > 2:
                await asyncio.sleep(3600)
            raise ConnectionError("event store down")

        async def close(self) -> None:
            return None

    things = Things()
    things.add("thing-1", "key-1", "chan-1")
    cache = CachedThingAccess(things, Broken(), max_age=3600)
    await cache.can_access_by_key("chan-1", "key-1")
    task = asyncio.create_task(cache.run(retry=0.01))
    for _ in range(200):
        if Broken.reads > 2:
            break
        await asyncio.sleep(0.01)
    task.cancel()
    await cache.can_access_by_key("chan-1", "key-1")
    assert things.calls == 2, "the answer was fetched again after the cache was cleared"


async def test_a_bounded_cache_forgets_the_oldest() -> None:
    things = Things()
    for i in range(10):
        things.add(f"thing-{i}", f"key-{i}", "chan-1")
    cache = CachedThingAccess(things, None, max_age=3600, max_entries=4)
    for i in range(10):
        await cache.can_access_by_key("chan-1", f"key-{i}")
    assert things.calls == 10
    await cache.can_access_by_key("chan-1", "key-9")
    assert things.calls == 10, "the newest entry is still cached"
    await cache.can_access_by_key("chan-1", "key-0")
    assert things.calls == 11, "the oldest one was forgotten"


async def until(condition: Callable[[], object], what: str, timeout: float = 10.0) -> None:
    """Wait until ``condition()`` holds (checked on every loop turn, with a timeout)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, f"never happened: {what}"
        await asyncio.sleep(0.01)


async def test_after_an_event_store_outage_every_listener_checks_everything_again() -> None:
    with restartable_redis() as redis:
        events = RedisEventStream(redis.url)
        things = Things()
        things.add("thing-1", "key-1", "chan-1")
        cache = CachedThingAccess(things, events, max_age=3600)
        heard: list[Revocation] = []
        cache.watch(heard.append)
        task = await tailing(cache, events, THINGS_STREAM)
        try:
            await cache.can_access_by_key("chan-1", "key-1")
            redis.stop()
            await until(lambda: cache.read_failures > 0, "the tail noticed the outage")
            # a change made now never reaches the stream
            things.links.discard(("chan-1", "thing-1"))
            assert heard == [], "nothing is said while the stream cannot be read"
            redis.start()
            await until(lambda: heard, "the listener was told after the outage")
            assert heard == [Revocation(Revoked.UNKNOWN)]
            with pytest.raises(Unauthorized):
                await cache.can_access_by_key("chan-1", "key-1")
            failures = cache.read_failures
            writer = RedisEventStream(redis.url)  # a client that never saw the old server
            await writer.append(THINGS_STREAM, {"operation": "thing.remove", "id": "thing-9"})
            await writer.close()
            await until(lambda: len(heard) == 2, "the tail reads new events again")
            assert heard[1] == Revocation(Revoked.THING, thing_id="thing-9")
            assert cache.read_failures == failures
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await events.close()


async def test_a_failed_read_is_told_once_when_reading_works_again() -> None:
    class FailsTwice:
        reads = 0

        async def append(self, stream: str, fields: Mapping[str, str]) -> str:
            return "0-1"

        async def read(
            self, stream: str, after: str = "0-0", count: int = 100, block: float | None = None
        ) -> list[Entry]:
            FailsTwice.reads += 1
            if FailsTwice.reads <= 2:
                raise ConnectionError("event store down")
            if FailsTwice.reads == 3:
                return [("5-0", {"operation": "thing.remove", "id": "thing-2"})]
            await asyncio.sleep(3600)
            return []

        async def close(self) -> None:
            return None

    cache = CachedThingAccess(Things(), FailsTwice())
    heard: list[Revocation] = []
    cache.watch(heard.append)
    task = asyncio.create_task(cache.run(retry=0.01))
    try:
        await until(lambda: FailsTwice.reads > 3, "the tail read past the outage")
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert heard == [Revocation(Revoked.UNKNOWN), Revocation(Revoked.THING, thing_id="thing-2")]
