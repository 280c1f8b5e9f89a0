"""The writer on NATS: stores what a durable JetStream consumer pulls, losing nothing.

``mainflux-postgres-writer`` and ``mainflux run`` with ``MF_NATS_URL`` both run it
(into PostgreSQL, or the all-in-one's SQLite). A batch is acknowledged only once its
rows are committed, so a writer stopped, failing or killed loses nothing: the stream
keeps what it has not acknowledged and the server delivers it again. Redelivery is
at least once, and row ids derive from the message, so a redelivered message maps onto
the rows it already has and is stored once. A message that keeps failing is parked on
the dead-letter subject after ``MF_POSTGRES_WRITER_MAX_DELIVER`` deliveries (see
:mod:`mainflux.messaging.jetstream`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from nats.aio.client import Client
from nats.errors import Error as NatsError

from mainflux.core.redact import redact_url
from mainflux.core.runner import StartupError
from mainflux.messaging.envelope import Message
from mainflux.messaging.jetstream import DurableConsumer, JetStreamUnavailable, ensure_stream
from mainflux.writers.settings import DURABLE, JetStreamSettings, WriterSettings
from mainflux.writers.sink import MessageSink

log = logging.getLogger("mainflux.writer")

#: Seconds :meth:`JetStreamWriter.close` waits for the batch in hand.
CLOSE_TIMEOUT = 30.0


class JetStreamWriter:
    """Pulls ``writer``'s subjects from the stream through the consumer ``durable`` and
    stores each batch with ``sink``; :meth:`start`, then :meth:`close`."""

    def __init__(
        self,
        nc: Client,
        sink: MessageSink,
        writer: WriterSettings,
        jetstream: JetStreamSettings,
        durable: str,
        *,
        nats_url: str,
        name: str = "postgres-writer",
    ) -> None:
        """``nats_url`` (shown without credentials) and ``name`` (the process) only go
        into messages."""
        self._nc = nc
        self._sink = sink
        self._writer = writer
        self._jetstream = jetstream
        self._durable = durable
        self._nats_url = nats_url
        self._name = name
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._in_flight = 0

    @property
    def pending(self) -> int:
        """Messages pulled and not yet committed (the stream holds the others)."""
        return self._in_flight

    @property
    def running(self) -> asyncio.Task[None]:
        """The consuming task (it ends only once :meth:`close` was called)."""
        assert self._task is not None, "start() first"
        return self._task

    async def start(self) -> None:
        """Make sure the stream and the durable consumer exist, then consume.

        Raises :class:`~mainflux.core.runner.StartupError` naming ``MF_NATS_URL`` when
        the server has no JetStream, and ``MF_POSTGRES_WRITER_DURABLE`` when a consumer
        of that name exists for other subjects."""
        try:
            stream = await ensure_stream(
                self._nc.jetstream(),
                self._jetstream.stream,
                max_age=self._jetstream.stream_max_age,
                max_bytes=self._jetstream.stream_max_bytes,
            )
        except JetStreamUnavailable as exc:
            raise StartupError(
                f"MF_NATS_URL: {redact_url(self._nats_url)}: {exc} ({self._name} keeps "
                "messages in a JetStream stream until they are stored)"
            ) from None
        sink = self._sink
        consumer = DurableConsumer(
            self._nc,
            stream,
            self._jetstream.consumer(self._durable, self._writer),
            on_invalid=lambda subject: sink.refuse("envelope", subject, "not a message envelope"),
        )
        try:
            await consumer.ensure()
        except NatsError as exc:
            raise StartupError(f"{DURABLE}: {exc}") from None
        log.info(
            "%s: consuming %s from stream %s as %s",
            self._name,
            ", ".join(self._writer.subjects),
            stream,
            self._durable,
        )
        self._task = asyncio.create_task(
            consumer.run(self._store, self._stop), name=f"{self._name}-consumer"
        )

    async def _store(self, batch: Sequence[Message]) -> None:
        self._in_flight += len(batch)
        try:
            await self._sink.write(batch)
        finally:
            self._in_flight -= len(batch)

    async def close(self, timeout: float = CLOSE_TIMEOUT) -> None:
        """Stop pulling and finish the batches in hand (up to ``timeout`` seconds; what
        is not committed by then is delivered again after a restart)."""
        self._stop.set()
        task, self._task = self._task, None
        if task is None:
            return
        try:
            await asyncio.wait_for(task, timeout)
        except TimeoutError:
            log.error("%s: the batch in hand did not finish; it will be redelivered", self._name)
        except Exception:
            log.exception("%s: the consumer failed", self._name)
