"""``mainflux run`` with ``MF_NATS_URL``: the writer reads a durable JetStream consumer.

Messages published on NATS while the all-in-one is stopped or killed are stored once it
is back, each exactly once (redeliveries map onto the rows they already have); its
consumer (``mainflux-allinone``) leaves a separate ``mainflux-postgres-writer`` on the
same NATS every message too; a bad setting or a NATS server without JetStream stops
start-up with one line."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import AsyncExitStack
from pathlib import Path

import asyncpg
import httpx
import nats as nats_client
import pytest
from nats.js.api import ConsumerInfo

from mainflux import allinone
from mainflux import settings as config
from mainflux.core.db import create_engine, sqlite_url
from mainflux.messaging.envelope import Message
from mainflux.messaging.inproc import InProcessBus
from mainflux.messaging.jetstream import DEFAULT_STREAM
from mainflux.storage.migrate import migrate_messages
from mainflux.writers.writer import DurableWriter
from tests.e2e.conftest import Platform
from tests.e2e.test_allinone import _provision, _run_briefly
from tests.integration.test_jetstream_writer import writer_process
from tests.integration.test_writer import count, senml_msg
from tests.servers import NatsServer, nats_server, wait_until

DURABLE = "mainflux-allinone"


@pytest.fixture
def private_nats() -> Iterator[NatsServer]:
    """A NATS server with JetStream of this test's own: its stream holds only our messages."""
    with nats_server() as server:
        yield server


def envelope(channel: str, thing: str, i: int) -> bytes:
    payload = f'[{{"bn":"dev:","n":"seq","v":{i}}}]'.encode()
    return Message(channel, "", thing, "http", payload).encode()


def publish_on_nats(url: str, channel: str, thing: str, start: int, count: int) -> None:
    """Publish with plain core NATS (as an adapter or Go Mainflux does), then flush."""

    async def go() -> None:
        nc = await nats_client.connect(url)
        try:
            for i in range(start, start + count):
                await nc.publish(f"channels.{channel}", envelope(channel, thing, i))
            await nc.flush()
        finally:
            await nc.close()

    asyncio.run(go())


def stored(platform: Platform, channel: str) -> tuple[int, int]:
    """(rows, distinct values) of ``channel`` in the all-in-one's SQLite database."""
    with sqlite3.connect(platform.data_dir / "mainflux.db", timeout=10) as db:
        query = "SELECT count(*), count(DISTINCT value) FROM messages WHERE channel = ?"
        rows, distinct = db.execute(query, (channel,)).fetchone()
    return int(rows), int(distinct)


def consumer_info(url: str, durable: str) -> ConsumerInfo:
    async def go() -> ConsumerInfo:
        nc = await nats_client.connect(url)
        try:
            return await nc.jetstream().consumer_info(DEFAULT_STREAM, durable)
        finally:
            await nc.close()

    return asyncio.run(go())


def consumer_state(url: str, durable: str) -> tuple[int, int]:
    """(messages not yet delivered, delivered and not yet acknowledged) of ``durable``."""
    info = consumer_info(url, durable)
    return info.num_pending or 0, info.num_ack_pending or 0


def platform_on(nats: NatsServer, data_dir: Path, **env: str) -> Platform:
    return Platform(data_dir, extra_env={"MF_NATS_URL": nats.url, **env})


def test_messages_published_while_the_platform_is_stopped_are_stored_after_restart(
    tmp_path: Path, private_nats: NatsServer
) -> None:
    platform = platform_on(private_nats, tmp_path / "data")
    platform.start()
    try:
        with httpx.Client(base_url=platform.url, timeout=10) as client:
            ids = _provision(client)
            for i in range(20):  # through the all-in-one's own HTTP adapter
                body = f'[{{"bn":"dev:","n":"seq","v":{i}}}]'
                answer = client.post(
                    f"/http/channels/{ids['channel']}/messages",
                    content=body,
                    headers={"Authorization": ids["key"]},
                )
                assert answer.status_code == 202
        wait_until(lambda: stored(platform, ids["channel"]) == (20, 20), "the first 20 stored")
    finally:
        assert platform.stop() == 0, platform.output

    publish_on_nats(private_nats.url, ids["channel"], ids["thing"], 20, 980)
    assert stored(platform, ids["channel"]) == (20, 20), "nothing stores while it is stopped"
    wait_until(
        lambda: consumer_state(private_nats.url, DURABLE) == (980, 0),
        "the stream keeps them for the all-in-one's consumer",
    )

    platform.start()
    try:
        wait_until(
            lambda: stored(platform, ids["channel"])[0] >= 1000,
            "what was published while stopped is stored",
            timeout=30,
        )
        assert stored(platform, ids["channel"]) == (1000, 1000), "none lost, none twice"
        wait_until(
            lambda: consumer_state(private_nats.url, DURABLE) == (0, 0),
            "every message acknowledged",
        )
        with httpx.Client(base_url=platform.url, timeout=10) as client:
            page = client.get(
                f"/channels/{ids['channel']}/messages", headers={"Authorization": ids["key"]}
            ).json()
            metrics = client.get("/metrics").text
        assert page["total"] == 1000, "the reader serves them"
        stored_metric = 'mainflux_writer_stored_records_total{writer="postgres-writer"}'
        assert any(
            line.startswith(stored_metric) and float(line.split()[-1]) >= 980
            for line in metrics.splitlines()
        ), "the writer's counters are in the gateway's /metrics"
        assert "mainflux_jetstream_parked_messages_total" in metrics
    finally:
        assert platform.stop() == 0, platform.output
    assert "Traceback" not in platform.output, platform.output


def test_a_killed_platform_stores_every_message_once_after_restart(
    tmp_path: Path, private_nats: NatsServer
) -> None:
    """SIGKILL while batches of 10 are being stored: the batches in hand were never
    acknowledged, so they come again (after ``_ACK_WAIT``, 1 s here) and land on the
    rows already committed; the count of distinct values shows none is missing."""
    platform = platform_on(
        private_nats,
        tmp_path / "data",
        MF_POSTGRES_WRITER_BATCH_SIZE="10",
        MF_POSTGRES_WRITER_ACK_WAIT="1",
    )
    channel, thing, total = str(uuid.uuid4()), str(uuid.uuid4()), 20_000
    platform.start()
    publish_on_nats(private_nats.url, channel, thing, 0, total)
    wait_until(lambda: stored(platform, channel)[0] >= 2000, "the writer stores the flow")
    platform.kill()
    killed_at = stored(platform, channel)[0]
    assert killed_at < total, "killed mid-flow"

    platform.start()
    try:
        wait_until(lambda: stored(platform, channel)[0] >= total, "all stored", timeout=60)
        assert stored(platform, channel) == (total, total)
        wait_until(
            lambda: consumer_state(private_nats.url, DURABLE) == (0, 0),
            "every message acknowledged",
        )
        # The stream holds only this test's messages: deliveries beyond them are repeats.
        delivered = consumer_info(private_nats.url, DURABLE).delivered
        assert delivered is not None
        deliveries = delivered.consumer_seq or 0
    finally:
        assert platform.stop() == 0, platform.output
    print(
        f"published {total}, {killed_at} stored before SIGKILL, {total} after the restart,",
        f"{deliveries - total} deliveries were repeats, none stored twice",
    )


def test_a_postgres_writer_on_the_same_nats_gets_every_message_too(
    tmp_path: Path, private_nats: NatsServer, postgres_url: str
) -> None:
    """The two default consumer names differ, so neither takes messages from the other."""
    subjects = tmp_path / "subjects.toml"
    subjects.write_text('[subjects]\nfilter = ["channels.>"]\n')
    writer = writer_process(
        postgres_url, private_nats.url, subjects, "postgres-writer", tmp_path / "writer.log"
    )
    platform = platform_on(private_nats, tmp_path / "data")
    platform.start()
    channel, thing = str(uuid.uuid4()), str(uuid.uuid4())

    async def in_postgres() -> int:
        conn = await asyncpg.connect(postgres_url.replace("+asyncpg", ""))
        try:
            query = "SELECT count(DISTINCT value) FROM messages WHERE channel = $1"
            return int(await conn.fetchval(query, channel))
        finally:
            await conn.close()

    try:
        publish_on_nats(private_nats.url, channel, thing, 0, 500)
        wait_until(lambda: stored(platform, channel) == (500, 500), "the all-in-one has all")
        wait_until(lambda: asyncio.run(in_postgres()) == 500, "the writer has all", timeout=30)
    finally:
        writer.terminate()
        assert writer.wait(15) == 0
        assert platform.stop() == 0, platform.output


BAD_SETTINGS = [
    ("MF_POSTGRES_WRITER_DURABLE", "two words", "not a valid consumer name"),
    ("MF_POSTGRES_WRITER_DURABLE", "a.b", "not a valid consumer name"),
    ("MF_POSTGRES_WRITER_STREAM", "MY>STREAM", "not a valid stream name"),
    ("MF_POSTGRES_WRITER_STREAM_MAX_AGE", "a week", "expected a number"),
    ("MF_POSTGRES_WRITER_STREAM_MAX_BYTES", "-1", "must be at least 0"),
    ("MF_POSTGRES_WRITER_MAX_DELIVER", "0", "must be at least 1"),
    ("MF_POSTGRES_WRITER_ACK_WAIT", "0.5", "must be at least 1"),
]


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    BAD_SETTINGS,
    ids=[
        "durable-space",
        "durable-dot",
        "stream-wildcard",
        "max-age-words",
        "max-bytes-negative",
        "max-deliver-zero",
        "ack-wait-short",
    ],
)
def test_a_bad_jetstream_setting_stops_startup_with_one_line(
    tmp_path: Path, private_nats: NatsServer, name: str, value: str, expected: str
) -> None:
    result = _run_briefly(
        {"MF_DATA_DIR": str(tmp_path), "MF_NATS_URL": private_nats.url, name: value}
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"mainflux: {name}: "), lines
    assert expected in lines[0]


def test_a_nats_server_without_jetstream_stops_startup_naming_mf_nats_url(
    tmp_path: Path,
) -> None:
    with nats_server(jetstream=False) as plain:
        platform = platform_on(plain, tmp_path / "data")
        result = _run_briefly(platform.env())
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if "MF_NATS_URL" in line]
    assert len(lines) == 1, result.stderr
    assert "no JetStream on this NATS server" in lines[0] and "-js" in lines[0]
    assert "Traceback" not in result.stderr + result.stdout


def test_a_durable_name_taken_for_other_subjects_stops_startup_naming_it(
    tmp_path: Path, private_nats: NatsServer
) -> None:
    async def taken() -> None:
        nc = await nats_client.connect(private_nats.url)
        try:
            js = nc.jetstream()
            await js.add_stream(name=DEFAULT_STREAM, subjects=["channels.>"])
            await js.add_consumer(
                DEFAULT_STREAM, durable_name="someone-else", filter_subject="channels.x"
            )
        finally:
            await nc.close()

    asyncio.run(taken())
    platform = platform_on(
        private_nats, tmp_path / "data", MF_POSTGRES_WRITER_DURABLE="someone-else"
    )
    result = _run_briefly(platform.env())
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if "DURABLE" in line]
    assert len(lines) == 1, result.stderr
    assert "MF_POSTGRES_WRITER_DURABLE: " in lines[0] and "channels.x" in lines[0]
    assert "Traceback" not in result.stderr + result.stdout


async def test_without_nats_the_writer_is_still_the_in_process_bus_durable_subscriber(
    tmp_path: Path,
) -> None:
    """The default deployment is unchanged: a publish returns once its row is committed,
    and nothing of JetStream is involved."""
    settings = config.load(environ={"MF_DATA_DIR": str(tmp_path)})
    engine = create_engine(sqlite_url(tmp_path / "messages.db"))
    await migrate_messages(engine)
    bus = InProcessBus()
    try:
        async with AsyncExitStack() as stack:
            writer = await allinone._start_writer(settings, engine, bus, stack)
            assert isinstance(writer, DurableWriter)
            await bus.publish(senml_msg(1))
            assert await count(engine) == 1, "stored before the publish returned"
    finally:
        await engine.dispose()
