"""Shared pieces of the MQTT 5 tests: a paho-mqtt client speaking version 5, raw sockets."""

from __future__ import annotations

import queue
import socket
import threading
import time
import uuid
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from mainflux.adapters.mqtt import codec, codec5
from tests.integration.test_mqtt_support import _CLIENTS, WAIT


def properties(packet: int, **values: Any) -> Properties:
    """Paho properties of ``packet`` (a ``PacketTypes`` member) from keyword values."""
    props = Properties(packet)
    for name, value in values.items():
        setattr(props, name, value)
    return props


class Client5:
    """A paho-mqtt client speaking MQTT 5, with inboxes of what it receives."""

    def __init__(
        self,
        port: int,
        client_id: str | None = None,
        *,
        clean_start: bool = True,
        session_expiry: int | None = None,
        username: str | None = None,
        password: str | None = None,
        will: tuple[str, bytes, int, bool, Properties | None] | None = None,
        connect: bool = True,
        transport: str = "tcp",
        **connect_props: Any,
    ) -> None:
        self.client_id = client_id if client_id is not None else f"c5-{uuid.uuid4().hex[:8]}"
        self.inbox: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self.subacks: queue.Queue[list[int]] = queue.Queue()
        self.unsubacks: queue.Queue[list[int]] = queue.Queue()
        self.connacks: queue.Queue[tuple[int, bool, Properties | None]] = queue.Queue()
        self.disconnects: queue.Queue[int] = queue.Queue()
        self.acks: queue.Queue[int] = queue.Queue()
        self.disconnected = threading.Event()
        self.port = port
        self.clean_start = clean_start
        self.connect_props = dict(connect_props)
        if session_expiry is not None:
            self.connect_props["SessionExpiryInterval"] = session_expiry
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=mqtt.MQTTv5,
            transport=transport,  # type: ignore[arg-type]
            reconnect_on_failure=False,
        )
        if transport == "websockets":
            client.ws_set_options(path="/mqtt")
        if username is not None:
            client.username_pw_set(username, password)
        if will is not None:
            client.will_set(will[0], will[1], will[2], will[3], will[4])
        client.on_message = lambda c, u, m: self.inbox.put(m)
        client.on_subscribe = lambda c, u, mid, codes, p: self.subacks.put([x.value for x in codes])
        client.on_unsubscribe = lambda c, u, mid, codes, p: self.unsubacks.put(
            [x.value for x in codes]
        )
        client.on_connect = lambda c, u, flags, rc, p: self.connacks.put(
            (rc.value, bool(flags.session_present), p)
        )
        client.on_publish = lambda c, u, mid, rc, p: self.acks.put(rc.value)

        def on_disconnect(c: Any, u: Any, flags: Any, rc: Any, p: Any) -> None:
            self.disconnects.put(rc.value)
            self.disconnected.set()

        client.on_disconnect = on_disconnect
        self.paho = client
        _CLIENTS.append(self)  # type: ignore[arg-type]
        if connect:
            rc, _, _ = self.connect()
            assert rc == 0, f"CONNACK 0x{rc:02x}"

    def connect(self) -> tuple[int, bool, Any]:
        """Connect and wait for the CONNACK: ``(reason code, session present, props)``."""
        self.disconnected.clear()
        props = (
            properties(PacketTypes.CONNECT, **self.connect_props) if self.connect_props else None
        )
        self.paho.connect("127.0.0.1", self.port, clean_start=self.clean_start, properties=props)
        self.paho.loop_start()
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            try:
                return self.connacks.get(timeout=0.05)
            except queue.Empty:
                if self.disconnected.is_set() and self.connacks.empty():
                    raise ConnectionError("closed before CONNACK") from None
        raise TimeoutError("no CONNACK")

    def subscribe(
        self, topic: str, qos: int = 0, props: Properties | None = None, **options: Any
    ) -> list[int]:
        """Subscribe with version 5 options and wait for the SUBACK reason codes."""
        self.paho.subscribe(
            topic, options=mqtt.SubscribeOptions(qos=qos, **options), properties=props
        )
        return self.subacks.get(timeout=WAIT)

    def unsubscribe(self, *topics: str) -> list[int]:
        """Unsubscribe and wait for the UNSUBACK reason codes."""
        self.paho.unsubscribe(list(topics))
        return self.unsubacks.get(timeout=WAIT)

    def publish(
        self,
        topic: str,
        payload: bytes,
        qos: int = 0,
        retain: bool = False,
        props: Properties | None = None,
    ) -> None:
        """Publish and wait until the broker acknowledged it (QoS 1/2)."""
        info = self.paho.publish(topic, payload, qos, retain, props)
        if qos:
            info.wait_for_publish(WAIT)

    def receive(self, timeout: float = WAIT) -> Any:
        """The next received message (an ``MQTTMessage``; its properties are dynamic)."""
        return self.inbox.get(timeout=timeout)

    def nothing(self, wait: float = 0.3) -> bool:
        """Whether no message arrives within ``wait`` seconds."""
        try:
            self.inbox.get(timeout=wait)
        except queue.Empty:
            return True
        return False

    def disconnect_reason(self, timeout: float = WAIT) -> int:
        """The reason code of the next disconnection."""
        return self.disconnects.get(timeout=timeout)

    def close(self, props: Properties | None = None, reason: int = 0) -> None:
        """Send DISCONNECT (with ``reason`` and ``props``) and stop the network thread."""
        from paho.mqtt.reasoncodes import ReasonCode

        code = ReasonCode(PacketTypes.DISCONNECT, identifier=reason)
        self.paho.disconnect(code, props)
        self.disconnected.wait(WAIT)
        self.paho.loop_stop()

    def drop(self) -> None:
        """Close the socket without DISCONNECT."""
        sock: Any = self.paho.socket()
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self.paho.loop_stop()


class Raw5:
    """A raw socket speaking version 5 packets built by the codec."""

    def __init__(
        self,
        port: int,
        client_id: str = "",
        keepalive: int = 60,
        props: dict[int, Any] | None = None,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        """Connect; ``props`` are CONNECT properties by identifier (``codec5`` names)."""
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        self.decoder: codec.Decoder = codec5.Decoder5()
        secret = password.encode() if password is not None else None
        connect = codec.Connect(client_id, keepalive=keepalive, username=username, password=secret)
        self.send(codec5.encode_connect(connect, props))
        self.connack = self.read(1)[0]

    def send(self, data: bytes) -> None:
        """Send bytes as they are."""
        self.sock.sendall(data)

    def read(self, count: int) -> list[Any]:
        """The next ``count`` packets (raises when the broker closes first)."""
        packets: list[Any] = []
        while len(packets) < count:
            data = self.sock.recv(65536)
            assert data, f"connection closed after {packets}"
            packets += self.decoder.feed(data)
        return packets

    def until_closed(self) -> list[Any]:
        """Every packet until the broker closes the socket."""
        packets: list[Any] = []
        while True:
            try:
                data = self.sock.recv(65536)
            except ConnectionResetError:
                return packets
            if not data:
                return packets
            packets += self.decoder.feed(data)

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()
