"""Before its CONNECT: how a connection learns its MQTT version, and the listeners'
protocol factory.

A connection starts with a :class:`FirstDecoder` (3.1.1 bodies, and a CONNECT of any
version) and a :class:`Handshake` as its version part, which behaves as 3.1.1 does (a
packet other than CONNECT, or bytes that are not MQTT, close the connection; a
version 5 CONNECT that is not valid is refused with a version 5 CONNACK). The CONNECT
chooses, once, the part and the decoder the connection keeps:
:class:`~mainflux.adapters.mqtt.version311.Version311` and the 3.1.1
:class:`~mainflux.adapters.mqtt.codec.Decoder` for protocol level 3 or 4, or
:class:`~mainflux.adapters.mqtt.version5.Version5` and a
:class:`~mainflux.adapters.mqtt.codec5.Decoder5` for level 5 (the bytes already
received behind the CONNECT are decoded by the new decoder). A later level is refused
with a version 5 CONNACK."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mainflux.adapters.mqtt import codec, codec5
from mainflux.adapters.mqtt.broker import Broker
from mainflux.adapters.mqtt.codec_common import CONNECT, FrameDecoder, ProtocolError, framing
from mainflux.adapters.mqtt.connection import STOP, Connection, Step
from mainflux.adapters.mqtt.version5 import Version5
from mainflux.adapters.mqtt.version311 import Version311


def _first_other(data: bytes, kind: int, flags: int, body: int, end: int) -> Any:
    if kind == CONNECT:
        return codec5.decode_connect(data, flags, body, end)
    return codec.read_other(data, kind, flags, body, end)


class FirstDecoder(FrameDecoder):
    """The decoder of a connection that has not sent its CONNECT yet: 3.1.1 packets,
    and a CONNECT of any version (a version 5 one as a
    :class:`~mainflux.adapters.mqtt.codec5.Connect5`)."""

    __slots__ = ()

    next = framing(codec.read_publish, _first_other)


class Handshake(Version311):
    """The version part of a connection before its CONNECT (see the module doc)."""

    __slots__ = ()

    def dispatch(self, packet: Any) -> Step:
        """A CONNECT chooses the version; anything else closes the connection."""
        if packet.kind != CONNECT:
            return super().dispatch(packet)
        conn = self.conn
        level = packet.protocol_level
        if level >= 5 and packet.protocol_name == "MQTT":
            if level > 5:
                conn.write(codec5.encode_connack(False, codec5.UNSUPPORTED_PROTOCOL_VERSION))
                conn.close()
                return STOP
            version: Version311 = Version5(conn)
            conn.become(version, codec5.Decoder5)
        else:
            version = Version311(conn)
            conn.become(version, codec.Decoder)
        return version.connect(packet)

    def malformed(self, error: ProtocolError) -> None:
        """A version 5 CONNECT that is not valid is refused saying why; any other
        invalid bytes just close."""
        if error.level >= 5:
            self.conn.write(codec5.encode_connack(False, error.code))
        super().malformed(error)


def connection_factory(broker: Broker) -> Callable[[], Connection]:
    """The protocol factory of ``broker``'s listeners (for ``loop.create_server``)."""

    def connection() -> Connection:
        return Connection(broker, Handshake, FirstDecoder)

    return connection
