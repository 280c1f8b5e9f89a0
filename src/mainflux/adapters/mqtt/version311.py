"""The MQTT 3.1.1 (and 3.1) part of a connection.

A :class:`~mainflux.adapters.mqtt.connection.Connection` whose CONNECT says protocol
level 4 ("MQTT") or 3 ("MQIsdp") delegates to a :class:`Version311` whatever depends on
the version: the CONNECT checks and its CONNACK, the packets after it (a 3.1.1 PUBLISH
is handled by the connection itself), SUBSCRIBE and UNSUBSCRIBE, and how messages are
sent. :class:`~mainflux.adapters.mqtt.version5.Version5` changes what MQTT 5 changes."""

from __future__ import annotations

import uuid
from typing import Any, Final

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
from mainflux.adapters.mqtt.connection import STOP, TRIES, Connection, Step, log
from mainflux.adapters.mqtt.topics import valid_filter

# More than a client can have awaiting PUBREL (packet ids are 1 to 65535): no bound.
UNBOUNDED: Final = 65536


class Version311:
    """What a 3.1.1 connection does (see the module doc)."""

    __slots__ = ("awaiting_limit", "conn")

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.awaiting_limit = UNBOUNDED  # QoS 2 messages from the client awaiting PUBREL

    # --- CONNECT ---------------------------------------------------------------------

    def connect(self, packet: Connect) -> Step:
        """Check a CONNECT and start authenticating it."""
        conn = self.conn
        if conn.connected or conn.connecting:
            return conn.fail("second CONNECT")
        conn.connecting = True
        expected = 4 if packet.protocol_name == "MQTT" else 3
        if packet.protocol_level != expected:
            conn.refuse(codec.UNACCEPTABLE_PROTOCOL, packet.client_id)
            return STOP
        if not packet.client_id:
            if not packet.clean_session:
                conn.refuse(codec.IDENTIFIER_REJECTED)
                return STOP
            packet.client_id = "auto-" + uuid.uuid4().hex
        elif conn.too_long(packet.client_id):
            return STOP
        return conn.authenticate(packet)

    def session_expiry(self, packet: Connect) -> int | None:
        """3.1.1 says it by clean session: not at all, or for ever."""
        return 0 if packet.clean_session else None

    def refuse(self, code: int, quota: bool) -> None:
        """CONNACK with the return code."""
        self.conn.write(encode_connack(False, code))

    def accept(self, packet: Connect, present: bool) -> None:
        """CONNACK accepted; the session keeps the server's window and no options."""
        conn = self.conn
        session = conn.session
        assert session is not None
        session.options_apply = False
        session.max_inflight = conn.broker.limits.max_inflight
        conn.resend_inflight = True  # 3.1.1 does not forbid it (version 5 does)
        conn.write(encode_connack(present, codec.ACCEPTED))

    # --- packets after CONNECT ---------------------------------------------------------

    def dispatch(self, packet: Packet) -> Step:
        """Handle any packet but a PUBLISH."""
        conn = self.conn
        kind = packet.kind
        if kind == codec.CONNECT:
            return self.connect(packet)  # type: ignore[arg-type]
        if not conn.connected:
            return conn.fail("packet before CONNECT")
        session = conn.session
        assert session is not None
        if kind in (PUBACK, PUBREC, PUBCOMP):
            session.acknowledge(kind, packet.packet_id)  # type: ignore[union-attr]
        elif kind == PUBREL:
            packet_id = packet.packet_id  # type: ignore[union-attr]
            if session.awaiting_release is not None:
                session.awaiting_release.discard(packet_id)
            conn.write(encode_ack(PUBCOMP, packet_id))
        elif kind == codec.SUBSCRIBE:
            return self.on_subscribe(packet)
        elif kind == codec.UNSUBSCRIBE:
            self.on_unsubscribe(packet)  # type: ignore[arg-type]
        elif kind == codec.PINGREQ:
            conn.write(codec.PINGRESP_BYTES)
        elif kind == codec.DISCONNECT:
            conn.will = None
            conn.close()
            return STOP
        else:
            return conn.fail(f"unexpected packet type {kind} from a client")
        return None

    def malformed(self, error: ProtocolError) -> None:
        """Close (a 3.1.1 client is not told why)."""
        self.conn.fail(str(error), error.code)

    def refuse_publish(self, packet: Publish) -> Step:
        """Close: 3.1.1 has no way to say no to a PUBLISH."""
        conn = self.conn
        log.info("mqtt: client %s may not publish on %s", conn.client_id, packet.topic)
        conn.broker.stats.refused_publishes += 1
        return conn.fail("publish refused")

    # --- SUBSCRIBE / UNSUBSCRIBE ----------------------------------------------------------

    def on_subscribe(self, packet: Any) -> Step:
        """Authorize every filter (an invalid one closes), then subscribe."""
        conn = self.conn
        for topic_filter, _ in packet.topics:
            if not valid_filter(topic_filter):
                return conn.fail("invalid topic filter")
        epoch = conn.broker.epoch
        answers = self.authorize_filters(packet)
        if any(not isinstance(a, bool | int) for a in answers):
            return self.subscribe_when(packet, answers, epoch)
        self.subscribe(packet, answers)
        return None

    def authorize_filters(self, packet: Any) -> list[Any]:
        """The policy's answer for each filter (a ``bool`` or an awaitable)."""
        conn = self.conn
        policy = conn.broker.policy
        return [policy.authorize_subscribe(conn.principal, f) for f, _ in packet.topics]

    async def subscribe_when(self, packet: Any, answers: list[Any], epoch: int) -> None:
        """Wait for the answers that had to be looked up, asking again after a
        revocation, then subscribe."""
        conn = self.conn
        broker = conn.broker
        for _ in range(TRIES):
            resolved = [a if isinstance(a, bool | int) else bool(await a) for a in answers]
            if broker.epoch == epoch or conn.closed:
                break
            epoch = broker.epoch  # a revocation came meanwhile: ask again
            answers = self.authorize_filters(packet)
        else:  # revocations kept coming: no answer can be trusted
            resolved = [False if a is True else a for a in resolved]
        if not conn.closed:
            self.subscribe(packet, resolved)

    def within_bound(self, packet: Any, answers: list[Any]) -> list[bool]:
        """For each filter, whether it is already subscribed or still fits under
        ``max_subscriptions`` (filters new to the session count in order)."""
        conn = self.conn
        session = conn.session
        assert session is not None
        subscribed = session.subscriptions
        room = conn.broker.limits.max_subscriptions - len(subscribed)
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

    def subscribe(self, packet: Subscribe, answers: list[Any]) -> None:
        """SUBACK the answers and subscribe the filters granted."""
        conn = self.conn
        fits = self.within_bound(packet, answers)
        codes = [
            qos if allowed and fit else codec.SUBACK_FAILURE
            for (_, qos), allowed, fit in zip(packet.topics, answers, fits, strict=True)
        ]
        conn.write(encode_suback(packet.packet_id, codes))
        session = conn.session
        assert session is not None
        for (topic_filter, qos), code in zip(packet.topics, codes, strict=True):
            if code != codec.SUBACK_FAILURE:
                conn.broker.subscribe(session, topic_filter, qos)

    def on_unsubscribe(self, packet: Unsubscribe) -> None:
        """Unsubscribe and UNSUBACK."""
        conn = self.conn
        session = conn.session
        assert session is not None
        for topic_filter in packet.topics:
            conn.broker.unsubscribe(session, topic_filter)
        conn.write(encode_ack(UNSUBACK, packet.packet_id))

    # --- output ---------------------------------------------------------------------------

    def send_qos0(self, message: Publish, retain: bool) -> None:
        """Send at QoS 0 unless the client is behind, in which case drop and count."""
        conn = self.conn
        if conn.blocked or conn.closed:
            conn.broker.stats.dropped_qos0 += 1
            return
        if retain:
            conn.write(publish_header(message.topic, len(message.payload), 0, True))
            conn.write(message.payload)
        else:
            for chunk in message.chunks0():
                conn.write(chunk)

    def send_publish(
        self, message: Publish, qos: int, packet_id: int, retain: bool, dup: bool
    ) -> None:
        """Send a QoS 1/2 PUBLISH with this session's packet identifier."""
        payload = message.payload
        head = publish_header(message.topic, len(payload), qos, retain, dup)
        conn = self.conn
        conn.write(head + packet_id.to_bytes(2, "big"))
        conn.write(payload)

    def shutdown(self, code: int) -> None:
        """Close (a 3.1.1 client is not told why)."""
        self.conn.close()
