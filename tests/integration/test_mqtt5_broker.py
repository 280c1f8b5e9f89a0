"""The broker engine speaking MQTT 5 to real clients (paho-mqtt 2, protocol version 5)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from paho.mqtt.packettypes import PacketTypes

from mainflux.adapters.mqtt import codec, codec5
from mainflux.adapters.mqtt.connection import Connection
from mainflux.adapters.mqtt.limits import BrokerLimits
from mainflux.adapters.mqtt.session import Session
from mainflux.adapters.mqtt.version5 import Version5
from mainflux.adapters.mqtt.version311 import Version311
from tests.integration.test_mqtt5_support import Client5, Raw5, properties
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


def test_connack_carries_the_server_limits(broker: RunningAdapter) -> None:
    client = Client5(broker.port, connect=False)
    rc, present, props = client.connect()
    assert (rc, present) == (0, False)
    assert props is not None
    assert props.ReceiveMaximum == 32
    assert props.MaximumPacketSize == BrokerLimits().max_packet_size
    assert props.TopicAliasMaximum == 0
    assert props.SharedSubscriptionAvailable == 0
    assert props.SubscriptionIdentifierAvailable == 1
    assert props.WildcardSubscriptionAvailable == 1
    assert props.RetainAvailable == 1
    client.close()


def test_an_empty_client_id_is_assigned_and_returned(broker: RunningAdapter) -> None:
    raw = Raw5(broker.port, "")
    assert raw.connack.codes == [0]
    assert raw.connack.properties[codec5.ASSIGNED_CLIENT_ID].startswith("auto-")
    raw.close()


def test_properties_reach_v5_subscribers_and_v3_subscribers_get_the_plain_message(
    broker: RunningAdapter,
) -> None:
    v5 = Client5(broker.port)
    v3 = Client(broker.port)
    assert v5.subscribe("mix/#", 1) == [1]
    assert v3.subscribe("mix/#", 1) == [1]
    sender = Client5(broker.port)
    props = properties(
        PacketTypes.PUBLISH,
        PayloadFormatIndicator=1,
        ContentType="text/plain",
        ResponseTopic="mix/reply",
        CorrelationData=b"\x00\x01",
        UserProperty=[("a", "1"), ("b", "2")],
    )
    sender.publish("mix/t", b"hello", 1, props=props)
    got = v5.receive()
    assert (got.topic, got.payload, got.qos) == ("mix/t", b"hello", 1)
    assert got.properties.ContentType == "text/plain"
    assert got.properties.ResponseTopic == "mix/reply"
    assert got.properties.CorrelationData == b"\x00\x01"
    assert got.properties.PayloadFormatIndicator == 1
    assert got.properties.UserProperty == [("a", "1"), ("b", "2")]
    plain = v3.receive()
    assert (plain.topic, plain.payload, plain.qos) == ("mix/t", b"hello", 1)
    v3.publish("mix/from3", b"old", 0)
    assert v5.receive().payload == b"old"
    for client in (v5, v3, sender):
        client.close()


def test_mqtt5_over_websocket(broker: RunningAdapter) -> None:
    port = broker.adapter.ports["ws"]
    client = Client5(port, transport="websockets")
    assert client.subscribe("ws5/#", 1) == [1]
    props = properties(PacketTypes.PUBLISH, ContentType="text/plain")
    client.publish("ws5/a", b"over ws", 1, props=props)
    got = client.receive()
    assert (got.payload, got.properties.ContentType) == (b"over ws", "text/plain")
    client.close()


def test_session_expiry_keeps_the_session_only_for_the_interval(broker: RunningAdapter) -> None:
    client = Client5(broker.port, "keeper", session_expiry=2)
    client.subscribe("kept/#", 1)
    client.close()
    sender = Client5(broker.port)
    sender.publish("kept/a", b"while away", 1)
    back = Client5(broker.port, "keeper", clean_start=False, session_expiry=1, connect=False)
    rc, present, _ = back.connect()
    assert (rc, present) == (0, True)
    assert back.receive().payload == b"while away"
    back.close()
    engine = broker.adapter.broker
    assert eventually(lambda: engine.session("keeper", "keeper") is None, timeout=4)  # after 1 s
    late = Client5(broker.port, "keeper", clean_start=False, session_expiry=1, connect=False)
    rc, present, _ = late.connect()
    assert (rc, present) == (0, False)
    sender.publish("kept/a", b"no subscription any more", 1)
    assert late.nothing(0.5)
    late.close()
    sender.close()


def one_second_later(broker: RunningAdapter, client_id: str) -> None:
    """Return once a second has passed on the broker's clock since the call: a reference
    session ended now with an expiry interval of 1 s has been discarded."""
    reference = Client5(broker.port, client_id, session_expiry=1)
    reference.close()
    engine = broker.adapter.broker
    assert engine.session(client_id, client_id) is not None
    assert eventually(lambda: engine.session(client_id, client_id) is None, timeout=5)


def test_session_expiry_zero_is_a_clean_session_and_disconnect_may_extend_it(
    broker: RunningAdapter,
) -> None:
    gone = Client5(broker.port, "zero")
    gone.subscribe("z/#", 1)
    gone.close()
    again = Client5(broker.port, "zero", clean_start=False, connect=False)
    assert again.connect()[1] is False
    again.close()
    extend = Client5(broker.port, "ext", session_expiry=1)
    extend.subscribe("e/#", 1)
    extend.close(properties(PacketTypes.DISCONNECT, SessionExpiryInterval=60))
    one_second_later(broker, "ext-reference")  # "ext" would have expired by then
    back = Client5(broker.port, "ext", clean_start=False, connect=False)
    assert back.connect()[1] is True
    back.close()


def test_queued_and_retained_messages_expire(broker: RunningAdapter) -> None:
    away = Client5(broker.port, "expiring", session_expiry=60)
    away.subscribe("exp/#", 1)
    away.close()
    sender = Client5(broker.port)
    short = properties(PacketTypes.PUBLISH, MessageExpiryInterval=1)
    long = properties(PacketTypes.PUBLISH, MessageExpiryInterval=100)
    sender.publish("exp/short", b"short", 1, props=short)
    sender.publish("exp/long", b"long", 1, props=long)
    sender.publish("exp/retained", b"stale", 1, retain=True, props=short)
    one_second_later(broker, "exp-reference")  # the short messages have expired by then
    back = Client5(broker.port, "expiring", clean_start=False, session_expiry=60)
    got = back.receive()
    assert got.payload == b"long"
    assert 0 < got.properties.MessageExpiryInterval <= 99
    assert back.nothing(0.5)
    fresh = Client5(broker.port)
    fresh.subscribe("exp/retained", 1)
    assert fresh.nothing(0.5)
    for client in (back, fresh, sender):
        client.close()


def test_no_local_and_retain_options(broker: RunningAdapter) -> None:
    client = Client5(broker.port)
    client.subscribe("nl/#", 1, noLocal=True, retainAsPublished=True)
    other = Client5(broker.port)
    client.publish("nl/own", b"mine", 1)
    other.publish("nl/theirs", b"theirs", 1, retain=True)
    got = client.receive()
    assert (got.payload, got.retain) == (b"theirs", True)
    assert client.nothing(0.3)
    watcher = Client5(broker.port)
    watcher.subscribe("nl/#", 0, retainHandling=2)
    assert watcher.nothing(0.3)
    watcher.subscribe("nl/#", 0, retainHandling=1)  # not new: no retained either
    assert watcher.nothing(0.3)
    watcher.subscribe("nl/theirs", 0, retainHandling=1)
    assert watcher.receive().payload == b"theirs"
    for c in (client, other, watcher):
        c.close()


def test_subscription_identifiers_come_with_the_messages_they_matched(
    broker: RunningAdapter,
) -> None:
    sender = Client5(broker.port)
    sender.publish("ids/a", b"retained", 0, retain=True)
    client = Client5(broker.port)
    ident = properties(PacketTypes.SUBSCRIBE, SubscriptionIdentifier=456789)
    assert client.subscribe("ids/a", 1, props=ident) == [1]
    assert client.receive().properties.SubscriptionIdentifier == [456789]
    second = properties(PacketTypes.SUBSCRIBE, SubscriptionIdentifier=2)
    client.subscribe("ids/#", 1, props=second, retainHandling=2)
    client.subscribe("ids/+", 0, retainHandling=2)
    sender.publish("ids/a", b"both", 1)
    got = client.receive()
    assert (got.payload, got.qos) == (b"both", 1)
    assert sorted(got.properties.SubscriptionIdentifier) == [2, 456789]
    sender.publish("ids/a", b"", 0, retain=True)
    client.close()
    sender.close()


def test_suback_and_unsuback_reason_codes(broker: RunningAdapter) -> None:
    client = Client5(broker.port)
    assert client.subscribe("ok/+", 2) == [2]
    assert client.subscribe("test/nosubscribe", 1) == [1]  # refused only when configured
    assert client.subscribe("$share/g/x", 1) == [0x9E]
    assert client.unsubscribe("ok/+", "never/subscribed") == [0, 0x11]
    client.close()
    raw = Raw5(broker.port)
    raw.send(codec5.encode_subscribe(7, [("bad/#/x", 1), ("good/#", 1)]))
    suback = raw.read(1)[0]
    assert (suback.kind, suback.packet_id, suback.codes) == (codec.SUBACK, 7, [0x8F, 1])
    raw.close()


def test_each_connection_takes_its_version_part_and_decoder_at_connect(
    broker: RunningAdapter,
) -> None:
    Client5(broker.port, "speaks-5")
    Client(broker.port, "speaks-3")

    async def connections() -> dict[str, Connection]:
        return {c.client_id: c for c in broker.adapter.broker.connections}  # type: ignore[misc]

    found = broker.run(connections())
    v5, v3 = found["speaks-5"], found["speaks-3"]
    assert type(v5) is Connection and type(v3) is Connection
    assert (type(v5.version), type(v5.decoder)) == (Version5, codec5.Decoder5)
    assert (type(v3.version), type(v3.decoder)) == (Version311, codec.Decoder)
    assert type(v5.session) is Session and type(v3.session) is Session


def test_subscription_options_apply_while_a_version_5_client_holds_the_session(
    broker: RunningAdapter,
) -> None:
    first = Client5(broker.port, "swapper", clean_start=False, session_expiry=60)
    assert first.subscribe("opt/#", 1, noLocal=True) == [1]
    first.close()
    v3 = Client(broker.port, "swapper", clean=False)
    v3.publish("opt/own", b"3.1.1 has no no-local", 1)
    assert v3.receive().payload == b"3.1.1 has no no-local"
    v3.close()
    again = Client5(broker.port, "swapper", clean_start=False, session_expiry=60)
    other = Client5(broker.port)
    again.publish("opt/own", b"not back to its publisher", 1)
    other.publish("opt/theirs", b"theirs", 1)
    assert again.receive().payload == b"theirs"
    for client in (again, other):
        client.close()


def test_a_v3_and_a_v5_client_take_over_each_other(broker: RunningAdapter) -> None:
    first = Client5(broker.port, "same")
    second = Client5(broker.port, "same")
    assert first.disconnect_reason() == codec5.SESSION_TAKEN_OVER
    third = Client(broker.port, "same")
    assert second.disconnect_reason() == codec5.SESSION_TAKEN_OVER
    assert third.subscribe("to/#", 1) == [1]
    third.close()


def test_keepalive_timeout_is_reported(broker: RunningAdapter) -> None:
    short = Raw5(broker.port, "sleepy", keepalive=1)
    assert short.connack.codes == [0]
    packets = short.until_closed()
    assert [(p.kind, p.reason) for p in packets] == [(codec.DISCONNECT, 0x8D)]
    short.close()


def test_protocol_errors_get_a_disconnect_with_a_reason(broker: RunningAdapter) -> None:
    cases = [
        (codec5.encode_publish("a", b"", 0, props={codec5.TOPIC_ALIAS: 1}), 0x94),
        (b"\x30\x05\x00\x01a\x02\x26", 0x81),  # properties run past the packet
        (b"\x30\x08\x00\x01a\x04\x01\x01\x01\x01", 0x82),  # payload format twice
        (b"\xf0\x00", 0x82),  # AUTH without a method
        (codec5.encode_subscribe(1, [("a", 1)], {codec5.SUBSCRIPTION_ID: 0}), 0x82),
        (codec5.encode_connect(codec.Connect("again")), 0x82),
        (b"\x30" + codec.remaining_length(3_000_000), 0x95),
    ]
    healthy = Client5(broker.port)
    healthy.subscribe("alive", 0)
    for data, reason in cases:
        raw = Raw5(broker.port)
        raw.send(data)
        packets = raw.until_closed()
        assert [(p.kind, p.reason) for p in packets] == [(codec.DISCONNECT, reason)], data
        raw.close()
    healthy.publish("alive", b"still here", 0)
    assert healthy.receive().payload == b"still here"
    healthy.close()


def test_connect_refusals_are_version_5_connacks(broker: RunningAdapter) -> None:
    method = codec5.encode_connect(codec.Connect("m"), {codec5.AUTH_METHOD: "SCRAM-SHA-1"})
    assert raw_connect(broker.port, method) == b"\x20\x03\x00\x8c\x00"
    future = bytearray(codec5.encode_connect(codec.Connect("f")))
    future[8] = 6  # protocol level 6
    assert raw_connect(broker.port, bytes(future)) == b"\x20\x03\x00\x84\x00"
    big = codec5.encode_connect(codec.Connect("b" * 100))
    small = standalone(BrokerLimits(max_packet_size=64))
    try:
        assert raw_connect(small.port, big) == b"\x20\x03\x00\x95\x00"
    finally:
        small.stop()
    bad = b"\x10\x0f\x00\x04MQTT\x05\x02\x00\x3c\x02\x7f\x00\x00\x00"  # unknown property
    assert raw_connect(broker.port, bad) == b"\x20\x03\x00\x81\x00"


def test_client_maximum_packet_size_and_receive_maximum_are_honoured(
    broker: RunningAdapter,
) -> None:
    small = Raw5(
        broker.port, "small", props={codec5.MAXIMUM_PACKET_SIZE: 40, codec5.RECEIVE_MAXIMUM: 1}
    )
    small.send(codec5.encode_subscribe(1, [("size/#", 1)]))
    assert small.read(1)[0].codes == [1]
    sender = Client5(broker.port)
    sender.publish("size/a", b"x" * 100, 1)  # too big for the client: dropped
    sender.publish("size/b", b"one", 1)
    sender.publish("size/c", b"two", 1)
    first = small.read(1)[0]
    assert (first.topic, first.payload) == ("size/b", b"one")
    small.sock.settimeout(0.5)
    with pytest.raises(TimeoutError):
        small.read(1)  # one in flight at most until acknowledged
    small.sock.settimeout(5)
    small.send(codec5.encode_ack(codec.PUBACK, first.packet_id))
    assert small.read(1)[0].payload == b"two"
    assert broker.adapter.broker.stats.too_large_dropped == 1
    small.close()
    sender.close()


def test_will_with_properties_and_disconnect_with_will(broker: RunningAdapter) -> None:
    watcher = Client5(broker.port)
    watcher.subscribe("wills/#", 0)
    will_props = properties(PacketTypes.WILLMESSAGE, ContentType="text/plain")
    dying = Client5(broker.port, will=("wills/a", b"gone", 0, False, will_props))
    dying.drop()
    got = watcher.receive()
    assert (got.payload, got.properties.ContentType) == (b"gone", "text/plain")
    polite = Client5(broker.port, will=("wills/b", b"bye", 0, False, None))
    polite.close(reason=codec5.DISCONNECT_WITH_WILL)
    assert watcher.receive().payload == b"bye"
    quiet = Client5(broker.port, will=("wills/c", b"never", 0, False, None))
    quiet.close()
    assert watcher.nothing(0.3)
    watcher.close()


def test_a_will_delay_is_cancelled_by_coming_back(broker: RunningAdapter) -> None:
    watcher = Client5(broker.port)
    watcher.subscribe("delayed/#", 0)
    will_props = properties(PacketTypes.WILLMESSAGE, WillDelayInterval=1)
    will = ("delayed/a", b"late", 0, False, will_props)
    first = Client5(broker.port, "delayer", session_expiry=60, will=will)
    first.drop()
    back = Client5(broker.port, "delayer", clean_start=False, session_expiry=60, will=will)
    assert watcher.nothing(1.5)
    back.drop()
    assert watcher.receive(timeout=3).payload == b"late"
    watcher.close()


def test_qos2_exchange_and_refused_pubrec_end_the_flow(broker: RunningAdapter) -> None:
    sub = Raw5(broker.port, "q2")
    sub.send(codec5.encode_subscribe(1, [("q2/#", 2)]))
    assert sub.read(1)[0].codes == [2]
    sender = Client5(broker.port)
    sender.publish("q2/a", b"exactly once", 2)
    first = sub.read(1)[0]
    assert (first.qos, first.payload) == (2, b"exactly once")
    sub.send(codec5.encode_ack(codec.PUBREC, first.packet_id, 0x80))  # client gives up
    sub.send(codec5.encode_ack(codec.PUBREL, 999))
    reply = sub.read(1)[0]
    assert (reply.kind, reply.packet_id, reply.reason) == (codec.PUBCOMP, 999, 0x92)
    session = broker.adapter.broker.session("q2", "q2")
    assert session is not None and session.inflight == {}
    sub.close()
    sender.close()
