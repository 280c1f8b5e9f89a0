"""The CoAP adapter's observers: bounded in number, fed from shared bus subscriptions,
revoked like every other live subscription.

An :class:`Observer` is one observation (``GET`` with ``Observe=0``) of a channel and
subtopic by a thing. :class:`Observers` holds them all:

- it caps them (``max_observers`` in all, ``max_per_thing`` per thing) and follows
  revocations with :class:`~mainflux.adapters.live.LiveSockets`, the same index
  the WebSocket adapter uses: a thing removed, disconnected or whose key changed, or a
  channel removed, marks the observers that lost their right (their ``revoked``
  future is done);
- it subscribes to the bus once per subject, however many observe it, and hands each
  message to every observer of the subject through the observer's bounded queue (a
  full queue drops the message for that observer only, counted)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Final

from prometheus_client import Counter, Gauge

from mainflux.adapters.live import LiveSocket, LiveSockets
from mainflux.core.auth import ThingAccess
from mainflux.core.errors import ServiceUnavailable
from mainflux.messaging.bus import Subscriber, Subscription
from mainflux.messaging.envelope import Message

log = logging.getLogger("mainflux.coap")

DEFAULT_MAX_OBSERVERS: Final = 10_000
DEFAULT_MAX_OBSERVERS_PER_THING: Final = 100
#: Notifications that may wait per observer before messages to it are dropped.
DEFAULT_QUEUE: Final = 256

DROPPED: Final = Counter(
    "mainflux_coap_dropped_total",
    "Messages not notified to a CoAP observer because its queue was full.",
)
OBSERVING: Final = Gauge("mainflux_coap_observers", "CoAP observations held.")


class Full(Exception):
    """No room for another observer: ``per_thing`` tells which cap was reached."""

    def __init__(self, per_thing: bool) -> None:
        super().__init__("too many observers for the thing" if per_thing else "adapter full")
        self.per_thing = per_thing


def _queue() -> asyncio.Queue[bytes]:
    return asyncio.Queue(DEFAULT_QUEUE)


@dataclass(eq=False, slots=True)
class Observer(LiveSocket):
    """One observation: who holds it, the subject it follows, its pending payloads."""

    subject: str = ""
    queue: asyncio.Queue[bytes] = field(default_factory=_queue)

    def offer(self, payload: bytes) -> None:
        """Queue a payload for notification, or drop it when the queue is full."""
        try:
            self.queue.put_nowait(payload)
        except asyncio.QueueFull:
            DROPPED.inc()


class _Fanout:
    """One bus subscription and the observers it feeds."""

    def __init__(self) -> None:
        self.observers: set[Observer] = set()
        self.subscription: Subscription | None = None
        self.ready = asyncio.Event()

    async def deliver(self, message: Message) -> None:
        for observer in list(self.observers):
            observer.offer(message.payload)


async def _confirmed(bus: Subscriber) -> None:
    """Wait until a networked bus's server has the new subscription (NATS: a flush), so
    that a message published after the registration answer reaches the observer; an
    unanswered flush leaves the subscription to take effect when it can."""
    flush = getattr(bus, "flush", None)
    if flush is not None:
        with contextlib.suppress(ServiceUnavailable):
            await flush()


class Observers:
    """Every observation of the adapter (see the module doc)."""

    def __init__(
        self,
        access: ThingAccess,
        bus: Subscriber,
        *,
        max_observers: int = DEFAULT_MAX_OBSERVERS,
        max_per_thing: int = DEFAULT_MAX_OBSERVERS_PER_THING,
    ) -> None:
        """Cap at ``max_observers`` in all and ``max_per_thing`` per thing; ``bus``
        carries the messages; ``access`` answers key re-checks and tells of revocations."""
        self._bus = bus
        self.live = LiveSockets(
            access,
            max_connections=max_observers,
            max_per_thing=max_per_thing,
            kind="CoAP observers",
        )
        self._subjects: dict[str, _Fanout] = {}

    @property
    def count(self) -> int:
        """Observations held (those being set up included)."""
        return self.live.count

    def reserve(self) -> None:
        """Count one more observation; raises :class:`Full` when the adapter holds
        ``max_observers``. Call before checking the key, so that revocations arriving
        meanwhile are heard; :meth:`release` undoes it."""
        if not self.live.reserve():
            raise Full(per_thing=False)
        OBSERVING.inc()

    def release(self) -> None:
        """Uncount a reserved observation."""
        self.live.release()
        OBSERVING.dec()

    async def add(self, observer: Observer) -> None:
        """Start feeding ``observer``; raises :class:`Full` when its thing holds
        ``max_per_thing``, or ``ServiceUnavailable`` when the bus cannot subscribe."""
        if not self.live.add(observer):
            raise Full(per_thing=True)
        fanout = self._subjects.get(observer.subject)
        if fanout is None:
            fanout = self._subjects[observer.subject] = _Fanout()
            fanout.observers.add(observer)
            try:
                fanout.subscription = await self._bus.subscribe(observer.subject, fanout.deliver)
                await _confirmed(self._bus)
            except BaseException:
                del self._subjects[observer.subject]
                self.live.discard(observer)
                fanout.ready.set()
                raise
            fanout.ready.set()
            return
        fanout.observers.add(observer)
        await fanout.ready.wait()
        if fanout.subscription is None:  # the first observer's subscription failed
            await self.remove(observer)
            raise ServiceUnavailable()

    async def remove(self, observer: Observer) -> None:
        """Stop feeding ``observer``; the last one of a subject unsubscribes from the bus."""
        self.live.discard(observer)
        fanout = self._subjects.get(observer.subject)
        if fanout is None or observer not in fanout.observers:
            return
        fanout.observers.discard(observer)
        if not fanout.observers:
            del self._subjects[observer.subject]
            if fanout.subscription is not None:
                try:
                    # Shielded: the observation's task may be cancelled meanwhile.
                    await asyncio.shield(fanout.subscription.unsubscribe())
                except Exception as exc:  # the bus went away: nothing left to stop
                    log.debug("unsubscribing %s failed: %s", observer.subject, exc)

    def subjects(self) -> int:
        """How many bus subscriptions are held (one per observed subject)."""
        return len(self._subjects)
