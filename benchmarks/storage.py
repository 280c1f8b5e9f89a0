"""Message storage benchmark: writer throughput and reader latency, PostgreSQL and SQLite.

Run: ``.venv/bin/python benchmarks/storage.py [--messages N] [--rows N] [--queries N]``
(``--writer-only [--runs N]``: part 1 alone, N times, with the median;
``--sqlite-writer-only [--publishers N]``: the SQLite writer of part 3 alone).

1. PostgreSQL writer: records/s one writer stores from a pre-filled JetStream stream
   of one-record SenML messages (private nats-server), beside a per-message INSERT
   loop over the same data (one transaction per message, the Go writer's method); also
   the writer's CPU time per record, which stays comparable on a busy machine.
2. PostgreSQL reader: p50/p99 of ``GET /channels/{id}/messages`` for a filtered page
   (channel + name + time range, limit 100) on a table of ``--rows`` rows.
3. SQLite (the all-in-one): the writer on the in-process bus fed by ``PUBLISHERS``
   concurrent publishers (each publish returns once its batch is committed, so the
   writer sees as many messages at a time as there are publishers), with the CPU time
   per message; and the same reader query.

Needs the PostgreSQL of ``make test`` (``MF_TEST_POSTGRES``) and ``nats-server``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import nats
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mainflux.core.db import create_engine
from mainflux.core.runner import tune_garbage_collector
from mainflux.messaging.envelope import Message
from mainflux.messaging.inproc import InProcessBus
from mainflux.messaging.jetstream import ConsumerSettings, DurableConsumer, ensure_stream
from mainflux.readers.api import create_app
from mainflux.readers.sql import SQLReader
from mainflux.storage.migrate import migrate_messages
from mainflux.transformers import senml
from mainflux.writers.postgres import PostgresStore
from mainflux.writers.settings import WriterSettings
from mainflux.writers.sink import STORED, MessageSink
from mainflux.writers.writer import build_writer
from tests.servers import PG_ADMIN, nats_server

CHANNELS = 100
NAMES = 10
BATCH = 1000
PUBLISHERS = 200


class AllowAll:
    """Authorization that always passes, so only storage is measured."""

    async def can_access_by_key(self, channel_id: str, key: str) -> str:
        return "thing"

    async def can_access_by_id(self, channel_id: str, thing_id: str) -> None:
        return None

    async def identify(self, key: str) -> str:
        return "thing"

    async def authorize_owner(self, token: str, channel_id: str) -> None:
        return None


@contextlib.asynccontextmanager
async def pg_database() -> AsyncIterator[str]:
    """A private PostgreSQL database for one part of the benchmark."""
    name = f"mfbench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(PG_ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def channel_id(i: int) -> str:
    return str(uuid.UUID(int=i + 1))


def messages(count: int) -> list[Message]:
    base = time.time_ns()
    return [
        Message(
            channel_id(i % CHANNELS),
            "",
            "4f6a1d2e-3b5c-4d7e-8f90-a1b2c3d4e5f6",
            "http",
            f'[{{"n":"temp","u":"C","v":{i}}}]'.encode(),
            base + i,
        )
        for i in range(count)
    ]


def stored_total() -> float:
    return sum(s.value for m in STORED.collect() for s in m.samples if s.name.endswith("_total"))


async def jetstream_writer_rate(pg_url: str, msgs: list[Message]) -> tuple[float, float]:
    """Records/s, and CPU microseconds per record of this (the writer's) process."""
    with nats_server() as server:
        nc = await nats.connect(server.url)
        js = nc.jetstream()
        stream = await ensure_stream(js, "BENCH")
        for i, msg in enumerate(msgs):
            await nc.publish(msg.subject, msg.encode())
            if i % 10_000 == 0:
                await nc.flush()
        await nc.flush()
        while (await js.stream_info(stream)).state.messages < len(msgs):
            await asyncio.sleep(0.05)
        engine = create_engine(pg_url)
        await migrate_messages(engine)
        sink = MessageSink(PostgresStore(engine))
        consumer = DurableConsumer(nc, stream, ConsumerSettings("bench", batch_size=BATCH))
        await consumer.ensure()
        thresholds = gc.get_threshold()
        tune_garbage_collector()  # as the writer process does; also hides the sent messages
        stop = asyncio.Event()
        before = stored_total()
        started, cpu = time.perf_counter(), time.process_time()
        task = asyncio.create_task(consumer.run(sink.write, stop))
        while stored_total() - before < len(msgs):
            await asyncio.sleep(0.01)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        stop.set()
        await task
        gc.unfreeze()
        gc.set_threshold(*thresholds)
        await nc.close()
        async with engine.connect() as conn:
            stored = (await conn.execute(sa.text("SELECT count(*) FROM messages"))).scalar()
        assert stored == len(msgs), f"{stored} rows stored for {len(msgs)} messages"
        await engine.dispose()
    return len(msgs) / elapsed, cpu / len(msgs) * 1e6


async def insert_loop_rate(pg_url: str, msgs: list[Message]) -> float:
    conn = await asyncpg.connect(pg_url.replace("+asyncpg", ""))
    await conn.execute("TRUNCATE messages")
    insert = await conn.prepare(
        "INSERT INTO messages (id, channel, subtopic, publisher, protocol, name, unit, value,"
        " string_value, bool_value, data_value, sum, time, update_time)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
    )
    started = time.perf_counter()
    for msg in msgs:
        records = senml.transform_json(msg)
        async with conn.transaction():
            for r in records:
                await insert.fetch(
                    uuid.uuid4(),
                    r.channel,
                    r.subtopic,
                    r.publisher,
                    r.protocol,
                    r.name,
                    r.unit,
                    r.value,
                    r.string_value,
                    r.bool_value,
                    None,
                    r.sum,
                    r.time,
                    r.update_time,
                )
    elapsed = time.perf_counter() - started
    await conn.close()
    return len(msgs) / elapsed


async def sqlite_writer_rate(
    sqlite_url: str, msgs: list[Message], publishers: int = PUBLISHERS
) -> tuple[float, float, int]:
    """Records/s, CPU microseconds per record and records never stored (a bus that drops
    what its writer cannot take in time) of the all-in-one writer on SQLite."""
    engine = create_engine(sqlite_url)
    await migrate_messages(engine)
    bus = InProcessBus(max_pending=20_000)
    writer = build_writer(engine, bus, WriterSettings(batch_size=BATCH, queue_size=20_000))
    await writer.start()

    async def publisher(share: list[Message]) -> None:
        for msg in share:
            await bus.publish(msg)

    before = stored_total()
    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(publisher(msgs[i::publishers]) for i in range(publishers)))
    stored, progress = 0.0, time.perf_counter()
    while stored < len(msgs) and time.perf_counter() - progress < 5:
        await asyncio.sleep(0.01)
        if stored_total() - before > stored:
            stored, progress = stored_total() - before, time.perf_counter()
    elapsed, cpu = progress - started, time.process_time() - cpu
    await bus.close()
    await writer.close()
    await engine.dispose()
    return stored / elapsed, cpu / max(stored, 1) * 1e6, len(msgs) - int(stored)


FILL_PG = """
INSERT INTO messages (id, channel, subtopic, publisher, protocol, name, unit, value, time)
SELECT md5(g::text)::uuid,
       '00000000-0000-0000-0000-' || lpad(to_hex(g % {channels} + 1), 12, '0'),
       '', '4f6a1d2e-3b5c-4d7e-8f90-a1b2c3d4e5f6', 'http',
       'n' || ((g / {channels}) % {names}), 'C', g, 1600000000 + g
FROM generate_series({start}, {stop}) AS g
"""

FILL_SQLITE = """
WITH RECURSIVE s(g) AS (SELECT {start} UNION ALL SELECT g + 1 FROM s WHERE g < {stop})
INSERT INTO messages (id, channel, subtopic, publisher, protocol, name, unit, value, time)
SELECT lower(hex(randomblob(16))),
       '00000000-0000-0000-0000-'
         || substr('000000000000' || printf('%x', g % {channels} + 1), -12),
       '', '4f6a1d2e-3b5c-4d7e-8f90-a1b2c3d4e5f6', 'http',
       'n' || ((g / {channels}) % {names}), 'C', g, 1600000000 + g
FROM s
"""


async def fill(url: str, rows: int) -> float:
    engine = create_engine(url)
    await migrate_messages(engine)
    sqlite = url.startswith("sqlite")
    template = FILL_SQLITE if sqlite else FILL_PG
    started = time.perf_counter()
    chunk = 500_000
    for start in range(0, rows, chunk):
        stop = min(start + chunk, rows) - 1
        async with engine.begin() as conn:
            await conn.execute(
                sa.text(template.format(start=start, stop=stop, channels=CHANNELS, names=NAMES))
            )
    async with engine.begin() as conn:
        await conn.execute(sa.text("ANALYZE" if sqlite else "ANALYZE messages"))
    await engine.dispose()
    return time.perf_counter() - started


async def reader_latency(url: str, rows: int, queries: int) -> tuple[float, float, int]:
    engine = create_engine(url)
    fake = AllowAll()
    app = create_app(SQLReader(engine), fake, fake)
    span = rows  # record times are 1600000000 + 0..rows-1
    window = min(span, 500 * CHANNELS * NAMES)  # about 500 matching rows per query
    rng = random.Random(1)
    latencies = []
    total_seen = 0
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://r") as c:
        for i in range(queries + 20):
            ch = channel_id(rng.randrange(CHANNELS))
            start = 1600000000 + rng.randrange(max(span - window, 1))
            path = (
                f"/channels/{ch}/messages?limit=100&name=n{rng.randrange(NAMES)}"
                f"&from={start}&to={start + window}"
            )
            t0 = time.perf_counter()
            response = await c.get(path, headers={"Authorization": "key"})
            elapsed = time.perf_counter() - t0
            assert response.status_code == 200, response.text
            if i >= 20:  # warm-up excluded
                latencies.append(elapsed)
                total_seen += response.json()["total"]
    await engine.dispose()
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    return p50, p99, total_seen // max(queries, 1)


async def writer_part(msgs: list[Message], count: int, loop_count: int, runs: int) -> None:
    """Part 1: the JetStream writer beside the per-message loop (medians over ``runs``)."""
    rates, cpus, loops = [], [], []
    for _ in range(runs):
        async with pg_database() as pg_url:
            rate, cpu = await jetstream_writer_rate(pg_url, msgs)
            rates.append(rate)
            cpus.append(cpu)
            loops.append(await insert_loop_rate(pg_url, msgs[:loop_count]))
        if runs > 1:
            print(
                f"  run {len(rates)}: writer {rates[-1]:,.0f} records/s ({cpu:.1f} µs CPU each),"
                f" loop {loops[-1]:,.0f} records/s"
            )
    rate, cpu, loop = statistics.median(rates), statistics.median(cpus), statistics.median(loops)
    label = f" (median of {runs})" if runs > 1 else ""
    print(
        f"[postgres] writer from JetStream{label}: {rate:,.0f} records/s, {cpu:.1f} µs CPU"
        f" per record in the writer ({count} messages)"
    )
    print(f"[postgres] per-message INSERT loop{label}: {loop:,.0f} records/s")
    print(f"[postgres] ratio writer / loop: {rate / loop:.1f}x")


async def print_sqlite_writer(url: str, msgs: list[Message], publishers: int) -> None:
    rate, cpu_us, lost = await sqlite_writer_rate(url, msgs, publishers)
    print(
        f"[sqlite] writer on the in-process bus, {publishers} publishers: {rate:,.0f} records/s,"
        f" {cpu_us:.1f} us CPU per record, {lost} not stored"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000, help="writer messages")
    parser.add_argument("--loop-messages", type=int, default=5_000, help="per-message loop")
    parser.add_argument("--rows", type=int, default=5_000_000, help="reader table rows")
    parser.add_argument("--queries", type=int, default=500, help="reader queries")
    parser.add_argument("--writer-only", action="store_true", help="part 1 (PostgreSQL writer)")
    parser.add_argument("--runs", type=int, default=1, help="repeat part 1, print medians")
    parser.add_argument(
        "--sqlite-writer-only", action="store_true", help="the SQLite writer of part 3"
    )
    parser.add_argument(
        "--publishers", type=int, default=PUBLISHERS, help="concurrent publishers (part 3)"
    )
    args = parser.parse_args()
    msgs = messages(args.messages)
    if args.sqlite_writer_only:
        with tempfile.TemporaryDirectory() as tmp:
            await print_sqlite_writer(f"sqlite+aiosqlite:///{tmp}/w.db", msgs, args.publishers)
        return
    if args.writer_only:
        await writer_part(msgs, args.messages, args.loop_messages, args.runs)
        return
    print(
        f"storage benchmark: {args.messages} one-record SenML messages, reader on {args.rows} rows"
    )

    await writer_part(msgs, args.messages, args.loop_messages, args.runs)
    async with pg_database() as pg_url:
        took = await fill(pg_url, args.rows)
        p50, p99, avg_total = await reader_latency(pg_url, args.rows, args.queries)
        print(f"[postgres] filled {args.rows:,} rows in {took:.0f}s")
        print(
            f"[postgres] reader channel+name+time range, limit 100: p50 {p50:.2f} ms,"
            f" p99 {p99:.2f} ms (avg total {avg_total}, {args.queries} queries)"
        )
    with tempfile.TemporaryDirectory() as tmp:
        await print_sqlite_writer(f"sqlite+aiosqlite:///{tmp}/w.db", msgs, args.publishers)
        url = f"sqlite+aiosqlite:///{tmp}/r.db"
        took = await fill(url, args.rows)
        p50, p99, avg_total = await reader_latency(url, args.rows, args.queries)
        print(f"[sqlite] filled {args.rows:,} rows in {took:.0f}s")
        print(
            f"[sqlite] reader channel+name+time range, limit 100: p50 {p50:.2f} ms,"
            f" p99 {p99:.2f} ms (avg total {avg_total}, {args.queries} queries)"
        )


if __name__ == "__main__":
    asyncio.run(main())
