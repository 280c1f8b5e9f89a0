"""MQTT 3.1.1 packets: their bodies, the 3.1.1 decoder and the encoders.

(What both versions share, the framing above all, is in
:mod:`~mainflux.adapters.mqtt.codec_common`; MQTT 5 packets are in
:mod:`~mainflux.adapters.mqtt.codec5`. A connection learns its version from its first
packet, see :mod:`~mainflux.adapters.mqtt.handshake`.)

The decoder is fed whatever one socket read returned and hands back every complete
packet in it at once. Anything that is not valid MQTT raises :class:`ProtocolError`
and nothing else; the connection that sent it is then closed. A CONNECT of a later
version than 3.1.1 is returned with its protocol level and its body unread.

Encoders return ``bytes`` ready for the socket. A :class:`Publish` caches its encoded
QoS 0 form, so a message fanned out to many subscribers is encoded once."""

from __future__ import annotations

from typing import Final

from mainflux.adapters.mqtt.codec_common import (
    CONNACK,
    CONNECT,
    DISCONNECT,
    MALFORMED,  # noqa: F401 (one of this module's names)
    MAX_REMAINING_LENGTH,  # noqa: F401 (one of this module's names)
    PACKET_TOO_LARGE,  # noqa: F401 (one of this module's names)
    PINGREQ,
    PINGRESP,
    PROTOCOL_VIOLATION,  # noqa: F401 (one of this module's names)
    PUBACK,
    PUBCOMP,
    PUBLISH,
    PUBREC,
    PUBREL,
    SUBACK,
    SUBSCRIBE,
    UNSUBACK,
    UNSUBSCRIBE,
    FrameDecoder,
    ProtocolError,
    Reader,
    connect_head,
    encode_string,
    framing,
    remaining_length,
    topic_name,
)

# CONNACK return codes (MQTT 3.1.1 §3.2.2.3).
ACCEPTED: Final = 0
UNACCEPTABLE_PROTOCOL: Final = 1
IDENTIFIER_REJECTED: Final = 2
SERVER_UNAVAILABLE: Final = 3
BAD_CREDENTIALS: Final = 4
NOT_AUTHORIZED: Final = 5

SUBACK_FAILURE: Final = 0x80
LARGE: Final = 65536  # QoS 0 packets above this are not kept as received

PINGREQ_BYTES: Final = b"\xc0\x00"
PINGRESP_BYTES: Final = b"\xd0\x00"
DISCONNECT_BYTES: Final = b"\xe0\x00"

# Packet types whose fixed-header flags must be exactly 0b0010 or 0.
_FLAGS_TWO: Final = frozenset((PUBREL, SUBSCRIBE, UNSUBSCRIBE))


class Will:
    """The will message of a CONNECT."""

    __slots__ = ("payload", "qos", "retain", "topic")

    def __init__(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain


class Connect:
    """A CONNECT packet (``protocol_level`` 4 is 3.1.1, 3 is 3.1)."""

    __slots__ = (
        "clean_session",
        "client_id",
        "keepalive",
        "password",
        "protocol_level",
        "protocol_name",
        "username",
        "will",
    )
    kind = CONNECT

    def __init__(
        self,
        client_id: str,
        *,
        clean_session: bool = True,
        keepalive: int = 0,
        username: str | None = None,
        password: bytes | None = None,
        will: Will | None = None,
        protocol_name: str = "MQTT",
        protocol_level: int = 4,
    ) -> None:
        self.client_id = client_id
        self.clean_session = clean_session
        self.keepalive = keepalive
        self.username = username
        self.password = password
        self.will = will
        self.protocol_name = protocol_name
        self.protocol_level = protocol_level


class Connack:
    """A CONNACK packet."""

    __slots__ = ("return_code", "session_present")
    kind = CONNACK

    def __init__(self, session_present: bool, return_code: int) -> None:
        self.session_present = session_present
        self.return_code = return_code


class Publish:
    """A PUBLISH packet; ``raw`` holds the received bytes when they can be forwarded as is."""

    __slots__ = ("_wire0", "dup", "packet_id", "payload", "qos", "retain", "topic")
    kind = PUBLISH

    def __init__(
        self,
        topic: str,
        payload: bytes,
        qos: int = 0,
        retain: bool = False,
        dup: bool = False,
        packet_id: int = 0,
        wire0: bytes | None = None,
    ) -> None:
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.dup = dup
        self.packet_id = packet_id
        self._wire0 = wire0

    def wire0(self) -> bytes:
        """This message as a QoS 0 PUBLISH without the retain flag (encoded once)."""
        wire = self._wire0
        if wire is None:
            wire = self._wire0 = encode_publish(self.topic, self.payload)
        return wire

    def chunks0(self) -> tuple[bytes, ...]:
        """The QoS 0 form as chunks to write; a large payload is not copied into one."""
        wire = self._wire0
        if wire is None and len(self.payload) > LARGE:
            return (publish_header(self.topic, len(self.payload)), self.payload)
        return (wire or self.wire0(),)


class PacketId:
    """PUBACK, PUBREC, PUBREL, PUBCOMP and UNSUBACK: a kind and a packet identifier."""

    __slots__ = ("kind", "packet_id")

    def __init__(self, kind: int, packet_id: int) -> None:
        self.kind = kind
        self.packet_id = packet_id


class Subscribe:
    """A SUBSCRIBE packet: ``(filter, requested QoS)`` pairs."""

    __slots__ = ("packet_id", "topics")
    kind = SUBSCRIBE

    def __init__(self, packet_id: int, topics: list[tuple[str, int]]) -> None:
        self.packet_id = packet_id
        self.topics = topics


class Suback:
    """A SUBACK packet: one granted QoS (or 0x80) per filter."""

    __slots__ = ("codes", "packet_id")
    kind = SUBACK

    def __init__(self, packet_id: int, codes: list[int]) -> None:
        self.packet_id = packet_id
        self.codes = codes


class Unsubscribe:
    """An UNSUBSCRIBE packet."""

    __slots__ = ("packet_id", "topics")
    kind = UNSUBSCRIBE

    def __init__(self, packet_id: int, topics: list[str]) -> None:
        self.packet_id = packet_id
        self.topics = topics


class Simple:
    """PINGREQ, PINGRESP and DISCONNECT: packets with nothing but a type."""

    __slots__ = ("kind",)

    def __init__(self, kind: int) -> None:
        self.kind = kind


Packet = Connect | Connack | Publish | PacketId | Subscribe | Suback | Unsubscribe | Simple

_PINGREQ = Simple(PINGREQ)
_PINGRESP = Simple(PINGRESP)
_DISCONNECT = Simple(DISCONNECT)


def read_publish(data: bytes, first: int, start: int, body: int, end: int) -> Publish:
    qos = (first >> 1) & 0x03
    if qos == 3:
        raise ProtocolError("PUBLISH with QoS 3")
    dup = bool(first & 0x08)
    if dup and qos == 0:
        raise ProtocolError("PUBLISH QoS 0 with the DUP flag")
    if end - body < 2:
        raise ProtocolError("PUBLISH too short")
    topic_end = body + 2 + ((data[body] << 8) | data[body + 1])
    if topic_end > end:
        raise ProtocolError("PUBLISH topic runs past the packet")
    topic = topic_name(data[body + 2 : topic_end])
    if qos:
        if topic_end + 2 > end:
            raise ProtocolError("PUBLISH without packet identifier")
        packet_id = (data[topic_end] << 8) | data[topic_end + 1]
        if packet_id == 0:
            raise ProtocolError("PUBLISH with packet identifier 0")
        return Publish(topic, data[topic_end + 2 : end], qos, bool(first & 1), dup, packet_id)
    if first & 1 or end - start > LARGE:
        return Publish(topic, data[topic_end:end], 0, bool(first & 1))
    return Publish(topic, data[topic_end:end], 0, False, False, 0, data[start:end])


def read_other(data: bytes, kind: int, flags: int, body: int, end: int) -> Packet:
    if kind in _FLAGS_TWO:
        if flags != 2:
            raise ProtocolError("reserved fixed-header flags must be 0010")
    elif flags:
        raise ProtocolError("reserved fixed-header flags must be 0000")
    reader = Reader(data, body, end)
    packet: Packet
    if kind in (PUBACK, PUBREC, PUBREL, PUBCOMP, UNSUBACK):
        packet = PacketId(kind, reader.uint16())
    elif kind == PINGREQ:
        packet = _PINGREQ
    elif kind == PINGRESP:
        packet = _PINGRESP
    elif kind == DISCONNECT:
        packet = _DISCONNECT
    elif kind == CONNECT:
        packet = _connect(reader)
    elif kind == SUBSCRIBE:
        packet = _subscribe(reader)
    elif kind == UNSUBSCRIBE:
        packet = _unsubscribe(reader)
    elif kind == CONNACK:
        flags_byte = reader.byte()
        if flags_byte & 0xFE:
            raise ProtocolError("reserved CONNACK flags")
        packet = Connack(bool(flags_byte), reader.byte())
    elif kind == SUBACK:
        packet_id = reader.uint16()
        packet = Suback(packet_id, [reader.byte() for _ in range(reader.left())])
    else:
        raise ProtocolError(f"reserved packet type {kind}")
    reader.done()
    return packet


def _connect(reader: Reader) -> Connect:
    return connect_rest(reader, *connect_head(reader))


def connect_rest(reader: Reader, name: str, level: int, flags: int, keepalive: int) -> Connect:
    """The rest of a CONNECT of protocol level 3 or 4, after its keepalive. A CONNECT of
    a later version is returned with its level (to be refused by it), its body unread."""
    if level >= 5 and name == "MQTT":
        reader.pos = reader.end
        return Connect("", protocol_name=name, protocol_level=level)
    client_id = reader.string()
    will = None
    will_qos = (flags >> 3) & 0x03
    if flags & 0x04:
        if will_qos == 3:
            raise ProtocolError("will QoS 3")
        will_topic = topic_name(reader.binary())
        will = Will(will_topic, reader.binary(), will_qos, bool(flags & 0x20))
    elif flags & 0x38:
        raise ProtocolError("will QoS or retain set without a will")
    username = reader.string() if flags & 0x80 else None
    password = reader.binary() if flags & 0x40 else None
    if password is not None and username is None and level >= 4:
        raise ProtocolError("password without a user name")
    return Connect(
        client_id,
        clean_session=bool(flags & 0x02),
        keepalive=keepalive,
        username=username,
        password=password,
        will=will,
        protocol_name=name,
        protocol_level=level,
    )


def _subscribe(reader: Reader) -> Subscribe:
    packet_id = reader.uint16()
    if packet_id == 0:
        raise ProtocolError("SUBSCRIBE with packet identifier 0")
    topics: list[tuple[str, int]] = []
    while reader.left():
        topic = reader.string()
        qos = reader.byte()
        if qos > 2:
            raise ProtocolError("SUBSCRIBE with an invalid requested QoS")
        topics.append((topic, qos))
    if not topics:
        raise ProtocolError("SUBSCRIBE without topic filters")
    return Subscribe(packet_id, topics)


def _unsubscribe(reader: Reader) -> Unsubscribe:
    packet_id = reader.uint16()
    if packet_id == 0:
        raise ProtocolError("UNSUBSCRIBE with packet identifier 0")
    topics: list[str] = []
    while reader.left():
        topics.append(reader.string())
    if not topics:
        raise ProtocolError("UNSUBSCRIBE without topic filters")
    return Unsubscribe(packet_id, topics)


class Decoder(FrameDecoder):
    """The decoder of a 3.1.1 connection (see :class:`FrameDecoder` for its use)."""

    __slots__ = ()

    next = framing(read_publish, read_other)


# --- encoders -------------------------------------------------------------------------


def publish_header(
    topic: str | bytes,
    payload_size: int,
    qos: int = 0,
    retain: bool = False,
    dup: bool = False,
) -> bytes:
    """Fixed header and topic of a PUBLISH; for QoS > 0 the packet identifier follows."""
    name = encode_string(topic)
    length = len(name) + payload_size + (2 if qos else 0)
    first = 0x30 | (qos << 1) | (0x01 if retain else 0) | (0x08 if dup else 0)
    return bytes((first,)) + remaining_length(length) + name


def encode_publish(
    topic: str | bytes,
    payload: bytes,
    qos: int = 0,
    packet_id: int = 0,
    retain: bool = False,
    dup: bool = False,
) -> bytes:
    """A whole PUBLISH packet."""
    head = publish_header(topic, len(payload), qos, retain, dup)
    if qos:
        return head + packet_id.to_bytes(2, "big") + payload
    return head + payload


def encode_connack(session_present: bool, return_code: int) -> bytes:
    """A CONNACK packet."""
    return bytes((0x20, 2, 1 if session_present else 0, return_code))


def encode_ack(kind: int, packet_id: int) -> bytes:
    """PUBACK, PUBREC, PUBREL, PUBCOMP or UNSUBACK for ``packet_id``."""
    first = (kind << 4) | (2 if kind == PUBREL else 0)
    return bytes((first, 2, packet_id >> 8, packet_id & 0xFF))


def encode_suback(packet_id: int, codes: list[int]) -> bytes:
    """A SUBACK packet with one return code per filter."""
    return (
        bytes((0x90,))
        + remaining_length(2 + len(codes))
        + packet_id.to_bytes(2, "big")
        + bytes(codes)
    )


def encode_subscribe(packet_id: int, topics: list[tuple[str, int]]) -> bytes:
    """A SUBSCRIBE packet (client side)."""
    body = packet_id.to_bytes(2, "big") + b"".join(
        encode_string(t) + bytes((q,)) for t, q in topics
    )
    return bytes((0x82,)) + remaining_length(len(body)) + body


def encode_unsubscribe(packet_id: int, topics: list[str]) -> bytes:
    """An UNSUBSCRIBE packet (client side)."""
    body = packet_id.to_bytes(2, "big") + b"".join(encode_string(t) for t in topics)
    return bytes((0xA2,)) + remaining_length(len(body)) + body


def encode_connect(connect: Connect) -> bytes:
    """A CONNECT packet (client side: load generators and tests)."""
    flags = 0x02 if connect.clean_session else 0
    payload = encode_string(connect.client_id)
    will = connect.will
    if will is not None:
        flags |= 0x04 | (will.qos << 3) | (0x20 if will.retain else 0)
        payload += encode_string(will.topic) + encode_string(will.payload)
    if connect.username is not None:
        flags |= 0x80
        payload += encode_string(connect.username)
    if connect.password is not None:
        flags |= 0x40
        payload += encode_string(connect.password)
    body = (
        encode_string(connect.protocol_name)
        + bytes((connect.protocol_level, flags))
        + connect.keepalive.to_bytes(2, "big")
        + payload
    )
    return bytes((0x10,)) + remaining_length(len(body)) + body
