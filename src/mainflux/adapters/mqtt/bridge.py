"""The bridge between the broker and the message bus.

Outbound: every accepted PUBLISH becomes a Mainflux envelope (protocol ``mqtt``,
publisher = thing id, subtopic per MAINFLUX §2.3) on ``channels.<id>[.<subtopic>]``.
Messages wait in a bounded queue for one publishing task; when the queue is full the
publishing client is held back (its socket stops being read) until there is room.

Inbound: each adapter instance subscribes to ``channels.>`` for itself (no queue
group) and delivers messages of other protocols and other instances to its local
subscribers at QoS 1 with the raw payload. Its own messages come back too and are
skipped: local subscribers already got them from the broker. So with several
instances on one NATS every subscriber gets each message exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from typing import Final

from mainflux.adapters.mqtt.broker import Broker
from mainflux.adapters.mqtt.codec import Publish
from mainflux.adapters.mqtt.policy import channel_of
from mainflux.core.errors import MalformedEntity
from mainflux.messaging.bus import Bus, Subscription
from mainflux.messaging.envelope import ALL_CHANNELS, Message, now_ns
from mainflux.messaging.subtopic import message_topic, parse_topic

log = logging.getLogger("mainflux.mqtt")

PROTOCOL: Final = "mqtt"
_MEMO_LIMIT: Final = 10_000
_OWN_LIMIT: Final = 65_536
_ECHO_WAIT: Final = 1.0
_OVERHEAD: Final = 1024  # bytes counted per queued message besides its payload


class Bridge:
    """Connects one broker to a :class:`~mainflux.messaging.bus.Bus` (see module doc)."""

    def __init__(self, broker: Broker, bus: Bus, *, max_queued_bytes: int = 32 << 20) -> None:
        self.broker = broker
        self.bus = bus
        self.max_queued_bytes = max_queued_bytes
        self.forwarded = 0
        self.delivered = 0
        self.skipped = 0
        self.failures = 0
        self._queue: deque[Message] = deque()
        self._queued_bytes = 0
        self._wakeup: asyncio.Future[None] | None = None
        self._room: asyncio.Future[None] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._subscription: Subscription | None = None
        self._own: dict[int, int] = {}  # created -> bytes, until our own echo returns
        self._unechoed = 0
        self._echo: asyncio.Future[None] | None = None
        self._own_order: deque[int] = deque()
        self._last_created = 0
        self._subjects: dict[str, tuple[str, str] | None] = {}

    async def start(self) -> None:
        """Subscribe to every channel and start the publishing task."""
        self._subscription = await self.bus.subscribe(ALL_CHANNELS, self._inbound)
        self._worker = asyncio.create_task(self._publish_loop())

    async def stop(self) -> None:
        """Unsubscribe and stop publishing (what is still queued is published first)."""
        if self._subscription is not None:
            with contextlib.suppress(Exception):
                await self._subscription.unsubscribe()
            self._subscription = None
        if self._worker is not None:
            for _ in range(50):
                if not self._queue:
                    break
                await asyncio.sleep(0.02)
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None

    # --- broker -> bus ----------------------------------------------------------------

    def outbound(self, thing_id: str, message: Publish) -> asyncio.Future[None] | None:
        """Queue an accepted PUBLISH for the bus; return a future while the queue is full."""
        topic = message.topic
        subjects = self._subjects
        parsed = subjects.get(topic, 0)
        if parsed == 0:
            parsed = _parse(topic)
            if len(subjects) >= _MEMO_LIMIT:
                subjects.clear()
            subjects[topic] = parsed
        if parsed is None:
            return None
        created = now_ns()
        if created <= self._last_created:
            created = self._last_created + 1
        self._last_created = created
        payload = message.payload
        self._queue.append(Message(parsed[0], parsed[1], thing_id, PROTOCOL, payload, created))
        self._queued_bytes += len(payload) + _OVERHEAD
        wakeup = self._wakeup
        if wakeup is not None:
            self._wakeup = None
            if not wakeup.done():
                wakeup.set_result(None)
        if self._queued_bytes > self.max_queued_bytes:
            if self._room is None or self._room.done():
                self._room = asyncio.get_running_loop().create_future()
            return self._room
        return None

    async def _publish_loop(self) -> None:
        queue = self._queue
        own = self._own
        order = self._own_order
        loop = asyncio.get_running_loop()
        while True:
            if not queue:
                self._wakeup = loop.create_future()
                await self._wakeup
                continue
            message = queue.popleft()
            self._queued_bytes -= len(message.payload) + _OVERHEAD
            cost = len(message.payload) + _OVERHEAD
            if self._unechoed > self.max_queued_bytes:
                await self._echoes_caught_up(loop)
            created = message.created
            own[created] = cost
            self._unechoed += cost
            order.append(created)
            if len(order) > _OWN_LIMIT:
                self._unechoed -= own.pop(order.popleft(), 0)
            try:
                await self.bus.publish(message)
                self.forwarded += 1
            except Exception as exc:
                self.failures += 1
                self._unechoed -= self._own.pop(message.created, 0)
                if self.failures & (self.failures - 1) == 0:
                    log.warning("mqtt: bus publish failed (%d so far): %s", self.failures, exc)
            room = self._room
            if room is not None and self._queued_bytes <= self.max_queued_bytes // 2:
                self._room = None
                if not room.done():
                    room.set_result(None)

    async def _echoes_caught_up(self, loop: asyncio.AbstractEventLoop) -> None:
        """Wait until the bus has handed back enough of our own messages (bounded time:
        an echo lost to a bus outage must not stop the bridge)."""
        self._echo = loop.create_future()
        try:
            await asyncio.wait_for(self._echo, _ECHO_WAIT)
        except TimeoutError:
            self._unechoed = 0
        finally:
            self._echo = None

    # --- bus -> broker ----------------------------------------------------------------

    async def _inbound(self, message: Message) -> None:
        if message.protocol == PROTOCOL:
            cost = self._own.pop(message.created, None)
            if cost is not None:
                self._unechoed = max(0, self._unechoed - cost)
                self.skipped += 1
                echo = self._echo
                if echo is not None and self._unechoed <= self.max_queued_bytes // 2:
                    self._echo = None
                    if not echo.done():
                        echo.set_result(None)
                return
        topic = message_topic(message.channel, message.subtopic)
        self.delivered += 1
        self.broker.route(Publish(topic, message.payload, 1))


def _parse(topic: str) -> tuple[str, str] | None:
    if channel_of(topic) is None:
        return None
    try:
        return parse_topic(topic)
    except MalformedEntity:
        return None
