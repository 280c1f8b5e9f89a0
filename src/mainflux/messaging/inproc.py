"""The in-process message bus: the all-in-one default, with NATS subject semantics.

Subjects and wildcards have NATS meaning (:mod:`mainflux.messaging.subjects`).
Subscribers sharing a queue group name get each message once between them (round
robin, skipping members whose queue is full).

Flow control for ordinary subscribers is **backpressure with a bound**: every
subscriber has its own queue of at most ``max_pending`` messages and
``max_pending_bytes`` of payload (one message always fits in an empty queue), drained by
its own task. When a queue is full, ``publish`` waits for room up to ``put_timeout``
seconds; if the subscriber still has no room the message is dropped for that subscriber
only and counted (``dropped`` and the ``mainflux_bus_dropped_total`` metric). So a slow
handler (a WebSocket, the MQTT fan-out) slows publishers down but never blocks them
forever, and memory stays bounded per subscriber.

A **durable subscriber** (:meth:`InProcessBus.subscribe_durable`, the message writer of
the all-in-one) is different: a ``publish`` of a message it matches returns only once
its batch handler has returned for a batch holding that message (for the writer: once
the rows are committed), and raises ``ServiceUnavailable`` when the handler raised, so
a message is either acknowledged and stored or refused — never dropped. Batches form
by themselves (group commit): while one batch is being handled, the messages of every
publisher that arrives meanwhile gather into the next one (at most ``max_batch``), so
concurrent publishers share one transaction. At most ``max_pending`` messages wait for a
durable subscriber; a publisher that finds it full waits for room up to ``put_timeout``
and then gets ``ServiceUnavailable`` (counted in ``mainflux_bus_refused_total``) — that
is the backpressure when storage is behind. A refused message reaches no subscriber.

Handlers receive the published :class:`Message` object itself and must not modify it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from prometheus_client import Counter

from mainflux.core.errors import MalformedEntity, ServiceUnavailable
from mainflux.messaging.bus import HANDLER_FAILURES, BatchHandler, Handler
from mainflux.messaging.envelope import Message
from mainflux.messaging.subjects import matches, subject_tokens

log = logging.getLogger("mainflux.bus")

DROPPED: Final = Counter(
    "mainflux_bus_dropped_total",
    "Messages the in-process bus dropped because a subscriber stayed full.",
)
REFUSED: Final = Counter(
    "mainflux_bus_refused_total",
    "Publishes the in-process bus refused with ServiceUnavailable because a durable "
    "subscriber stayed full, failed to handle the message, or stopped.",
    ["reason"],
)

_MAX_CACHED_SUBJECTS: Final = 10_000


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


class _Batch:
    """Messages a durable subscriber handles together, and their common outcome."""

    __slots__ = ("done", "error", "messages", "size")

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.size = 0  # payload bytes
        self.done = asyncio.Event()
        self.error: BaseException | None = None

    async def outcome(self) -> None:
        """Wait until the batch was handled; raise ``ServiceUnavailable`` if it failed."""
        if not self.done.is_set():
            await self.done.wait()
        if self.error is not None:
            REFUSED.labels("failed").inc()
            raise ServiceUnavailable("message storage failed") from self.error


class _Durable:
    """A durable subscriber: batches of queued messages, handled one batch at a time."""

    def __init__(
        self,
        bus: InProcessBus,
        subjects: Sequence[str],
        handler: BatchHandler,
        max_batch: int,
        max_pending: int,
    ) -> None:
        self.bus = bus
        self.subjects = tuple(subjects)
        self.patterns = tuple(subject_tokens(s, wildcards=True) for s in self.subjects)
        self.handler = handler
        self.max_batch = max_batch
        self.max_pending = max_pending
        self.batches: deque[_Batch] = deque()  # waiting, oldest first
        self.pending = 0  # messages queued or being handled
        self.bytes = 0
        self.waiting = 0  # publishers waiting for room
        self.ready = asyncio.Event()  # a batch waits
        self.room = asyncio.Event()  # set whenever a batch is finished
        self.task: asyncio.Task[None] | None = None

    def matches(self, tokens: tuple[str, ...]) -> bool:
        return any(matches(pattern, tokens) for pattern in self.patterns)

    def offer(self, message: Message) -> _Batch | None:
        """Add ``message`` to the open batch when it fits; that batch, or ``None``
        (also once the subscriber is stopping)."""
        size = len(message.payload)
        if self.task is None:
            return None
        if self.pending and (
            self.pending >= self.max_pending or self.bytes + size > self.bus.max_pending_bytes
        ):
            return None
        batches = self.batches
        if not batches or len(batches[-1].messages) >= self.max_batch:
            batches.append(_Batch())
        batch = batches[-1]
        batch.messages.append(message)
        batch.size += size
        self.pending += 1
        self.bytes += size
        self.ready.set()
        return batch

    async def wait_for_room(self, message: Message) -> _Batch:
        """Wait up to the bus's ``put_timeout`` for room; raises ``ServiceUnavailable``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.bus.put_timeout
        self.waiting += 1
        try:
            while True:
                if self.task is None:
                    REFUSED.labels("stopped").inc()
                    raise ServiceUnavailable("message storage is stopping")
                self.room.clear()
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    await asyncio.wait_for(self.room.wait(), remaining)
                except TimeoutError:
                    break
                batch = self.offer(message)
                if batch is not None:
                    return batch
        finally:
            self.waiting -= 1
        REFUSED.labels("full").inc()
        raise ServiceUnavailable("message storage is behind; retry later")

    async def run(self) -> None:
        """Handle batches, oldest first; once stopping, the queued ones, then end."""
        while True:
            await self.ready.wait()
            if not self.batches:
                return  # woken up to stop, nothing left
            batch = self.batches.popleft()
            if not self.batches and self.task is not None:
                self.ready.clear()
            try:
                await self.handler(batch.messages)
            except asyncio.CancelledError:
                batch.error = ServiceUnavailable("stopped before the batch was handled")
                raise
            except Exception as exc:
                HANDLER_FAILURES.inc()
                log.error(
                    "durable subscriber of %s failed a batch of %d messages; "
                    "their publishers get an error: %s",
                    ", ".join(self.subjects),
                    len(batch.messages),
                    exc,
                )
                batch.error = exc
            finally:
                self._finish(batch)

    def _finish(self, batch: _Batch) -> None:
        self.pending -= len(batch.messages)
        self.bytes -= batch.size
        batch.done.set()
        self.room.set()

    async def unsubscribe(self, timeout: float = 30.0) -> None:
        """Take no new messages; handle those queued (for up to ``timeout`` seconds),
        then stop. Publishers of messages not handled by then get ``ServiceUnavailable``.
        From inside the handler it returns at once; the queued batches are still handled."""
        self.bus._remove_durable(self)
        task, self.task = self.task, None
        if task is None:
            return
        self.ready.set()  # wake the loop: it ends once the queued batches are handled
        if task is asyncio.current_task():
            return
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        while self.batches:
            batch = self.batches.popleft()
            batch.error = ServiceUnavailable("the durable subscriber stopped")
            self._finish(batch)


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
        self._durable: list[_Durable] = []
        self._routes: dict[str, tuple[list[_Sub], list[_Group], list[_Durable]]] = {}
        self._closed = False

    async def publish(self, message: Message, confirm: bool = False) -> None:
        """Queue ``message`` for every matching subscriber; when durable subscribers
        match, return once they have handled it (always: ``confirm`` changes nothing; it
        is not keyword-only here because a keyword-only default costs every call a
        lookup, and QoS 0 MQTT publishes call this at full rate).

        Raises ``ServiceUnavailable`` once the bus is closed, and when a durable
        subscriber stays full for ``put_timeout`` or fails to handle the message."""
        if self._closed:
            raise ServiceUnavailable("the message bus is closed")
        subject = message.subject
        route = self._routes.get(subject)
        if route is None:
            route = self._route(subject)
        plain, groups, durable = route
        batches = None
        if durable:  # first, so that a refused message reaches no one
            batches = [d.offer(message) or await d.wait_for_room(message) for d in durable]
        for sub in plain:
            if not sub.offer(message):
                await self._put_waiting(sub, message)
        for group in groups:
            sub = group.pick()
            if not sub.offer(message):
                await self._put_waiting(sub, message)
        if batches is not None:
            for batch in batches:
                await batch.outcome()

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

    def _route(self, subject: str) -> tuple[list[_Sub], list[_Group], list[_Durable]]:
        tokens = tuple(subject.split("."))
        plain = [s for s in self._plain if matches(s.pattern, tokens)]
        groups = [g for g in self._groups.values() if matches(g.members[0].pattern, tokens)]
        durable = [d for d in self._durable if d.matches(tokens)]
        if len(self._routes) >= _MAX_CACHED_SUBJECTS:
            self._routes.clear()
        route = (plain, groups, durable)
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

    async def subscribe_durable(
        self,
        subjects: Sequence[str],
        handler: BatchHandler,
        *,
        max_batch: int = 1000,
        max_pending: int | None = None,
    ) -> _Durable:
        """Hand messages on ``subjects`` (wildcards allowed) to ``handler`` in batches of
        at most ``max_batch``, one batch at a time; a publish of a matching message
        returns only once ``handler`` returned for its batch (see the module doc).

        At most ``max_pending`` messages (default: the bus's) wait for the handler.
        Raises :class:`MalformedEntity` for a malformed subject and ``ServiceUnavailable``
        once the bus is closed."""
        if self._closed:
            raise ServiceUnavailable("the message bus is closed")
        if not subjects:
            raise MalformedEntity("a durable subscription needs at least one subject")
        sub = _Durable(
            self, subjects, handler, max(1, max_batch), max(1, max_pending or self.max_pending)
        )
        self._durable.append(sub)
        self._routes.clear()
        sub.task = asyncio.create_task(sub.run(), name=f"bus-durable:{subjects[0]}")
        return sub

    def _remove_durable(self, sub: _Durable) -> None:
        if sub in self._durable:
            self._durable.remove(sub)
            self._routes.clear()

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
        """Messages waiting in subscriber queues (or being handled by a durable
        subscriber) right now."""
        subs = [*self._plain, *(m for g in self._groups.values() for m in g.members)]
        return sum(s.queue.qsize() for s in subs) + sum(d.pending for d in self._durable)

    async def close(self, drain_timeout: float = 5.0) -> None:
        """Refuse new messages, let subscribers finish what is queued (up to
        ``drain_timeout`` seconds), then stop them. Durable subscribers go first, so the
        publishers waiting for them get their answers."""
        self._closed = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + drain_timeout
        for durable in list(self._durable):
            await durable.unsubscribe(max(0.0, deadline - loop.time()))
        subs = [*self._plain, *(m for g in self._groups.values() for m in g.members)]
        if subs:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    asyncio.gather(*(s.queue.join() for s in subs)),
                    max(0.0, deadline - loop.time()),
                )
        for sub in subs:
            await sub.unsubscribe()
