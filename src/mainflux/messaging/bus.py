"""The message bus port.

Two implementations share these Protocols: the in-process bus (the all-in-one
default) and NATS (``MF_NATS_URL``). Subjects and wildcards (``*``, ``>``) have NATS
meaning in both."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from mainflux.messaging.envelope import Message

Handler = Callable[[Message], Awaitable[None]]
BatchHandler = Callable[[Sequence[Message]], Awaitable[None]]


class Subscription(Protocol):
    """A live subscription; stop it with :meth:`unsubscribe`."""

    async def unsubscribe(self) -> None:
        """Stop delivering to the handler."""
        ...


class Publisher(Protocol):
    """Puts messages on the bus."""

    async def publish(self, message: Message) -> None:
        """Publish on ``message.subject``. Raises ``ServiceUnavailable`` when the bus is down."""
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
