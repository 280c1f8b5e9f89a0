"""The in-process message bus: the all-in-one default, with NATS subject semantics.

Subjects are dot-separated tokens; a subscription may use ``*`` (exactly one token) and
a final ``>`` (one or more tokens). Subscribers sharing a queue group name get each
message once between them (round robin, skipping members whose queue is full).

Flow control is **backpressure with a bound**: every subscriber has its own queue of at
most ``max_pending`` messages and ``max_pending_bytes`` of payload (one message always
fits in an empty queue), drained by its own task. When a queue is full, ``publish``
waits for room up to ``put_timeout`` seconds; if the subscriber still has no room the
message is dropped for that subscriber only and counted (``dropped`` and the
``mainflux_bus_dropped_total`` metric). So a slow handler slows publishers down but
never blocks them forever, and memory stays bounded per subscriber.
Handlers receive the published :class:`Message` object itself and must not modify it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Final

from prometheus_client import Counter

from mainflux.core.errors import MalformedEntity, ServiceUnavailable
from mainflux.messaging.bus import Handler
from mainflux.messaging.envelope import Message

log = logging.getLogger("mainflux.bus")

DROPPED: Final = Counter(
    "mainflux_bus_dropped_total",
    "Messages the in-process bus dropped because a subscriber stayed full.",
)
HANDLER_FAILURES: Final = Counter(
    "mainflux_bus_handler_failures_total",
    "Bus handlers that raised while handling a message.",
)

_MAX_CACHED_SUBJECTS: Final = 10_000


def subject_tokens(subject: str, *, wildcards: bool) -> tuple[str, ...]:
    """Split and check a subject; ``wildcards`` allows ``*`` and a final ``>``.

    Raises :class:`MalformedEntity` for an empty token or a misplaced ``>``."""
    tokens = tuple(subject.split("."))
    for i, token in enumerate(tokens):
        if not token:
            raise MalformedEntity(f"empty token in subject {subject!r}")
        if wildcards and token == ">" and i != len(tokens) - 1:
            raise MalformedEntity(f"'>' must be the last token of {subject!r}")
    return tokens


def matches(pattern: tuple[str, ...], subject: tuple[str, ...]) -> bool:
    """Whether a subject's tokens match a subscription pattern's tokens (NATS rules)."""
    for i, token in enumerate(pattern):
        if token == ">":
            return len(subject) > i
        if i >= len(subject) or (token != "*" and token != subject[i]):
            return False
    return len(pattern) == len(subject)


class _Sub:
    """One subscriber: its pattern, bounded queue and draining task."""

    __slots__ = (
        "active",
        "bus",
        "bytes",
        "group",
        "handler",
        "pattern",
        "queue",
        "room",
        "subject",
        "task",
    )

    def __init__(self, bus: InProcessBus, subject: str, handler: Handler, group: str) -> None:
        self.bus = bus
        self.subject = subject
        self.pattern = subject_tokens(subject, wildcards=True)
        self.handler = handler
        self.group = group
        self.queue: asyncio.Queue[Message] = asyncio.Queue(bus.max_pending)
        self.bytes = 0  # payload bytes waiting in ``queue``
        self.room = asyncio.Event()  # set whenever a message leaves the queue
        self.task: asyncio.Task[None] | None = None
        self.active = True

    async def run(self) -> None:
        while self.active:
            message = await self.queue.get()
            self.bytes -= len(message.payload)
            self.room.set()
            try:
                await self.handler(message)
            except asyncio.CancelledError:
                raise
            except Exception:
                HANDLER_FAILURES.inc()
                log.exception("bus handler for %s failed", self.subject)
            finally:
                self.queue.task_done()
        self._discard()

    def _discard(self) -> None:
        """Drop what is still queued, so waiters on ``queue.join()`` are released."""
        while not self.queue.empty():
            self.bytes -= len(self.queue.get_nowait().payload)
            self.queue.task_done()
        self.room.set()

    def has_room(self, size: int) -> bool:
        """Whether a message of ``size`` payload bytes fits in the queue's bounds.

        An empty queue always takes one message, however large."""
        if self.queue.full():
            return False
        return self.bytes == 0 or self.bytes + size <= self.bus.max_pending_bytes

    def offer(self, message: Message) -> bool:
        """Queue ``message`` when it fits; whether it did."""
        size = len(message.payload)
        if not self.has_room(size):
            return False
        self.queue.put_nowait(message)
        self.bytes += size
        return True

    async def unsubscribe(self) -> None:
        """Stop delivering; messages still queued for this subscriber are discarded."""
        self.bus._remove(self)
        self.active = False  # from inside the handler: the loop ends when it returns
        task, self.task = self.task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            self._discard()


@dataclass(slots=True)
class _Group:
    members: list[_Sub] = field(default_factory=list)
    next: int = 0

    def pick(self) -> _Sub:
        n = len(self.members)
        start = self.next % n
        self.next = start + 1
        for step in range(n):
            member = self.members[(start + step) % n]
            if member.has_room(0):
                return member
        return self.members[start]


class InProcessBus:
    """A :class:`~mainflux.messaging.bus.Bus` inside one process (see module doc)."""

    def __init__(
        self,
        *,
        max_pending: int = 4096,
        max_pending_bytes: int = 64 << 20,
        put_timeout: float = 1.0,
    ) -> None:
        """``max_pending`` messages holding at most ``max_pending_bytes`` of payload may
        wait per subscriber; a full one gets ``put_timeout`` seconds to make room before
        the message is dropped for it."""
        self.max_pending = max_pending
        self.max_pending_bytes = max_pending_bytes
        self.put_timeout = put_timeout
        self.dropped = 0
        self._plain: list[_Sub] = []
        self._groups: dict[tuple[str, str], _Group] = {}
        self._routes: dict[str, tuple[list[_Sub], list[_Group]]] = {}
        self._closed = False

    async def publish(self, message: Message) -> None:
        """Queue ``message`` for every matching subscriber; raises ``ServiceUnavailable``
        once the bus is closed."""
        if self._closed:
            raise ServiceUnavailable("the message bus is closed")
        subject = message.subject
        route = self._routes.get(subject)
        if route is None:
            route = self._route(subject)
        plain, groups = route
        for sub in plain:
            if not sub.offer(message):
                await self._put_waiting(sub, message)
        for group in groups:
            sub = group.pick()
            if not sub.offer(message):
                await self._put_waiting(sub, message)

    async def _put_waiting(self, sub: _Sub, message: Message) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.put_timeout
        while True:
            sub.room.clear()
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            try:
                await asyncio.wait_for(sub.room.wait(), remaining)
            except TimeoutError:
                break
            if not sub.active:
                return
            if sub.offer(message):
                return
        self.dropped += 1
        DROPPED.inc()
        if self.dropped & (self.dropped - 1) == 0:  # log at powers of two
            log.warning("subscriber of %s stays full: %d dropped", sub.subject, self.dropped)

    def _route(self, subject: str) -> tuple[list[_Sub], list[_Group]]:
        tokens = tuple(subject.split("."))
        plain = [s for s in self._plain if matches(s.pattern, tokens)]
        groups = [g for g in self._groups.values() if matches(g.members[0].pattern, tokens)]
        if len(self._routes) >= _MAX_CACHED_SUBJECTS:
            self._routes.clear()
        route = (plain, groups)
        self._routes[subject] = route
        return route

    async def subscribe(self, subject: str, handler: Handler, *, queue: str = "") -> _Sub:
        """Deliver messages on ``subject`` (wildcards allowed) to ``handler``.

        Raises :class:`MalformedEntity` for a malformed subject and ``ServiceUnavailable``
        once the bus is closed."""
        if self._closed:
            raise ServiceUnavailable("the message bus is closed")
        sub = _Sub(self, subject, handler, queue)
        if queue:
            self._groups.setdefault((subject, queue), _Group()).members.append(sub)
        else:
            self._plain.append(sub)
        self._routes.clear()
        sub.task = asyncio.create_task(sub.run(), name=f"bus:{subject}")
        return sub

    def _remove(self, sub: _Sub) -> None:
        if sub.group:
            group = self._groups.get((sub.subject, sub.group))
            if group is not None and sub in group.members:
                group.members.remove(sub)
                if not group.members:
                    del self._groups[(sub.subject, sub.group)]
        elif sub in self._plain:
            self._plain.remove(sub)
        self._routes.clear()

    def pending(self) -> int:
        """Messages waiting in subscriber queues right now."""
        subs = [*self._plain, *(m for g in self._groups.values() for m in g.members)]
        return sum(s.queue.qsize() for s in subs)

    async def close(self, drain_timeout: float = 5.0) -> None:
        """Refuse new messages, let subscribers finish what is queued (up to
        ``drain_timeout`` seconds), then stop them."""
        self._closed = True
        subs = [*self._plain, *(m for g in self._groups.values() for m in g.members)]
        if subs:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    asyncio.gather(*(s.queue.join() for s in subs)), drain_timeout
                )
        for sub in subs:
            await sub.unsubscribe()
