"""The message bus port.

Two implementations share these Protocols: the in-process bus (the all-in-one
default) and NATS (``MF_NATS_URL``). Subjects and wildcards (``*``, ``>``) have NATS
meaning in both.

:class:`DurableSubscriber` is a capability of the in-process bus only (the all-in-one's
message writer uses it, so that a publish returns once the message is stored); on NATS
the writer reads a JetStream durable consumer instead."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Final, Protocol, runtime_checkable

from prometheus_client import Counter

from mainflux.messaging.envelope import Message

Handler = Callable[[Message], Awaitable[None]]
BatchHandler = Callable[[Sequence[Message]], Awaitable[None]]

#: Counted by every bus when a subscriber's handler raises (the message is skipped).
HANDLER_FAILURES: Final = Counter(
    "mainflux_bus_handler_failures_total",
    "Bus handlers that raised while handling a message.",
)


class Subscription(Protocol):
    """A live subscription; stop it with :meth:`unsubscribe`."""

    async def unsubscribe(self) -> None:
        """Stop delivering to the handler."""
        ...


class Publisher(Protocol):
    """Puts messages on the bus."""

    async def publish(self, message: Message, *, confirm: bool = False) -> None:
        """Publish on ``message.subject``. Raises ``ServiceUnavailable`` when the bus is down.

        ``confirm`` is for a message the caller acknowledges to its sender afterwards:
        the publish returns only once the bus's durable store (a JetStream stream, the
        in-process bus's durable subscriber) has it, when one captures the subject, and
        raises ``ServiceUnavailable`` when that store refuses it or does not answer."""
        ...


class Subscriber(Protocol):
    """Delivers messages of matching subjects to a handler."""

    async def subscribe(self, subject: str, handler: Handler, *, queue: str = "") -> Subscription:
        """Deliver each message on ``subject`` (wildcards allowed) to ``handler``.

        Subscribers sharing a non-empty ``queue`` each get a share of the messages,
        every message going to one of them."""
        ...


class Bus(Publisher, Subscriber, Protocol):
    """A publisher and subscriber over one connection."""

    async def close(self) -> None:
        """Drain and close."""
        ...


@runtime_checkable
class DurableSubscriber(Protocol):
    """A bus whose publishers can wait for a subscriber: the in-process bus."""

    async def subscribe_durable(
        self,
        subjects: Sequence[str],
        handler: BatchHandler,
        *,
        max_batch: int = 1000,
        max_pending: int | None = None,
    ) -> Subscription:
        """Hand messages on ``subjects`` to ``handler`` in batches of at most ``max_batch``.

        A publish of a matching message returns only once ``handler`` returned for a
        batch holding it, and raises ``ServiceUnavailable`` when ``handler`` raised or
        when ``max_pending`` messages already wait for it (after a bounded wait).
        Unsubscribing handles what is queued first."""
        ...
