"""Start-up of the writer and reader: waiting for PostgreSQL and NATS with backoff."""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from mainflux.core.db import create_engine
from mainflux.storage.migrate import migrate_when_reachable
from mainflux.writers import main as writer_main
from tests.servers import NatsServer, free_port


@contextmanager
def on_warning(logger: str, event: asyncio.Event) -> Iterator[list[str]]:
    """Set ``event`` on the first warning of ``logger``; yield the warnings seen."""
    seen: list[str] = []

    class Handler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.levelno >= logging.WARNING:
                seen.append(record.getMessage())
                event.set()

    handler = Handler()
    logging.getLogger(logger).addHandler(handler)
    try:
        yield seen
    finally:
        logging.getLogger(logger).removeHandler(handler)


async def test_migrations_wait_for_an_unreachable_database_until_stopped() -> None:
    engine = create_engine(f"postgresql+asyncpg://mainflux:mainflux@127.0.0.1:{free_port()}/x")
    stop = asyncio.Event()
    with on_warning("mainflux.storage", stop) as warnings:
        ran = await asyncio.wait_for(migrate_when_reachable(engine, stop), 30)
    await engine.dispose()
    assert ran is False
    assert warnings[0].startswith("message database migration failed (")
    assert "retrying in 0.2s" in warnings[0]


async def test_migrations_run_on_a_reachable_database(postgres_url: str) -> None:
    engine = create_engine(postgres_url)
    try:
        assert await migrate_when_reachable(engine, asyncio.Event()) is True
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda sync: sa.inspect(sync).get_table_names())
    finally:
        await engine.dispose()
    assert "messages" in tables


async def test_the_writer_connects_once_nats_comes_up() -> None:
    server = NatsServer()  # its port is chosen, nothing listens yet
    failed = asyncio.Event()
    try:
        with on_warning("mainflux.writer", failed) as warnings:
            connecting = asyncio.create_task(writer_main._connect(server.url, asyncio.Event()))
            await asyncio.wait_for(failed.wait(), 30)
            await asyncio.to_thread(server.start)
            bus = await asyncio.wait_for(connecting, 30)
        assert bus is not None
        assert bus.connected
        await bus.close()
        assert warnings[0].startswith("NATS connection failed (ServiceUnavailable: cannot connect")
    finally:
        server.stop()
        shutil.rmtree(server.store, ignore_errors=True)


async def test_a_stop_while_nats_is_down_ends_the_wait() -> None:
    stop = asyncio.Event()
    with on_warning("mainflux.writer", stop):
        bus = await asyncio.wait_for(
            writer_main._connect(f"nats://127.0.0.1:{free_port()}", stop), 30
        )
    assert bus is None
