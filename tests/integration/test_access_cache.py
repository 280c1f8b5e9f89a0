"""The adapters' access cache: hits cost nothing, events and max age revoke."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Mapping

import pytest

from mainflux.adapters.access import THINGS_STREAM, CachedThingAccess, Revocation, Revoked
from mainflux.core.db import create_engine
from mainflux.core.errors import ServiceUnavailable, Unauthorized
from mainflux.events.redis import RedisEventStream
from mainflux.events.sql import SqlEventStream
from mainflux.events.stream import Entry, EventStream
from tests.fakes import FakeThings
from tests.servers import restartable_redis, until


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


@contextlib.asynccontextmanager
async def tailing(
    cache: CachedThingAccess, events: EventStream, stream: str
) -> AsyncIterator[asyncio.Task[None]]:
    """Run the cache's tail, once it reads what is appended after it started."""
    task = asyncio.create_task(cache.run(block=0.2))

    async def reads_new_entries() -> bool:
        # The tail starts at "now": append until it has read one entry.
        if cache.events_seen:
            return True
        await events.append(stream, {"operation": "noop"})
        return False

    try:
        await until(reads_new_entries, "the cache started tailing the stream")
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def refused(access: CachedThingAccess, channel: str, key: str) -> bool:
    """Whether ``key`` is refused on ``channel`` right now."""
    try:
        await access.can_access_by_key(channel, key)
    except Unauthorized:
        return True
    return False


async def until_refused(access: CachedThingAccess, channel: str, key: str) -> None:
    """Wait until ``key`` is refused on ``channel``."""
    await until(lambda: refused(access, channel, key), "access was revoked")


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
    things = FakeThings()
    things.add("thing-1", "key-1", "chan-1")
    cache = CachedThingAccess(things, events, stream=stream, max_age=3600, negative_max_age=3600)
    async with tailing(cache, events, stream):
        assert await cache.can_access_by_key("chan-1", "key-1") == "thing-1"
        assert await cache.can_access_by_key("chan-1", "key-1") == "thing-1"
        assert things.calls == 1, "the second answer came from the cache"
        things.keys.clear()  # the things service revokes ...
        things.links.clear()
        assert await cache.can_access_by_key("chan-1", "key-1") == "thing-1", "still cached"
        fields: Mapping[str, str] = event("thing-1", "chan-1")
        await events.append(stream, fields)  # ... and says so
        await until_refused(cache, "chan-1", "key-1")


async def test_a_connect_event_lifts_a_cached_refusal(events: EventStream) -> None:
    stream = f"mainflux.things.{uuid.uuid4().hex}"
    things = FakeThings()
    things.add("thing-1", "key-1")
    cache = CachedThingAccess(things, events, stream=stream, max_age=3600, negative_max_age=3600)
    async with tailing(cache, events, stream):
        with pytest.raises(Unauthorized):
            await cache.can_access_by_key("chan-1", "key-1")
        things.links.add(("chan-1", "thing-1"))
        with pytest.raises(Unauthorized):
            await cache.can_access_by_key("chan-1", "key-1")
        assert things.calls == 1, "the refusal was cached"
        await events.append(
            stream, {"operation": "thing.connect", "chan_id": "chan-1", "thing_id": "thing-1"}
        )

        async def granted() -> bool:
            return not await refused(cache, "chan-1", "key-1")

        await until(granted, "the connection took effect")
        assert await cache.can_access_by_key("chan-1", "key-1") == "thing-1"


async def test_without_events_answers_expire_after_max_age() -> None:
    things = FakeThings()
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
    things = FakeThings()
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
    things = FakeThings()
    cache = CachedThingAccess(things, None)
    with pytest.raises(Unauthorized):
        await cache.can_access_by_key("chan-1", "")
    with pytest.raises(Unauthorized):
        await cache.identify("")
    assert things.calls == 0


async def test_unavailability_is_never_cached() -> None:
    things = FakeThings()
    things.add("thing-1", "key-1", "chan-1")
    things.down = True
    cache = CachedThingAccess(things, None)
    with pytest.raises(ServiceUnavailable):
        await cache.can_access_by_key("chan-1", "key-1")
    things.down = False
    assert await cache.can_access_by_key("chan-1", "key-1") == "thing-1"


async def test_concurrent_misses_share_one_call() -> None:
    things = FakeThings()
    things.add("thing-1", "key-1", "chan-1")
    things.gate = asyncio.Event()
    cache = CachedThingAccess(things, None)
    waiting = [asyncio.create_task(cache.can_access_by_key("chan-1", "key-1")) for _ in range(20)]
    # The one call reaches the fake only after every task has joined it.
    await asyncio.wait_for(things.entered.wait(), 5)
    things.gate.set()
    assert await asyncio.gather(*waiting) == ["thing-1"] * 20
    assert things.calls == 1


async def test_an_answer_racing_an_invalidation_is_not_cached() -> None:
    things = FakeThings()
    things.add("thing-1", "key-1", "chan-1")
    things.gate = asyncio.Event()
    cache = CachedThingAccess(things, None, max_age=3600)
    pending = asyncio.create_task(cache.can_access_by_key("chan-1", "key-1"))
    await asyncio.wait_for(things.entered.wait(), 5)  # the call is under way
    cache.invalidate({"operation": "thing.remove", "id": "thing-1"})
    things.gate.set()
    assert await pending == "thing-1"
    things.keys.clear()
    with pytest.raises(Unauthorized):
        await cache.can_access_by_key("chan-1", "key-1")


async def test_by_id_and_identify_are_cached_and_invalidated() -> None:
    things = FakeThings()
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
                await asyncio.sleep(3600)  # a read that never returns: the store is idle
            raise ConnectionError("event store down")

        async def close(self) -> None:
            return None

    things = FakeThings()
    things.add("thing-1", "key-1", "chan-1")
    cache = CachedThingAccess(things, Broken(), max_age=3600)
    await cache.can_access_by_key("chan-1", "key-1")
    task = asyncio.create_task(cache.run(retry=0.01))
    try:
        await until(lambda: Broken.reads > 2, "the tail retried after failed reads")
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await cache.can_access_by_key("chan-1", "key-1")
    assert things.calls == 2, "the answer was fetched again after the cache was cleared"


async def test_a_bounded_cache_forgets_the_oldest() -> None:
    things = FakeThings()
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


async def test_after_an_event_store_outage_every_listener_checks_everything_again() -> None:
    with restartable_redis() as redis:
        events = RedisEventStream(redis.url)
        things = FakeThings()
        things.add("thing-1", "key-1", "chan-1")
        cache = CachedThingAccess(things, events, max_age=3600)
        heard: list[Revocation] = []
        cache.watch(heard.append)
        try:
            async with tailing(cache, events, THINGS_STREAM):
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
            await asyncio.sleep(3600)  # a read that never returns: the store is idle
            return []

        async def close(self) -> None:
            return None

    cache = CachedThingAccess(FakeThings(), FailsTwice())
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
