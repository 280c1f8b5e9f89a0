"""``mainflux-postgres-writer``: stores every message of ``channels.>`` in PostgreSQL.

Consumes through a durable JetStream consumer (shared by every instance) and
acknowledges a batch only once its rows are committed, so a stopped or killed writer
loses nothing. Serves ``/version``, ``/health`` and ``/metrics`` on
``MF_POSTGRES_WRITER_PORT`` (9104). The NATS server must have JetStream (``nats-server
-js``); on one without it, start-up stops with one line saying so (exit status 2).
PostgreSQL and NATS that are not up yet are waited for with backoff.

Settings: ``MF_NATS_URL``, ``MF_POSTGRES_WRITER_DB_*``, ``MF_POSTGRES_WRITER_CONTENT_TYPE``,
``_SUBJECTS_CONFIG``, ``_BATCH_SIZE``, ``_BATCH_TIMEOUT``, ``_STREAM`` (JetStream
stream created when none captures ``channels.>``; default ``MAINFLUX_MESSAGES``),
``_STREAM_MAX_AGE`` (seconds an unconsumed message is kept, 0 = forever),
``_DURABLE`` (consumer name, default ``postgres-writer``), ``_ACK_WAIT`` (seconds),
``_SERVER_CERT``/``_SERVER_KEY`` (PEM files: both set = HTTPS)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from nats.errors import Error as NatsError

from mainflux.consumers.settings import WriterSettings
from mainflux.consumers.sink import MessageSink
from mainflux.consumers.startup import migrate_when_reachable
from mainflux.consumers.store import MessageRepository
from mainflux.core.config import ConfigError, env, env_float, env_port, env_url, postgres_url
from mainflux.core.db import create_engine
from mainflux.core.errors import ServiceUnavailable
from mainflux.core.http import create_app
from mainflux.core.retry import retry
from mainflux.core.runner import (
    StartupError,
    bind_socket,
    run,
    serve_http,
    tune_garbage_collector,
)
from mainflux.core.tls import ServerTLS, server_tls
from mainflux.messaging.jetstream import (
    DEFAULT_STREAM,
    ConsumerSettings,
    DurableConsumer,
    JetStreamUnavailable,
    ensure_stream,
)
from mainflux.messaging.nats import NatsBus, redact

log = logging.getLogger("mainflux.writer")

SERVICE = "postgres-writer"
PREFIX = "MF_POSTGRES_WRITER"


@dataclass(frozen=True, slots=True)
class Config:
    """Everything the writer process reads from the environment."""

    port: int
    db_url: str
    nats_url: str
    stream: str
    stream_max_age: float
    consumer: ConsumerSettings
    writer: WriterSettings
    tls: ServerTLS | None = None

    @classmethod
    def from_env(cls) -> Config:
        """Read the settings once. Raises ``ConfigError`` naming a bad variable."""
        writer = WriterSettings.from_env(PREFIX)
        durable = env(f"{PREFIX}_DURABLE", "postgres-writer")
        if not durable or any(c in durable for c in " .*>"):
            raise ConfigError(f"{PREFIX}_DURABLE: not a valid consumer name: {durable!r}")
        stream = env(f"{PREFIX}_STREAM", DEFAULT_STREAM)
        if any(c in stream for c in " .*>"):
            raise ConfigError(f"{PREFIX}_STREAM: not a valid stream name: {stream!r}")
        return cls(
            port=env_port(f"{PREFIX}_PORT", 9104),
            db_url=postgres_url("POSTGRES_WRITER", "messages"),
            nats_url=env_url("MF_NATS_URL", "nats://localhost:4222", ("nats", "tls")),
            stream=stream,
            stream_max_age=env_float(f"{PREFIX}_STREAM_MAX_AGE", 0.0),
            consumer=ConsumerSettings(
                durable=durable,
                subjects=writer.subjects,
                batch_size=writer.batch_size,
                batch_timeout=writer.batch_timeout,
                ack_wait=env_float(f"{PREFIX}_ACK_WAIT", 30.0, minimum=1.0),
            ),
            writer=writer,
            tls=server_tls("POSTGRES_WRITER"),
        )


async def serve(stop: asyncio.Event) -> None:
    """Run the writer until ``stop`` is set; finishes the batch in hand before leaving."""
    config = Config.from_env()
    sock = bind_socket("0.0.0.0", config.port, f"{PREFIX}_PORT")
    ssl = config.tls.ssl_context() if config.tls is not None else None
    http = asyncio.create_task(serve_http(create_app(SERVICE, []), sock, name=SERVICE, ssl=ssl))
    engine = create_engine(config.db_url)
    bus: NatsBus | None = None
    try:
        if not await migrate_when_reachable(engine, stop):
            return
        bus = await _connect(config.nats_url, stop)
        if bus is None:
            return
        try:
            stream = await ensure_stream(
                bus.client.jetstream(), config.stream, max_age=config.stream_max_age
            )
        except JetStreamUnavailable as exc:
            raise StartupError(
                f"MF_NATS_URL: {redact(config.nats_url)}: {exc} ({SERVICE} keeps messages "
                "in a JetStream stream until they are stored)"
            ) from None
        sink = MessageSink(MessageRepository(engine), config.writer.content_type, name=SERVICE)
        consumer = DurableConsumer(
            bus.client,
            stream,
            config.consumer,
            on_invalid=lambda subject: sink.refuse("envelope", subject, "not a message envelope"),
        )
        try:
            await consumer.ensure()
        except NatsError as exc:
            raise StartupError(f"{PREFIX}_DURABLE: {exc}") from None
        log.info(
            "%s: consuming %s from stream %s as %s",
            SERVICE,
            ", ".join(config.writer.subjects),
            stream,
            config.consumer.durable,
        )
        tune_garbage_collector()
        consuming = asyncio.create_task(consumer.run(sink.write, stop))
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({consuming, http, stopped}, return_when=asyncio.FIRST_COMPLETED)
        stop.set()
        stopped.cancel()
        try:
            await asyncio.wait_for(consuming, 30)
        except TimeoutError:
            log.error("%s: the batch in hand did not finish; it will be redelivered", SERVICE)
    finally:
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
    """Entry point of ``mainflux-postgres-writer``."""
    run(serve, level_var=f"{PREFIX}_LOG_LEVEL")


if __name__ == "__main__":
    main()
