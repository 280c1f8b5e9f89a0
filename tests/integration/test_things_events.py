"""Events of the things service on real Redis Streams: exact fields of every operation."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from mainflux.core.db import create_engine
from mainflux.core.errors import Conflict, NotFound
from mainflux.core.metrics import EVENT_FAILURES
from mainflux.events.redis import RedisEventStream
from mainflux.events.stream import Entry
from mainflux.things.cache import InMemoryAccessCache
from mainflux.things.events import STREAM, EventingThingsService
from mainflux.things.main import build_service
from mainflux.things.models import Channel, Thing
from mainflux.things.service import Service
from mainflux.things.singleuser import SingleUserAuth

TOKEN = "user-token"
OWNER = "owner@example.com"


@pytest.fixture
async def stream(redis_url: str) -> AsyncIterator[RedisEventStream]:
    events = RedisEventStream(redis_url)
    yield events
    await events.close()


@pytest.fixture
async def engine(sqlite_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(sqlite_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def svc(engine: AsyncEngine, stream: RedisEventStream) -> Service:
    auth = SingleUserAuth(OWNER, TOKEN)
    return await build_service(engine, auth, stream, InMemoryAccessCache())


class Tail:
    """Reads what was appended to ``mainflux.things`` since the last call."""

    def __init__(self, stream: RedisEventStream) -> None:
        self.stream = stream
        self.last = "0-0"

    async def skip(self) -> None:
        while entries := await self.stream.read(STREAM, self.last, count=1000):
            self.last = entries[-1][0]

    async def new(self) -> list[dict[str, str]]:
        entries: list[Entry] = await self.stream.read(STREAM, self.last, count=1000)
        if entries:
            self.last = entries[-1][0]
        return [fields for _, fields in entries]


@pytest.fixture
async def tail(stream: RedisEventStream) -> Tail:
    tail = Tail(stream)
    await tail.skip()
    return tail


async def test_every_change_appends_mainflux_fields(svc: Service, tail: Tail) -> None:
    t1, t2 = await svc.create_things(
        TOKEN, [Thing(name="t1", key="secret-1", metadata={"b": 1, "a": [1]}), Thing()]
    )
    assert await tail.new() == [
        {"operation": "thing.create", "id": t1.id, "owner": OWNER, "name": "t1",
         "metadata": '{"a":[1],"b":1}'},
        {"operation": "thing.create", "id": t2.id, "owner": OWNER},
    ]  # fmt: skip

    c1, c2 = await svc.create_channels(TOKEN, [Channel(name="c1", metadata={"x": "y"}), Channel()])
    assert await tail.new() == [
        {"operation": "channel.create", "id": c1.id, "owner": OWNER, "name": "c1",
         "metadata": '{"x":"y"}'},
        {"operation": "channel.create", "id": c2.id, "owner": OWNER},
    ]  # fmt: skip

    await svc.update_thing(TOKEN, Thing(id=t1.id, name="renamed", metadata={"k": True}))
    await svc.update_thing(TOKEN, Thing(id=t2.id))
    assert await tail.new() == [
        {"operation": "thing.update", "id": t1.id, "name": "renamed", "metadata": '{"k":true}'},
        {"operation": "thing.update", "id": t2.id},
    ]

    await svc.update_channel(TOKEN, Channel(id=c1.id, name="c-one"))
    assert await tail.new() == [{"operation": "channel.update", "id": c1.id, "name": "c-one"}]

    await svc.update_key(TOKEN, t1.id, "secret-2")
    assert await tail.new() == [{"operation": "thing.update", "id": t1.id}]

    await svc.connect(TOKEN, [c1.id, c2.id], [t1.id, t2.id])
    assert await tail.new() == [
        {"operation": "thing.connect", "chan_id": c, "thing_id": t}
        for c in (c1.id, c2.id)
        for t in (t1.id, t2.id)
    ]

    await svc.disconnect(TOKEN, c1.id, t1.id)
    assert await tail.new() == [
        {"operation": "thing.disconnect", "chan_id": c1.id, "thing_id": t1.id}
    ]

    await svc.remove_thing(TOKEN, t1.id)
    await svc.remove_channel(TOKEN, c1.id)
    assert await tail.new() == [
        {"operation": "thing.remove", "id": t1.id},
        {"operation": "channel.remove", "id": c1.id},
    ]


async def test_no_event_when_nothing_changed(svc: Service, tail: Tail) -> None:
    (thing,) = await svc.create_things(TOKEN, [Thing(key="taken")])
    (channel,) = await svc.create_channels(TOKEN, [Channel()])
    await tail.new()
    await svc.remove_thing(TOKEN, thing.id)
    await tail.new()
    assert await svc.remove_thing(TOKEN, thing.id) is False
    assert await svc.remove_channel(TOKEN, "00000000-0000-4000-8000-000000000000") is False
    with pytest.raises(Conflict):
        await svc.create_things(TOKEN, [Thing(key="x"), Thing(key="x")])
    with pytest.raises(NotFound):
        await svc.disconnect(TOKEN, channel.id, thing.id)
    await svc.view_channel(TOKEN, channel.id)
    await svc.list_things(TOKEN)
    assert await tail.new() == []


async def test_no_event_carries_a_key(svc: Service, tail: Tail) -> None:
    (thing,) = await svc.create_things(TOKEN, [Thing(key="very-secret-key")])
    await svc.update_key(TOKEN, thing.id, "another-secret-key")
    for fields in await tail.new():
        assert "very-secret-key" not in fields.values()
        assert "another-secret-key" not in fields.values()
        assert "key" not in fields


class BrokenStream:
    """An event stream whose appends always fail."""

    async def append(self, stream: str, fields: Mapping[str, str]) -> str:
        raise ConnectionError("stream down")

    async def read(self, stream: str, after: str = "0-0", count: int = 100, block=None):  # type: ignore[no-untyped-def]
        return []

    async def close(self) -> None:
        return None


async def test_a_failed_append_is_logged_and_counted_never_raised(
    engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    inner = await build_service(engine, SingleUserAuth(OWNER, TOKEN), None, InMemoryAccessCache())
    svc = EventingThingsService(inner, BrokenStream())
    before = EVENT_FAILURES.labels(STREAM)._value.get()
    with caplog.at_level(logging.ERROR, logger="mainflux.things.events"):
        (thing,) = await svc.create_things(TOKEN, [Thing(key="hidden-key")])
        await svc.update_key(TOKEN, thing.id, "hidden-key-2")
    assert (await svc.view_thing(TOKEN, thing.id)).key == "hidden-key-2"
    assert EVENT_FAILURES.labels(STREAM)._value.get() == before + 2
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2
    assert all("thing." in m and "hidden-key" not in m and TOKEN not in m for m in messages)
