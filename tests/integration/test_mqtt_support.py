"""Shared pieces of the MQTT tests: a broker on its own loop thread, and real clients.

Paho clients block, so the broker under test runs on a private event loop in a
background thread while the test drives clients from the main thread."""

from __future__ import annotations

import asyncio
import queue
import socket
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import paho.mqtt.client as mqtt

from mainflux.adapters.mqtt.adapter import MqttAdapter, build_standalone
from mainflux.adapters.mqtt.limits import BrokerLimits
from mainflux.adapters.mqtt.settings import MqttSettings

WAIT = 5.0
_CLIENTS: list[Client] = []


def close_clients() -> None:
    """Stop every client the tests created (some are left connected on purpose)."""
    while _CLIENTS:
        client = _CLIENTS.pop()
        client.paho.disconnect()
        client.paho.loop_stop()
        sock = client.paho.socket()
        if sock is not None:
            sock.close()


def local_settings(limits: BrokerLimits | None = None, **extra: Any) -> MqttSettings:
    """Settings listening on free ports of 127.0.0.1 (WebSocket included)."""
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "mqtt_port": 0,
        "ws_host": "127.0.0.1",
        "ws_port": 0,
        "limits": limits or BrokerLimits(),
    }
    values.update(extra)
    return MqttSettings(**values)


class LoopThread:
    """An event loop in a daemon thread, running coroutines for synchronous tests."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float = 30.0) -> Any:
        """Run ``coro`` on the loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        """Stop the loop and its thread."""
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


class RunningAdapter:
    """An adapter built and started on a :class:`LoopThread`."""

    def __init__(self, build: Callable[[], Awaitable[MqttAdapter]]) -> None:
        self.thread = LoopThread()
        self.adapter: MqttAdapter = self.thread.run(self._start(build))

    async def _start(self, build: Callable[[], Awaitable[MqttAdapter]]) -> MqttAdapter:
        adapter = await build()
        await adapter.start()
        return adapter

    @property
    def port(self) -> int:
        """The plain MQTT port."""
        return self.adapter.ports["mqtt"]

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        """Run a coroutine on the adapter's loop."""
        return self.thread.run(coro)

    def stop_adapter(self) -> None:
        """Stop the clients and the adapter; the loop keeps running."""
        close_clients()
        self.thread.run(self.adapter.stop())

    def stop(self) -> None:
        """Stop the clients, the adapter and its loop."""
        self.stop_adapter()
        self.thread.close()


def standalone(limits: BrokerLimits | None = None, **extra: Any) -> RunningAdapter:
    """A running standalone broker on free ports."""

    async def build() -> MqttAdapter:
        return build_standalone(local_settings(limits, **extra))

    return RunningAdapter(build)


class Client:
    """A paho-mqtt client with an inbox of received messages."""

    def __init__(
        self,
        port: int,
        client_id: str | None = None,
        *,
        clean: bool = True,
        username: str | None = None,
        password: str | None = None,
        will: tuple[str, bytes, int, bool] | None = None,
        keepalive: int = 60,
        transport: str = "tcp",
        connect: bool = True,
        tls: dict[str, Any] | None = None,
    ) -> None:
        self.client_id = client_id if client_id is not None else f"c-{uuid.uuid4().hex[:8]}"
        self.inbox: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self.subacks: queue.Queue[list[int]] = queue.Queue()
        self.unsubacks: queue.Queue[int] = queue.Queue()
        self.connacks: queue.Queue[tuple[int, bool]] = queue.Queue()
        self.disconnected = threading.Event()
        self.port = port
        self.keepalive = keepalive
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            clean_session=clean,
            protocol=mqtt.MQTTv311,
            transport=transport,  # type: ignore[arg-type]
            reconnect_on_failure=False,
        )
        if transport == "websockets":
            client.ws_set_options(path="/mqtt")
        if tls is not None:
            client.tls_set(**tls)
        if username is not None:
            client.username_pw_set(username, password)
        if will is not None:
            client.will_set(will[0], will[1], will[2], will[3])
        client.on_message = lambda c, u, m: self.inbox.put(m)
        client.on_subscribe = lambda c, u, mid, codes, p: self.subacks.put([c.value for c in codes])
        client.on_unsubscribe = lambda c, u, mid, codes, p: self.unsubacks.put(mid)
        client.on_connect = lambda c, u, flags, rc, p: self.connacks.put(
            (rc.value, bool(flags.session_present))
        )
        client.on_disconnect = lambda c, u, flags, rc, p: self.disconnected.set()
        self.paho = client
        _CLIENTS.append(self)
        if connect:
            rc, _ = self.connect()
            assert rc == 0, f"CONNACK {rc}"

    def connect(self) -> tuple[int, bool]:
        """Connect and wait for the CONNACK: ``(return code, session present)``."""
        self.disconnected.clear()
        self.paho.connect("127.0.0.1", self.port, keepalive=self.keepalive)
        self.paho.loop_start()
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            try:
                return self.connacks.get(timeout=0.05)
            except queue.Empty:
                if self.disconnected.is_set():
                    raise ConnectionError("closed before CONNACK") from None
        raise TimeoutError("no CONNACK")

    def subscribe(self, topic: str, qos: int = 0) -> list[int]:
        """Subscribe and wait for the SUBACK codes."""
        self.paho.subscribe(topic, qos)
        return self.subacks.get(timeout=WAIT)

    def unsubscribe(self, topic: str) -> None:
        """Unsubscribe and wait for the UNSUBACK."""
        _, mid = self.paho.unsubscribe(topic)
        assert self.unsubacks.get(timeout=WAIT) == mid

    def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
        """Publish and wait until the broker acknowledged it (QoS 1/2)."""
        info = self.paho.publish(topic, payload, qos, retain)
        if qos:
            info.wait_for_publish(WAIT)

    def receive(self, timeout: float = WAIT) -> mqtt.MQTTMessage:
        """The next received message."""
        return self.inbox.get(timeout=timeout)

    def nothing(self, wait: float = 0.3) -> bool:
        """Whether no message arrives within ``wait`` seconds."""
        try:
            self.inbox.get(timeout=wait)
        except queue.Empty:
            return True
        return False

    def close(self) -> None:
        """Send DISCONNECT and stop the network thread."""
        self.paho.disconnect()
        self.paho.loop_stop()

    def drop(self) -> None:
        """Close the socket without DISCONNECT (an abrupt loss)."""
        sock = self.paho.socket()
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self.paho.loop_stop()


def raw_connect(port: int, data: bytes, *, wait: float = 2.0) -> bytes:
    """Send raw bytes and return what comes back until the broker closes the socket."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        sock.sendall(data)
        received = b""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            except ConnectionResetError:
                return received
            if not chunk:
                return received
            received += chunk
        raise AssertionError(f"connection still open after {wait}s; got {received!r}")


def eventually(check: Callable[[], bool], timeout: float = WAIT) -> bool:
    """Poll ``check`` until it is true or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return check()
