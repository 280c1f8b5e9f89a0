"""``mainflux-postgres-writer``: stores every message of ``channels.>`` in PostgreSQL.

Consumes through a durable JetStream consumer (shared by every instance) and
acknowledges a batch only once its rows are committed, so a stopped or killed writer
loses nothing. Serves ``/version``, ``/health`` and ``/metrics`` on
``MF_POSTGRES_WRITER_PORT`` (9104). The NATS server must have JetStream (``nats-server
-js``); on one without it, start-up stops with one line saying so (exit status 2).
PostgreSQL and NATS that are not up yet are waited for with backoff.

``mainflux-postgres-writer --help`` lists every variable with its default: ``MF_NATS_URL``,
``MF_POSTGRES_WRITER_DB_*``, the writer's content type, subjects and batching
(:mod:`mainflux.writers.settings`), ``_STREAM`` (JetStream stream created when none
captures ``channels.>``; default ``MAINFLUX_MESSAGES``), ``_STREAM_MAX_AGE`` and
``_STREAM_MAX_BYTES`` (bounds of a created stream: a week and 1 GiB), ``_MAX_DELIVER``
(deliveries of a message that fails to store before it is parked), ``_DURABLE``
(consumer name, default ``postgres-writer``), ``_ACK_WAIT`` (seconds),
``_SERVER_CERT``/``_SERVER_KEY`` (PEM files: both set = HTTPS)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from dataclasses import dataclass
from typing import Final

from mainflux.core.db import create_engine
from mainflux.core.errors import ServiceUnavailable
from mainflux.core.health import database_probe, nats_probe, watch
from mainflux.core.http import create_app
from mainflux.core.retry import retry
from mainflux.core.runner import (
    bind_socket,
    run,
    serve_http,
    tune_garbage_collector,
)
from mainflux.core.settings import (
    from_command_line,
    log_level_setting,
    nested,
    port_setting,
    postgres_setting,
    server_tls_setting,
    setting,
    url_with_scheme,
)
from mainflux.core.tls import ServerTLS
from mainflux.messaging.nats import NatsBus
from mainflux.storage.migrate import migrate_when_reachable
from mainflux.writers.jetstream import JetStreamWriter
from mainflux.writers.postgres import PostgresStore
from mainflux.writers.settings import PREFIX, JetStreamSettings, WriterSettings, durable_setting
from mainflux.writers.sink import MessageSink

log = logging.getLogger("mainflux.writer")

PROG: Final = "mainflux-postgres-writer"
SUMMARY: Final = (
    "The PostgreSQL writer: stores the messages of the configured subjects from a "
    "durable JetStream consumer, acknowledging a batch once its rows are committed; "
    "serves /version, /health and /metrics."
    "\nIts HTTP port also follows the MF_HTTP_* limits (see docs/http.md)."
)
SERVICE: Final = "postgres-writer"
PORT: Final = f"{PREFIX}_PORT"
LOG_LEVEL: Final = f"{PREFIX}_LOG_LEVEL"


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything ``mainflux-postgres-writer`` reads, once, from the environment."""

    port: int = port_setting(PORT, 9104, "HTTP port of /version, /health and /metrics")
    db_url: str = postgres_setting("POSTGRES_WRITER", "messages")
    nats_url: str = setting(
        "MF_NATS_URL",
        "nats://localhost:4222",
        "NATS server with JetStream (nats-server -js)",
        check=url_with_scheme("nats", "tls"),
    )
    durable: str = durable_setting(SERVICE)
    jetstream: JetStreamSettings = nested(JetStreamSettings)
    writer: WriterSettings = nested(WriterSettings)
    tls: ServerTLS | None = server_tls_setting("POSTGRES_WRITER")
    log_level: str = log_level_setting(LOG_LEVEL)


async def serve(stop: asyncio.Event, settings: Settings) -> None:
    """Run the writer until ``stop`` is set; finishes the batch in hand before leaving."""
    sock = bind_socket("0.0.0.0", settings.port, PORT)
    ssl = settings.tls.ssl_context() if settings.tls is not None else None
    http = asyncio.create_task(serve_http(create_app(SERVICE, []), sock, name=SERVICE, ssl=ssl))
    engine = create_engine(settings.db_url)
    bus: NatsBus | None = None

    async def nats() -> None:
        if bus is None:
            raise ConnectionError("not connected yet")
        await nats_probe(bus.client)()

    unwatch = watch({"database": database_probe(engine), "nats": nats})
    try:
        if not await migrate_when_reachable(engine, stop):
            return
        bus = await _connect(settings.nats_url, stop)
        if bus is None:
            return
        sink = MessageSink(PostgresStore(engine), settings.writer.content_type, name=SERVICE)
        writer = JetStreamWriter(
            bus.client,
            sink,
            settings.writer,
            settings.jetstream,
            settings.durable,
            nats_url=settings.nats_url,
            name=SERVICE,
        )
        await writer.start()
        tune_garbage_collector()
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({writer.running, http, stopped}, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        await writer.close()
    finally:
        unwatch()
        http.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await http
        if bus is not None:
            with contextlib.suppress(Exception):
                await bus.close()
        await engine.dispose()


async def _connect(url: str, stop: asyncio.Event) -> NatsBus | None:
    """Connect to NATS, retrying with backoff until it answers; None if ``stop`` came first."""
    return await retry(
        lambda: NatsBus.connect(url, name=SERVICE),
        stop,
        what="NATS connection",
        retry_on=ServiceUnavailable,
        logger=log,
    )


def main() -> None:
    """Entry point of ``mainflux-postgres-writer`` (``--help`` lists every variable)."""
    settings = from_command_line(Settings, PROG, SUMMARY)
    run(functools.partial(serve, settings=settings), level_var=LOG_LEVEL)


if __name__ == "__main__":
    main()
