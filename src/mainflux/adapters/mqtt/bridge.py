"""The bridge between the broker and the message bus.

Outbound: every accepted PUBLISH becomes a Mainflux envelope (protocol ``mqtt``,
publisher = thing id, subtopic per MAINFLUX §2.3) on ``channels.<id>[.<subtopic>]``.
A message is published at once, in the publishing client's turn, without a queue or
a task of its own. The publishing client is held back (its socket stops being read)
while the bus makes a publish wait, and while too many of our own messages are still
on their way through the bus (so that they never fill it). A QoS 1 or 2 message is
published with confirmation (on NATS: stored by the JetStream stream capturing its
subject, when one does). When the bus refuses a QoS 1 or 2 message (on the in-process
bus: storage is behind or failing; on NATS: the stream refused it or did not answer)
the awaitable
returned to the broker fails, so the message is not acknowledged; a refused QoS 0
message is counted and logged.

Inbound: each adapter instance subscribes to ``channels.>`` for itself (no queue
group) and delivers messages of other protocols and other instances to its local
subscribers at QoS 1 with the raw payload. Its own messages come back too and are
skipped: local subscribers already got them from the broker. So with several
instances on one NATS every subscriber gets each message exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections import deque
from collections.abc import Awaitable
from typing import Any, Final

from mainflux.adapters.mqtt.broker import Broker
from mainflux.adapters.mqtt.codec import Publish
from mainflux.adapters.mqtt.eager import run_eagerly
from mainflux.adapters.mqtt.policy import channel_of
from mainflux.core.errors import MalformedEntity
from mainflux.messaging.bus import Bus, Subscription
from mainflux.messaging.envelope import ALL_CHANNELS, Message, now_ns
from mainflux.messaging.subtopic import message_topic, parse_topic

log = logging.getLogger("mainflux.mqtt")

PROTOCOL: Final = "mqtt"
_MEMO_LIMIT: Final = 10_000
_UNSEEN: Final[Any] = object()  # a topic not parsed yet (None means "not a channel topic")
_OWN_LIMIT: Final = 65_536
_ECHO_WAIT: Final = 1.0
_DEFAULT_QUEUED: Final = 4096
_OVERHEAD: Final = 1024  # bytes counted per queued message besides its payload


class Bridge:
    """Connects one broker to a :class:`~mainflux.messaging.bus.Bus` (see module doc)."""

    def __init__(
        self,
        broker: Broker,
        bus: Bus,
        *,
        max_queued_bytes: int = 32 << 20,
        max_queued: int | None = None,
    ) -> None:
        """``max_queued`` messages holding ``max_queued_bytes`` may be on their way through
        the bus; the default count is half of what the bus holds per subscriber
        (its ``max_pending``, when it tells), so our own echoes never fill it."""
        self.broker = broker
        self.bus = bus
        self.max_queued_bytes = max_queued_bytes
        if max_queued is None:
            max_queued = max(1, int(getattr(bus, "max_pending", _DEFAULT_QUEUED * 2)) // 2)
        self.max_queued = max_queued
        self.forwarded = 0
        self.delivered = 0
        self.skipped = 0
        self.failures = 0
        self._subscription: Subscription | None = None
        self._own: dict[int, int] = {}  # created -> bytes, until our own echo returns
        self._unechoed = 0  # bytes
        self._unechoed_count = 0
        self._deferred: deque[tuple[Message, int, asyncio.Future[None]]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._own_order: deque[int] = deque()
        self._last_created = 0
        self._subjects: dict[str, tuple[str, str] | None] = {}

    async def start(self) -> None:
        """Subscribe to every channel."""
        self._subscription = await self.bus.subscribe(ALL_CHANNELS, self._inbound)

    async def stop(self) -> None:
        """Unsubscribe, and publish what is still held back."""
        if self._subscription is not None:
            with contextlib.suppress(Exception):
                await self._subscription.unsubscribe()
            self._subscription = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._deferred:  # held back by the echo bound, which no longer applies
            envelope, qos, done = self._deferred.popleft()
            step = self._publish(envelope, qos)
            if step is not None:
                with contextlib.suppress(Exception):
                    await step
            _settle_when_done(done, step)

    # --- broker -> bus ----------------------------------------------------------------

    def outbound(self, thing_id: str, message: Publish) -> Awaitable[None] | None:
        """Publish an accepted PUBLISH on the bus, at once when the bus takes it at once.

        Returns an awaitable (the client is held back until it is done) when the bus
        makes the publish wait, or while too many of our own messages have not come
        back from the bus yet."""
        topic = message.topic
        subjects = self._subjects
        parsed = subjects.get(topic, _UNSEEN)
        if parsed is _UNSEEN:
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
        envelope = Message(parsed[0], parsed[1], thing_id, PROTOCOL, payload, created)
        if self._deferred or self._full():
            return self._defer(envelope, message.qos)
        return self._publish(envelope, message.qos)

    def _full(self) -> bool:
        return self._unechoed_count >= self.max_queued or self._unechoed >= self.max_queued_bytes

    def _publish(self, envelope: Message, qos: int) -> asyncio.Future[None] | None:
        """Publish; ``None`` when done at once, else a future that fails (QoS 1 and 2)
        when the bus refuses the message."""
        created = envelope.created
        cost = len(envelope.payload) + _OVERHEAD
        self._own[created] = cost
        self._unechoed += cost
        self._unechoed_count += 1
        order = self._own_order
        order.append(created)
        if len(order) > _OWN_LIMIT:
            self._forget(self._own.pop(order.popleft(), 0))
        try:
            # QoS 1 and 2 are acknowledged to the client once this succeeds: confirmed.
            publishing = (
                self.bus.publish(envelope, confirm=True) if qos else self.bus.publish(envelope)
            )
            _, rest = run_eagerly(publishing)
        except Exception as exc:
            self._failed(envelope, exc)
            if not qos:
                return None
            refused: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            refused.set_exception(exc)
            return refused
        if rest is None:
            self.forwarded += 1
            return None
        return asyncio.ensure_future(self._finish(envelope, rest, qos))

    async def _finish(self, envelope: Message, rest: Awaitable[Any], qos: int) -> None:
        try:
            await rest
        except Exception as exc:
            self._failed(envelope, exc)
            if qos:
                raise
        else:
            self.forwarded += 1

    def _forget(self, cost: int) -> None:
        if cost:
            self._unechoed = max(0, self._unechoed - cost)
            self._unechoed_count = max(0, self._unechoed_count - 1)

    def _failed(self, envelope: Message, exc: Exception) -> None:
        self.failures += 1
        self._forget(self._own.pop(envelope.created, 0))
        if self.failures & (self.failures - 1) == 0:
            log.warning("mqtt: bus publish failed (%d so far): %s", self.failures, exc)

    def _defer(self, envelope: Message, qos: int) -> asyncio.Future[None]:
        """Hold ``envelope`` (and its client) back until our echoes caught up.

        The wait is bounded: an echo lost to a bus outage must not stop the bridge."""
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        if not self._deferred:
            self._timer = loop.call_later(_ECHO_WAIT, self._give_up)
        self._deferred.append((envelope, qos, done))
        return done

    def _release(self) -> None:
        """Publish held-back messages, oldest first, while there is room."""
        deferred = self._deferred
        while deferred and not self._full():
            envelope, qos, done = deferred.popleft()
            step = self._publish(envelope, qos)
            if step is None:
                if not done.done():
                    done.set_result(None)
            else:
                step.add_done_callback(functools.partial(_settle_when_done, done))
        timer = self._timer
        if timer is not None and not deferred:
            timer.cancel()
            self._timer = None
        elif timer is not None:
            timer.cancel()
            self._timer = asyncio.get_running_loop().call_later(_ECHO_WAIT, self._give_up)

    def _give_up(self) -> None:
        self._timer = None
        self._unechoed = self._unechoed_count = 0
        self._release()

    # --- bus -> broker ----------------------------------------------------------------

    async def _inbound(self, message: Message) -> None:
        if message.protocol == PROTOCOL:
            cost = self._own.pop(message.created, None)
            if cost is not None:
                self._forget(cost)
                self.skipped += 1
                if self._deferred and not self._full():
                    self._release()
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


def _settle_when_done(done: asyncio.Future[None], step: asyncio.Future[None] | None) -> None:
    """Settle ``done`` like ``step`` ended: failed when it failed (a refused QoS 1/2)."""
    if done.done():
        return
    if step is not None and step.done() and not step.cancelled():
        error = step.exception()
        if error is not None:
            done.set_exception(error)
            return
    done.set_result(None)
