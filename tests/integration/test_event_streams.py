"""The event stream port on real Redis and on the embedded SQL log (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from mainflux.core.db import create_engine
from mainflux.events.redis import RedisEventStream
from mainflux.events.sql import SqlEventStream
from mainflux.events.stream import EventStream
from tests.servers import until


@pytest.fixture(params=["redis", "sqlite", "postgres"])
async def stream(request: pytest.FixtureRequest) -> AsyncIterator[EventStream]:
    """The same stream port on Redis, and as the embedded log on SQLite and PostgreSQL."""
    if request.param == "redis":
        events: EventStream = RedisEventStream(request.getfixturevalue("redis_url"))
        yield events
        await events.close()
        return
    engine = create_engine(request.getfixturevalue(f"{request.param}_url"))
    sql = SqlEventStream(engine, poll_interval=0.05)
    await sql.create_schema()
    yield sql
    await engine.dispose()


async def test_appended_entries_are_read_back_in_order(stream: EventStream) -> None:
    name = f"test.{uuid.uuid4().hex}"
    ids = [await stream.append(name, {"operation": "thing.create", "n": str(i)}) for i in range(5)]
    entries = await stream.read(name)
    assert [e[0] for e in entries] == ids
    assert [e[1]["n"] for e in entries] == ["0", "1", "2", "3", "4"]
    assert await stream.read(name, after=ids[2]) == entries[3:]
    assert await stream.read(name, count=2) == entries[:2]


async def test_blocking_read_wakes_on_append(stream: EventStream) -> None:
    name = f"test.{uuid.uuid4().hex}"
    # Reading from "now" with a block far longer than the wait below: it returns only
    # when an entry appended after the read began wakes it.
    reader = asyncio.create_task(stream.read(name, after="$", block=60))
    appended: list[str] = []

    async def woken() -> bool:
        if reader.done():
            return True
        appended.append(await stream.append(name, {"operation": "thing.remove", "id": "x"}))
        return False

    try:
        await until(woken, "the blocked read returned an appended entry")
    finally:
        reader.cancel()
    entries = reader.result()
    ids = [e[0] for e in entries]
    assert ids and ids[0] in appended
    start = appended.index(ids[0])
    assert ids == appended[start : start + len(ids)], "what was appended after the read began"
    assert all(e[1] == {"operation": "thing.remove", "id": "x"} for e in entries)


async def test_blocking_read_times_out_empty(stream: EventStream) -> None:
    assert await stream.read(f"test.{uuid.uuid4().hex}", after="$", block=0.2) == []
