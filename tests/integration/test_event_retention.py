"""Event log retention on real Redis and on the embedded log (SQLite and PostgreSQL):
old entries go, entries a consumer group has not acknowledged stay."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import redis.asyncio as aioredis

from mainflux.core.db import create_engine
from mainflux.events.redis import RedisEventStream
from mainflux.events.retention import RetentionSettings, trim_all
from mainflux.events.sql import SqlEventStream
from tests.servers import free_port, restartable_redis, until, wait_for_port

EventLog = RedisEventStream | SqlEventStream


@pytest.fixture(params=["redis", "sqlite", "postgres"])
async def log(request: pytest.FixtureRequest) -> AsyncIterator[EventLog]:
    """The same log on Redis, and embedded on SQLite and PostgreSQL."""
    if request.param == "redis":
        events = RedisEventStream(request.getfixturevalue("redis_url"))
        yield events
        await events.close()
        return
    engine = create_engine(request.getfixturevalue(f"{request.param}_url"))
    sql = SqlEventStream(engine, poll_interval=0.05)
    await sql.create_schema()
    yield sql
    await engine.dispose()


async def append(log: EventLog, stream: str, count: int) -> list[str]:
    return [
        await log.append(stream, {"operation": "thing.create", "n": str(i)}) for i in range(count)
    ]


async def ids_in(log: EventLog, stream: str) -> list[str]:
    return [entry_id for entry_id, _ in await log.read(stream, count=1000)]


async def test_entries_beyond_max_entries_are_trimmed_oldest_first(log: EventLog) -> None:
    stream = f"test.{uuid.uuid4().hex}"
    ids = await append(log, stream, 30)
    assert await log.trim(stream, max_entries=10, max_age=0) == 20
    assert await ids_in(log, stream) == ids[20:]
    assert await log.trim(stream, max_entries=10, max_age=0) == 0, "nothing more to drop"
    assert await log.trim(f"test.{uuid.uuid4().hex}", max_entries=1, max_age=0) == 0, "no stream"


async def test_entries_older_than_max_age_are_trimmed(log: EventLog) -> None:
    stream = f"test.{uuid.uuid4().hex}"
    await append(log, stream, 5)
    assert await log.trim(stream, max_entries=0, max_age=3600) == 0, "all younger than an hour"
    dropped: list[int] = []

    async def all_aged_out() -> bool:
        dropped.append(await log.trim(stream, max_entries=0, max_age=0.2))
        return sum(dropped) == 5

    await until(all_aged_out, "the five entries grew older than 0.2 s and were dropped")
    assert await ids_in(log, stream) == []
    fresh = await append(log, stream, 1)
    assert await log.trim(stream, max_entries=0, max_age=3600) == 0
    assert await ids_in(log, stream) == fresh


async def test_what_a_consumer_group_has_not_acknowledged_survives_trimming(
    log: EventLog,
) -> None:
    stream, group = f"test.{uuid.uuid4().hex}", "readers"
    await append(log, stream, 5)  # before the group: not its business
    await log.create_group(stream, group)
    ids = await append(log, stream, 20)
    acked = await log.read_group(stream, group, "c1", count=5, block=0.1)
    for entry_id, _ in acked:
        await log.ack(stream, group, entry_id)
    unacked = await log.read_group(stream, group, "c1", count=5, block=0.1)
    assert [e[0] for e in acked + unacked] == ids[:10]

    # The bounds ask for one entry; the group still needs ids[5] on.
    assert await log.trim(stream, max_entries=1, max_age=0) == 10
    assert await ids_in(log, stream) == ids[5:]
    again = await log.read_group(stream, group, "c1", count=5, block=0.1)
    assert again == unacked, "read but unacknowledged entries come back whole"

    for entry_id, _ in again:
        await log.ack(stream, group, entry_id)
    assert await log.trim(stream, max_entries=1, max_age=0) == 5
    assert await ids_in(log, stream) == ids[10:], "never delivered to the group: kept"


async def test_a_second_group_that_lags_holds_the_entries_it_has_not_read(
    log: EventLog,
) -> None:
    stream = f"test.{uuid.uuid4().hex}"
    await log.create_group(stream, "fast")
    await log.create_group(stream, "slow")
    ids = await append(log, stream, 10)
    for entry_id, _ in await log.read_group(stream, "fast", "c", count=10, block=0.1):
        await log.ack(stream, "fast", entry_id)
    assert await log.trim(stream, max_entries=2, max_age=0) == 0, "slow has read nothing"
    for entry_id, _ in await log.read_group(stream, "slow", "c", count=4, block=0.1):
        await log.ack(stream, "slow", entry_id)
    settings = RetentionSettings(max_entries=2, max_age=0)
    assert await trim_all(log, [stream], settings) == {stream: 4}
    assert await ids_in(log, stream) == ids[4:]


class Unreachable:
    async def trim(self, stream: str, *, max_entries: int, max_age: float) -> int:
        raise ConnectionError("server down")


async def test_a_log_that_cannot_be_trimmed_now_is_skipped_until_the_next_round() -> None:
    settings = RetentionSettings(max_entries=1, max_age=0)
    assert await trim_all(Unreachable(), ["mainflux.things"], settings) == {}


async def test_the_things_service_keeps_its_stream_bounded_but_never_past_a_group(
    tmp_path: Path, postgres_url: str
) -> None:
    """``mainflux-things`` with ``MF_EVENTS_MAX_ENTRIES=3``: a group's unread events
    stay in ``mainflux.things`` until it acknowledges them, then the stream shrinks."""
    url = urlsplit(postgres_url)
    port = free_port()
    with restartable_redis() as server:
        env = {
            **os.environ,
            "MF_THINGS_HTTP_PORT": str(port),
            "MF_THINGS_AUTH_HTTP_PORT": str(free_port()),
            "MF_THINGS_AUTH_GRPC_PORT": str(free_port()),
            "MF_THINGS_CACHE_URL": server.url,
            "MF_THINGS_ES_URL": server.url,
            "MF_THINGS_SINGLE_USER_EMAIL": "admin@example.com",
            "MF_THINGS_SINGLE_USER_TOKEN": "token",
            "MF_THINGS_LOG_LEVEL": "error",
            "MF_THINGS_DB_HOST": url.hostname or "127.0.0.1",
            "MF_THINGS_DB_PORT": str(url.port or 5432),
            "MF_THINGS_DB_USER": url.username or "",
            "MF_THINGS_DB_PASS": url.password or "",
            "MF_THINGS_DB": url.path.lstrip("/"),
            "MF_EVENTS_MAX_ENTRIES": "3",
            "MF_EVENTS_TRIM_INTERVAL": "0.1",
        }
        redis = aioredis.from_url(server.url, decode_responses=True)
        await redis.xgroup_create("mainflux.things", "watchers", id="$", mkstream=True)
        with (tmp_path / "things.log").open("ab") as stderr:
            proc = subprocess.Popen(
                [sys.executable, "-m", "mainflux.things.main"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        try:
            wait_for_port(port, timeout=30)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                for i in range(8):
                    answer = await client.post(
                        "/things",
                        json={"name": f"t{i}"},
                        headers={"Authorization": "token"},
                    )
                    assert answer.status_code == 201, answer.text
            read = await redis.xreadgroup("watchers", "c", {"mainflux.things": ">"}, count=4)
            for entry_id, _ in read[0][1]:
                await redis.xack("mainflux.things", "watchers", entry_id)

            async def length_is(n: int) -> bool:
                return await redis.xlen("mainflux.things") == n

            await until(lambda: length_is(4), "trimmed to the four events the group has not read")
            rest = await redis.xreadgroup("watchers", "c", {"mainflux.things": ">"}, count=10)
            assert [fields["name"] for _, fields in rest[0][1]] == ["t4", "t5", "t6", "t7"]
            for entry_id, _ in rest[0][1]:
                await redis.xack("mainflux.things", "watchers", entry_id)
            await until(lambda: length_is(3), "trimmed to MF_EVENTS_MAX_ENTRIES once all are read")
        finally:
            proc.terminate()
            proc.wait(15)
            await redis.aclose()
