"""The broker engine as a plain MQTT 3.1.1 broker, driven by real clients."""

from __future__ import annotations

import socket
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from mainflux.adapters.mqtt import codec
from mainflux.adapters.mqtt.limits import BrokerLimits
from tests.integration.test_mqtt_support import (
    Client,
    RunningAdapter,
    eventually,
    raw_connect,
    standalone,
)


@pytest.fixture
def broker() -> Iterator[RunningAdapter]:
    running = standalone()
    yield running
    running.stop()


def raw_session(port: int, client_id: str, clean: bool = True) -> socket.socket:
    """A raw socket that has completed CONNECT; the caller drives the rest."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(codec.encode_connect(codec.Connect(client_id, clean_session=clean)))
    assert read_packets(sock, 1)[0].kind == codec.CONNACK
    return sock


def read_packets(sock: socket.socket, count: int) -> list[codec.Packet]:
    decoder = codec.Decoder()
    packets: list[codec.Packet] = []
    while len(packets) < count:
        data = sock.recv(65536)
        assert data, "connection closed"
        packets += decoder.feed(data)
    return packets


def test_each_qos_is_delivered_at_the_lower_of_published_and_granted(
    broker: RunningAdapter,
) -> None:
    sub = Client(broker.port)
    assert sub.subscribe("q/#", 1) == [1]
    pub = Client(broker.port)
    for qos in (0, 1, 2):
        pub.publish(f"q/{qos}", f"m{qos}".encode(), qos)
    got = sorted((m.topic, m.payload, m.qos) for m in (sub.receive() for _ in range(3)))
    assert got == [("q/0", b"m0", 0), ("q/1", b"m1", 1), ("q/2", b"m2", 1)]
    pub.close()
    sub.close()


def test_qos2_is_delivered_exactly_once_even_when_the_publisher_repeats(
    broker: RunningAdapter,
) -> None:
    sub = Client(broker.port)
    sub.subscribe("exact", 2)
    sock = raw_session(broker.port, "raw-pub")
    first = codec.encode_publish("exact", b"once", 2, 77)
    again = codec.encode_publish("exact", b"once", 2, 77, dup=True)
    sock.sendall(first + again)
    acks = read_packets(sock, 2)
    assert [(a.kind, a.packet_id) for a in acks] == [(codec.PUBREC, 77)] * 2  # type: ignore[union-attr]
    sock.sendall(codec.encode_ack(codec.PUBREL, 77))
    assert read_packets(sock, 1)[0].kind == codec.PUBCOMP
    message = sub.receive()
    assert (message.payload, message.qos) == (b"once", 2)
    assert sub.nothing()
    for i in range(20):
        Client(broker.port).publish("exact", str(i).encode(), 2)
    received = [sub.receive().payload for _ in range(20)]
    assert sorted(received) == sorted(str(i).encode() for i in range(20))
    assert sub.nothing()
    sock.close()
    sub.close()


def test_retained_message_is_sent_on_subscribe_and_cleared_by_an_empty_one(
    broker: RunningAdapter,
) -> None:
    pub = Client(broker.port)
    pub.publish("r/a", b"kept", 1, retain=True)
    sub = Client(broker.port)
    sub.subscribe("r/+", 1)
    message = sub.receive()
    assert (message.topic, message.payload, message.retain) == ("r/a", b"kept", True)
    pub.publish("r/a", b"live", 1, retain=True)
    assert sub.receive().retain is False
    pub.publish("r/a", b"", 1, retain=True)
    sub.receive()
    late = Client(broker.port)
    late.subscribe("r/#", 1)
    assert late.nothing()
    for c in (pub, sub, late):
        c.close()


def test_will_is_published_on_abrupt_close_but_not_after_disconnect(
    broker: RunningAdapter,
) -> None:
    watcher = Client(broker.port)
    watcher.subscribe("wills/#", 1)
    dying = Client(broker.port, will=("wills/a", b"gone", 1, False))
    dying.drop()
    message = watcher.receive()
    assert (message.topic, message.payload) == ("wills/a", b"gone")
    polite = Client(broker.port, will=("wills/b", b"gone", 1, False))
    polite.close()
    assert watcher.nothing(0.5)
    watcher.close()


def test_keepalive_timeout_closes_the_client_and_publishes_its_will(
    broker: RunningAdapter,
) -> None:
    watcher = Client(broker.port)
    watcher.subscribe("ka", 0)
    sock = socket.create_connection(("127.0.0.1", broker.port), timeout=5)
    connect = codec.Connect("silent", keepalive=1, will=codec.Will("ka", b"timeout", 0, False))
    sock.sendall(codec.encode_connect(connect))
    assert read_packets(sock, 1)[0].kind == codec.CONNACK
    assert watcher.receive(timeout=6).payload == b"timeout"
    assert sock.recv(10) == b""
    sock.close()
    assert broker.adapter.broker.stats.keepalive_timeouts == 1
    watcher.close()


def test_persistent_session_keeps_subscriptions_and_queues_while_offline(
    broker: RunningAdapter,
) -> None:
    sub = Client(broker.port, "persistent", clean=False)
    sub.subscribe("p/#", 1)
    sub.close()
    engine = broker.adapter.broker
    assert eventually(lambda: engine.sessions["persistent"]["persistent"].conn is None)
    pub = Client(broker.port)
    for i in range(3):
        pub.publish("p/x", f"m{i}".encode(), 1)
    pub.publish("p/x", b"qos0 is not queued", 0)
    # (the broker has it before the client comes back: QoS 0 goes out without an ack)
    assert eventually(lambda: engine.stats.messages_in == 4)
    back = Client(broker.port, "persistent", clean=False, connect=False)
    assert back.connect() == (0, True)
    assert [back.receive().payload for _ in range(3)] == [b"m0", b"m1", b"m2"]
    assert back.nothing()
    back.close()
    fresh = Client(broker.port, "persistent", clean=True, connect=False)
    assert fresh.connect() == (0, False)
    fresh.close()
    pub.close()


def test_unacknowledged_messages_are_resent_with_dup_after_reconnect(
    broker: RunningAdapter,
) -> None:
    sock = raw_session(broker.port, "forgetful", clean=False)
    sock.sendall(codec.encode_subscribe(1, [("dup/#", 2)]))
    assert read_packets(sock, 1)[0].kind == codec.SUBACK
    pub = Client(broker.port)
    pub.publish("dup/1", b"one", 1)
    pub.publish("dup/2", b"two", 2)
    first = read_packets(sock, 2)
    assert [p.dup for p in first] == [False, False]  # type: ignore[union-attr]
    sock.close()
    session = broker.adapter.broker.session("forgetful", "forgetful")
    assert eventually(lambda: session is not None and session.conn is None), "session absent"
    sock = socket.create_connection(("127.0.0.1", broker.port), timeout=5)
    sock.sendall(codec.encode_connect(codec.Connect("forgetful", clean_session=False)))
    connack, *again = read_packets(sock, 3)
    assert isinstance(connack, codec.Connack) and connack.session_present
    assert [(p.payload, p.qos, p.dup) for p in again] == [  # type: ignore[union-attr]
        (b"one", 1, True),
        (b"two", 2, True),
    ]
    sock.close()
    pub.close()


def test_a_new_connection_takes_over_the_client_id(broker: RunningAdapter) -> None:
    first = Client(broker.port, "same-id")
    second = Client(broker.port, "same-id")
    assert first.disconnected.wait(5)
    second.subscribe("t", 0)
    Client(broker.port).publish("t", b"still works", 1)
    assert second.receive().payload == b"still works"
    second.close()


def test_unsubscribe_stops_delivery(broker: RunningAdapter) -> None:
    sub = Client(broker.port)
    sub.subscribe("u/1", 1)
    sub.subscribe("u/marker", 1)
    sub.unsubscribe("u/1")
    pub = Client(broker.port)
    pub.publish("u/1", b"x", 1)
    pub.publish("u/marker", b"after x", 1)
    assert sub.receive().payload == b"after x", "x, published first, was not delivered"
    sub.close()
    pub.close()


def test_empty_client_id_needs_a_clean_session(broker: RunningAdapter) -> None:
    persistent = codec.encode_connect(codec.Connect("", clean_session=False))
    assert raw_connect(broker.port, persistent) == codec.encode_connack(False, 2)
    clean = Client(broker.port, "")
    clean.close()


MALFORMED = {
    "garbage": b"\xff\xff\xff\xff\xff",
    "wrong-protocol-name": b"\x10\x0b\x00\x02hj\x04\x02\x00\x00\x00\x01a",
    "oversized-remaining-length": b"\x30" + codec.remaining_length(50_000_000),
    "publish-before-connect": codec.encode_publish("a", b"x"),
    "second-connect": codec.encode_connect(codec.Connect("two"))
    + codec.encode_connect(codec.Connect("two")),
    "invalid-utf8-topic": codec.encode_connect(codec.Connect("utf"))
    + codec.encode_publish(b"a/\xc3\x28", b"x"),
    "invalid-filter": codec.encode_connect(codec.Connect("flt"))
    + codec.encode_subscribe(1, [("a/#/b", 0)]),
}


@pytest.mark.parametrize("data", list(MALFORMED.values()), ids=list(MALFORMED))
def test_bad_input_closes_only_the_offending_connection(
    broker: RunningAdapter, data: bytes
) -> None:
    bystander = Client(broker.port)
    bystander.subscribe("alive", 1)
    reply = raw_connect(broker.port, data)
    assert codec.encode_connack(False, 0) * 2 not in reply
    Client(broker.port).publish("alive", b"yes", 1)
    assert bystander.receive().payload == b"yes"
    assert broker.adapter.broker.stats.protocol_errors >= 1
    bystander.close()


def test_connections_beyond_the_limit_are_refused() -> None:
    running = standalone(BrokerLimits(max_connections=2))
    try:
        one, two = Client(running.port), Client(running.port)
        with pytest.raises(Exception):  # noqa: B017 - closed before any CONNACK
            Client(running.port)
        assert running.adapter.broker.stats.connections_refused == 1
        one.close()
        two.close()
    finally:
        running.stop()


def test_a_subscriber_that_stays_full_loses_qos0_then_is_disconnected() -> None:
    limits = BrokerLimits(max_outbound_bytes=64 * 1024, slow_client_timeout=1)
    running = standalone(limits)
    try:
        slow = socket.socket()
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.connect(("127.0.0.1", running.port))
        slow.sendall(codec.encode_connect(codec.Connect("slow")))
        slow.sendall(codec.encode_subscribe(1, [("flood", 0)]))
        slow.settimeout(5)
        assert [p.kind for p in read_packets(slow, 2)] == [codec.CONNACK, codec.SUBACK]
        pub = Client(running.port)
        payload = b"x" * 32 * 1024
        stats = running.adapter.broker.stats
        assert eventually(lambda: pub.publish("flood", payload, 1) or stats.dropped_qos0 > 0)
        assert eventually(lambda: stats.slow_disconnects == 1, timeout=8)
        pub.publish("flood", b"publisher unaffected", 1)
        pub.close()
        slow.close()
    finally:
        running.stop()


def test_mosquitto_clients_interoperate(broker: RunningAdapter) -> None:
    port = str(broker.port)
    sub = subprocess.Popen(
        ["mosquitto_sub", "-p", port, "-t", "mosq/#", "-q", "2", "-C", "2", "-v"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert eventually(lambda: broker.adapter.broker.tree.count == 1)
    for qos in ("1", "2"):
        subprocess.run(
            ["mosquitto_pub", "-p", port, "-t", f"mosq/{qos}", "-m", f"q{qos}", "-q", qos],
            check=True,
            timeout=10,
        )
    out, _ = sub.communicate(timeout=10)
    assert out.splitlines() == ["mosq/1 q1", "mosq/2 q2"]


def test_mqtt_over_websocket(broker: RunningAdapter) -> None:
    ws_port = broker.adapter.ports["ws"]
    sub = Client(ws_port, transport="websockets")
    sub.subscribe("ws/#", 1)
    Client(broker.port).publish("ws/a", b"over ws", 1)
    assert sub.receive().payload == b"over ws"
    sub.publish("ws/b", b"from ws", 1)
    assert sub.receive().payload == b"from ws"
    sub.close()


def test_mqtt_over_tls(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    running = standalone(tls_port=0, server_cert=str(cert), server_key=str(key))
    try:
        port = running.adapter.ports["mqtts"]
        tls = {"ca_certs": str(cert), "cert_reqs": ssl.CERT_REQUIRED}
        client = Client(port, tls=tls)
        client.subscribe("tls", 1)
        client.publish("tls", b"secret", 1)
        assert client.receive().payload == b"secret"
        client.close()
    finally:
        running.stop()


def test_the_standalone_broker_refuses_only_the_filters_it_is_told() -> None:
    running = standalone(standalone_refused_filters=("test/nosubscribe", "private/#"))
    try:
        client = Client(running.port)
        assert client.subscribe("test/nosubscribe", 1) == [0x80]
        assert client.subscribe("private/#", 1) == [0x80]
        assert client.subscribe("private/x", 1) == [1]  # refused as written, not by matching
        from tests.integration.test_mqtt5_support import Client5

        assert Client5(running.port).subscribe("test/nosubscribe", 1) == [0x80]  # as Paho expects
    finally:
        running.stop()
