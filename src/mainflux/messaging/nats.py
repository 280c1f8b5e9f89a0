"""The message bus on NATS (``MF_NATS_URL``), wire-compatible with Go Mainflux 0.11.

Messages travel as the protobuf envelope on ``channels.<id>[.<subtopic>]``. The
connection reconnects forever; while the server is unreachable :meth:`NatsBus.publish`
raises ``ServiceUnavailable`` instead of buffering, and subscriptions come back by
themselves when it returns.

Flow control is NATS's own: each subscription holds at most ``pending_msgs`` messages
(or ``pending_bytes``) waiting for its handler; beyond that the client drops messages
and counts them as a slow consumer (``mainflux_bus_dropped_total`` is not used here, the
NATS error callback logs it). JetStream users take the raw client from
:attr:`NatsBus.client`.

A publish is a core NATS publish: it returns once the message is in the client's write
buffer, so a server killed at that moment loses it. ``publish(message, confirm=True)``
is for messages the caller then acknowledges to a device: when a JetStream stream
captures the subject it waits for the stream's PubAck (the message is stored), else it
publishes plainly (see :mod:`mainflux.messaging.captured`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Final

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription as NatsSubscription
from nats.errors import Error as NatsError
from nats.errors import MaxPayloadError
from nats.js.errors import APIError, NoStreamResponseError
from prometheus_client import Counter

from mainflux.core.errors import PayloadTooLarge, ServiceUnavailable
from mainflux.core.redact import redact_url
from mainflux.messaging.bus import HANDLER_FAILURES, Handler
from mainflux.messaging.captured import LIST_TIMEOUT, CapturedSubjects
from mainflux.messaging.envelope import Message
from mainflux.messaging.subjects import subject_tokens

log = logging.getLogger("mainflux.bus.nats")

UNDECODABLE: Final = Counter(
    "mainflux_bus_undecodable_total",
    "Bus messages that were not a Mainflux protobuf envelope and were skipped.",
)

PENDING_MSGS: Final = 65_536
PENDING_BYTES: Final = 64 * 1024 * 1024
#: Seconds :meth:`NatsBus.flush` waits for the server.
FLUSH_TIMEOUT: Final = 5
#: Seconds a confirmed publish waits for the stream's PubAck.
CONFIRM_TIMEOUT: Final = 5.0


class NatsSub:
    """A live NATS subscription."""

    def __init__(self, sub: NatsSubscription) -> None:
        self._sub = sub

    async def unsubscribe(self) -> None:
        """Stop delivering; a closed connection counts as already unsubscribed."""
        with contextlib.suppress(NatsError):
            await self._sub.unsubscribe()


class NatsBus:
    """A :class:`~mainflux.messaging.bus.Bus` over one nats-py connection."""

    def __init__(self, client: Client, url: str) -> None:
        """Wrap a connected client; use :meth:`connect` to build one (it also starts
        following the streams' subjects, without which nothing is confirmed)."""
        self._nc = client
        self._url = url
        self._js = client.jetstream(timeout=CONFIRM_TIMEOUT)
        self._captured = CapturedSubjects(client.jsm(timeout=LIST_TIMEOUT))

    @classmethod
    async def connect(
        cls, url: str, *, name: str = "mainflux", connect_timeout: float = 2.0
    ) -> NatsBus:
        """Connect to the NATS server at ``url`` (reconnecting forever afterwards).

        Raises ``ServiceUnavailable`` when the first connection cannot be made."""
        safe = redact_url(url)
        holder: list[Client] = []
        buses: list[NatsBus] = []

        outage = [False]  # while reconnecting, each failed attempt is not logged again

        async def on_error(exc: Exception) -> None:
            if not outage[0]:
                log.warning("NATS %s: %s", safe, exc)

        async def on_disconnect() -> None:
            if holder and (holder[0].is_closed or holder[0].is_draining):
                return  # our own close
            outage[0] = True
            log.warning("NATS %s: disconnected, reconnecting", safe)

        async def on_reconnect() -> None:
            outage[0] = False
            log.info("NATS %s: reconnected", safe)
            if buses:
                buses[0]._captured.refresh_soon()

        try:
            client = await nats.connect(
                url,
                name=name,
                allow_reconnect=True,
                max_reconnect_attempts=1,  # fail fast on the first connection ...
                reconnect_time_wait=0.5,  # type: ignore[arg-type]
                connect_timeout=connect_timeout,  # type: ignore[arg-type]
                error_cb=on_error,
                disconnected_cb=on_disconnect,
                reconnected_cb=on_reconnect,
            )
        except Exception as exc:
            raise ServiceUnavailable(f"cannot connect to NATS at {safe}: {exc}") from None
        client.options["max_reconnect_attempts"] = -1  # ... and reconnect forever afterwards
        holder.append(client)
        bus = cls(client, url)
        buses.append(bus)
        await bus._captured.start()
        return bus

    @property
    def client(self) -> Client:
        """The underlying nats-py client (for JetStream)."""
        return self._nc

    @property
    def connected(self) -> bool:
        """Whether the server is reachable right now."""
        return self._nc.is_connected

    def confirms(self, subject: str) -> bool:
        """Whether a confirmed publish on ``subject`` waits for a stream (as of the last
        reading of the streams' subjects)."""
        return self._captured.captures(subject)

    async def publish(self, message: Message, *, confirm: bool = False) -> None:
        """Publish the envelope on ``message.subject``; with ``confirm``, return only
        once the JetStream stream capturing the subject stored it (when one does).

        Raises ``ServiceUnavailable`` while the server is unreachable, and when a
        confirmation is refused or does not come within :data:`CONFIRM_TIMEOUT`
        seconds; ``PayloadTooLarge`` above the server's ``max_payload``."""
        if not self._nc.is_connected:
            raise ServiceUnavailable("the message bus is unreachable")
        subject = message.subject
        if confirm and self._captured.captures(subject):
            await self._confirmed(subject, message.encode())
            return
        try:
            await self._nc.publish(subject, message.encode())
        except MaxPayloadError:
            raise PayloadTooLarge("message exceeds the bus's maximum payload") from None
        except NatsError as exc:
            raise ServiceUnavailable(f"the message bus refused the message: {exc}") from None

    async def _confirmed(self, subject: str, data: bytes) -> None:
        try:
            await self._js.publish(subject, data)
        except MaxPayloadError:
            raise PayloadTooLarge("message exceeds the bus's maximum payload") from None
        except (TimeoutError, NoStreamResponseError) as exc:
            self._captured.refresh_soon()  # the stream may be gone
            reason = "no stream answered" if isinstance(exc, NoStreamResponseError) else "timeout"
            raise ServiceUnavailable(f"the message stream did not confirm: {reason}") from None
        except APIError as exc:
            raise ServiceUnavailable(f"the message stream refused the message: {exc}") from None
        except NatsError as exc:
            raise ServiceUnavailable(f"the message bus refused the message: {exc}") from None

    async def subscribe(self, subject: str, handler: Handler, *, queue: str = "") -> NatsSub:
        """Deliver decoded envelopes on ``subject`` to ``handler``; undecodable data is
        logged, counted and skipped. Raises ``MalformedEntity`` for a bad subject and
        ``ServiceUnavailable`` when the connection is closed."""
        subject_tokens(subject, wildcards=True)

        async def deliver(msg: Msg) -> None:
            try:
                message = Message.decode(msg.data)
            except ValueError:
                UNDECODABLE.inc()
                log.warning("skipped a non-envelope message on %s", msg.subject)
                return
            try:
                await handler(message)
            except asyncio.CancelledError:
                raise
            except Exception:
                HANDLER_FAILURES.inc()
                log.exception("bus handler for %s failed", subject)

        try:
            sub = await self._nc.subscribe(
                subject,
                queue=queue,
                cb=deliver,
                pending_msgs_limit=PENDING_MSGS,
                pending_bytes_limit=PENDING_BYTES,
            )
        except NatsError as exc:
            raise ServiceUnavailable(f"cannot subscribe: {exc}") from None
        return NatsSub(sub)

    async def flush(self, timeout: int = FLUSH_TIMEOUT) -> None:
        """Return once the server has handled everything sent so far (subscriptions
        included: a message published afterwards, by any connection, reaches them).
        Raises ``ServiceUnavailable`` when it does not answer within ``timeout`` seconds."""
        try:
            await self._nc.flush(timeout=timeout)
        except (NatsError, TimeoutError) as exc:
            raise ServiceUnavailable(f"cannot flush: {exc}") from None

    async def close(self) -> None:
        """Drain subscriptions and pending publishes when connected, then close."""
        await self._captured.close()
        if self._nc.is_closed:
            return
        try:
            if self._nc.is_connected:
                await asyncio.wait_for(self._nc.drain(), 5)
        except (NatsError, TimeoutError):
            pass
        finally:
            await self._nc.close()
