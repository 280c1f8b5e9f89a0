"""One client connection: reads packets, runs them through the broker, writes replies.

The packets of one socket read are decoded and handled in order, one at a time.
Handling is synchronous on the hot path (a PUBLISH whose authorization is already
known; a topic is authorized once per read, not once per message); when a
step needs to wait (authentication, a policy lookup, back-pressure from the bus), the
connection stops reading, finishes that step (a future: by a done callback; anything
else: in a task) and then carries on with the packets that were behind it, so order is
always kept. A QoS 1/2 PUBLISH the broker's hooks make wait is acknowledged only when
that wait ends well; otherwise the connection closes without acknowledging it.

Writes are gathered per connection and handed to the transport once per loop turn.

A check that had to wait (authentication, a SUBSCRIBE authorization) is asked again
when a revocation happened meanwhile (the broker's ``epoch`` moved), so an answer
given before a thing lost a right is never acted on after.

A CONNECT of protocol level 5 turns the connection (and its decoder) into their
version 5 subclasses (:mod:`~mainflux.adapters.mqtt.connection5`), once; a 3.1.1
connection runs exactly this code."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, Final

from mainflux.adapters.mqtt import codec
from mainflux.adapters.mqtt.codec import (
    PUBACK,
    PUBCOMP,
    PUBREC,
    PUBREL,
    UNSUBACK,
    Connect,
    Packet,
    ProtocolError,
    Publish,
    Subscribe,
    Unsubscribe,
    encode_ack,
    encode_connack,
    encode_suback,
    publish_header,
)
from mainflux.adapters.mqtt.session import Session as _Session
from mainflux.adapters.mqtt.topics import valid_filter

if TYPE_CHECKING:
    from mainflux.adapters.mqtt.broker import Broker
    from mainflux.adapters.mqtt.session import Session

log = logging.getLogger("mainflux.mqtt")

_STOP: Any = object()
_SERVER_BUSY = 0x89  # the MQTT 5 DISCONNECT reason code "Server busy"
Step = Awaitable[Any] | None
_TRIES: Final = 5  # askings of a check that revocations keep making stale

REFUSALS: Final = {
    codec.UNACCEPTABLE_PROTOCOL: "unsupported protocol level",
    codec.IDENTIFIER_REJECTED: "client id rejected",
    codec.SERVER_UNAVAILABLE: "server unavailable (the credentials could not be checked)",
    codec.BAD_CREDENTIALS: "bad user name or password",
    codec.NOT_AUTHORIZED: "not authorized",
}


class Connection(asyncio.Protocol):
    """The protocol object of one MQTT client (TCP, TLS or WebSocket)."""

    __slots__ = (
        "_allowed",
        "_connecting",
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
        "credentials",
        "decoder",
        "keepalive",
        "last_seen",
        "max_send",
        "opened",
        "principal",
        "session",
        "transport",
        "will",
    )

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.transport: Any = None
        self.decoder = codec.Decoder(broker.limits.max_packet_size)
        self.session: Session | None = None
        self.principal: Any = None
        self.client_id = ""
        self.will: codec.Will | None = None
        # user name and password, checked again when the thing's key may have changed
        self.credentials: tuple[str | None, bytes | None] = (None, None)
        self.keepalive = 0
        self.last_seen = broker.tick
        self.opened = broker.tick
        self.connected = False
        self.closed = False
        self.blocked = False
        self.blocked_since = 0
        self._connecting = False
        self._paused = False
        self._allowed: str | None = None  # a topic already authorized in this read
        self._out: list[bytes] = []
        self._out_size = 0
        self._waiting = False  # a step is under way; later packets wait in the decoder

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
        has to wait; packets not reached yet stay undecoded in the decoder."""
        take = self.decoder.next
        self._allowed = None
        while not self.closed:
            try:
                packet = take()
            except ProtocolError as exc:
                if exc.level >= 5 and not (self.connected or self._connecting):
                    from mainflux.adapters.mqtt.codec5 import encode_connack as connack5

                    self.write(connack5(False, exc.code))
                self.fail(str(exc), exc.code)
                return
            if packet is None:
                return
            if packet.__class__ is Publish:
                step = self._on_publish(packet)  # type: ignore[arg-type]
            else:
                step = self._dispatch(packet)
            if step is None:
                continue
            if step is _STOP:
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

    def _dispatch(self, packet: Packet) -> Step:
        kind = packet.kind
        if kind == codec.CONNECT:
            return self._on_connect(packet)  # type: ignore[arg-type]
        if not self.connected:
            return self.fail("packet before CONNECT")
        session = self.session
        assert session is not None
        if kind in (PUBACK, PUBREC, PUBCOMP):
            session.acknowledge(kind, packet.packet_id)  # type: ignore[union-attr]
        elif kind == PUBREL:
            packet_id = packet.packet_id  # type: ignore[union-attr]
            if session.awaiting_release is not None:
                session.awaiting_release.discard(packet_id)
            self.write(encode_ack(PUBCOMP, packet_id))
        elif kind == codec.SUBSCRIBE:
            return self._on_subscribe(packet)  # type: ignore[arg-type]
        elif kind == codec.UNSUBSCRIBE:
            self._on_unsubscribe(packet)  # type: ignore[arg-type]
        elif kind == codec.PINGREQ:
            self.write(codec.PINGRESP_BYTES)
        elif kind == codec.DISCONNECT:
            self.will = None
            self.close()
            return _STOP
        else:
            return self.fail(f"unexpected packet type {kind} from a client")
        return None

    def _on_connect(self, packet: Connect) -> Step:
        if self.connected or self._connecting:
            return self.fail("second CONNECT")
        level = packet.protocol_level
        if level >= 5 and packet.protocol_name == "MQTT":
            from mainflux.adapters.mqtt import codec5, connection5

            if level == 5:
                self.__class__ = connection5.Connection5
                self.decoder.__class__ = codec5.Decoder5
                return self._on_connect(packet)
            self.write(codec5.encode_connack(False, codec5.UNSUPPORTED_PROTOCOL_VERSION))
            self.close()
            return _STOP
        self._connecting = True
        expected = 4 if packet.protocol_name == "MQTT" else 3
        if level != expected:
            self._refuse(codec.UNACCEPTABLE_PROTOCOL, packet.client_id)
            return _STOP
        if not packet.client_id:
            if not packet.clean_session:
                self._refuse(codec.IDENTIFIER_REJECTED)
                return _STOP
            packet.client_id = "auto-" + uuid.uuid4().hex
        elif self._too_long(packet.client_id):
            return _STOP
        return self._authenticate(packet)

    def _too_long(self, client_id: str) -> bool:
        """Refuse a client id longer than ``max_client_id_length`` (before any lookup)."""
        if len(client_id) <= self.broker.limits.max_client_id_length:
            return False
        self._refuse(
            codec.IDENTIFIER_REJECTED,
            client_id[:64] + "...",
            "client id too long (MF_MQTT_ADAPTER_MAX_CLIENT_ID_LENGTH)",
        )
        return True

    async def _authenticate(self, packet: Connect) -> None:
        broker = self.broker
        for _ in range(_TRIES):
            epoch = broker.epoch
            try:
                result = await broker.policy.authenticate(
                    packet.client_id, packet.username, packet.password
                )
            except Exception:
                log.exception("mqtt: authentication of client %s failed", packet.client_id)
                result = codec.SERVER_UNAVAILABLE
            if broker.epoch == epoch:
                break
        else:  # revocations kept coming: the answer cannot be trusted
            result = codec.SERVER_UNAVAILABLE
        if self.closed:
            return
        if isinstance(result, int):
            self._refuse(result, packet.client_id)
            return
        if not broker.make_room(result, packet.client_id):
            self._refuse(
                codec.SERVER_UNAVAILABLE,
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
        present = broker.attach(self, packet.clean_session, self._session_expiry(packet))
        self._accept(packet, present)
        broker.connected(self)
        assert self.session is not None
        self.session.resume()

    def _session_expiry(self, packet: Connect) -> int | None:
        """How long the session outlives this connection: 3.1.1 says by clean session."""
        return 0 if packet.clean_session else None

    def _refuse(self, code: int, client: str = "", cause: str = "", quota: bool = False) -> None:
        """Answer a refused CONNECT with ``code`` (a 3.1.1 return code; ``quota``: a bound
        was reached, which version 5 says with its own code) and close; ``cause`` is
        logged (by default, what ``code`` means)."""
        ours = code == codec.SERVER_UNAVAILABLE and not cause  # the server's side failed
        cause = cause or REFUSALS.get(code, f"CONNACK {code}")
        self.broker.notices.refused(cause, client, "", logging.WARNING if ours else logging.INFO)
        self._connack_refusal(code, quota)
        self.close()

    def _connack_refusal(self, code: int, quota: bool) -> None:
        self.write(encode_connack(False, code))

    def _accept(self, packet: Connect, present: bool) -> None:
        """Answer an accepted CONNECT (the session is attached)."""
        session = self.session
        assert session is not None
        if session.__class__ is not _Session:  # last used by a version 5 client
            session.__class__ = _Session
            session.max_inflight = self.broker.limits.max_inflight
        self.write(encode_connack(present, codec.ACCEPTED))

    def _on_publish(self, packet: Publish) -> Step:
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
            return self._refuse_publish(packet)
        return self._publish_when(allowed, packet)

    async def _publish_when(self, answer: Awaitable[bool], packet: Publish) -> None:
        if await answer:
            step = self._accept_publish(packet)
            if step is not None and step is not _STOP:
                await step
        else:
            self._refuse_publish(packet)

    def _refuse_publish(self, packet: Publish) -> Step:
        log.info("mqtt: client %s may not publish on %s", self.client_id, packet.topic)
        self.broker.stats.refused_publishes += 1
        return self.fail("publish refused")

    def _accept_publish(self, packet: Publish) -> Step:
        qos = packet.qos
        if qos == 2:
            session = self.session
            assert session is not None
            waiting = session.awaiting_release
            if waiting is None:
                waiting = session.awaiting_release = set()
            if packet.packet_id in waiting:
                self.write(encode_ack(PUBREC, packet.packet_id))
                return None
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

    def _on_subscribe(self, packet: Subscribe) -> Step:
        for topic_filter, _ in packet.topics:
            if not valid_filter(topic_filter):
                return self.fail("invalid topic filter")
        epoch = self.broker.epoch
        answers = self._authorize_filters(packet)
        if any(not isinstance(a, bool | int) for a in answers):
            return self._subscribe_when(packet, answers, epoch)
        self._subscribe(packet, answers)
        return None

    def _authorize_filters(self, packet: Any) -> list[Any]:
        """The policy's answer for each filter (a ``bool`` or an awaitable)."""
        policy = self.broker.policy
        return [policy.authorize_subscribe(self.principal, f) for f, _ in packet.topics]

    async def _subscribe_when(self, packet: Any, answers: list[Any], epoch: int) -> None:
        broker = self.broker
        for _ in range(_TRIES):
            resolved = [a if isinstance(a, bool | int) else bool(await a) for a in answers]
            if broker.epoch == epoch or self.closed:
                break
            epoch = broker.epoch  # a revocation came meanwhile: ask again
            answers = self._authorize_filters(packet)
        else:  # revocations kept coming: no answer can be trusted
            resolved = [False if a is True else a for a in resolved]
        if not self.closed:
            self._subscribe(packet, resolved)

    def _within_bound(self, packet: Any, answers: list[Any]) -> list[bool]:
        """For each filter, whether it is already subscribed or still fits under
        ``max_subscriptions`` (filters new to the session count in order)."""
        session = self.session
        assert session is not None
        subscribed = session.subscriptions
        room = self.broker.limits.max_subscriptions - len(subscribed)
        added: set[str] = set()
        fits: list[bool] = []
        for (topic_filter, _), answer in zip(packet.topics, answers, strict=True):
            if answer is not True or topic_filter in subscribed or topic_filter in added:
                fits.append(True)
            elif len(added) < room:
                added.add(topic_filter)
                fits.append(True)
            else:
                fits.append(False)
        return fits

    def _subscribe(self, packet: Subscribe, answers: list[Any]) -> None:
        fits = self._within_bound(packet, answers)
        codes = [
            qos if allowed and fit else codec.SUBACK_FAILURE
            for (_, qos), allowed, fit in zip(packet.topics, answers, fits, strict=True)
        ]
        self.write(encode_suback(packet.packet_id, codes))
        session = self.session
        assert session is not None
        for (topic_filter, qos), code in zip(packet.topics, codes, strict=True):
            if code != codec.SUBACK_FAILURE:
                self.broker.subscribe(session, topic_filter, qos)

    def _on_unsubscribe(self, packet: Unsubscribe) -> None:
        session = self.session
        assert session is not None
        for topic_filter in packet.topics:
            self.broker.unsubscribe(session, topic_filter)
        self.write(encode_ack(UNSUBACK, packet.packet_id))

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
        if self.blocked or self.closed:
            self.broker.stats.dropped_qos0 += 1
            return
        if retain:
            self.write(codec.publish_header(message.topic, len(message.payload), 0, True))
            self.write(message.payload)
        else:
            for chunk in message.chunks0():
                self.write(chunk)

    def send_publish(
        self, message: Publish, qos: int, packet_id: int, retain: bool, dup: bool
    ) -> None:
        """Send a QoS 1/2 PUBLISH with this session's packet identifier."""
        payload = message.payload
        head = publish_header(message.topic, len(payload), qos, retain, dup)
        self.write(head + packet_id.to_bytes(2, "big"))
        self.write(payload)

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

    def fail(self, reason: str, code: int = codec.MALFORMED) -> Any:
        """Close the connection because the client broke the protocol (``code``: the
        MQTT 5 reason code, for a version 5 client)."""
        if self.connected:
            log.info("mqtt: closing client %s: %s", self.client_id, reason)
        else:
            self.broker.notices.refused("malformed or unexpected packet before CONNECT", "", reason)
        self.broker.stats.protocol_errors += 1
        self.shutdown(code)
        return _STOP

    def shutdown(self, code: int) -> None:
        """Close on the server's initiative (``code``: the MQTT 5 reason code, for a
        version 5 client's DISCONNECT; a 3.1.1 client is just closed)."""
        self.close()

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
