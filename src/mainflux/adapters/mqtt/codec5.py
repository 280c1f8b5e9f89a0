"""MQTT 5.0 packets: properties, reason codes, the version 5 decoder and encoders.

A connection learns its version from its CONNECT (see
:mod:`~mainflux.adapters.mqtt.handshake`, which reads a version 5 one with
:func:`read_connect`) and from then on decodes with a :class:`Decoder5`: the same
framing, with bodies that carry properties and reason codes. Version 5 packets are
subclasses of the 3.1.1 ones, so the broker handles both the same way where the
versions agree.

Properties a subscriber must see unchanged (payload format, content type, response
topic, correlation data, user properties) are kept as the very bytes they arrived in
and forwarded as such; the message expiry interval is kept as a deadline and sent as
what remains of it. Anything invalid raises :class:`~codec_common.ProtocolError` with
the reason code to send (malformed packet 0x81 unless said otherwise)."""

from __future__ import annotations

import math
import time
from typing import Any, Final

from mainflux.adapters.mqtt import codec
from mainflux.adapters.mqtt.codec import (
    Connect,
    PacketId,
    Publish,
    Subscribe,
    Unsubscribe,
    Will,
)
from mainflux.adapters.mqtt.codec_common import (
    CONNACK,
    CONNECT,
    DISCONNECT,
    MALFORMED,
    PACKET_TOO_LARGE,  # noqa: F401 (one of this module's reason codes)
    PINGREQ,
    PINGRESP,
    PROTOCOL_VIOLATION,
    PUBACK,
    PUBCOMP,
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

AUTH_KIND: Final = 15  # the AUTH packet, new in version 5

# --- reason codes (MQTT 5 §2.4) ------------------------------------------------------

SUCCESS: Final = 0x00
DISCONNECT_WITH_WILL: Final = 0x04
NO_SUBSCRIPTION_EXISTED: Final = 0x11
UNSPECIFIED_ERROR: Final = 0x80
MALFORMED_PACKET: Final = MALFORMED
PROTOCOL_ERROR: Final = PROTOCOL_VIOLATION
UNSUPPORTED_PROTOCOL_VERSION: Final = 0x84
CLIENT_IDENTIFIER_NOT_VALID: Final = 0x85
BAD_USER_NAME_OR_PASSWORD: Final = 0x86
NOT_AUTHORIZED: Final = 0x87
SERVER_UNAVAILABLE: Final = 0x88
SERVER_SHUTTING_DOWN: Final = 0x8B
BAD_AUTHENTICATION_METHOD: Final = 0x8C
KEEP_ALIVE_TIMEOUT: Final = 0x8D
SESSION_TAKEN_OVER: Final = 0x8E
TOPIC_FILTER_INVALID: Final = 0x8F
PACKET_IDENTIFIER_NOT_FOUND: Final = 0x92
RECEIVE_MAXIMUM_EXCEEDED: Final = 0x93
TOPIC_ALIAS_INVALID: Final = 0x94
QUOTA_EXCEEDED: Final = 0x97
SHARED_SUBSCRIPTIONS_NOT_SUPPORTED: Final = 0x9E
SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED: Final = 0xA1

# CONNACK return codes of 3.1.1 (what a Policy answers) as version 5 reason codes.
CONNACK_REASONS: Final = {
    codec.UNACCEPTABLE_PROTOCOL: UNSUPPORTED_PROTOCOL_VERSION,
    codec.IDENTIFIER_REJECTED: CLIENT_IDENTIFIER_NOT_VALID,
    codec.SERVER_UNAVAILABLE: SERVER_UNAVAILABLE,
    codec.BAD_CREDENTIALS: BAD_USER_NAME_OR_PASSWORD,
    codec.NOT_AUTHORIZED: NOT_AUTHORIZED,
}

# --- properties (MQTT 5 §2.2.2.2) ----------------------------------------------------

PAYLOAD_FORMAT: Final = 0x01
MESSAGE_EXPIRY: Final = 0x02
CONTENT_TYPE: Final = 0x03
RESPONSE_TOPIC: Final = 0x08
CORRELATION_DATA: Final = 0x09
SUBSCRIPTION_ID: Final = 0x0B
SESSION_EXPIRY: Final = 0x11
ASSIGNED_CLIENT_ID: Final = 0x12
SERVER_KEEP_ALIVE: Final = 0x13
AUTH_METHOD: Final = 0x15
AUTH_DATA: Final = 0x16
REQUEST_PROBLEM_INFO: Final = 0x17
WILL_DELAY: Final = 0x18
REQUEST_RESPONSE_INFO: Final = 0x19
RESPONSE_INFO: Final = 0x1A
SERVER_REFERENCE: Final = 0x1C
REASON_STRING: Final = 0x1F
RECEIVE_MAXIMUM: Final = 0x21
TOPIC_ALIAS_MAXIMUM: Final = 0x22
TOPIC_ALIAS: Final = 0x23
MAXIMUM_QOS: Final = 0x24
RETAIN_AVAILABLE: Final = 0x25
USER_PROPERTY: Final = 0x26
MAXIMUM_PACKET_SIZE: Final = 0x27
WILDCARD_AVAILABLE: Final = 0x28
SUBSCRIPTION_ID_AVAILABLE: Final = 0x29
SHARED_AVAILABLE: Final = 0x2A

_BYTE, _U16, _U32, _VARINT, _STR, _BIN, _PAIR = range(7)

TYPES: Final = {
    PAYLOAD_FORMAT: _BYTE,
    MESSAGE_EXPIRY: _U32,
    CONTENT_TYPE: _STR,
    RESPONSE_TOPIC: _STR,
    CORRELATION_DATA: _BIN,
    SUBSCRIPTION_ID: _VARINT,
    SESSION_EXPIRY: _U32,
    ASSIGNED_CLIENT_ID: _STR,
    SERVER_KEEP_ALIVE: _U16,
    AUTH_METHOD: _STR,
    AUTH_DATA: _BIN,
    REQUEST_PROBLEM_INFO: _BYTE,
    WILL_DELAY: _U32,
    REQUEST_RESPONSE_INFO: _BYTE,
    RESPONSE_INFO: _STR,
    SERVER_REFERENCE: _STR,
    REASON_STRING: _STR,
    RECEIVE_MAXIMUM: _U16,
    TOPIC_ALIAS_MAXIMUM: _U16,
    TOPIC_ALIAS: _U16,
    MAXIMUM_QOS: _BYTE,
    RETAIN_AVAILABLE: _BYTE,
    USER_PROPERTY: _PAIR,
    MAXIMUM_PACKET_SIZE: _U32,
    WILDCARD_AVAILABLE: _BYTE,
    SUBSCRIPTION_ID_AVAILABLE: _BYTE,
    SHARED_AVAILABLE: _BYTE,
}

# What each packet may carry, as sent by a client (and, for the client-side packets
# the decoder also reads, by a server).
_MESSAGE: Final = frozenset(
    (PAYLOAD_FORMAT, MESSAGE_EXPIRY, CONTENT_TYPE, RESPONSE_TOPIC, CORRELATION_DATA, USER_PROPERTY)
)
ALLOWED: Final = {
    "connect": frozenset(
        (
            SESSION_EXPIRY,
            AUTH_METHOD,
            AUTH_DATA,
            REQUEST_PROBLEM_INFO,
            REQUEST_RESPONSE_INFO,
            RECEIVE_MAXIMUM,
            TOPIC_ALIAS_MAXIMUM,
            USER_PROPERTY,
            MAXIMUM_PACKET_SIZE,
        )
    ),
    "will": _MESSAGE | {WILL_DELAY},
    "publish": _MESSAGE | {TOPIC_ALIAS, SUBSCRIPTION_ID},
    "ack": frozenset((REASON_STRING, USER_PROPERTY)),
    "subscribe": frozenset((SUBSCRIPTION_ID, USER_PROPERTY)),
    "unsubscribe": frozenset((USER_PROPERTY,)),
    "disconnect": frozenset((SESSION_EXPIRY, REASON_STRING, USER_PROPERTY, SERVER_REFERENCE)),
    "auth": frozenset((AUTH_METHOD, AUTH_DATA, REASON_STRING, USER_PROPERTY)),
    "connack": frozenset(TYPES) - _MESSAGE - {TOPIC_ALIAS, SUBSCRIPTION_ID, WILL_DELAY},
}
# Properties forwarded to subscribers as received.
FORWARDED: Final = frozenset(
    (PAYLOAD_FORMAT, CONTENT_TYPE, RESPONSE_TOPIC, CORRELATION_DATA, USER_PROPERTY)
)
_ZERO_IS_ERROR: Final = frozenset((RECEIVE_MAXIMUM, MAXIMUM_PACKET_SIZE, SUBSCRIPTION_ID))
_BOOLEAN: Final = frozenset(
    (
        PAYLOAD_FORMAT,
        REQUEST_PROBLEM_INFO,
        REQUEST_RESPONSE_INFO,
        RETAIN_AVAILABLE,
        WILDCARD_AVAILABLE,
        SUBSCRIPTION_ID_AVAILABLE,
        SHARED_AVAILABLE,
    )
)
NEVER: Final = 0xFFFFFFFF  # a session expiry interval meaning "does not expire"


class Properties(dict[int, Any]):
    """Decoded properties by identifier; user properties as a list of pairs.

    ``forward`` holds the raw bytes of the properties to forward to subscribers."""

    __slots__ = ("forward",)

    def __init__(self) -> None:
        super().__init__()
        self.forward = b""


def read_varint(data: bytes, pos: int, end: int) -> tuple[int, int]:
    """A variable byte integer at ``pos``: ``(value, position after it)``."""
    value = 0
    shift = 0
    while True:
        if pos >= end:
            raise ProtocolError("variable byte integer runs past the packet")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
        if shift > 21:
            raise ProtocolError("variable byte integer longer than four bytes")


def read_properties(reader: Reader, allowed: frozenset[int]) -> Properties:
    """Read a property block (its length first), checking types, places and repeats."""
    data = reader.data
    length, pos = read_varint(data, reader.pos, reader.end)
    end = pos + length
    if end > reader.end:
        raise ProtocolError("properties run past the packet")
    props = Properties()
    forward: list[bytes] = []
    inner = Reader(data, pos, end)
    while inner.pos < end:
        start = inner.pos
        ident, inner.pos = read_varint(data, inner.pos, end)
        kind = TYPES.get(ident)
        if kind is None:
            raise ProtocolError(f"unknown property 0x{ident:02x}")
        if ident not in allowed:
            raise ProtocolError(f"property 0x{ident:02x} not allowed here", PROTOCOL_ERROR)
        value: Any
        if kind == _BYTE:
            value = inner.byte()
        elif kind == _U16:
            value = inner.uint16()
        elif kind == _U32:
            if inner.pos + 4 > end:
                raise ProtocolError("packet too short")
            value = int.from_bytes(data[inner.pos : inner.pos + 4], "big")
            inner.pos += 4
        elif kind == _VARINT:
            value, inner.pos = read_varint(data, inner.pos, end)
        elif kind == _STR:
            value = inner.string()
        elif kind == _BIN:
            value = inner.binary()
        else:
            value = (inner.string(), inner.string())
        if ident == USER_PROPERTY:
            props.setdefault(USER_PROPERTY, []).append(value)
        elif ident in props:
            raise ProtocolError(f"property 0x{ident:02x} repeated", PROTOCOL_ERROR)
        else:
            if (ident in _BOOLEAN and value > 1) or (ident in _ZERO_IS_ERROR and not value):
                raise ProtocolError(f"invalid value of property 0x{ident:02x}", PROTOCOL_ERROR)
            props[ident] = value
        if ident in FORWARDED:
            forward.append(data[start : inner.pos])
    reader.pos = end
    if forward:
        props.forward = b"".join(forward)
    response = props.get(RESPONSE_TOPIC)
    if response is not None and (not response or "+" in response or "#" in response):
        raise ProtocolError("response topic is not a topic name", PROTOCOL_ERROR)
    return props


def _deadline(props: Properties) -> float:
    expiry = props.get(MESSAGE_EXPIRY)
    return time.monotonic() + expiry if expiry is not None else 0.0


# --- packets ---------------------------------------------------------------------------


class Will5(Will):
    """A version 5 will: its forwarded properties, expiry and delay."""

    __slots__ = ("delay", "expiry", "properties")

    def __init__(
        self,
        topic: str,
        payload: bytes,
        qos: int,
        retain: bool,
        properties: bytes = b"",
        expiry: int | None = None,
        delay: int = 0,
    ) -> None:
        super().__init__(topic, payload, qos, retain)
        self.properties = properties
        self.expiry = expiry
        self.delay = delay

    def message(self, origin: object) -> Publish5:
        """The will as a message, its expiry counted from now."""
        expires_at = time.monotonic() + self.expiry if self.expiry is not None else 0.0
        return Publish5(
            self.topic,
            self.payload,
            self.qos,
            self.retain,
            properties=self.properties,
            expires_at=expires_at,
            origin=origin,
        )


class Connect5(Connect):
    """A version 5 CONNECT with the properties the broker uses."""

    __slots__ = (
        "assigned",
        "auth_method",
        "max_packet_size",
        "receive_maximum",
        "session_expiry",
    )

    def __init__(self, client_id: str, **fields: Any) -> None:
        props: Properties = fields.pop("properties", Properties())
        super().__init__(client_id, protocol_level=5, **fields)
        self.session_expiry: int = props.get(SESSION_EXPIRY, 0)
        self.receive_maximum: int = props.get(RECEIVE_MAXIMUM, 65535)
        self.max_packet_size: int = props.get(MAXIMUM_PACKET_SIZE, 0)
        self.auth_method: str | None = props.get(AUTH_METHOD)
        self.assigned = False  # the client id was empty and the server chose it


class Publish5(Publish):
    """A version 5 PUBLISH: forwarded properties, expiry deadline and publisher."""

    __slots__ = ("expires_at", "origin", "properties")

    def __init__(
        self,
        topic: str,
        payload: bytes,
        qos: int = 0,
        retain: bool = False,
        dup: bool = False,
        packet_id: int = 0,
        *,
        properties: bytes = b"",
        expires_at: float = 0.0,
        origin: object = None,
    ) -> None:
        super().__init__(topic, payload, qos, retain, dup, packet_id)
        self.properties = properties
        self.expires_at = expires_at  # time.monotonic() deadline; 0: never
        self.origin = origin  # the publisher's session (for no-local)

    def expired(self, now: float) -> bool:
        """Whether the message expiry interval has passed."""
        return 0.0 < self.expires_at <= now

    def with_subscription_ids(self, ids: list[int]) -> Publish5:
        """A copy for one subscriber, naming the subscriptions it matched."""
        return Publish5(
            self.topic,
            self.payload,
            self.qos,
            self.retain,
            properties=self.properties + subscription_ids(ids),
            expires_at=self.expires_at,
            origin=self.origin,
        )

    def retained_copy(self) -> Publish5:
        """The copy a retained store keeps."""
        return Publish5(
            self.topic,
            bytes(self.payload),
            self.qos,
            True,
            properties=self.properties,
            expires_at=self.expires_at,
        )


def subscription_ids(ids: list[int]) -> bytes:
    """Subscription Identifier properties, one per id."""
    return b"".join(b"\x0b" + remaining_length(ident) for ident in ids)


def with_subscription_ids(message: Publish, ids: list[int]) -> Publish5:
    """``message`` (either version) as delivered through subscriptions ``ids``."""
    if isinstance(message, Publish5):
        return message.with_subscription_ids(ids)
    return Publish5(
        message.topic,
        message.payload,
        message.qos,
        message.retain,
        properties=subscription_ids(ids),
    )


def outgoing_properties(message: Publish) -> bytes:
    """The property block (length first) of ``message`` as sent to a version 5 client."""
    if message.__class__ is not Publish5:
        return b"\x00"
    props: bytes = message.properties  # type: ignore[attr-defined]
    expires_at: float = message.expires_at  # type: ignore[attr-defined]
    if expires_at:
        left = max(1, math.ceil(expires_at - time.monotonic()))
        props += b"\x02" + left.to_bytes(4, "big")
    return remaining_length(len(props)) + props


class Ack5(PacketId):
    """PUBACK, PUBREC, PUBREL or PUBCOMP with a reason code."""

    __slots__ = ("reason",)

    def __init__(self, kind: int, packet_id: int, reason: int = SUCCESS) -> None:
        super().__init__(kind, packet_id)
        self.reason = reason


class Subscribe5(Subscribe):
    """A version 5 SUBSCRIBE: ``(filter, subscription options byte)`` pairs."""

    __slots__ = ("subscription_id",)

    def __init__(
        self, packet_id: int, topics: list[tuple[str, int]], subscription_id: int | None
    ) -> None:
        super().__init__(packet_id, topics)
        self.subscription_id = subscription_id


class Disconnect5:
    """A version 5 DISCONNECT: reason code and perhaps a new session expiry interval."""

    __slots__ = ("reason", "session_expiry")
    kind = DISCONNECT

    def __init__(self, reason: int = SUCCESS, session_expiry: int | None = None) -> None:
        self.reason = reason
        self.session_expiry = session_expiry


class Reasons:
    """A version 5 CONNACK, SUBACK, UNSUBACK or AUTH as a client reads it."""

    __slots__ = ("codes", "kind", "packet_id", "properties", "session_present")

    def __init__(
        self,
        kind: int,
        codes: list[int],
        properties: Properties,
        packet_id: int = 0,
        session_present: bool = False,
    ) -> None:
        self.kind = kind
        self.codes = codes
        self.properties = properties
        self.packet_id = packet_id
        self.session_present = session_present


# --- decoding --------------------------------------------------------------------------


def read_connect(reader: Reader) -> Connect:
    """A CONNECT of any version: version 5 read here (an error in it is marked
    ``level`` 5, so the refusal can say why), any other by the 3.1.1 codec."""
    name, level, flags, keepalive = connect_head(reader)
    if level != 5 or name != "MQTT":
        return codec.connect_rest(reader, name, level, flags, keepalive)
    try:
        return connect_rest(reader, flags, keepalive)
    except ProtocolError as exc:
        exc.level = 5
        raise


def decode_connect(data: bytes, flags: int, body: int, end: int) -> Connect:
    """A whole CONNECT body of any version (see :func:`read_connect`)."""
    if flags:
        raise ProtocolError("reserved fixed-header flags must be 0000")
    reader = Reader(data, body, end)
    packet = read_connect(reader)
    reader.done()
    return packet


def connect_rest(reader: Reader, flags: int, keepalive: int) -> Connect5:
    """The rest of a version 5 CONNECT, after its keepalive."""
    props = read_properties(reader, ALLOWED["connect"])
    if AUTH_DATA in props and AUTH_METHOD not in props:
        raise ProtocolError("authentication data without a method", PROTOCOL_ERROR)
    client_id = reader.string()
    will = None
    will_qos = (flags >> 3) & 0x03
    if flags & 0x04:
        if will_qos == 3:
            raise ProtocolError("will QoS 3")
        will_props = read_properties(reader, ALLOWED["will"])
        will_topic = topic_name(reader.binary())
        will = Will5(
            will_topic,
            reader.binary(),
            will_qos,
            bool(flags & 0x20),
            will_props.forward,
            will_props.get(MESSAGE_EXPIRY),
            will_props.get(WILL_DELAY, 0),
        )
    elif flags & 0x38:
        raise ProtocolError("will QoS or retain set without a will")
    username = reader.string() if flags & 0x80 else None
    password = reader.binary() if flags & 0x40 else None
    return Connect5(
        client_id,
        clean_session=bool(flags & 0x02),
        keepalive=keepalive,
        username=username,
        password=password,
        will=will,
        properties=props,
    )


def _publish5(data: bytes, first: int, start: int, body: int, end: int) -> Publish5:
    qos = (first >> 1) & 0x03
    if qos == 3:
        raise ProtocolError("PUBLISH with QoS 3")
    dup = bool(first & 0x08)
    if dup and qos == 0:
        raise ProtocolError("PUBLISH QoS 0 with the DUP flag")
    reader = Reader(data, body, end)
    raw = reader.binary()
    packet_id = 0
    if qos:
        packet_id = reader.uint16()
        if packet_id == 0:
            raise ProtocolError("PUBLISH with packet identifier 0")
    if reader.pos < end and data[reader.pos] == 0:
        reader.pos += 1
        forward = b""
        expires_at = 0.0
    else:
        props = read_properties(reader, ALLOWED["publish"])
        if TOPIC_ALIAS in props:
            raise ProtocolError("topic aliases are not supported", TOPIC_ALIAS_INVALID)
        if SUBSCRIPTION_ID in props:
            raise ProtocolError("subscription identifier in a client PUBLISH", PROTOCOL_ERROR)
        forward = props.forward
        expires_at = _deadline(props)
    if not raw:
        raise ProtocolError("empty topic name without a topic alias", PROTOCOL_ERROR)
    topic = topic_name(raw)
    return Publish5(
        topic,
        data[reader.pos : end],
        qos,
        bool(first & 1),
        dup,
        packet_id,
        properties=forward,
        expires_at=expires_at,
    )


def _other5(data: bytes, kind: int, flags: int, body: int, end: int) -> Any:
    if kind == CONNECT:
        return decode_connect(data, flags, body, end)
    if kind in (PUBREL, SUBSCRIBE, UNSUBSCRIBE):
        if flags != 2:
            raise ProtocolError("reserved fixed-header flags must be 0010")
    elif flags:
        raise ProtocolError("reserved fixed-header flags must be 0000")
    reader = Reader(data, body, end)
    packet: Any
    if kind in (PUBACK, PUBREC, PUBREL, PUBCOMP):
        packet_id = reader.uint16()
        reason = SUCCESS
        if reader.left():
            reason = reader.byte()
            if reader.left():
                read_properties(reader, ALLOWED["ack"])
        packet = Ack5(kind, packet_id, reason)
    elif kind == PINGREQ:
        packet = codec._PINGREQ
    elif kind == PINGRESP:
        packet = codec._PINGRESP
    elif kind == DISCONNECT:
        reason = SUCCESS
        expiry = None
        if reader.left():
            reason = reader.byte()
            if reader.left():
                props = read_properties(reader, ALLOWED["disconnect"])
                if SERVER_REFERENCE in props:
                    raise ProtocolError("server reference from a client", PROTOCOL_ERROR)
                expiry = props.get(SESSION_EXPIRY)
        packet = Disconnect5(reason, expiry)
    elif kind == SUBSCRIBE:
        packet = _subscribe5(reader)
    elif kind == UNSUBSCRIBE:
        packet_id = reader.uint16()
        if packet_id == 0:
            raise ProtocolError("UNSUBSCRIBE with packet identifier 0")
        read_properties(reader, ALLOWED["unsubscribe"])
        filters: list[str] = []
        while reader.left():
            filters.append(reader.string())
        if not filters:
            raise ProtocolError("UNSUBSCRIBE without topic filters", PROTOCOL_ERROR)
        packet = Unsubscribe(packet_id, filters)
    elif kind == AUTH_KIND:
        reason = SUCCESS
        props = Properties()
        if reader.left():
            reason = reader.byte()
            props = read_properties(reader, ALLOWED["auth"])
        packet = Reasons(AUTH_KIND, [reason], props)
    elif kind == CONNACK:
        flags_byte = reader.byte()
        if flags_byte & 0xFE:
            raise ProtocolError("reserved CONNACK flags")
        reason = reader.byte()
        props = read_properties(reader, ALLOWED["connack"])
        packet = Reasons(CONNACK, [reason], props, 0, bool(flags_byte))
    elif kind in (SUBACK, UNSUBACK):
        packet_id = reader.uint16()
        props = read_properties(reader, ALLOWED["ack"])
        codes = list(data[reader.pos : end])
        reader.pos = end
        packet = Reasons(kind, codes, props, packet_id)
    else:
        raise ProtocolError(f"reserved packet type {kind}")
    reader.done()
    return packet


def _subscribe5(reader: Reader) -> Subscribe5:
    packet_id = reader.uint16()
    if packet_id == 0:
        raise ProtocolError("SUBSCRIBE with packet identifier 0")
    props = read_properties(reader, ALLOWED["subscribe"])
    topics: list[tuple[str, int]] = []
    while reader.left():
        topic = reader.string()
        options = reader.byte()
        if options & 0xC0 or options & 0x03 == 3 or (options >> 4) & 0x03 == 3:
            raise ProtocolError("SUBSCRIBE with invalid subscription options")
        topics.append((topic, options))
    if not topics:
        raise ProtocolError("SUBSCRIBE without topic filters", PROTOCOL_ERROR)
    return Subscribe5(packet_id, topics, props.get(SUBSCRIPTION_ID))


class Decoder5(FrameDecoder):
    """The decoder of a version 5 connection: the shared framing, version 5 bodies.

    A connection takes one (:meth:`~FrameDecoder.following` its first decoder) once its
    CONNECT says protocol level 5, so bytes already buffered are decoded as version 5
    and a 3.1.1 connection never pays for the difference."""

    __slots__ = ()

    next = framing(_publish5, _other5)


# --- encoding ---------------------------------------------------------------------------


def encode_property(ident: int, value: Any) -> bytes:
    """One property: identifier and value, by the identifier's type."""
    kind = TYPES[ident]
    head = bytes((ident,))
    if kind == _BYTE:
        return head + bytes((value,))
    if kind == _U16:
        return head + int(value).to_bytes(2, "big")
    if kind == _U32:
        return head + int(value).to_bytes(4, "big")
    if kind == _VARINT:
        return head + remaining_length(value)
    if kind == _PAIR:
        return head + encode_string(value[0]) + encode_string(value[1])
    return head + encode_string(value)


def encode_properties(props: dict[int, Any] | None = None) -> bytes:
    """A property block, length first; user properties (0x26) as a list of pairs."""
    if not props:
        return b"\x00"
    parts: list[bytes] = []
    for ident, value in props.items():
        if ident == USER_PROPERTY:
            parts.extend(encode_property(ident, pair) for pair in value)
        else:
            parts.append(encode_property(ident, value))
    block = b"".join(parts)
    return remaining_length(len(block)) + block


def _packet(first: int, body: bytes) -> bytes:
    return bytes((first,)) + remaining_length(len(body)) + body


def encode_connack(
    session_present: bool, reason: int, props: dict[int, Any] | None = None
) -> bytes:
    """A version 5 CONNACK."""
    return _packet(0x20, bytes((1 if session_present else 0, reason)) + encode_properties(props))


def encode_ack(kind: int, packet_id: int, reason: int = SUCCESS) -> bytes:
    """PUBACK, PUBREC, PUBREL or PUBCOMP with a reason code (short form on success)."""
    first = (kind << 4) | (2 if kind == PUBREL else 0)
    if reason == SUCCESS:
        return bytes((first, 2, packet_id >> 8, packet_id & 0xFF))
    return bytes((first, 3, packet_id >> 8, packet_id & 0xFF, reason))


def encode_suback(packet_id: int, codes: list[int], kind: int = SUBACK) -> bytes:
    """A version 5 SUBACK (or, with ``kind``, UNSUBACK): reason code per filter."""
    return _packet(kind << 4, packet_id.to_bytes(2, "big") + b"\x00" + bytes(codes))


def encode_disconnect(reason: int = SUCCESS, props: dict[int, Any] | None = None) -> bytes:
    """A version 5 DISCONNECT."""
    if reason == SUCCESS and not props:
        return b"\xe0\x00"
    return _packet(0xE0, bytes((reason,)) + encode_properties(props))


def publish_header(
    topic: str,
    properties: bytes,
    payload_size: int,
    qos: int,
    packet_id: int,
    retain: bool,
    dup: bool,
) -> bytes:
    """A version 5 PUBLISH up to its payload (``properties``: the block, length first)."""
    name = encode_string(topic)
    ident = packet_id.to_bytes(2, "big") if qos else b""
    length = len(name) + len(ident) + len(properties) + payload_size
    first = 0x30 | (qos << 1) | (0x01 if retain else 0) | (0x08 if dup else 0)
    return bytes((first,)) + remaining_length(length) + name + ident + properties


def encode_publish(
    topic: str,
    payload: bytes,
    qos: int = 0,
    packet_id: int = 0,
    retain: bool = False,
    props: dict[int, Any] | None = None,
) -> bytes:
    """A whole version 5 PUBLISH (client side: tests and load generators)."""
    return (
        publish_header(topic, encode_properties(props), len(payload), qos, packet_id, retain, False)
        + payload
    )


def encode_connect(
    connect: Connect,
    props: dict[int, Any] | None = None,
    will_props: dict[int, Any] | None = None,
) -> bytes:
    """A version 5 CONNECT (client side), the will (if any) with ``will_props``."""
    flags = 0x02 if connect.clean_session else 0
    payload = encode_string(connect.client_id)
    will = connect.will
    if will is not None:
        flags |= 0x04 | (will.qos << 3) | (0x20 if will.retain else 0)
        payload += (
            encode_properties(will_props) + encode_string(will.topic) + encode_string(will.payload)
        )
    if connect.username is not None:
        flags |= 0x80
        payload += encode_string(connect.username)
    if connect.password is not None:
        flags |= 0x40
        payload += encode_string(connect.password)
    body = (
        encode_string("MQTT")
        + bytes((5, flags))
        + connect.keepalive.to_bytes(2, "big")
        + encode_properties(props)
        + payload
    )
    return _packet(0x10, body)


def encode_subscribe(
    packet_id: int, topics: list[tuple[str, int]], props: dict[int, Any] | None = None
) -> bytes:
    """A version 5 SUBSCRIBE: ``(filter, options byte)`` pairs (client side)."""
    body = packet_id.to_bytes(2, "big") + encode_properties(props)
    body += b"".join(encode_string(t) + bytes((o,)) for t, o in topics)
    return _packet(0x82, body)
