"""The writers: durable on the in-process bus (a publish returns once stored; bounded
retries, backpressure), buffered for core NATS; drains on shutdown, refuses bad payloads."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
import sqlalchemy as sa
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncEngine

from mainflux.core import errors
from mainflux.core.config import ConfigError
from mainflux.core.db import create_engine
from mainflux.core.settings import load
from mainflux.messaging.envelope import ALL_CHANNELS, Message
from mainflux.messaging.inproc import InProcessBus
from mainflux.storage.migrate import migrate_messages
from mainflux.storage.schema import json_messages, messages
from mainflux.writers.rows import JSONRow, SenMLRow
from mainflux.writers.settings import WriterSettings, load_subjects, parse_duration
from mainflux.writers.sink import MessageSink
from mainflux.writers.sqlite import SQLiteStore
from mainflux.writers.writer import DurableWriter, build_writer
from tests.servers import until

CHANNEL = "c0ffee00-0000-4000-8000-0000000000aa"


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(db_url)
    await migrate_messages(engine)
    yield engine
    await engine.dispose()


async def count(engine: AsyncEngine, table: sa.Table = messages) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(sa.select(sa.func.count()).select_from(table))).scalar_one()


async def wait_for_rows(engine: AsyncEngine, expected: int, table: sa.Table = messages) -> int:
    """The row count of ``table`` once it reaches ``expected`` (fails after 10 s)."""

    async def enough() -> bool:
        return await count(engine, table) >= expected

    await until(enough, f"{expected} rows in {table.name}")
    return await count(engine, table)


def senml_msg(i: int, subtopic: str = "", channel: str = CHANNEL) -> Message:
    return Message(channel, subtopic, "thing", "http", f'[{{"n":"v","v":{i}}}]'.encode())


async def test_on_the_in_process_bus_a_publish_returns_once_its_rows_are_committed(
    engine: AsyncEngine,
) -> None:
    bus = InProcessBus()
    writer = build_writer(engine, bus, WriterSettings(batch_timeout=60.0))
    assert isinstance(writer, DurableWriter)
    await writer.start()
    await bus.publish(senml_msg(1))
    assert await count(engine) == 1, "stored before the publisher hears back"
    await asyncio.gather(*(bus.publish(senml_msg(i)) for i in range(2, 202)))
    assert await count(engine) == 201
    await bus.close()
    await writer.close()


class FlakyStore:
    """A message store that is unreachable for its first ``failures`` calls."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0
        self.rows: list[SenMLRow] = []

    async def save(self, senml: Sequence[SenMLRow], json: Sequence[JSONRow] = ()) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise errors.ServiceUnavailable("message database unavailable")
        self.rows.extend(senml)


async def durable_writer(bus: InProcessBus, store: FlakyStore, retries: int) -> DurableWriter:
    sink = MessageSink(store, min_backoff=0.001, max_backoff=0.001, max_retries=retries)
    writer = DurableWriter(bus, sink, WriterSettings())
    await writer.start()
    return writer


async def test_a_failed_batch_is_retried_before_the_publisher_hears_back() -> None:
    bus = InProcessBus()
    store = FlakyStore(failures=2)
    writer = await durable_writer(bus, store, retries=3)
    await bus.publish(senml_msg(1))
    assert store.calls == 3
    assert len(store.rows) == 1
    await bus.close()
    await writer.close()


async def test_a_batch_that_keeps_failing_is_an_error_for_its_publisher(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = InProcessBus()
    store = FlakyStore(failures=4)
    writer = await durable_writer(bus, store, retries=3)
    caplog.set_level(logging.WARNING)
    with pytest.raises(errors.ServiceUnavailable):
        await bus.publish(senml_msg(1))
    assert store.calls == 4, "the first try and three retries"
    assert store.rows == []
    assert any("gave up after 3 retries" in r.getMessage() for r in caplog.records)
    await bus.publish(senml_msg(2))  # the database is back: the writer carries on
    assert [row[1].value for row in store.rows] == [2.0]
    await bus.close()
    await writer.close()


async def test_a_full_writer_holds_publishers_back_then_refuses(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    await migrate_messages(engine)
    bus = InProcessBus(put_timeout=0.05)
    entered, release = asyncio.Event(), asyncio.Event()

    class SlowStore(SQLiteStore):
        async def save(self, senml: Sequence[SenMLRow], json: Sequence[JSONRow] = ()) -> None:
            entered.set()
            await release.wait()
            await super().save(senml, json)

    sink = MessageSink(SlowStore(engine))
    writer = DurableWriter(bus, sink, WriterSettings(queue_size=1))
    await writer.start()
    first = asyncio.create_task(bus.publish(senml_msg(1)))
    await entered.wait()
    with pytest.raises(errors.ServiceUnavailable, match="behind"):
        await bus.publish(senml_msg(2))
    release.set()
    await first
    assert await count(engine) == 1
    await bus.close()
    await writer.close()
    await engine.dispose()


async def test_every_message_is_stored(engine: AsyncEngine) -> None:
    bus = InProcessBus()
    writer = build_writer(engine, bus, WriterSettings(batch_size=50))
    await writer.start()
    for i in range(500):
        await bus.publish(senml_msg(i))
    assert await wait_for_rows(engine, 500) == 500
    await bus.close()
    await writer.close()


async def test_a_clean_shutdown_stores_what_publishers_wait_for(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    await migrate_messages(engine)
    bus = InProcessBus()
    writer = build_writer(engine, bus, WriterSettings(batch_size=100))
    await writer.start()
    publishing = [asyncio.create_task(bus.publish(senml_msg(i))) for i in range(1000)]
    await until(
        lambda: bus.pending() + sum(task.done() for task in publishing) == 1000,
        "every publisher is stored or waits for the writer",
    )
    await bus.close()
    await writer.close()
    await asyncio.gather(*publishing)
    assert await count(engine) == 1000
    await engine.dispose()


def invalid_count(cause: str) -> float:
    value = REGISTRY.get_sample_value(
        "mainflux_writer_invalid_messages_total", {"writer": "postgres-writer", "cause": cause}
    )
    return value or 0.0


async def test_invalid_payloads_are_counted_logged_once_and_skipped(
    engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    bus = InProcessBus()
    writer = build_writer(engine, bus, WriterSettings(batch_size=10))
    await writer.start()
    before = invalid_count("empty_name")
    caplog.set_level(logging.WARNING, logger="mainflux.writer")
    for i in range(20):
        await bus.publish(Message(CHANNEL, "", "t", "http", b'[{"v":1}]'))
        await bus.publish(senml_msg(i))
    await bus.publish(Message(CHANNEL, "", "t", "http", b"\x00not senml"))
    assert await wait_for_rows(engine, 20) == 20
    await bus.close()
    await writer.close()
    assert invalid_count("empty_name") - before == 20
    lines = [r.getMessage() for r in caplog.records if "without a name" in r.getMessage()]
    assert len(lines) == 1
    assert CHANNEL in lines[0]


async def test_subject_filter_keeps_only_that_subtopic(engine: AsyncEngine) -> None:
    bus = InProcessBus()
    settings = WriterSettings(subjects=(f"channels.{CHANNEL}.a",), batch_size=10)
    writer = build_writer(engine, bus, settings)
    await writer.start()
    await bus.publish(senml_msg(1, "a"))
    await bus.publish(senml_msg(2, "b"))
    await bus.publish(senml_msg(3, ""))
    await bus.publish(senml_msg(4, "a.deeper"))
    await bus.close()
    await writer.close()
    async with engine.connect() as conn:
        stored = (await conn.execute(sa.select(messages.c.subtopic, messages.c.value))).all()
    assert stored == [("a", 1.0)]


async def test_json_content_type_stores_objects(engine: AsyncEngine) -> None:
    bus = InProcessBus()
    writer = build_writer(engine, bus, WriterSettings(content_type="application/json"))
    await writer.start()
    await bus.publish(Message(CHANNEL, "", "t", "http", b'[{"a":1},{"b":2}]'))
    await bus.publish(Message(CHANNEL, "", "t", "http", b"[1]"))
    assert await wait_for_rows(engine, 2, json_messages) == 2
    await bus.close()
    await writer.close()


async def test_cbor_content_type(engine: AsyncEngine) -> None:
    import cbor2

    bus = InProcessBus()
    writer = build_writer(engine, bus, WriterSettings(content_type="application/senml+cbor"))
    await writer.start()
    await bus.publish(Message(CHANNEL, "", "t", "http", cbor2.dumps([{0: "x", 2: 5}])))
    assert await wait_for_rows(engine, 1) == 1
    await bus.close()
    await writer.close()


def test_settings_from_env(tmp_path: Path) -> None:
    path = tmp_path / "subjects.toml"
    path.write_text(f'[subjects]\nfilter = ["channels.{CHANNEL}.a", "channels.*.b"]\n')
    settings = load(
        WriterSettings,
        {
            "MF_POSTGRES_WRITER_SUBJECTS_CONFIG": str(path),
            "MF_POSTGRES_WRITER_CONTENT_TYPE": "something/else",
            "MF_POSTGRES_WRITER_BATCH_SIZE": "250",
            "MF_POSTGRES_WRITER_BATCH_TIMEOUT": "1s",
        },
    )
    assert settings.subjects == (f"channels.{CHANNEL}.a", "channels.*.b")
    assert settings.content_type == "application/senml+json"
    assert (settings.batch_size, settings.batch_timeout) == (250, 1.0)


def test_defaults() -> None:
    settings = load(
        WriterSettings, {"MF_POSTGRES_WRITER_SUBJECTS_CONFIG": "/nonexistent/subjects.toml"}
    )
    assert settings.subjects == (ALL_CHANNELS,)
    assert settings.batch_timeout == 0.1
    assert settings.max_pending == 10_000


def test_settings_built_directly_have_the_defaults_of_an_empty_environment() -> None:
    unset = {"MF_POSTGRES_WRITER_SUBJECTS_CONFIG": "/nonexistent/subjects.toml"}
    assert WriterSettings() == load(WriterSettings, unset)
    assert WriterSettings().content_type == "application/senml+json"


@pytest.mark.parametrize(
    ("variables", "pending"),
    [
        ({}, 10_000),
        ({"MF_POSTGRES_WRITER_BATCH_SIZE": "8000"}, 16_000),
        ({"MF_POSTGRES_WRITER_QUEUE_SIZE": "5"}, 5),
        ({"MF_POSTGRES_WRITER_QUEUE_SIZE": "5", "MF_POSTGRES_WRITER_BATCH_SIZE": "8000"}, 5),
    ],
    ids=["default", "twice the batch", "set", "set beats the batch"],
)
def test_the_queue_holds_twice_a_batch_and_at_least_10000_unless_set(
    variables: dict[str, str], pending: int
) -> None:
    environ = {"MF_POSTGRES_WRITER_SUBJECTS_CONFIG": "/nonexistent", **variables}
    assert load(WriterSettings, environ).max_pending == pending


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("MF_POSTGRES_WRITER_QUEUE_SIZE", "0"),
        ("MF_POSTGRES_WRITER_QUEUE_SIZE", "many"),
        ("MF_POSTGRES_WRITER_BATCH_SIZE", "0"),
    ],
    ids=["queue 0", "queue not a number", "batch 0"],
)
def test_a_bad_size_names_the_variable(name: str, raw: str) -> None:
    with pytest.raises(ConfigError, match=name):
        load(WriterSettings, {"MF_POSTGRES_WRITER_SUBJECTS_CONFIG": "/nonexistent", name: raw})


@pytest.mark.parametrize(
    "text",
    [
        "not toml [",
        "[subjects]\n",
        "[subjects]\nfilter = []\n",
        "[subjects]\nfilter = 'channels.>'\n",
        "[subjects]\nfilter = [1]\n",
        "[subjects]\nfilter = ['channels. x']\n",
        "[subjects]\nfilter = ['channels.>.a']\n",
        "[subjects]\nfilter = ['channels..a']\n",
        "[subjects]\nfilter = ['channels.a*']\n",
    ],
    ids=[
        "not toml",
        "no filter",
        "empty",
        "not a list",
        "not text",
        "space",
        "inner >",
        "empty token",
        "partial wildcard",
    ],
)
def test_a_malformed_subjects_file_names_the_variable(tmp_path: Path, text: str) -> None:
    path = tmp_path / "subjects.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="MF_POSTGRES_WRITER_SUBJECTS_CONFIG"):
        load_subjects(str(path), "MF_POSTGRES_WRITER_SUBJECTS_CONFIG")


@pytest.mark.parametrize(
    ("raw", "seconds"), [("100ms", 0.1), ("100", 0.1), ("2s", 2.0), ("0.5s", 0.5)]
)
def test_batch_timeout_units(raw: str, seconds: float) -> None:
    assert parse_duration(raw, "X") == pytest.approx(seconds)


@pytest.mark.parametrize("raw", ["soon", "-1", "1h", "ms"])
def test_bad_batch_timeout_names_the_variable(raw: str) -> None:
    with pytest.raises(ConfigError, match="MF_POSTGRES_WRITER_BATCH_TIMEOUT"):
        load(
            WriterSettings,
            {
                "MF_POSTGRES_WRITER_SUBJECTS_CONFIG": "/nonexistent",
                "MF_POSTGRES_WRITER_BATCH_TIMEOUT": raw,
            },
        )
