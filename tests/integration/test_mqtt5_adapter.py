"""The Mainflux MQTT adapter speaking MQTT 5: reason codes of Mainflux's rules, the bus."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from paho.mqtt.packettypes import PacketTypes

from mainflux.adapters.mqtt import codec, codec5
from mainflux.messaging.envelope import Message
from tests.integration.test_mqtt5_support import Client5, Raw5, properties
from tests.integration.test_mqtt_adapter import Platform
from tests.integration.test_mqtt_support import eventually, raw_connect


@pytest.fixture
def platform() -> Iterator[Platform]:
    running = Platform()
    yield running
    running.stop()


def channel() -> str:
    return str(uuid.uuid4())


def refused(port: int, username: str | None, password: str | None) -> bytes:
    """The version 5 CONNACK of a refused CONNECT (the broker then closes)."""
    connect = codec.Connect(
        "c5", username=username, password=None if password is None else password.encode()
    )
    return raw_connect(port, codec5.encode_connect(connect))


def test_connect_refusals_carry_version_5_reason_codes(platform: Platform) -> None:
    thing_id, key = platform.things.thing()
    other_id, _ = platform.things.thing()
    assert refused(platform.port, thing_id, "wrong key") == b"\x20\x03\x00\x86\x00"
    assert refused(platform.port, other_id, key) == b"\x20\x03\x00\x87\x00"
    assert refused(platform.port, None, None) == b"\x20\x03\x00\x86\x00"
    client = Client5(platform.port, username=thing_id, password=key)
    client.close()


def test_an_unreachable_things_service_is_server_unavailable(platform: Platform) -> None:
    thing_id, key = platform.things.thing()
    platform.things.down = True
    assert refused(platform.port, thing_id, key) == b"\x20\x03\x00\x88\x00"


def test_refused_filters_get_0x87(platform: Platform) -> None:
    mine, theirs = channel(), channel()
    thing_id, key = platform.things.thing(mine)
    client = Client5(platform.port, username=thing_id, password=key)
    assert client.subscribe(f"channels/{mine}/messages/#", 1) == [1]
    assert client.subscribe(f"channels/{theirs}/messages", 1) == [0x87]
    assert client.subscribe("channels/+/messages", 0) == [0x87]
    client.close()


def test_a_refused_publish_gets_0x87_then_disconnect_0x87(platform: Platform) -> None:
    mine, theirs = channel(), channel()
    thing_id, key = platform.things.thing(mine)
    client = Client5(platform.port, username=thing_id, password=key)
    client.paho.publish(f"channels/{theirs}/messages", b"nope", 0)
    assert client.disconnect_reason() == codec5.NOT_AUTHORIZED
    raw = Raw5(platform.port, "raw")
    assert raw.connack.codes == [0x86]  # no credentials
    raw.close()
    raw = Raw5(platform.port, "raw", username=thing_id, password=key)
    assert raw.connack.codes == [0]
    raw.send(codec5.encode_publish(f"channels/{theirs}/messages", b"nope", 1, 5))
    packets = raw.until_closed()
    assert [(p.kind, p.packet_id, p.reason) for p in packets[:1]] == [(codec.PUBACK, 5, 0x87)]
    assert (packets[1].kind, packets[1].reason) == (codec.DISCONNECT, 0x87)
    raw.close()
    assert platform.on_bus == []


def test_v5_messages_reach_the_bus_and_bus_messages_reach_v5_subscribers(
    platform: Platform,
) -> None:
    chan = channel()
    pub_id, pub_key = platform.things.thing(chan)
    sub_id, sub_key = platform.things.thing(chan)
    subscriber = Client5(platform.port, username=sub_id, password=sub_key)
    subscriber.subscribe(f"channels/{chan}/messages/#", 1)
    publisher = Client5(platform.port, username=pub_id, password=pub_key)
    props = properties(PacketTypes.PUBLISH, ContentType="application/senml+json")
    publisher.publish(f"channels/{chan}/messages/t", b'[{"v":2}]', 1, props=props)
    assert eventually(lambda: len(platform.on_bus) == 1)
    sent = platform.on_bus[0]
    assert (sent.channel, sent.subtopic, sent.publisher, sent.payload) == (
        chan,
        "t",
        pub_id,
        b'[{"v":2}]',
    )
    got = subscriber.receive()
    assert (got.payload, got.properties.ContentType) == (b'[{"v":2}]', "application/senml+json")
    other = Message(chan, "h", "http-thing", "http", b"from http")
    platform.running.run(platform.bus.publish(other))
    got = subscriber.receive()
    assert (got.topic, got.payload, got.qos) == (f"channels/{chan}/messages/h", b"from http", 1)
    subscriber.close()
    publisher.close()
