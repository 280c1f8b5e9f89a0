"""The writer for push subscribers (the in-process bus, core NATS): queue, batch, store.

Messages handed over by the bus wait in a bounded queue (a full queue slows the bus
down instead of growing). A flusher takes them in batches of up to ``batch_size``,
or whatever arrived within ``batch_timeout`` of a batch's first message, and stores
them through a :class:`~mainflux.consumers.sink.MessageSink`. Closing unsubscribes,
then drains the queue and says how many messages it had pending."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from sqlalchemy.ext.asyncio import AsyncEngine

from mainflux.consumers.settings import WriterSettings
from mainflux.consumers.sink import MessageSink
from mainflux.consumers.store import MessageRepository
from mainflux.messaging.bus import Subscriber, Subscription
from mainflux.messaging.envelope import Message

log = logging.getLogger("mainflux.writer")

QUEUE_GROUP = "postgres-writer"


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
        self._queue: asyncio.Queue[Message | None] = asyncio.Queue(settings.queue_size)
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
) -> BufferedWriter:
    """A writer storing into ``engine`` what ``subscriber`` delivers; call ``start()``.

    The schema must exist: run ``migrate(engine, "consumers")`` first."""
    settings = settings or WriterSettings()
    sink = MessageSink(MessageRepository(engine), settings.content_type, name=name)
    return BufferedWriter(subscriber, sink, settings, name=name)
