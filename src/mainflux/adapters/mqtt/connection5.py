"""An MQTT 5 client connection: what differs from 3.1.1, and nothing else.

A :class:`~mainflux.adapters.mqtt.connection.Connection` becomes a
:class:`Connection5` when its CONNECT says protocol level 5 (its class is switched,
once), so the 3.1.1 message path never tests the version. The differences:

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
    Packet,
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
from mainflux.adapters.mqtt.connection import _STOP, Connection, Step, log
from mainflux.adapters.mqtt.session import Session5
from mainflux.adapters.mqtt.topics import valid_filter

SHARED_PREFIX = "$share/"


class Connection5(Connection):
    """The protocol object of a version 5 client (see the module doc)."""

    __slots__ = ()

    # --- CONNECT ---------------------------------------------------------------------

    def _on_connect(self, packet: Connect) -> Step:
        if self.connected or self._connecting:
            return self.fail("second CONNECT", codec5.PROTOCOL_ERROR)
        assert isinstance(packet, Connect5)
        self._connecting = True
        self.max_send = packet.max_packet_size
        if packet.auth_method is not None:
            self._refuse(
                codec5.BAD_AUTHENTICATION_METHOD, packet.client_id, "bad authentication method"
            )
            return _STOP
        if not packet.client_id:
            packet.client_id = "auto-" + uuid.uuid4().hex
            packet.assigned = True
        elif self._too_long(packet.client_id):
            return _STOP
        return self._authenticate(packet)

    def _session_expiry(self, packet: Connect) -> int | None:
        expiry: int = packet.session_expiry  # type: ignore[attr-defined]
        return None if expiry == NEVER else expiry

    def _connack_refusal(self, code: int, quota: bool) -> None:
        reason = codec5.QUOTA_EXCEEDED if quota else codec5.CONNACK_REASONS.get(code, code)
        self.write(encode_connack(False, reason))

    def _accept(self, packet: Connect, present: bool) -> None:
        assert isinstance(packet, Connect5)
        session = self.session
        assert session is not None
        limits = self.broker.limits
        session.__class__ = Session5
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
        self.write(encode_connack(present, codec5.SUCCESS, props))

    # --- packets after CONNECT ---------------------------------------------------------

    def _dispatch(self, packet: Packet) -> Step:
        kind = packet.kind
        if kind == PUBLISH:
            if not self.connected:
                return self.fail("PUBLISH before CONNECT", codec5.PROTOCOL_ERROR)
            packet.origin = self.session  # type: ignore[union-attr]
            return self._on_publish(packet)  # type: ignore[arg-type]
        if kind == codec.CONNECT:
            return self.fail("second CONNECT", codec5.PROTOCOL_ERROR)
        if not self.connected:
            return self.fail("packet before CONNECT", codec5.PROTOCOL_ERROR)
        session = self.session
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
                self.write(encode_ack(PUBCOMP, packet.packet_id))
            else:
                self.write(
                    encode_ack(PUBCOMP, packet.packet_id, codec5.PACKET_IDENTIFIER_NOT_FOUND)
                )
        elif kind == codec.SUBSCRIBE:
            return self._on_subscribe(packet)  # type: ignore[arg-type]
        elif kind == codec.UNSUBSCRIBE:
            self._on_unsubscribe(packet)  # type: ignore[arg-type]
        elif kind == codec.PINGREQ:
            self.write(codec.PINGRESP_BYTES)
        elif kind == codec.DISCONNECT:
            return self._on_disconnect(packet)  # type: ignore[arg-type]
        elif kind == codec5.AUTH_KIND:
            return self.fail("AUTH without an authentication method", codec5.PROTOCOL_ERROR)
        else:
            return self.fail(f"unexpected packet type {kind} from a client", codec5.PROTOCOL_ERROR)
        return None

    def _on_disconnect(self, packet: Disconnect5) -> Step:
        session = self.session
        assert session is not None
        expiry = packet.session_expiry
        if expiry is not None:
            if session.expiry == 0 and expiry != 0:
                return self.fail(
                    "session expiry set after connecting with 0", codec5.PROTOCOL_ERROR
                )
            self.broker.set_expiry(session, None if expiry == NEVER else expiry)
        if packet.reason != codec5.DISCONNECT_WITH_WILL:
            self.will = None
        self.close()
        return _STOP

    def _accept_publish(self, packet: Publish) -> Step:
        if packet.qos == 2:
            session = self.session
            assert session is not None
            waiting = session.awaiting_release
            if (
                waiting is not None
                and len(waiting) >= self.broker.limits.max_inflight
                and packet.packet_id not in waiting
            ):
                return self.fail("receive maximum exceeded", codec5.RECEIVE_MAXIMUM_EXCEEDED)
        return Connection._accept_publish(self, packet)

    def _refuse_publish(self, packet: Publish) -> Step:
        log.info("mqtt: client %s may not publish on %s", self.client_id, packet.topic)
        self.broker.stats.refused_publishes += 1
        if packet.qos == 1:
            self.write(encode_ack(PUBACK, packet.packet_id, codec5.NOT_AUTHORIZED))
        elif packet.qos == 2:
            self.write(encode_ack(PUBREC, packet.packet_id, codec5.NOT_AUTHORIZED))
        return self.fail("publish refused", codec5.NOT_AUTHORIZED)

    # --- SUBSCRIBE / UNSUBSCRIBE ----------------------------------------------------------

    def _on_subscribe(self, packet: Any) -> Step:
        assert isinstance(packet, Subscribe5)
        epoch = self.broker.epoch
        answers = self._authorize_filters(packet)
        if any(not isinstance(a, bool | int) for a in answers):
            return self._subscribe_when(packet, answers, epoch)
        self._subscribe(packet, answers)
        return None

    def _authorize_filters(self, packet: Any) -> list[Any]:
        """Per filter: the policy's answer, or the reason code of a filter not offered."""
        policy = self.broker.policy
        answers: list[Any] = []
        for topic_filter, _ in packet.topics:
            if topic_filter.startswith(SHARED_PREFIX):
                answers.append(codec5.SHARED_SUBSCRIPTIONS_NOT_SUPPORTED)
            elif not valid_filter(topic_filter):
                answers.append(codec5.TOPIC_FILTER_INVALID)
            else:
                answers.append(policy.authorize_subscribe(self.principal, topic_filter))
        return answers

    def _subscribe(self, packet: Any, answers: list[Any]) -> None:
        refusal = getattr(self.broker.policy, "subscribe_refusal", codec5.NOT_AUTHORIZED)
        fits = self._within_bound(packet, answers)
        codes: list[int] = []
        for (_, options), answer, fit in zip(packet.topics, answers, fits, strict=True):
            if answer is True:
                codes.append(options & 0x03 if fit else codec5.QUOTA_EXCEEDED)
            elif answer is False:
                codes.append(refusal)
            else:
                codes.append(answer)
        self.write(encode_suback(packet.packet_id, codes))
        session = self.session
        assert session is not None
        ident = (packet.subscription_id or 0) << 8
        for (topic_filter, options), answer, fit in zip(packet.topics, answers, fits, strict=True):
            if answer is True and fit:
                qos = options & 0x03
                self.broker.subscribe(session, topic_filter, qos, (options & 0x3C) | ident)

    def _on_unsubscribe(self, packet: Unsubscribe) -> None:
        session = self.session
        assert session is not None
        codes = [
            codec5.SUCCESS
            if self.broker.unsubscribe(session, topic_filter)
            else codec5.NO_SUBSCRIPTION_EXISTED
            for topic_filter in packet.topics
        ]
        self.write(encode_suback(packet.packet_id, codes, codec.UNSUBACK))

    # --- output ---------------------------------------------------------------------------

    def _fits(self, head: bytes, message: Publish) -> bool:
        limit = self.max_send
        if limit and len(head) + len(message.payload) > limit:
            self.broker.stats.too_large_dropped += 1
            return False
        return True

    def send_qos0(self, message: Publish, retain: bool) -> None:
        """Send at QoS 0 with the message's properties (dropped when behind or too big)."""
        if self.blocked or self.closed:
            self.broker.stats.dropped_qos0 += 1
            return
        payload = message.payload
        head = publish_header(
            message.topic, outgoing_properties(message), len(payload), 0, 0, retain, False
        )
        if self._fits(head, message):
            self.write(head)
            self.write(payload)

    def send_publish(
        self, message: Publish, qos: int, packet_id: int, retain: bool, dup: bool
    ) -> None:
        """Send a QoS 1/2 PUBLISH with its properties; one too big for the client is
        dropped (and no longer in flight)."""
        payload = message.payload
        head = publish_header(
            message.topic, outgoing_properties(message), len(payload), qos, packet_id, retain, dup
        )
        if self._fits(head, message):
            self.write(head)
            self.write(payload)
            return
        session = self.session
        if session is not None:
            session.inflight.pop(packet_id, None)

    def shutdown(self, code: int) -> None:
        """Send DISCONNECT with ``code`` (once connected), then close."""
        if self.connected and not self.closed:
            self.write(encode_disconnect(code))
        self.close()
