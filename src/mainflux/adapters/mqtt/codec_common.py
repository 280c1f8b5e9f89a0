"""What MQTT 3.1.1 and MQTT 5 share on the wire: packet types, the framing, the errors.

Both versions frame packets the same way (a fixed header with a remaining length, then
the body) and read the same field types; they differ in the bodies. A decoder is a
:class:`FrameDecoder` whose :meth:`~FrameDecoder.next` is the one framing loop of
:func:`framing`, bound to its version's body readers
(:mod:`~mainflux.adapters.mqtt.codec` for 3.1.1, :mod:`~mainflux.adapters.mqtt.codec5`
for 5). The maximum packet size is enforced as soon as a fixed header's remaining length
is known, before any of the body is buffered. Anything that is not valid MQTT raises
:class:`ProtocolError` and nothing else."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, TypeVar

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

MAX_REMAINING_LENGTH: Final = 268_435_455

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


# A body reader: ``(data, first byte or kind, flags, body start, end) -> packet``; the
# PUBLISH reader gets the first byte and the packet's start instead of kind and flags.
BodyReader = Callable[[bytes, int, int, int, int], Any]
D = TypeVar("D", bound="FrameDecoder")


class FrameDecoder:
    """Splits a byte stream into packets (the version's :meth:`next` reads the bodies).

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

    @classmethod
    def following(cls: type[D], previous: FrameDecoder) -> D:
        """A decoder of this kind that carries on where ``previous`` stopped: the bytes
        it holds and has not decoded yet are decoded by the new one (a connection
        changes decoder once its CONNECT says its version)."""
        decoder = cls(previous.max_packet_size)
        decoder._data = previous._data
        decoder._pos = previous._pos
        decoder._buf = previous._buf
        decoder._need = previous._need
        previous._data, previous._pos, previous._buf = b"", 0, bytearray()
        return decoder

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

    def feed(self, data: bytes) -> list[Any]:
        """:meth:`push` ``data`` and return every packet now complete."""
        self.push(data)
        packets: list[Any] = []
        append = packets.append
        take = self.next
        packet = take()
        while packet is not None:
            append(packet)
            packet = take()
        return packets

    def next(self) -> Any:
        """The next complete packet, or ``None`` until more bytes are pushed."""
        raise NotImplementedError  # each version's decoder sets it from ``framing``

    def _partial(self, data: bytes, pos: int, need: int) -> None:
        """Keep the incomplete tail from ``pos`` until ``need`` bytes of it are here."""
        self._buf += memoryview(data)[pos:] if pos else data
        self._data = b""
        self._pos = 0
        self._need = need


def framing(publish: BodyReader, other: BodyReader) -> Callable[[Any], Any]:
    """The :meth:`FrameDecoder.next` of a version: the framing loop, handing a PUBLISH
    body to ``publish`` and any other body to ``other`` (called directly, so a
    version's decoder pays nothing for sharing the loop)."""

    def next(self: FrameDecoder) -> Any:
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
            return publish(data, first, pos, body, end)
        return other(data, kind, first & 0x0F, body, end)

    return next


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


def topic_name(raw: bytes) -> str:
    """A PUBLISH or will topic: valid UTF-8, not empty, no wildcard or NUL."""
    try:
        topic = raw.decode()
    except UnicodeDecodeError:
        raise ProtocolError("topic name is not valid UTF-8") from None
    if not topic:
        raise ProtocolError("empty topic name")
    if "+" in topic or "#" in topic or "\x00" in topic:
        raise ProtocolError("topic name with a wildcard or NUL character")
    return topic


class Reader:
    """Reads the fields of one packet body, raising ProtocolError past its end."""

    __slots__ = ("data", "end", "pos")

    def __init__(self, data: bytes, pos: int, end: int) -> None:
        self.data = data
        self.pos = pos
        self.end = end

    def left(self) -> int:
        """Bytes of the body not read yet."""
        return self.end - self.pos

    def byte(self) -> int:
        """One byte."""
        if self.pos >= self.end:
            raise ProtocolError("packet too short")
        value = self.data[self.pos]
        self.pos += 1
        return value

    def uint16(self) -> int:
        """A two-byte integer."""
        if self.pos + 2 > self.end:
            raise ProtocolError("packet too short")
        value = (self.data[self.pos] << 8) | self.data[self.pos + 1]
        self.pos += 2
        return value

    def binary(self) -> bytes:
        """Binary data, its length first."""
        length = self.uint16()
        if self.pos + length > self.end:
            raise ProtocolError("field runs past the packet")
        value = self.data[self.pos : self.pos + length]
        self.pos += length
        return value

    def string(self) -> str:
        """A UTF-8 string without NUL, its length first."""
        try:
            value = self.binary().decode()
        except UnicodeDecodeError:
            raise ProtocolError("string is not valid UTF-8") from None
        if "\x00" in value:
            raise ProtocolError("string with a NUL character")
        return value

    def done(self) -> None:
        """Check that the whole body was read."""
        if self.pos != self.end:
            raise ProtocolError("trailing bytes in packet")


def connect_head(reader: Reader) -> tuple[str, int, int, int]:
    """The part of a CONNECT every version shares: ``(protocol name, protocol level,
    flags, keepalive)``; the level says how the rest is read."""
    name = reader.string()
    level = reader.byte()
    if name not in ("MQTT", "MQIsdp"):
        raise ProtocolError(f"unknown protocol name {name!r}")
    flags = reader.byte()
    if flags & 0x01:
        raise ProtocolError("reserved CONNECT flag set")
    return name, level, flags, reader.uint16()


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


def encode_string(value: str | bytes) -> bytes:
    """A string or binary field: its length, then its bytes."""
    raw = value.encode() if isinstance(value, str) else value
    return len(raw).to_bytes(2, "big") + raw
