"""What a hostile (or careless) client can cost the broker: bounded subscriptions,
client ids, offline bytes, sessions per thing and handshakes, each refused cleanly and
logged without flooding the log."""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from mainflux.adapters.mqtt import codec, codec5
from mainflux.adapters.mqtt.adapter import MqttAdapter, build_adapter
from mainflux.adapters.mqtt.limits import BrokerLimits
from mainflux.core.limits import HttpLimits
from mainflux.messaging.inproc import InProcessBus
from tests.fakes import FakeThings
from tests.integration.test_mqtt5_support import Client5
from tests.integration.test_mqtt_support import (
    WAIT,
    Client,
    RunningAdapter,
    eventually,
    local_settings,
    raw_connect,
    standalone,
)


class Mainflux:
    """The Mainflux adapter over fake things, with the given bounds."""

    def __init__(self, limits: BrokerLimits | None = None) -> None:
        self.things = FakeThings()

        async def build() -> MqttAdapter:
            return build_adapter(self.things, InProcessBus(), None, local_settings(limits))

        self.running = RunningAdapter(build)

    @property
    def port(self) -> int:
        return self.running.port

    def client(self, thing: tuple[str, str], client_id: str, version: int = 4, **kw: Any) -> Any:
        """A paho client of ``thing`` (MQTT 3.1.1, or 5 when ``version`` is 5)."""
        make: Any = Client5 if version == 5 else Client
        return make(self.port, client_id, username=thing[0], password=thing[1], **kw)


@pytest.fixture
def bounded() -> Iterator[RunningAdapter]:
    running = standalone(
        BrokerLimits(max_subscriptions=2, max_client_id_length=23, max_offline_queue_bytes=1000)
    )
    yield running
    running.stop()


def closed_by_broker(sock: socket.socket) -> bool:
    """Whether the broker closes ``sock`` (within the wait) without sending anything."""
    sock.settimeout(WAIT)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


# --- subscriptions per session ---------------------------------------------------------


def test_subscriptions_beyond_the_bound_get_suback_0x80(bounded: RunningAdapter) -> None:
    client = Client(bounded.port)
    assert client.subscribe("a/#", 1) == [1]
    assert client.subscribe("b/#", 1) == [1]
    assert client.subscribe("c/#", 1) == [0x80]
    assert client.subscribe("a/#", 0) == [0]  # a filter it has already does not count
    client.paho.subscribe([("d/#", 1), ("b/#", 2)])
    assert client.subacks.get(timeout=WAIT) == [0x80, 2]
    Client(bounded.port).publish("c/x", b"not subscribed", 1)
    Client(bounded.port).publish("b/x", b"marker", 1)
    assert client.receive().payload == b"marker"


def test_subscriptions_beyond_the_bound_get_quota_exceeded_in_mqtt5(
    bounded: RunningAdapter,
) -> None:
    client = Client5(bounded.port)
    assert client.subscribe("a/#", 1) == [1]
    assert client.subscribe("b/#", 1) == [1]
    assert client.subscribe("c/#", 1) == [0x97]
    assert client.unsubscribe("a/#") == [0]
    assert client.subscribe("c/#", 1) == [1]  # room again


# --- client id length ------------------------------------------------------------------


def test_a_client_id_longer_than_the_bound_is_refused(bounded: RunningAdapter) -> None:
    too_long = codec.Connect("x" * 24)
    assert raw_connect(bounded.port, codec.encode_connect(too_long)) == b"\x20\x02\x00\x02"
    assert raw_connect(bounded.port, codec5.encode_connect(too_long)) == b"\x20\x03\x00\x85\x00"
    Client(bounded.port, "x" * 23).close()
    Client5(bounded.port, "y" * 23).close()


# --- offline queue bytes ---------------------------------------------------------------


def test_the_offline_queue_is_bounded_in_bytes_and_refuses_the_newest(
    bounded: RunningAdapter,
) -> None:
    away = Client(bounded.port, "away", clean=False)
    assert away.subscribe("q/#", 1) == [1]
    away.close()
    broker = bounded.adapter.broker
    assert eventually(lambda: broker.sessions["away"]["away"].conn is None)
    sender = Client(bounded.port)
    for i in range(3):  # 403 bytes each with the topic: the third does not fit in 1000
        sender.publish("q/x", bytes([48 + i]) * 400, 1)
    session = broker.sessions["away"]["away"]
    assert (session.dropped, session.queued_bytes) == (1, 806)
    back = Client(bounded.port, "away", clean=False, connect=False)
    assert back.connect() == (0, True)
    assert [back.receive().payload for _ in range(2)] == [b"0" * 400, b"1" * 400]
    sender.publish("q/x", b"marker", 1)
    assert back.receive().payload == b"marker"  # the third never came
    assert session.queued_bytes == 0


# --- sessions per thing ----------------------------------------------------------------


@pytest.mark.parametrize(("version", "refusal"), [(4, 0x88), (5, 0x97)], ids=["mqtt311", "mqtt5"])
def test_sessions_per_thing_are_bounded(version: int, refusal: int) -> None:
    platform = Mainflux(BrokerLimits(max_sessions_per_thing=2))
    try:
        thing, other = platform.things.thing(), platform.things.thing()
        broker = platform.running.adapter.broker

        def ids() -> list[str]:
            return sorted(s.client_id for s in broker.sessions_of(thing[0]))

        for name in ("s1", "s2"):
            platform.client(thing, name, clean=False).close()
            assert eventually(lambda n=name: broker.session(thing[0], n).conn is None)  # type: ignore[misc, union-attr]
        platform.client(thing, "s3", version)  # s1, away longest, makes room
        assert ids() == ["s2", "s3"]
        platform.client(thing, "s4", version)
        assert ids() == ["s3", "s4"]
        full = platform.client(thing, "s5", version, connect=False)
        assert full.connect()[0] == refusal  # 3.1.1's 3 is paho's 0x88 "server unavailable"
        assert ids() == ["s3", "s4"]
        platform.client(other, "s5", version)  # another thing has its own bound
    finally:
        platform.running.stop()


# --- handshakes ------------------------------------------------------------------------


def test_connections_that_never_send_connect_are_bounded() -> None:
    running = standalone(BrokerLimits(max_pending_connections=3, connect_timeout=600))
    try:
        established = Client(running.port)
        assert established.subscribe("alive", 1) == [1]
        silent = [socket.create_connection(("127.0.0.1", running.port)) for _ in range(3)]
        broker = running.adapter.broker
        assert eventually(lambda: len(broker.handshakes) == 3)
        late = Client(running.port)  # still gets in: the oldest silent socket makes room
        assert closed_by_broker(silent[0])
        assert broker.stats.handshakes_dropped == 1
        late.publish("alive", b"room made", 1)
        assert established.receive().payload == b"room made"
        assert len(broker.handshakes) == 2
        for sock in silent:
            sock.close()
    finally:
        running.stop()


def test_connections_that_never_send_connect_are_closed_after_the_timeout() -> None:
    running = standalone(BrokerLimits(connect_timeout=1))
    try:
        established = Client(running.port, keepalive=0)
        assert established.subscribe("alive", 1) == [1]
        silent = [socket.create_connection(("127.0.0.1", running.port)) for _ in range(3)]
        half = socket.create_connection(("127.0.0.1", running.port))
        half.sendall(codec.encode_connect(codec.Connect("slow"))[:5])  # never finishes
        for sock in [*silent, half]:
            assert closed_by_broker(sock)
            sock.close()
        assert running.adapter.broker.stats.connect_timeouts == 4
        Client(running.port).publish("alive", b"still served", 1)
        assert established.receive().payload == b"still served"
    finally:
        running.stop()


# --- logging of refusals ---------------------------------------------------------------


def test_refusals_are_logged_once_per_cause_at_info_never_as_errors(
    caplog: pytest.LogCaptureFixture,
) -> None:
    platform = Mainflux(BrokerLimits(max_client_id_length=30))
    try:
        thing_id, _ = platform.things.thing()
        caplog.clear()
        caplog.set_level(logging.DEBUG, logger="mainflux.mqtt")
        for _ in range(5):
            bad = codec.Connect("c", username=thing_id, password=b"wrong key")
            assert raw_connect(platform.port, codec.encode_connect(bad)) == b"\x20\x02\x00\x04"
        for version in (4, 5):
            for _ in range(3):
                bad = codec.Connect("x" * 31, username=thing_id, password=b"k")
                encode = codec5.encode_connect if version == 5 else codec.encode_connect
                assert raw_connect(platform.port, encode(bad))[:2] in (b"\x20\x02", b"\x20\x03")
        for _ in range(2):
            assert raw_connect(platform.port, b"\x10\x01\x00") == b""  # malformed CONNECT
    finally:
        platform.running.stop()
    mqtt_records = [r for r in caplog.records if r.name == "mainflux.mqtt"]
    info = [r.getMessage() for r in mqtt_records if r.levelno == logging.INFO]
    assert len([m for m in info if "bad user name or password" in m]) == 1
    assert len([m for m in info if "client id too long" in m]) == 1
    assert len([m for m in info if "before CONNECT" in m]) == 1
    debug = [r.getMessage() for r in mqtt_records if r.levelno == logging.DEBUG]
    assert len([m for m in debug if "bad user name or password" in m]) == 5
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert "wrong key" not in caplog.text


def test_websocket_sockets_without_a_request_are_bounded() -> None:
    running = standalone(BrokerLimits(max_pending_connections=2, connect_timeout=600))
    try:
        port = running.adapter.ports["ws"]
        established = Client(port, transport="websockets")
        assert established.subscribe("alive", 1) == [1]
        silent = [socket.create_connection(("127.0.0.1", port)) for _ in range(2)]
        late = Client(port, transport="websockets")  # the oldest silent socket makes room
        assert closed_by_broker(silent[0])
        assert running.adapter.broker.stats.handshakes_dropped == 1
        late.publish("alive", b"room made", 1)
        assert established.receive().payload == b"room made"
        for sock in silent:
            sock.close()
    finally:
        running.stop()


def test_websocket_sockets_without_a_request_are_closed_after_the_timeout() -> None:
    running = standalone(BrokerLimits(connect_timeout=1))
    try:
        port = running.adapter.ports["ws"]
        established = Client(port, transport="websockets", keepalive=0)
        assert established.subscribe("alive", 1) == [1]
        silent = socket.create_connection(("127.0.0.1", port))
        slow = socket.create_connection(("127.0.0.1", port))
        slow.sendall(b"GET /mqtt HTTP/1.1\r\nHost: x\r\n")  # headers never finish
        for sock in (silent, slow):
            assert closed_by_broker(sock)
            sock.close()
        assert running.adapter.broker.stats.connect_timeouts == 2
        Client(port, transport="websockets").publish("alive", b"still served", 1)
        assert established.receive().payload == b"still served"
    finally:
        running.stop()


def read_until_closed(sock: socket.socket) -> bytes:
    """What the server sends before it closes ``sock`` (a reset ends it too)."""
    sock.settimeout(WAIT)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    except TimeoutError:
        pytest.fail(f"the server kept the connection open after sending {data[:40]!r}")
    return data


def test_the_websocket_port_bounds_request_heads_as_every_http_port_does() -> None:
    running = standalone(http=HttpLimits(max_header_bytes=2048))
    try:
        port = running.adapter.ports["ws"]
        with socket.create_connection(("127.0.0.1", port)) as sock:
            head = b"GET /mqtt HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 8192 + b"\r\n\r\n"
            with contextlib.suppress(OSError):  # the server may cut it off mid-way
                sock.sendall(head)
            answer = read_until_closed(sock)
        assert answer == b"" or answer.startswith(b"HTTP/1.1 431 "), answer[:40]
        client = Client(port, transport="websockets")
        assert client.subscribe("alive", 1) == [1]
        client.publish("alive", b"still served", 1)
        assert client.receive().payload == b"still served"
    finally:
        running.stop()
