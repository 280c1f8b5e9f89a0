"""The writers of push buses: the in-process bus (durable) and others (buffered).

On the in-process bus (the embedded all-in-one) the writer is a **durable subscriber**
(:class:`DurableWriter`): a publish returns only once the batch holding its message is
committed, so what an adapter acknowledged (HTTP 202, MQTT PUBACK, a WebSocket frame
read) survives ``kill -9``. Batches form by group commit: while one batch is stored the
next one fills with whatever arrives, up to ``batch_size`` (``batch_timeout`` does not
apply). An unreachable database is retried with backoff a few times (about 2.5 s), then
the publishers of the batch get ``ServiceUnavailable``; when ``queue_size`` messages
already wait, new publishers wait for room up to the bus's ``put_timeout`` and then get
``ServiceUnavailable`` too. Nothing is dropped silently: a message is stored, or its
publisher is told.

On a push bus without durable subscriptions nothing waits for the writer
(:class:`BufferedWriter`): messages wait in a bounded queue (a full one slows the
subscription down instead of growing) and a flusher stores them in batches of up to
``batch_size``, or whatever arrived within ``batch_timeout`` of a batch's first
message. What is queued is lost if the process is killed; closing drains it. (On NATS,
``mainflux-postgres-writer`` and the all-in-one read a durable JetStream consumer
instead: see :mod:`mainflux.writers.jetstream`.)"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncEngine

from mainflux.messaging.bus import DurableSubscriber, Subscriber, Subscription
from mainflux.messaging.envelope import Message
from mainflux.writers.settings import WriterSettings
from mainflux.writers.sink import MessageSink
from mainflux.writers.store import open_store

log = logging.getLogger("mainflux.writer")

QUEUE_GROUP = "postgres-writer"

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


class BufferedWriter:
    """Subscribes to the configured subjects and stores what arrives in batches."""

    def __init__(
        self,
        subscriber: Subscriber,
        sink: MessageSink,
        settings: WriterSettings,
        *,
        name: str = "postgres-writer",
    ) -> None:
        self._subscriber = subscriber
        self._sink = sink
        self._settings = settings
        self._name = name
        self._queue: asyncio.Queue[Message | None] = asyncio.Queue(settings.max_pending)
        self._subscriptions: list[Subscription] = []
        self._task: asyncio.Task[None] | None = None
        self._in_flight = 0

    @property
    def pending(self) -> int:
        """Messages received but not yet committed."""
        return self._queue.qsize() + self._in_flight

    async def handle(self, message: Message) -> None:
        """The bus handler: queue the message, waiting while the queue is full."""
        await self._queue.put(message)

    async def start(self) -> None:
        """Start the flusher and subscribe to every configured subject."""
        self._task = asyncio.create_task(self._run(), name=f"{self._name}-flusher")
        for subject in self._settings.subjects:
            self._subscriptions.append(
                await self._subscriber.subscribe(subject, self.handle, queue=QUEUE_GROUP)
            )

    async def close(self, timeout: float | None = 30.0) -> None:
        """Unsubscribe, then store everything still queued (waiting up to ``timeout``)."""
        for sub in self._subscriptions:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        self._subscriptions.clear()
        if self._task is None:
            return
        pending = self.pending
        log.info("%s: stopping, %d messages pending; draining", self._name, pending)
        await self._queue.put(None)
        started = time.monotonic()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout)
        except TimeoutError:
            lost = self.pending
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            log.error("%s: gave up draining; %d messages not stored", self._name, lost)
        else:
            log.info(
                "%s: drained %d messages in %.2fs",
                self._name,
                pending,
                time.monotonic() - started,
            )
        self._task = None

    async def _run(self) -> None:
        size, wait = self._settings.batch_size, self._settings.batch_timeout
        loop = asyncio.get_running_loop()
        done = False
        while not done:
            first = await self._queue.get()
            if first is None:
                return
            batch = [first]
            deadline = loop.time() + wait
            while len(batch) < size:
                try:
                    item = self._queue.get_nowait()
                except asyncio.QueueEmpty:
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        break
                    try:
                        item = await asyncio.wait_for(self._queue.get(), remaining)
                    except TimeoutError:
                        break
                if item is None:
                    done = True
                    break
                batch.append(item)
            self._in_flight = len(batch)
            try:
                await self._sink.write(batch)
            except Exception:
                log.exception("%s: a batch of %d messages failed", self._name, len(batch))
            finally:
                self._in_flight = 0


def build_writer(
    engine: AsyncEngine,
    subscriber: Subscriber,
    settings: WriterSettings | None = None,
    *,
    name: str = "postgres-writer",
) -> DurableWriter | BufferedWriter:
    """A writer storing into ``engine`` what ``subscriber`` delivers; call ``start()``.

    A :class:`DurableWriter` when the bus offers durable subscriptions (the in-process
    bus), else a :class:`BufferedWriter`. The schema must exist: run
    :func:`~mainflux.storage.migrate.migrate_messages` first."""
    settings = settings or WriterSettings()
    store = open_store(engine)
    if isinstance(subscriber, DurableSubscriber):
        sink = MessageSink(
            store,
            settings.content_type,
            name=name,
            max_backoff=DURABLE_MAX_BACKOFF,
            max_retries=DURABLE_RETRIES,
        )
        return DurableWriter(subscriber, sink, settings, name=name)
    sink = MessageSink(store, settings.content_type, name=name)
    return BufferedWriter(subscriber, sink, settings, name=name)
