"""The MQTT 5 part of a connection: what differs from 3.1.1, and nothing else.

A :class:`~mainflux.adapters.mqtt.connection.Connection` whose CONNECT says protocol
level 5 delegates to a :class:`Version5` (and decodes with a
:class:`~mainflux.adapters.mqtt.codec5.Decoder5`), so the 3.1.1 message path never
tests the version. The differences:

- CONNACK carries reason codes (refusals of the policy mapped to 0x86/0x87/0x88) and
  the server's limits as properties; an empty client id is assigned and returned.
- The session lives on for the client's session expiry interval; its receive maximum
  bounds the messages in flight to it and its maximum packet size the packets sent.
- PUBLISH carries properties: forwarded unchanged to version 5 subscribers, with the
  remaining message expiry interval. A refused PUBLISH is answered with reason 0x87
  (PUBACK/PUBREC at QoS 1/2) and DISCONNECT 0x87, then the connection is closed.
- SUBACK/UNSUBACK carry a reason code per filter: 0x87 for a filter the policy
  refuses (or the policy's ``subscribe_refusal``), 0x8F for an invalid one, 0x9E for a
  shared subscription (not supported). Subscription identifiers are kept and sent
  with the messages their subscriptions match.
- The server closes with a DISCONNECT saying why; the client's DISCONNECT may keep
  the will (0x04) and change the session expiry interval. AUTH is refused (no
  enhanced authentication)."""

from __future__ import annotations

import uuid
from typing import Any

from mainflux.adapters.mqtt import codec, codec5
from mainflux.adapters.mqtt.codec import (
    PUBACK,
    PUBCOMP,
    PUBLISH,
    PUBREC,
    PUBREL,
    Connect,
    Publish,
    Unsubscribe,
)
from mainflux.adapters.mqtt.codec5 import (
    NEVER,
    Ack5,
    Connect5,
    Disconnect5,
    Subscribe5,
    encode_ack,
    encode_connack,
    encode_disconnect,
    encode_suback,
    outgoing_properties,
    publish_header,
)
from mainflux.adapters.mqtt.connection import STOP, Connection, Step, log
from mainflux.adapters.mqtt.topics import valid_filter
from mainflux.adapters.mqtt.version311 import Version311

SHARED_PREFIX = "$share/"


class Version5(Version311):
    """What a version 5 connection does (see the module doc)."""

    __slots__ = ("max_send",)

    def __init__(self, conn: Connection) -> None:
        super().__init__(conn)
        self.awaiting_limit = conn.broker.limits.max_inflight  # the CONNACK's receive maximum
        self.max_send = 0  # the client's maximum packet size (0: none)

    # --- CONNECT ---------------------------------------------------------------------

    def connect(self, packet: Connect) -> Step:
        """Check a CONNECT and start authenticating it."""
        conn = self.conn
        if conn.connected or conn.connecting:
            return conn.fail("second CONNECT", codec5.PROTOCOL_ERROR)
        assert isinstance(packet, Connect5)
        conn.connecting = True
        self.max_send = packet.max_packet_size
        if packet.auth_method is not None:
            conn.refuse(
                codec5.BAD_AUTHENTICATION_METHOD, packet.client_id, "bad authentication method"
            )
            return STOP
        if not packet.client_id:
            packet.client_id = "auto-" + uuid.uuid4().hex
            packet.assigned = True
        elif conn.too_long(packet.client_id):
            return STOP
        return conn.authenticate(packet)

    def session_expiry(self, packet: Connect) -> int | None:
        """The client's session expiry interval."""
        expiry: int = packet.session_expiry  # type: ignore[attr-defined]
        return None if expiry == NEVER else expiry

    def refuse(self, code: int, quota: bool) -> None:
        """CONNACK with the version 5 reason code."""
        reason = codec5.QUOTA_EXCEEDED if quota else codec5.CONNACK_REASONS.get(code, code)
        self.conn.write(encode_connack(False, reason))

    def accept(self, packet: Connect, present: bool) -> None:
        """CONNACK with the server's limits; the session follows the client's receive
        maximum and subscription options."""
        assert isinstance(packet, Connect5)
        conn = self.conn
        session = conn.session
        assert session is not None
        limits = conn.broker.limits
        session.options_apply = True
        session.max_inflight = min(limits.max_inflight, packet.receive_maximum)
        props: dict[int, Any] = {
            codec5.RECEIVE_MAXIMUM: limits.max_inflight,
            codec5.MAXIMUM_PACKET_SIZE: limits.max_packet_size,
            codec5.RETAIN_AVAILABLE: 1,
            codec5.WILDCARD_AVAILABLE: 1,
            codec5.SUBSCRIPTION_ID_AVAILABLE: 1,
            codec5.SHARED_AVAILABLE: 0,
            codec5.TOPIC_ALIAS_MAXIMUM: 0,
        }
        if packet.assigned:
            props[codec5.ASSIGNED_CLIENT_ID] = packet.client_id
        conn.write(encode_connack(present, codec5.SUCCESS, props))

    # --- packets after CONNECT ---------------------------------------------------------

    def dispatch(self, packet: Any) -> Step:
        """Handle every packet (a version 5 PUBLISH included)."""
        conn = self.conn
        kind = packet.kind
        if kind == PUBLISH:
            if not conn.connected:
                return conn.fail("PUBLISH before CONNECT", codec5.PROTOCOL_ERROR)
            packet.origin = conn.session
            return conn.on_publish(packet)
        if kind == codec.CONNECT:
            return conn.fail("second CONNECT", codec5.PROTOCOL_ERROR)
        if not conn.connected:
            return conn.fail("packet before CONNECT", codec5.PROTOCOL_ERROR)
        session = conn.session
        assert session is not None
        if kind in (PUBACK, PUBREC, PUBCOMP):
            assert isinstance(packet, Ack5)
            if kind == PUBREC and packet.reason >= 0x80:  # the client ends the exchange
                session.acknowledge(PUBCOMP, packet.packet_id)
            else:
                session.acknowledge(kind, packet.packet_id)
        elif kind == PUBREL:
            assert isinstance(packet, Ack5)
            waiting = session.awaiting_release
            if waiting is not None and packet.packet_id in waiting:
                waiting.discard(packet.packet_id)
                conn.write(encode_ack(PUBCOMP, packet.packet_id))
            else:
                conn.write(
                    encode_ack(PUBCOMP, packet.packet_id, codec5.PACKET_IDENTIFIER_NOT_FOUND)
                )
        elif kind == codec.SUBSCRIBE:
            return self.on_subscribe(packet)
        elif kind == codec.UNSUBSCRIBE:
            self.on_unsubscribe(packet)
        elif kind == codec.PINGREQ:
            conn.write(codec.PINGRESP_BYTES)
        elif kind == codec.DISCONNECT:
            return self.on_disconnect(packet)
        elif kind == codec5.AUTH_KIND:
            return conn.fail("AUTH without an authentication method", codec5.PROTOCOL_ERROR)
        else:
            return conn.fail(f"unexpected packet type {kind} from a client", codec5.PROTOCOL_ERROR)
        return None

    def on_disconnect(self, packet: Disconnect5) -> Step:
        """The client leaves: perhaps keeping its will, perhaps with a new session expiry."""
        conn = self.conn
        session = conn.session
        assert session is not None
        expiry = packet.session_expiry
        if expiry is not None:
            if session.expiry == 0 and expiry != 0:
                return conn.fail(
                    "session expiry set after connecting with 0", codec5.PROTOCOL_ERROR
                )
            conn.broker.set_expiry(session, None if expiry == NEVER else expiry)
        if packet.reason != codec5.DISCONNECT_WITH_WILL:
            conn.will = None
        conn.close()
        return STOP

    def refuse_publish(self, packet: Publish) -> Step:
        """Answer 0x87 (at QoS 1/2), then DISCONNECT 0x87."""
        conn = self.conn
        log.info("mqtt: client %s may not publish on %s", conn.client_id, packet.topic)
        conn.broker.stats.refused_publishes += 1
        if packet.qos == 1:
            conn.write(encode_ack(PUBACK, packet.packet_id, codec5.NOT_AUTHORIZED))
        elif packet.qos == 2:
            conn.write(encode_ack(PUBREC, packet.packet_id, codec5.NOT_AUTHORIZED))
        return conn.fail("publish refused", codec5.NOT_AUTHORIZED)

    # --- SUBSCRIBE / UNSUBSCRIBE ----------------------------------------------------------

    def on_subscribe(self, packet: Any) -> Step:
        """Authorize every filter (an invalid one gets its reason code), then subscribe."""
        assert isinstance(packet, Subscribe5)
        epoch = self.conn.broker.epoch
        answers = self.authorize_filters(packet)
        if any(not isinstance(a, bool | int) for a in answers):
            return self.subscribe_when(packet, answers, epoch)
        self.subscribe(packet, answers)
        return None

    def authorize_filters(self, packet: Any) -> list[Any]:
        """Per filter: the policy's answer, or the reason code of a filter not offered."""
        conn = self.conn
        policy = conn.broker.policy
        answers: list[Any] = []
        for topic_filter, _ in packet.topics:
            if topic_filter.startswith(SHARED_PREFIX):
                answers.append(codec5.SHARED_SUBSCRIPTIONS_NOT_SUPPORTED)
            elif not valid_filter(topic_filter):
                answers.append(codec5.TOPIC_FILTER_INVALID)
            else:
                answers.append(policy.authorize_subscribe(conn.principal, topic_filter))
        return answers

    def subscribe(self, packet: Any, answers: list[Any]) -> None:
        """SUBACK a reason code per filter and subscribe those granted, with their
        options and subscription identifier."""
        conn = self.conn
        broker = conn.broker
        refusal = getattr(broker.policy, "subscribe_refusal", codec5.NOT_AUTHORIZED)
        fits = self.within_bound(packet, answers)
        codes: list[int] = []
        for (_, options), answer, fit in zip(packet.topics, answers, fits, strict=True):
            if answer is True:
                codes.append(options & 0x03 if fit else codec5.QUOTA_EXCEEDED)
            elif answer is False:
                codes.append(refusal)
            else:
                codes.append(answer)
        conn.write(encode_suback(packet.packet_id, codes))
        session = conn.session
        assert session is not None
        ident = (packet.subscription_id or 0) << 8
        for (topic_filter, options), answer, fit in zip(packet.topics, answers, fits, strict=True):
            if answer is True and fit:
                qos = options & 0x03
                broker.subscribe(session, topic_filter, qos, (options & 0x3C) | ident)

    def on_unsubscribe(self, packet: Unsubscribe) -> None:
        """Unsubscribe; UNSUBACK with a reason code per filter."""
        conn = self.conn
        session = conn.session
        assert session is not None
        codes = [
            codec5.SUCCESS
            if conn.broker.unsubscribe(session, topic_filter)
            else codec5.NO_SUBSCRIPTION_EXISTED
            for topic_filter in packet.topics
        ]
        conn.write(encode_suback(packet.packet_id, codes, codec.UNSUBACK))

    # --- output ---------------------------------------------------------------------------

    def _fits(self, head: bytes, message: Publish) -> bool:
        limit = self.max_send
        if limit and len(head) + len(message.payload) > limit:
            self.conn.broker.stats.too_large_dropped += 1
            return False
        return True

    def send_qos0(self, message: Publish, retain: bool) -> None:
        """Send at QoS 0 with the message's properties (dropped when behind or too big)."""
        conn = self.conn
        if conn.blocked or conn.closed:
            conn.broker.stats.dropped_qos0 += 1
            return
        payload = message.payload
        head = publish_header(
            message.topic, outgoing_properties(message), len(payload), 0, 0, retain, False
        )
        if self._fits(head, message):
            conn.write(head)
            conn.write(payload)

    def send_publish(
        self, message: Publish, qos: int, packet_id: int, retain: bool, dup: bool
    ) -> None:
        """Send a QoS 1/2 PUBLISH with its properties; one too big for the client is
        dropped (and no longer in flight)."""
        payload = message.payload
        head = publish_header(
            message.topic, outgoing_properties(message), len(payload), qos, packet_id, retain, dup
        )
        conn = self.conn
        if self._fits(head, message):
            conn.write(head)
            conn.write(payload)
            return
        session = conn.session
        if session is not None:
            session.inflight.pop(packet_id, None)

    def shutdown(self, code: int) -> None:
        """Send DISCONNECT with ``code`` (once connected), then close."""
        conn = self.conn
        if conn.connected and not conn.closed:
            conn.write(encode_disconnect(code))
        conn.close()
