"""No message lost: the PostgreSQL writer on a durable JetStream consumer over real NATS.

Covers core-NATS publishes (what Go Mainflux sends) being captured, a writer stopped
while messages keep flowing, a writer process killed with SIGKILL mid-stream, two
writers sharing one durable consumer, and a database that goes away for a while."""

from __future__ import annotations

import ast
import asyncio
import logging
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import nats
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncEngine

from mainflux.core.db import create_engine
from mainflux.messaging import jetstream
from mainflux.messaging.envelope import Message
from mainflux.messaging.jetstream import (
    ConsumerSettings,
    DurableConsumer,
    ensure_stream,
)
from mainflux.storage.migrate import migrate_messages
from mainflux.writers.postgres import PostgresStore
from mainflux.writers.sink import MessageSink
from tests.servers import NatsServer, free_port, nats_server, until


@pytest.fixture
async def nc(nats: NatsServer) -> AsyncIterator[Client]:
    client = await nats_connect(nats.url)
    yield client
    await client.close()


async def nats_connect(url: str) -> Client:
    return await nats.connect(url, max_reconnect_attempts=-1, reconnect_time_wait=0.2)


@pytest.fixture
async def engine(postgres_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(postgres_url)
    await migrate_messages(engine)
    yield engine
    await engine.dispose()


async def stored(postgres_url: str) -> tuple[int, int]:
    """(rows, distinct values): every test message carries a unique value."""
    conn = await asyncpg.connect(postgres_url.replace("+asyncpg", ""))
    try:
        row = await conn.fetchrow("SELECT count(*), count(DISTINCT value) FROM messages")
    finally:
        await conn.close()
    return row[0], row[1]


async def wait_stored(postgres_url: str, expected: int, timeout: float = 20.0) -> tuple[int, int]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    result = await stored(postgres_url)
    while result[0] < expected and loop.time() < deadline:
        await asyncio.sleep(0.1)
        result = await stored(postgres_url)
    return result


def envelope(channel: str, i: int) -> bytes:
    return Message(channel, "", "thing", "http", f'[{{"n":"n","v":{i}}}]'.encode()).encode()


async def publish(
    nc: Client,
    channel: str,
    start: int,
    count: int,
    pause: float = 0.0,
    sent: list[int] | None = None,
) -> None:
    """Publish with plain core NATS, as Go Mainflux adapters do; ``sent[0]`` counts."""
    for i in range(start, start + count):
        await nc.publish(f"channels.{channel}", envelope(channel, i))
        if sent is not None:
            sent[0] += 1
        if pause:
            await asyncio.sleep(pause)
    await nc.flush()


def retries(writer: str) -> float:
    """How often the sink named ``writer`` retried a store (its Prometheus counter)."""
    return REGISTRY.get_sample_value("mainflux_writer_store_retries_total", {"writer": writer}) or 0


class InProcessWriter:
    """A JetStream writer running as a task, stoppable like a process."""

    def __init__(
        self, nc: Client, stream: str, engine: AsyncEngine, channel: str, durable: str
    ) -> None:
        self.stop = asyncio.Event()
        settings = ConsumerSettings(
            durable=durable, subjects=(f"channels.{channel}",), batch_size=50
        )
        self.consumer = DurableConsumer(nc, stream, settings)
        self.name = f"writer-{durable}"
        self.sink = MessageSink(
            PostgresStore(engine), name=self.name, min_backoff=0.05, max_backoff=0.5
        )
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.consumer.ensure()
        self.task = asyncio.create_task(self.consumer.run(self.sink.write, self.stop))

    async def close(self) -> None:
        self.stop.set()
        assert self.task is not None
        await asyncio.wait_for(self.task, 30)


async def test_core_nats_publishes_are_captured_and_stored(
    nc: Client, engine: AsyncEngine, postgres_url: str
) -> None:
    js = nc.jetstream()
    stream = await ensure_stream(js)
    assert await ensure_stream(js, "ANOTHER_NAME") == stream
    channel = str(uuid.uuid4())
    await publish(nc, channel, 0, 200)
    writer = InProcessWriter(nc, stream, engine, channel, f"w-{channel[:8]}")
    await writer.start()
    assert await wait_stored(postgres_url, 200) == (200, 200)
    await writer.close()


async def test_a_stopped_writer_stores_everything_after_restart(
    nc: Client, engine: AsyncEngine, postgres_url: str
) -> None:
    js = nc.jetstream()
    stream = await ensure_stream(js)
    channel = str(uuid.uuid4())
    durable = f"w-{channel[:8]}"
    writer = InProcessWriter(nc, stream, engine, channel, durable)
    await writer.start()
    sent = [0]
    flow = asyncio.create_task(publish(nc, channel, 0, 600, pause=0.005, sent=sent))

    async def some_stored() -> bool:
        return (await stored(postgres_url))[0] > 0

    await until(some_stored, "the writer stored messages of the flow")
    await writer.close()
    during_stop = (await stored(postgres_url))[0]
    at_stop = sent[0]
    await until(
        lambda: sent[0] >= min(at_stop + 100, 600), "messages kept flowing while no writer ran"
    )
    assert (await stored(postgres_url))[0] == during_stop
    writer = InProcessWriter(nc, stream, engine, channel, durable)
    await writer.start()
    await flow
    total, distinct = await wait_stored(postgres_url, 600)
    print(
        f"sent 600, {during_stop} stored before the stop, stored {total},",
        f"duplicates {total - distinct}",
    )
    assert (total, distinct) == (600, 600)
    await writer.close()


async def test_two_writers_share_one_durable_consumer(
    nc: Client, engine: AsyncEngine, postgres_url: str
) -> None:
    js = nc.jetstream()
    stream = await ensure_stream(js)
    channel = str(uuid.uuid4())
    durable = f"w-{channel[:8]}"
    writers = [InProcessWriter(nc, stream, engine, channel, durable) for _ in range(2)]
    for writer in writers:
        await writer.start()
    await publish(nc, channel, 0, 2000)
    assert await wait_stored(postgres_url, 2000) == (2000, 2000)
    for writer in writers:
        await writer.close()


async def test_database_down_the_writer_retries_and_loses_nothing(
    nc: Client, engine: AsyncEngine, postgres_url: str
) -> None:
    js = nc.jetstream()
    stream = await ensure_stream(js)
    channel = str(uuid.uuid4())
    writer = InProcessWriter(nc, stream, engine, channel, f"w-{channel[:8]}")
    await writer.start()
    await publish(nc, channel, 0, 10)
    assert await wait_stored(postgres_url, 10) == (10, 10)
    name = postgres_url.rsplit("/", 1)[1]
    admin = await asyncpg.connect(
        postgres_url.replace("+asyncpg", "").rsplit("/", 1)[0] + "/postgres"
    )
    await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
    await admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name
    )
    before = retries(writer.name)
    await publish(nc, channel, 10, 300)
    await until(lambda: retries(writer.name) >= before + 3, "the writer keeps retrying")
    await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    await admin.close()
    assert await wait_stored(postgres_url, 310) == (310, 310)
    await writer.close()


def writer_process(
    postgres_url: str, nats_url: str, subjects: Path, durable: str, log: Path
) -> subprocess.Popen[bytes]:
    url = urlsplit(postgres_url)
    env = {
        **os.environ,
        "MF_NATS_URL": nats_url,
        "MF_POSTGRES_WRITER_PORT": str(free_port()),
        "MF_POSTGRES_WRITER_DB_HOST": url.hostname or "127.0.0.1",
        "MF_POSTGRES_WRITER_DB_PORT": str(url.port or 5432),
        "MF_POSTGRES_WRITER_DB_USER": url.username or "",
        "MF_POSTGRES_WRITER_DB_PASS": url.password or "",
        "MF_POSTGRES_WRITER_DB": url.path.lstrip("/"),
        "MF_POSTGRES_WRITER_SUBJECTS_CONFIG": str(subjects),
        "MF_POSTGRES_WRITER_DURABLE": durable,
        "MF_POSTGRES_WRITER_BATCH_SIZE": "100",
        "MF_POSTGRES_WRITER_ACK_WAIT": "2",
        "MF_POSTGRES_WRITER_LOG_LEVEL": "error",
    }
    with log.open("ab") as stderr:
        return subprocess.Popen(
            [sys.executable, "-m", "mainflux.writers.main"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )


async def test_a_sigkilled_writer_process_loses_and_duplicates_nothing(
    nc: Client, nats: NatsServer, engine: AsyncEngine, postgres_url: str, tmp_path: Path
) -> None:
    js = nc.jetstream()
    await ensure_stream(js)
    channel = str(uuid.uuid4())
    subjects = tmp_path / "subjects.toml"
    subjects.write_text(f'[subjects]\nfilter = ["channels.{channel}"]\n')
    durable = f"w-{channel[:8]}"
    await publish(nc, channel, 0, 20_000)
    log = tmp_path / "writer.log"
    first = writer_process(postgres_url, nats.url, subjects, durable, log)
    try:

        async def some_stored() -> bool:
            return (await stored(postgres_url))[0] > 0

        await until(some_stored, f"the first writer stored messages: {log}", timeout=15)
        assert (await stored(postgres_url))[0] < 20_000, "killed mid-stream"
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    killed_at = (await stored(postgres_url))[0]
    await publish(nc, channel, 20_000, 1000)
    second = writer_process(postgres_url, nats.url, subjects, durable, log)
    try:
        total, distinct = await wait_stored(postgres_url, 21_000, timeout=30)
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(15) == 0
    print(f"sent 21000, stored {total} ({killed_at} before SIGKILL), duplicates {total - distinct}")
    assert killed_at < 21_000
    assert (total, distinct) == (21_000, 21_000)


async def test_the_writer_on_a_nats_server_without_jetstream_says_so_and_exits_2(
    postgres_url: str, tmp_path: Path
) -> None:
    subjects = tmp_path / "subjects.toml"
    subjects.write_text('[subjects]\nfilter = ["channels.>"]\n')
    log = tmp_path / "writer.log"
    with nats_server(jetstream=False) as plain:
        proc = writer_process(postgres_url, plain.url, subjects, "w-plain", log)
        code = await asyncio.to_thread(proc.wait, 60)
    lines = log.read_text().strip().splitlines()
    assert code == 2, lines
    assert len(lines) == 1, lines
    assert lines[0].startswith("mainflux: MF_NATS_URL: nats://127.0.0.1:"), lines
    assert "no JetStream on this NATS server" in lines[0]
    assert "-js" in lines[0]


async def test_a_failed_batch_is_handed_back_and_stored_on_redelivery(
    nc: Client, engine: AsyncEngine, postgres_url: str
) -> None:
    js = nc.jetstream()
    stream = await ensure_stream(js)
    channel = str(uuid.uuid4())
    settings = ConsumerSettings(f"w-{channel[:8]}", (f"channels.{channel}",), batch_size=50)
    consumer = DurableConsumer(nc, stream, settings)
    await consumer.ensure()
    sink = MessageSink(PostgresStore(engine))
    failed: list[int] = []

    async def fail_first_batch(batch: list[Message]) -> None:
        if not failed:
            failed.append(len(batch))
            raise RuntimeError("the database said no")
        await sink.write(batch)

    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(fail_first_batch, stop))
    await publish(nc, channel, 0, 100)
    assert await wait_stored(postgres_url, 100) == (100, 100)
    stop.set()
    await asyncio.wait_for(task, 30)
    assert failed and failed[0] > 0


async def test_a_deleted_consumer_is_reported_and_the_loop_backs_off(
    nc: Client, caplog: pytest.LogCaptureFixture
) -> None:
    js = nc.jetstream()
    stream = await ensure_stream(js)
    channel = str(uuid.uuid4())
    durable = f"gone-{channel[:8]}"
    settings = ConsumerSettings(
        durable, (f"channels.{channel}",), batch_size=10, batch_timeout=5.0, concurrency=1
    )
    consumer = DurableConsumer(nc, stream, settings)
    await consumer.ensure()
    stop = asyncio.Event()
    refused = asyncio.Event()

    class StopOnRefusal(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "pull failed" in record.getMessage():
                refused.set()

    handler = StopOnRefusal()
    logging.getLogger("mainflux.jetstream").addHandler(handler)
    try:
        task = asyncio.create_task(consumer.run(_never_called, stop))

        # The consumer's first long pull is pending once the server counts a waiting request.
        async def pulling() -> bool:
            return (await js.consumer_info(stream, durable)).num_waiting > 0

        await until(pulling, "the consumer's long pull is waiting at the server")
        await js.delete_consumer(stream, durable)
        await asyncio.wait_for(refused.wait(), 10)
        stop.set()
        await asyncio.wait_for(task, 10)
    finally:
        logging.getLogger("mainflux.jetstream").removeHandler(handler)
    warnings = [r.getMessage() for r in caplog.records if "pull failed" in r.getMessage()]
    assert any("409" in w for w in warnings), warnings


async def _never_called(batch: list[Message]) -> None:
    raise AssertionError(f"no message was published, got {len(batch)}")


def test_the_consumer_uses_only_public_nats_py_api() -> None:
    """No attribute of a nats-py object that starts with an underscore: those move
    between releases without notice."""
    source = Path(jetstream.__file__).read_text()
    private = sorted(
        {
            f"{ast.unparse(node.value)}.{node.attr}"
            for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and ast.unparse(node.value) != "self"
        }
    )
    assert private == [], private


async def test_a_created_stream_is_bounded_and_has_a_dead_letter_stream(nc: Client) -> None:
    js = nc.jetstream()
    stream = await ensure_stream(js)
    config = (await js.stream_info(stream)).config
    assert (config.max_age, config.max_bytes) == (
        jetstream.DEFAULT_MAX_AGE,
        jetstream.DEFAULT_MAX_BYTES,
    )
    assert config.discard == "old"
    dead = (await js.stream_info(jetstream.DEAD_LETTER_STREAM)).config
    assert dead.subjects == [f"{jetstream.DEAD_LETTER_PREFIX}.>"]
    assert dead.max_age == jetstream.DEAD_LETTER_MAX_AGE


async def test_a_message_that_keeps_failing_is_parked_and_the_rest_stored(
    nc: Client, engine: AsyncEngine, postgres_url: str
) -> None:
    js = nc.jetstream()
    stream = await ensure_stream(js)
    channel = str(uuid.uuid4())
    durable = f"w-{channel[:8]}"
    settings = ConsumerSettings(durable, (f"channels.{channel}",), batch_size=50, max_deliver=3)
    consumer = DurableConsumer(nc, stream, settings)
    await consumer.ensure()
    sink = MessageSink(PostgresStore(engine))
    poison = b'[{"n":"n","v":13}]'

    async def refuse_the_poison(batch: list[Message]) -> None:
        if any(m.payload == poison for m in batch):
            raise RuntimeError("cannot store value 13")
        await sink.write(batch)

    parked_before = _parked(durable)
    dead = await js.subscribe(f"{jetstream.DEAD_LETTER_PREFIX}.{durable}.>")
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(refuse_the_poison, stop))
    await publish(nc, channel, 0, 30)
    parked = await dead.next_msg(timeout=20)
    assert Message.decode(parked.data).payload == poison
    assert parked.subject == f"{jetstream.DEAD_LETTER_PREFIX}.{durable}.channels.{channel}"
    assert parked.headers is not None
    assert parked.headers["Mainflux-Subject"] == f"channels.{channel}"
    assert "cannot store value 13" in parked.headers["Mainflux-Error"]
    assert await wait_stored(postgres_url, 29) == (29, 29)
    assert _parked(durable) == parked_before + 1
    await until_acknowledged(js, stream, durable)
    stop.set()
    await asyncio.wait_for(task, 30)
    await dead.unsubscribe()


def _parked(durable: str) -> float:
    return jetstream.PARKED.labels(durable)._value.get()


async def until_acknowledged(js: JetStreamContext, stream: str, durable: str) -> None:
    """Wait until the consumer has nothing pending or unacknowledged."""

    async def settled() -> bool:
        info = await js.consumer_info(stream, durable)
        return info.num_pending == 0 and info.num_ack_pending == 0

    await until(settled, f"consumer {durable} acknowledged everything")
