"""The writer of the in-process bus (the embedded all-in-one): a durable subscriber.

A publish returns only once the batch holding its message is committed
(:class:`DurableWriter`), so what an adapter acknowledged (HTTP 202, MQTT PUBACK, a
WebSocket frame read) survives ``kill -9``. Batches form by group commit: while one batch
is stored the next one fills with whatever arrives, up to ``batch_size`` (``batch_timeout``
does not apply). An unreachable database is retried with backoff a few times (about
2.5 s), then the publishers of the batch get ``ServiceUnavailable``; when ``queue_size``
messages already wait, new publishers wait for room up to the bus's ``put_timeout`` and
then get ``ServiceUnavailable`` too. Nothing is dropped silently: a message is stored, or
its publisher is told. (On NATS, ``mainflux-postgres-writer`` and the all-in-one read a
durable JetStream consumer instead: see :mod:`mainflux.writers.jetstream`.)"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncEngine

from mainflux.messaging.bus import DurableSubscriber, Subscription
from mainflux.messaging.envelope import Message
from mainflux.writers.settings import WriterSettings
from mainflux.writers.sink import MessageSink
from mainflux.writers.store import open_store

log = logging.getLogger("mainflux.writer")


#: Retries of an unreachable database before the publishers of a batch get an error
#: (backoff 0.1, 0.2, 0.4, 0.8, 1 s: about 2.5 s in all).
DURABLE_RETRIES = 5
DURABLE_MAX_BACKOFF = 1.0


class DurableWriter:
    """A durable subscriber of the in-process bus that stores each batch (see module doc)."""

    def __init__(
        self,
        bus: DurableSubscriber,
        sink: MessageSink,
        settings: WriterSettings,
        *,
        name: str = "postgres-writer",
    ) -> None:
        self._bus = bus
        self._sink = sink
        self._settings = settings
        self._name = name
        self._subscription: Subscription | None = None
        self._in_flight = 0

    @property
    def pending(self) -> int:
        """Messages of the batch being stored (the bus holds the ones behind it)."""
        return self._in_flight

    async def _store(self, batch: Sequence[Message]) -> None:
        self._in_flight = len(batch)
        try:
            await self._sink.write(batch)
        finally:
            self._in_flight = 0

    async def start(self) -> None:
        """Subscribe (durably) to every configured subject."""
        self._subscription = await self._bus.subscribe_durable(
            self._settings.subjects,
            self._store,
            max_batch=self._settings.batch_size,
            max_pending=self._settings.max_pending,
        )

    async def close(self) -> None:
        """Unsubscribe once what is queued is stored (the bus bounds the wait)."""
        sub, self._subscription = self._subscription, None
        if sub is None:
            return
        log.info("%s: stopping, %d messages pending; draining", self._name, self.pending)
        await sub.unsubscribe()


def build_writer(
    engine: AsyncEngine,
    subscriber: DurableSubscriber,
    settings: WriterSettings | None = None,
    *,
    name: str = "postgres-writer",
) -> DurableWriter:
    """A writer storing into ``engine`` what the in-process bus ``subscriber`` delivers;
    call ``start()``. The schema must exist: run
    :func:`~mainflux.storage.migrate.migrate_messages` first."""
    settings = settings or WriterSettings()
    sink = MessageSink(
        open_store(engine),
        settings.content_type,
        name=name,
        max_backoff=DURABLE_MAX_BACKOFF,
        max_retries=DURABLE_RETRIES,
    )
    return DurableWriter(subscriber, sink, settings, name=name)
