"""MQTT 3.1.1 packets: an incremental decoder and the encoders.

(MQTT 5 packets are in :mod:`~mainflux.adapters.mqtt.codec5`; a CONNECT of protocol
level 5 is handed to it, so the connection learns its version from the first packet.)

The decoder is fed whatever one socket read returned and hands back every complete
packet in it at once. The maximum packet size is enforced as soon as a fixed header's
remaining length is known, before any of the body is buffered. Anything that is not
valid MQTT raises :class:`ProtocolError` and nothing else; the connection that sent it
is then closed.

Encoders return ``bytes`` ready for the socket. A :class:`Publish` caches its encoded
QoS 0 form, so a message fanned out to many subscribers is encoded once."""

from __future__ import annotations

from typing import Final

CONNECT: Final = 1
CONNACK: Final = 2
PUBLISH: Final = 3
PUBACK: Final = 4
PUBREC: Final = 5
PUBREL: Final = 6
PUBCOMP: Final = 7
SUBSCRIBE: Final = 8
SUBACK: Final = 9
UNSUBSCRIBE: Final = 10
UNSUBACK: Final = 11
PINGREQ: Final = 12
PINGRESP: Final = 13
DISCONNECT: Final = 14

# CONNACK return codes (MQTT 3.1.1 §3.2.2.3).
ACCEPTED: Final = 0
UNACCEPTABLE_PROTOCOL: Final = 1
IDENTIFIER_REJECTED: Final = 2
SERVER_UNAVAILABLE: Final = 3
BAD_CREDENTIALS: Final = 4
NOT_AUTHORIZED: Final = 5

SUBACK_FAILURE: Final = 0x80
LARGE: Final = 65536  # QoS 0 packets above this are not kept as received
MAX_REMAINING_LENGTH: Final = 268_435_455

PINGREQ_BYTES: Final = b"\xc0\x00"
PINGRESP_BYTES: Final = b"\xd0\x00"
DISCONNECT_BYTES: Final = b"\xe0\x00"

# Packet types whose fixed-header flags must be exactly 0b0010 or 0.
_FLAGS_TWO: Final = frozenset((PUBREL, SUBSCRIBE, UNSUBSCRIBE))


# MQTT 5 reason codes of the errors below (3.1.1 connections just close).
MALFORMED: Final = 0x81
PROTOCOL_VIOLATION: Final = 0x82
PACKET_TOO_LARGE: Final = 0x95


class ProtocolError(Exception):
    """The bytes are not valid MQTT; the sender's connection must be closed.

    ``code`` is the MQTT 5 reason code to tell a version 5 client (malformed packet
    unless said otherwise); ``level`` is 5 when the offending packet is a version 5
    CONNECT, so the refusal can be a version 5 CONNACK."""

    level = 0

    def __init__(self, message: str, code: int = MALFORMED) -> None:
        super().__init__(message)
        self.code = code


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


class Decoder:
    """Splits a byte stream into packets.

    :meth:`push` what a socket read returned, then take packets one at a time with
    :meth:`next` (what is not taken yet stays as bytes, which costs nothing to keep), or
    all at once with :meth:`feed`. ``max_packet_size`` bounds the remaining length of a
    packet; a bigger one raises :class:`ProtocolError` before its body is read."""

    __slots__ = ("_buf", "_data", "_need", "_pos", "max_packet_size")

    def __init__(self, max_packet_size: int = MAX_REMAINING_LENGTH) -> None:
        self.max_packet_size = max_packet_size
        self._data = b""  # complete packets (and perhaps a partial tail) from ``_pos`` on
        self._pos = 0
        self._buf = bytearray()  # a partial packet, growing with what arrives of it
        self._need = 0  # bytes ``_buf`` must hold before it is worth parsing again

    @property
    def buffered(self) -> int:
        """Bytes received and not yet returned as packets."""
        return len(self._data) - self._pos + len(self._buf)

    def push(self, data: bytes) -> None:
        """Add received bytes.

        A partial packet grows with what has arrived of it (never pre-allocated), so a
        client that stops sending mid-packet holds only what it sent."""
        buf = self._buf
        if buf:
            buf += data
            if len(buf) >= self._need:
                self._data = bytes(buf)
                self._pos = 0
                del buf[:]
        elif self._pos < len(self._data):
            self._data = self._data[self._pos :] + data
            self._pos = 0
        else:
            self._data = data
            self._pos = 0

    def compact(self) -> None:
        """Drop the bytes already decoded, keeping only what is left (call this before
        holding undecoded packets for a while, so a large consumed read is freed)."""
        if self._pos:
            self._data = self._data[self._pos :]
            self._pos = 0

    def feed(self, data: bytes) -> list[Packet]:
        """:meth:`push` ``data`` and return every packet now complete."""
        self.push(data)
        packets: list[Packet] = []
        append = packets.append
        take = self.next
        packet = take()
        while packet is not None:
            append(packet)
            packet = take()
        return packets

    def next(self) -> Packet | None:
        """The next complete packet, or ``None`` until more bytes are pushed."""
        data = self._data
        pos = self._pos
        size = len(data)
        if pos >= size:
            return None
        if size - pos < 2:
            self._partial(data, pos, 2)
            return None
        first = data[pos]
        byte = data[pos + 1]
        if byte < 0x80:
            length = byte
            body = pos + 2
        else:
            length = byte & 0x7F
            shift = 7
            index = pos + 2
            while True:
                if index >= size:
                    self._partial(data, pos, 0)
                    return None
                byte = data[index]
                index += 1
                length |= (byte & 0x7F) << shift
                if byte < 0x80:
                    break
                shift += 7
                if shift > 21:
                    raise ProtocolError("remaining length longer than four bytes")
            body = index
        if length > self.max_packet_size:
            raise _too_large(data, first, body, size, length, self.max_packet_size)
        end = body + length
        if end > size:
            self._partial(data, pos, end - pos)
            return None
        if end == size:
            self._data = b""
            self._pos = 0
        else:
            self._pos = end
        kind = first >> 4
        if kind == PUBLISH:
            return _publish(data, first, pos, body, end)
        return _other(data, kind, first & 0x0F, body, end)

    def _partial(self, data: bytes, pos: int, need: int) -> None:
        """Keep the incomplete tail from ``pos`` until ``need`` bytes of it are here."""
        self._buf += memoryview(data)[pos:] if pos else data
        self._data = b""
        self._pos = 0
        self._need = need


def _too_large(
    data: bytes, first: int, body: int, size: int, length: int, limit: int
) -> ProtocolError:
    """The error for an oversized packet, noting when it is a version 5 CONNECT."""
    error = ProtocolError(
        f"packet of {length} bytes exceeds the limit of {limit}", PACKET_TOO_LARGE
    )
    if first >> 4 == CONNECT and size > body + 6 and data[body : body + 6] == b"\x00\x04MQTT":
        error.level = data[body + 6]
    return error


def _publish(data: bytes, first: int, start: int, body: int, end: int) -> Publish:
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
    topic = _topic_name(data[body + 2 : topic_end])
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


def _topic_name(raw: bytes) -> str:
    try:
        topic = raw.decode()
    except UnicodeDecodeError:
        raise ProtocolError("topic name is not valid UTF-8") from None
    if not topic:
        raise ProtocolError("empty topic name")
    if "+" in topic or "#" in topic or "\x00" in topic:
        raise ProtocolError("topic name with a wildcard or NUL character")
    return topic


class _Reader:
    """Reads the fields of one packet body, raising ProtocolError past its end."""

    __slots__ = ("data", "end", "pos")

    def __init__(self, data: bytes, pos: int, end: int) -> None:
        self.data = data
        self.pos = pos
        self.end = end

    def left(self) -> int:
        return self.end - self.pos

    def byte(self) -> int:
        if self.pos >= self.end:
            raise ProtocolError("packet too short")
        value = self.data[self.pos]
        self.pos += 1
        return value

    def uint16(self) -> int:
        if self.pos + 2 > self.end:
            raise ProtocolError("packet too short")
        value = (self.data[self.pos] << 8) | self.data[self.pos + 1]
        self.pos += 2
        return value

    def binary(self) -> bytes:
        length = self.uint16()
        if self.pos + length > self.end:
            raise ProtocolError("field runs past the packet")
        value = self.data[self.pos : self.pos + length]
        self.pos += length
        return value

    def string(self) -> str:
        try:
            value = self.binary().decode()
        except UnicodeDecodeError:
            raise ProtocolError("string is not valid UTF-8") from None
        if "\x00" in value:
            raise ProtocolError("string with a NUL character")
        return value

    def done(self) -> None:
        if self.pos != self.end:
            raise ProtocolError("trailing bytes in packet")


def _other(data: bytes, kind: int, flags: int, body: int, end: int) -> Packet:
    if kind in _FLAGS_TWO:
        if flags != 2:
            raise ProtocolError("reserved fixed-header flags must be 0010")
    elif flags:
        raise ProtocolError("reserved fixed-header flags must be 0000")
    reader = _Reader(data, body, end)
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


def _connect(reader: _Reader) -> Connect:
    name = reader.string()
    level = reader.byte()
    if name not in ("MQTT", "MQIsdp"):
        raise ProtocolError(f"unknown protocol name {name!r}")
    flags = reader.byte()
    if flags & 0x01:
        raise ProtocolError("reserved CONNECT flag set")
    keepalive = reader.uint16()
    if level > 5 and name == "MQTT":  # a later version: refused by level, body unread
        reader.pos = reader.end
        return Connect("", protocol_name=name, protocol_level=level)
    if level == 5 and name == "MQTT":
        from mainflux.adapters.mqtt import codec5

        try:
            return codec5.connect_rest(reader, flags, keepalive)
        except ProtocolError as exc:
            exc.level = 5
            raise
    client_id = reader.string()
    will = None
    will_qos = (flags >> 3) & 0x03
    if flags & 0x04:
        if will_qos == 3:
            raise ProtocolError("will QoS 3")
        will_topic = _topic_name(reader.binary())
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


def _subscribe(reader: _Reader) -> Subscribe:
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


def _unsubscribe(reader: _Reader) -> Unsubscribe:
    packet_id = reader.uint16()
    if packet_id == 0:
        raise ProtocolError("UNSUBSCRIBE with packet identifier 0")
    topics: list[str] = []
    while reader.left():
        topics.append(reader.string())
    if not topics:
        raise ProtocolError("UNSUBSCRIBE without topic filters")
    return Unsubscribe(packet_id, topics)


# --- encoders -------------------------------------------------------------------------


def remaining_length(length: int) -> bytes:
    """The variable-length encoding of a packet's remaining length."""
    if length < 0x80:
        return bytes((length,))
    if length > MAX_REMAINING_LENGTH:
        raise ValueError("packet too large for MQTT")
    out = bytearray()
    while True:
        digit = length & 0x7F
        length >>= 7
        if length:
            out.append(digit | 0x80)
        else:
            out.append(digit)
            return bytes(out)


def _string(value: str | bytes) -> bytes:
    raw = value.encode() if isinstance(value, str) else value
    return len(raw).to_bytes(2, "big") + raw


def publish_header(
    topic: str | bytes,
    payload_size: int,
    qos: int = 0,
    retain: bool = False,
    dup: bool = False,
) -> bytes:
    """Fixed header and topic of a PUBLISH; for QoS > 0 the packet identifier follows."""
    name = _string(topic)
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
    body = packet_id.to_bytes(2, "big") + b"".join(_string(t) + bytes((q,)) for t, q in topics)
    return bytes((0x82,)) + remaining_length(len(body)) + body


def encode_unsubscribe(packet_id: int, topics: list[str]) -> bytes:
    """An UNSUBSCRIBE packet (client side)."""
    body = packet_id.to_bytes(2, "big") + b"".join(_string(t) for t in topics)
    return bytes((0xA2,)) + remaining_length(len(body)) + body


def encode_connect(connect: Connect) -> bytes:
    """A CONNECT packet (client side: load generators and tests)."""
    flags = 0x02 if connect.clean_session else 0
    payload = _string(connect.client_id)
    will = connect.will
    if will is not None:
        flags |= 0x04 | (will.qos << 3) | (0x20 if will.retain else 0)
        payload += _string(will.topic) + _string(will.payload)
    if connect.username is not None:
        flags |= 0x80
        payload += _string(connect.username)
    if connect.password is not None:
        flags |= 0x40
        payload += _string(connect.password)
    body = (
        _string(connect.protocol_name)
        + bytes((connect.protocol_level, flags))
        + connect.keepalive.to_bytes(2, "big")
        + payload
    )
    return bytes((0x10,)) + remaining_length(len(body)) + body
