"""One client connection: reads packets, runs them through the broker, writes replies.

The packets of one socket read are decoded and handled in order, one at a time.
Handling is synchronous on the hot path (a PUBLISH whose authorization is already
known; a topic is authorized once per read, not once per message); when a
step needs to wait (authentication, a policy lookup, back-pressure from the bus), the
connection stops reading, finishes that step (a future: by a done callback; anything
else: in a task) and then carries on with the packets that were behind it, so order is
always kept.

Writes are gathered per connection and handed to the transport once per loop turn.

A check that had to wait (authentication, a SUBSCRIBE authorization) is asked again
when a revocation happened meanwhile (the broker's ``epoch``), so an answer
given before a thing lost a right is never acted on after.

What differs between MQTT versions is the connection's :class:`Version` part, and its
decoder: a connection starts with those of :mod:`~mainflux.adapters.mqtt.handshake`,
which its CONNECT replaces, once, with the 3.1.1 ones
(:mod:`~mainflux.adapters.mqtt.version311`) or the version 5 ones
(:mod:`~mainflux.adapters.mqtt.version5`). A 3.1.1 PUBLISH is handled here without
asking the version."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final, Protocol

from mainflux.adapters.mqtt.broker import Broker
from mainflux.adapters.mqtt.codec import (
    BAD_CREDENTIALS,
    IDENTIFIER_REJECTED,
    NOT_AUTHORIZED,
    PUBACK,
    PUBREC,
    SERVER_UNAVAILABLE,
    UNACCEPTABLE_PROTOCOL,
    Connect,
    ProtocolError,
    Publish,
    Will,
    encode_ack,
)
from mainflux.adapters.mqtt.codec5 import RECEIVE_MAXIMUM_EXCEEDED
from mainflux.adapters.mqtt.codec_common import MALFORMED, FrameDecoder
from mainflux.adapters.mqtt.session import Session

log = logging.getLogger("mainflux.mqtt")

STOP: Final[Any] = object()  # a step's answer: stop reading (the connection is closing)
_SERVER_BUSY: Final = 0x89  # the MQTT 5 DISCONNECT reason code "Server busy"
Step = Awaitable[Any] | None
TRIES: Final = 5  # askings of a check that revocations keep making stale

REFUSALS: Final = {
    UNACCEPTABLE_PROTOCOL: "unsupported protocol level",
    IDENTIFIER_REJECTED: "client id rejected",
    SERVER_UNAVAILABLE: "server unavailable (the credentials could not be checked)",
    BAD_CREDENTIALS: "bad user name or password",
    NOT_AUTHORIZED: "not authorized",
}


class Version(Protocol):
    """The part of a connection that depends on its MQTT version."""

    awaiting_limit: int  # QoS 2 messages from the client awaiting PUBREL, at most

    def dispatch(self, packet: Any) -> Step:
        """Handle any packet but a 3.1.1 PUBLISH."""

    def malformed(self, error: ProtocolError) -> None:
        """The client sent bytes that are not valid MQTT: close, saying why if it can."""

    def session_expiry(self, packet: Connect) -> int | None:
        """How long (seconds; ``None``: for ever) the session outlives the connection."""

    def accept(self, packet: Connect, present: bool) -> None:
        """Answer an accepted CONNECT (the session is attached)."""

    def refuse(self, code: int, quota: bool) -> None:
        """Answer a refused CONNECT (``code``: a 3.1.1 return code; ``quota``: a bound
        was reached)."""

    def refuse_publish(self, packet: Publish) -> Step:
        """A PUBLISH the policy refused: answer and close."""

    def send_qos0(self, message: Publish, retain: bool) -> None:
        """Send at QoS 0 unless the client is behind (then dropped and counted)."""

    def send_publish(
        self, message: Publish, qos: int, packet_id: int, retain: bool, dup: bool
    ) -> None:
        """Send a QoS 1/2 PUBLISH with this session's packet identifier."""

    def shutdown(self, code: int) -> None:
        """Close on the server's initiative (``code``: the MQTT 5 reason code)."""


class Connection(asyncio.Protocol):
    """The protocol object of one MQTT client (TCP, TLS or WebSocket).

    ``first`` makes the version part and ``decoder`` is the decoder it starts with;
    :meth:`become` replaces both once the CONNECT says the version."""

    __slots__ = (
        "_allowed",
        "_out",
        "_out_size",
        "_paused",
        "_waiting",
        "blocked",
        "blocked_since",
        "broker",
        "client_id",
        "closed",
        "connected",
        "connecting",
        "credentials",
        "decoder",
        "keepalive",
        "last_seen",
        "opened",
        "principal",
        "resend_inflight",
        "session",
        "transport",
        "version",
        "will",
    )

    def __init__(
        self,
        broker: Broker,
        first: Callable[[Connection], Version],
        decoder: Callable[[int], FrameDecoder],
    ) -> None:
        self.broker = broker
        self.transport: Any = None
        self.decoder = decoder(broker.limits.max_packet_size)
        self.version = first(self)
        self.session: Session | None = None
        self.principal: Any = None
        self.client_id = ""
        self.will: Will | None = None
        # user name and password, checked again when the thing's key may have changed
        self.credentials: tuple[str | None, bytes | None] = (None, None)
        self.keepalive = 0
        self.last_seen = broker.tick
        self.opened = broker.tick
        self.connected = False
        self.connecting = False  # a CONNECT arrived: the version is known
        self.closed = False
        self.blocked = False
        self.blocked_since = 0
        self.resend_inflight = False  # unacknowledged messages go again after a timeout
        self._paused = False
        self._allowed: str | None = None  # a topic already authorized in this read
        self._out: list[bytes] = []
        self._out_size = 0
        self._waiting = False  # a step is under way; later packets wait in the decoder

    def become(self, version: Version, decoder: type[FrameDecoder]) -> None:
        """Speak ``version`` and decode with ``decoder`` from now on (the bytes not
        decoded yet carry over): what a CONNECT decides, once."""
        self.version = version
        self.decoder = decoder.following(self.decoder)

    # --- transport callbacks --------------------------------------------------------

    def connection_made(self, transport: Any) -> None:  # type: ignore[override]
        """Register with the broker, or close at once when it is full."""
        self.transport = transport
        if not self.broker.admit(self):
            self.closed = True
            transport.abort()
            return
        transport.set_write_buffer_limits(high=self.broker.limits.max_outbound_bytes)

    def data_received(self, data: bytes) -> None:
        """Handle every packet completed by ``data``, in order."""
        if self.closed:
            return
        self.last_seen = self.broker.tick
        self.decoder.push(data)
        if not self._waiting:
            self._process()

    def eof_received(self) -> bool:
        """The client half-closed: treat it as a lost connection."""
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        """Publish the will unless the client said DISCONNECT, then leave the broker."""
        self.closed = True
        self.broker.release(self)

    def pause_writing(self) -> None:
        """The socket is full: stop sending QoS 0 (dropped) and QoS 1/2 (queued)."""
        self._paused = True
        self.blocked = True
        self.blocked_since = self.broker.tick

    def resume_writing(self) -> None:
        """The socket drained: let queued messages flow again."""
        self._paused = False
        self.blocked = self._out_size >= self.broker.limits.max_outbound_bytes
        if not self.blocked and self.session is not None and self.session.pending:
            self.session.drain()

    # --- packet handling --------------------------------------------------------------

    def _process(self) -> None:
        """Decode and handle packets one at a time until the bytes run out or a step
        has to wait; packets not reached yet stay undecoded in the decoder.

        A CONNECT always ends the loop (it waits for authentication or stops), so the
        decoder it may replace is never used after."""
        take = self.decoder.next
        self._allowed = None
        while not self.closed:
            try:
                packet = take()
            except ProtocolError as exc:
                self.version.malformed(exc)
                return
            if packet is None:
                return
            if packet.__class__ is Publish:
                step = self.on_publish(packet)
            else:
                step = self.version.dispatch(packet)
            if step is None:
                continue
            if step is STOP:
                return
            self._waiting = True
            self.decoder.compact()
            self.transport.pause_reading()
            if isinstance(step, asyncio.Future):
                step.add_done_callback(self._resume)
            else:
                self.broker.spawn(self._continue(step))
            return

    def _resume(self, done: asyncio.Future[Any]) -> None:
        """A future this connection waited on is done: carry on with what was behind it."""
        if not done.cancelled() and done.exception() is not None:
            log.error("mqtt: client %s: handling failed: %s", self.client_id, done.exception())
            self.fail("internal error")
        self._carry_on()

    async def _continue(self, step: Awaitable[Any]) -> None:
        try:
            await step
        except Exception:
            log.exception("mqtt: client %s: handling failed", self.client_id)
            self.fail("internal error")
        self._carry_on()

    def _carry_on(self) -> None:
        self._waiting = False
        if self.closed:
            return
        self.transport.resume_reading()
        self._process()

    # --- CONNECT (the version's part decides; these are the steps they share) -------------

    def too_long(self, client_id: str) -> bool:
        """Refuse a client id longer than ``max_client_id_length`` (before any lookup)."""
        if len(client_id) <= self.broker.limits.max_client_id_length:
            return False
        self.refuse(
            IDENTIFIER_REJECTED,
            client_id[:64] + "...",
            "client id too long (MF_MQTT_ADAPTER_MAX_CLIENT_ID_LENGTH)",
        )
        return True

    async def authenticate(self, packet: Connect) -> None:
        """Ask the policy who the client is, then accept or refuse its CONNECT."""
        broker = self.broker
        for _ in range(TRIES):
            epoch = broker.epoch
            try:
                result = await broker.policy.authenticate(
                    packet.client_id, packet.username, packet.password
                )
            except Exception:
                log.exception("mqtt: authentication of client %s failed", packet.client_id)
                result = SERVER_UNAVAILABLE
            if broker.epoch == epoch:
                break
        else:  # revocations kept coming: the answer cannot be trusted
            result = SERVER_UNAVAILABLE
        if self.closed:
            return
        if isinstance(result, int):
            self.refuse(result, packet.client_id)
            return
        if not broker.make_room(result, packet.client_id):
            self.refuse(
                SERVER_UNAVAILABLE,
                packet.client_id,
                "too many sessions of one thing (MF_MQTT_ADAPTER_MAX_SESSIONS_PER_THING)",
                quota=True,
            )
            return
        self.principal = result
        self.client_id = packet.client_id
        self.credentials = (packet.username, packet.password)
        self.keepalive = packet.keepalive
        self.will = packet.will
        self.connected = True
        present = broker.attach(self, packet.clean_session, self.version.session_expiry(packet))
        self.version.accept(packet, present)
        broker.connected(self)
        assert self.session is not None
        self.session.resume()

    def refuse(self, code: int, client: str = "", cause: str = "", quota: bool = False) -> None:
        """Answer a refused CONNECT with ``code`` (a 3.1.1 return code; ``quota``: a bound
        was reached, which version 5 says with its own code) and close; ``cause`` is
        logged (by default, what ``code`` means)."""
        ours = code == SERVER_UNAVAILABLE and not cause  # the server's side failed
        cause = cause or REFUSALS.get(code, f"CONNACK {code}")
        self.broker.notices.refused(cause, client, "", logging.WARNING if ours else logging.INFO)
        self.version.refuse(code, quota)
        self.close()

    # --- PUBLISH from the client ---------------------------------------------------------

    def on_publish(self, packet: Publish) -> Step:
        """Authorize (once per topic and read) and accept a PUBLISH."""
        topic = packet.topic
        if topic == self._allowed:
            return self._accept_publish(packet)
        if not self.connected:
            return self.fail("PUBLISH before CONNECT")
        allowed = self.broker.policy.authorize_publish(self.principal, topic)
        if allowed is True:
            self._allowed = topic
            return self._accept_publish(packet)
        if allowed is False:
            return self.version.refuse_publish(packet)
        return self._publish_when(allowed, packet)

    async def _publish_when(self, answer: Awaitable[bool], packet: Publish) -> None:
        if await answer:
            step = self._accept_publish(packet)
            if step is not None and step is not STOP:
                await step
        else:
            self.version.refuse_publish(packet)

    def _accept_publish(self, packet: Publish) -> Step:
        qos = packet.qos
        if qos == 2:
            session = self.session
            assert session is not None
            waiting = session.awaiting_release
            if waiting is None:
                waiting = session.awaiting_release = set()
            if packet.packet_id in waiting:
                journal = self.broker.journal
                if journal is not None:  # the first copy's changes may not be stored yet
                    return self._acknowledge_when(asyncio.shield(journal.durable()), packet)
                self.write(encode_ack(PUBREC, packet.packet_id))
                return None
            if len(waiting) >= self.version.awaiting_limit:
                return self.fail("receive maximum exceeded", RECEIVE_MAXIMUM_EXCEEDED)
            waiting.add(packet.packet_id)
        gate = self.broker.accept(self, packet)
        if gate is not None and qos:
            return self._acknowledge_when(gate, packet)
        if qos == 1:
            self.write(encode_ack(PUBACK, packet.packet_id))
        elif qos == 2:
            self.write(encode_ack(PUBREC, packet.packet_id))
        return gate

    async def _acknowledge_when(self, gate: Awaitable[Any], packet: Publish) -> None:
        """PUBACK/PUBREC once the hooks took the message (on the in-process bus: once it
        is stored). If they refuse it, close unacknowledged: the client sends it again."""
        try:
            await gate
        except Exception as exc:
            session = self.session
            if packet.qos == 2 and session is not None and session.awaiting_release:
                session.awaiting_release.discard(packet.packet_id)
            log.warning("mqtt: client %s: message not accepted, closing: %s", self.client_id, exc)
            self.shutdown(_SERVER_BUSY)
            return
        self.write(encode_ack(PUBACK if packet.qos == 1 else PUBREC, packet.packet_id))

    # --- output -----------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        """Queue bytes for this turn's single transport write."""
        if self.closed:
            return
        out = self._out
        if not out:
            self.broker.mark_dirty(self)
        out.append(data)
        self._out_size += len(data)
        if self._out_size >= self.broker.limits.max_outbound_bytes:
            self.blocked = True

    def send_qos0(self, message: Publish, retain: bool) -> None:
        """Send at QoS 0 unless the client is behind, in which case drop and count."""
        self.version.send_qos0(message, retain)

    def send_publish(
        self, message: Publish, qos: int, packet_id: int, retain: bool, dup: bool
    ) -> None:
        """Send a QoS 1/2 PUBLISH with this session's packet identifier."""
        self.version.send_publish(message, qos, packet_id, retain, dup)

    def flush(self) -> None:
        """Hand this turn's output to the transport in one call."""
        out = self._out
        if not out or self.closed:
            out.clear()
            self._out_size = 0
            return
        transport = self.transport
        if len(out) == 1:
            transport.write(out[0])
        elif self._out_size < 65536:
            transport.write(b"".join(out))
        else:
            transport.writelines(out)
        self._out = []
        self._out_size = 0
        self.blocked = self._paused
        if not self.blocked:
            self.blocked_since = 0

    def fail(self, reason: str, code: int = MALFORMED) -> Any:
        """Close the connection because the client broke the protocol (``code``: the
        MQTT 5 reason code, for a version 5 client); answers :data:`STOP`."""
        if self.connected:
            log.info("mqtt: closing client %s: %s", self.client_id, reason)
        else:
            self.broker.notices.refused("malformed or unexpected packet before CONNECT", "", reason)
        self.broker.stats.protocol_errors += 1
        self.shutdown(code)
        return STOP

    def shutdown(self, code: int) -> None:
        """Close on the server's initiative (``code``: the MQTT 5 reason code, for a
        version 5 client's DISCONNECT; a 3.1.1 client is just closed)."""
        self.version.shutdown(code)

    def close(self) -> None:
        """Flush what is queued and close the socket; the session is released at once
        (a persistent one queues what arrives from now on)."""
        if self.closed:
            return
        self.flush()
        self.closed = True
        self.transport.close()
        self.broker.release(self)

    def abort(self) -> None:
        """Drop the socket at once (a client that stays too slow, or a dead one)."""
        if self.closed and self.transport.is_closing():
            return
        self.closed = True
        self.transport.abort()
        self.broker.release(self)
