"""Bootstrap follows ``mainflux.things`` in a consumer group: on real Redis Streams (with
PostgreSQL) and on the embedded log (with SQLite). Each entry touches only what it names,
is acknowledged after it is applied, survives a restart, and is retried, then parked."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from mainflux.bootstrap.models import Config, ConfigChannel, State
from mainflux.bootstrap.store import SqlConfigRepository
from mainflux.bootstrap.sync import PARKED, STREAM, ThingsEventSync
from mainflux.core.db import create_engine, migrate
from mainflux.core.errors import NotFound, ServiceUnavailable
from mainflux.events.redis import RedisEventStream
from mainflux.events.sql import SqlEventStream
from tests.servers import until

OWNER = "owner@example.com"


@dataclass
class Setup:
    engine: AsyncEngine
    repo: SqlConfigRepository
    groups: RedisEventStream | SqlEventStream
    group: str


@pytest.fixture(params=["redis", "embedded"])
async def setup(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[Setup]:
    if request.param == "redis":
        url = request.getfixturevalue("postgres_url")
        engine = create_engine(url)
        groups: RedisEventStream | SqlEventStream = RedisEventStream(redis_url)
    else:
        engine = create_engine(request.getfixturevalue("sqlite_url"))
        groups = SqlEventStream(engine)
        await groups.create_schema()
    await migrate(engine, "bootstrap")
    group = f"bootstrap-{uuid.uuid4()}"
    await groups.create_group(STREAM, group)
    yield Setup(engine, SqlConfigRepository(engine), groups, group)
    await groups.close()
    await engine.dispose()


def _id() -> str:
    return str(uuid.uuid4())


async def _config(repo: SqlConfigRepository, *channels: str, active: bool = True) -> str:
    thing_id = _id()
    await repo.save(
        Config(
            thing_id=thing_id,
            owner=OWNER,
            thing_key=_id(),
            external_id=thing_id,
            external_key="k",
            channels=[ConfigChannel(c, f"name-{c[:4]}") for c in channels],
            state=State.ACTIVE if active else State.INACTIVE,
        )
    )
    return thing_id


async def _gone(repo: SqlConfigRepository, thing_id: str) -> bool:
    try:
        await repo.retrieve(OWNER, thing_id)
    except NotFound:
        return True
    return False


@asynccontextmanager
async def running(s: Setup, repo: Any = None, **options: Any) -> AsyncIterator[ThingsEventSync]:
    options.setdefault("retry_delay", 0.01)
    sync = ThingsEventSync(repo or s.repo, s.groups, group=s.group, **options)
    stop = asyncio.Event()
    task = asyncio.create_task(sync.run(stop, block=0.05))
    try:
        yield sync
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def _append(s: Setup, **fields: str) -> str:
    return await s.groups.append(STREAM, fields)


async def _nothing_pending(s: Setup) -> bool:
    return await s.groups.read_group(STREAM, s.group, "bootstrap", block=0.05) == []


async def test_each_entry_touches_only_what_it_names(setup: Setup) -> None:
    s, c1, c2, c3 = setup, _id(), _id(), _id()
    a = await _config(s.repo, c1, c2)
    b = await _config(s.repo, c1)
    c = await _config(s.repo, c3)
    last = await _config(s.repo)
    async with running(s):
        await _append(s, operation="thing.disconnect", chan_id=c1, thing_id=a)
        await _append(s, operation="thing.disconnect", chan_id=c1, thing_id=c)  # not c's
        await _append(s, operation="channel.update", id=c2, name="new", metadata='{"k":1}')
        await _append(s, operation="channel.remove", id=c3)
        await _append(s, operation="thing.create", id=b, owner=OWNER)  # ignored
        await _append(s, operation="thing.connect", chan_id=c3, thing_id=b)  # ignored
        await _append(s, operation="thing.remove", id=last)
        await until(lambda: _gone(s.repo, last), "the last entry was applied")
    got_a, got_b, got_c = [await s.repo.retrieve(OWNER, t) for t in (a, b, c)]
    assert got_a.state is State.INACTIVE
    assert (got_b.state, got_c.state) == (State.ACTIVE, State.ACTIVE)
    assert got_a.channels == [
        ConfigChannel(c1, f"name-{c1[:4]}"),
        ConfigChannel(c2, "new", {"k": 1}),
    ]
    assert got_b.channels == [ConfigChannel(c1, f"name-{c1[:4]}")]
    assert got_c.channels == []
    assert await _nothing_pending(s)


async def test_a_restart_resumes_where_it_stopped(setup: Setup) -> None:
    s = setup
    first, second = await _config(s.repo), await _config(s.repo)
    async with running(s):
        await _append(s, operation="thing.remove", id=first)
        await until(lambda: _gone(s.repo, first), "the first removal was applied")
    await _append(s, operation="thing.remove", id=second)  # while bootstrap is down
    assert not await _gone(s.repo, second)
    async with running(s):
        await until(lambda: _gone(s.repo, second), "the entry appended while down was applied")
    assert await _nothing_pending(s)


async def test_an_entry_read_but_never_acknowledged_comes_back(setup: Setup) -> None:
    s = setup
    thing = await _config(s.repo)
    await _append(s, operation="thing.remove", id=thing)
    # a consumer that read the entry and died before applying it
    assert len(await s.groups.read_group(STREAM, s.group, "bootstrap", block=0.05)) == 1
    assert not await _gone(s.repo, thing)
    async with running(s):
        await until(lambda: _gone(s.repo, thing), "the pending entry was applied")
    assert await _nothing_pending(s)


class Flaky:
    """The repository, failing the first ``fail`` calls of the event handlers' methods
    and every ``park`` until ``park_ok``."""

    def __init__(self, repo: SqlConfigRepository, fail: int, *, park_ok: bool = True) -> None:
        self.repo = repo
        self.fail = fail
        self.calls = 0
        self.park_ok = park_ok
        self.park_calls = 0

    async def remove_thing(self, thing_id: str) -> None:
        self.calls += 1
        if self.calls <= self.fail:
            raise ServiceUnavailable("database unavailable")
        await self.repo.remove_thing(thing_id)

    async def park(self, stream: str, entry_id: str, fields: Mapping[str, str], error: str) -> None:
        self.park_calls += 1
        if not self.park_ok:
            raise ServiceUnavailable("database unavailable")
        await self.repo.park(stream, entry_id, fields, error)


def _parked_count(operation: str) -> float:
    return PARKED.labels(operation)._value.get()


async def test_a_failing_entry_is_retried_and_then_applied(setup: Setup) -> None:
    s = setup
    thing = await _config(s.repo)
    flaky = Flaky(s.repo, fail=2)
    before = _parked_count("thing.remove")
    async with running(s, flaky, retries=3):
        await _append(s, operation="thing.remove", id=thing)
        await until(lambda: _gone(s.repo, thing), "applied on the third try")
    assert flaky.calls == 3
    assert await s.repo.parked() == []
    assert _parked_count("thing.remove") == before


async def test_an_entry_that_cannot_be_applied_is_parked_counted_and_the_next_applied(
    setup: Setup,
) -> None:
    s = setup
    after = await _config(s.repo)
    before = _parked_count("thing.remove") + _parked_count("channel.update")
    async with running(s, retries=2):
        bad1 = await _append(s, operation="thing.remove")
        bad2 = await _append(s, operation="channel.update", id=_id(), metadata="{not json")
        await _append(s, operation="thing.remove", id=after)
        await until(lambda: _gone(s.repo, after), "the entry after the bad ones was applied")
    parked = await s.repo.parked()
    assert [(stream, entry_id) for stream, entry_id, _, _ in parked] == [
        (STREAM, bad1),
        (STREAM, bad2),
    ]
    assert parked[0][2] == {"operation": "thing.remove"}
    assert "no 'id'" in parked[0][3] and "not JSON" in parked[1][3]
    assert _parked_count("thing.remove") + _parked_count("channel.update") == before + 2
    assert await _nothing_pending(s)


async def test_nothing_is_acknowledged_while_parking_fails(setup: Setup) -> None:
    s = setup
    thing = await _config(s.repo)
    flaky = Flaky(s.repo, fail=10**6, park_ok=False)
    async with running(s, flaky, retries=1):
        entry = await _append(s, operation="thing.remove", id=thing)
        await until(lambda: flaky.park_calls >= 3, "parking was tried again and again")
        assert await s.repo.parked() == []
        flaky.park_ok = True
        await until(lambda: s.repo.parked(), "the entry was parked once parking worked")
    assert [entry_id for _, entry_id, _, _ in await s.repo.parked()] == [entry]
    assert not await _gone(s.repo, thing)
    assert await _nothing_pending(s)
