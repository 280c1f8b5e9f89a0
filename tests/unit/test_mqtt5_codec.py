"""The MQTT 5 codec: properties, version 5 packets, the decoder switch, and fuzzing."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mainflux.adapters.mqtt import codec, codec5
from mainflux.adapters.mqtt.codec import Connect, ProtocolError
from mainflux.adapters.mqtt.codec5 import Decoder5
from mainflux.adapters.mqtt.handshake import FirstDecoder as Decoder


def decode5(data: bytes) -> Any:
    packets = Decoder5().feed(data)
    assert len(packets) == 1
    return packets[0]


def test_a_version_5_connect_is_decoded_by_the_3_1_1_decoder() -> None:
    props = {
        codec5.SESSION_EXPIRY: 300,
        codec5.RECEIVE_MAXIMUM: 10,
        codec5.MAXIMUM_PACKET_SIZE: 4096,
        codec5.USER_PROPERTY: [("a", "b"), ("a", "c")],
    }
    data = codec5.encode_connect(
        Connect("dev", clean_session=False, keepalive=30, username="u", password=b"p"), props
    )
    got = Decoder().feed(data)[0]
    assert isinstance(got, codec5.Connect5)
    assert (got.client_id, got.clean_session, got.keepalive) == ("dev", False, 30)
    assert (got.username, got.password, got.protocol_level) == ("u", b"p", 5)
    assert (got.session_expiry, got.receive_maximum, got.max_packet_size) == (300, 10, 4096)


def test_packets_behind_a_connect_decode_as_version_5_after_the_switch() -> None:
    connect = codec5.encode_connect(Connect("x"))
    publish = codec5.encode_publish("t", b"p", 1, 9, props={codec5.CONTENT_TYPE: "c"})
    decoder = Decoder()
    decoder.push(connect + publish)
    assert isinstance(decoder.next(), codec5.Connect5)
    decoder.__class__ = Decoder5
    got = decoder.next()
    assert isinstance(got, codec5.Publish5)
    assert (got.topic, got.payload, got.packet_id) == ("t", b"p", 9)
    assert got.properties == b"\x03\x00\x01c"


def test_a_decoder_following_another_decodes_what_that_one_still_held() -> None:
    connect = codec5.encode_connect(Connect("x"))
    publish = codec5.encode_publish("t", b"p", 1, 9, props={codec5.CONTENT_TYPE: "c"})
    first = Decoder(4096)
    first.push(connect + publish + publish[:5])
    assert isinstance(first.next(), codec5.Connect5)
    decoder = Decoder5.following(first)
    assert (decoder.max_packet_size, decoder.buffered) == (4096, len(publish) + 5)
    assert first.buffered == 0
    decoder.push(publish[5:])
    got = decoder.feed(b"")
    assert [(p.topic, p.packet_id, p.properties) for p in got] == [("t", 9, b"\x03\x00\x01c")] * 2


def test_publish_properties_are_forwarded_as_received_with_the_remaining_expiry() -> None:
    props = {
        codec5.PAYLOAD_FORMAT: 1,
        codec5.MESSAGE_EXPIRY: 50,
        codec5.CORRELATION_DATA: b"\x00\xff",
        codec5.USER_PROPERTY: [("k", "v")],
    }
    got = decode5(codec5.encode_publish("a/b", b"body", 0, props=props))
    assert got.expires_at > 0
    assert got.wire0() == codec.encode_publish("a/b", b"body")  # 3.1.1 form, no properties
    block = codec5.outgoing_properties(got)
    expected = b"\x01\x01\x09\x00\x02\x00\xff\x26\x00\x01k\x00\x01v\x02\x00\x00\x00\x32"
    assert block == bytes([len(expected)]) + expected
    assert codec5.outgoing_properties(codec.Publish("a", b"")) == b"\x00"


def test_acks_subscribe_unsubscribe_and_disconnect_decode() -> None:
    ack = decode5(b"\x40\x03\x00\x07\x10")
    assert (ack.kind, ack.packet_id, ack.reason) == (codec.PUBACK, 7, 0x10)
    sub = decode5(codec5.encode_subscribe(3, [("a/#", 0x2D)]))
    assert (sub.packet_id, sub.topics, sub.subscription_id) == (3, [("a/#", 0x2D)], None)
    unsub = decode5(b"\xa2\x06\x00\x04\x00\x00\x01a")
    assert (unsub.packet_id, unsub.topics) == (4, ["a"])
    bye = decode5(b"\xe0\x07\x04\x05\x11\x00\x00\x00\x3c")
    assert (bye.kind, bye.reason, bye.session_expiry) == (codec.DISCONNECT, 4, 60)
    assert decode5(b"\xe0\x00").reason == 0


def test_server_packets_encode_as_the_spec_says() -> None:
    assert codec5.encode_connack(False, 0x86) == b"\x20\x03\x00\x86\x00"
    assert codec5.encode_ack(codec.PUBACK, 5) == b"\x40\x02\x00\x05"
    assert codec5.encode_ack(codec.PUBREC, 5, 0x87) == b"\x50\x03\x00\x05\x87"
    assert codec5.encode_suback(5, [1, 0x87]) == b"\x90\x05\x00\x05\x00\x01\x87"
    assert codec5.encode_disconnect(0x8D) == b"\xe0\x02\x8d\x00"
    connack = decode5(codec5.encode_connack(True, 0, {codec5.RECEIVE_MAXIMUM: 32}))
    assert (connack.session_present, connack.codes) == (True, [0])
    assert connack.properties[codec5.RECEIVE_MAXIMUM] == 32


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"\x30\x05\x00\x01a\x02\x26", 0x81),  # properties past the packet
        (b"\x30\x06\x00\x01a\x02\x7f\x00", 0x81),  # unknown property
        (b"\x30\x08\x00\x01a\x04\x01\x01\x01\x01", 0x82),  # repeated property
        (b"\x30\x06\x00\x01a\x02\x01\x02", 0x82),  # payload format 2
        (b"\x30\x06\x00\x01a\x02\x11\x00", 0x82),  # session expiry in a PUBLISH
        (b"\x30\x06\x00\x01a\x02\x23\x00", 0x81),  # topic alias cut short
        (b"\x30\x07\x00\x01a\x03\x23\x00\x01", 0x94),  # topic alias
        (b"\x30\x03\x00\x00\x00", 0x82),  # empty topic without alias
        (b"\x30\x09\x00\x01a\x05\x08\x00\x02a#", 0x82),  # wildcard response topic
        (b"\x82\x07\x00\x01\x00\x00\x01a\xc0", 0x81),  # reserved subscription options
        (b"\x82\x07\x00\x01\x00\x00\x01a\x30", 0x81),  # retain handling 3
        (b"\x82\x03\x00\x01\x00", 0x82),  # no filters
        (b"\xe0\x06\x00\x04\x1c\x00\x01x", 0x82),  # server reference from a client
        (b"\x10\x0f\x00\x04MQTT\x05\x02\x00\x3c\x02\x21\x00\x00\x00", 0x81),  # short value
        (b"\x10\x10\x00\x04MQTT\x05\x02\x00\x3c\x03\x21\x00\x00\x00\x00", 0x82),  # rx max 0
    ],
)
def test_malformed_properties_raise_protocol_error_with_a_reason(data: bytes, code: int) -> None:
    decoder: Decoder = Decoder() if data[0] >> 4 == codec.CONNECT else Decoder5()
    with pytest.raises(ProtocolError) as raised:
        decoder.feed(data)
    assert raised.value.code == code


def test_an_oversized_version_5_connect_is_recognised_before_its_body() -> None:
    head = codec5.encode_connect(Connect("x" * 200))[:12]
    with pytest.raises(ProtocolError) as raised:
        Decoder(100).feed(head)
    assert (raised.value.code, raised.value.level) == (0x95, 5)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300), st.integers(min_value=1, max_value=64))
def test_random_bytes_raise_nothing_but_protocol_error(data: bytes, chunk: int) -> None:
    decoder = Decoder5(1024)
    try:
        for start in range(0, len(data), chunk):
            decoder.feed(data[start : start + chunk])
    except ProtocolError:
        pass


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(range(1, 16)), st.integers(0, 15), st.binary(max_size=64))
def test_random_bodies_under_any_header_raise_nothing_but_protocol_error(
    kind: int, flags: int, body: bytes
) -> None:
    data = bytes([(kind << 4) | flags]) + codec.remaining_length(len(body)) + body
    try:
        packets = Decoder5().feed(data)
    except ProtocolError:
        return
    assert len(packets) == 1


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=40), st.sampled_from([0x30, 0x32, 0x82, 0x40, 0xE0, 0xA2, 0x10]))
def test_random_property_blocks_raise_nothing_but_protocol_error(props: bytes, first: int) -> None:
    if first == 0x10:
        head = b"\x00\x04MQTT\x05\x02\x00\x3c"
        tail = b"\x00\x01c"
    elif first in (0x30, 0x32):
        head = b"\x00\x01t" + (b"\x00\x01" if first == 0x32 else b"")
        tail = b"payload"
    elif first == 0xE0:
        head, tail = b"\x00", b""
    elif first == 0x40:
        head, tail = b"\x00\x01\x00", b""
    else:
        head, tail = b"\x00\x01", b"\x00\x01a" + (b"\x01" if first == 0x82 else b"")
    body = head + codec.remaining_length(len(props)) + props + tail
    data = bytes([first]) + codec.remaining_length(len(body)) + body
    decoder: Decoder = Decoder() if first == 0x10 else Decoder5()
    try:
        packets = decoder.feed(data)
    except ProtocolError as exc:
        assert exc.code in (0x81, 0x82, 0x94)
        return
    assert len(packets) == 1


@settings(max_examples=200, deadline=None)
@given(
    st.text(min_size=1, max_size=30).filter(
        lambda t: "+" not in t and "#" not in t and "\x00" not in t
    ),
    st.binary(max_size=100),
    st.integers(0, 2),
    st.lists(
        st.tuples(st.text(max_size=8), st.text(max_size=8)).filter(
            lambda p: "\x00" not in p[0] + p[1]
        ),
        max_size=3,
    ),
)
def test_any_valid_version_5_publish_round_trips(
    topic: str, payload: bytes, qos: int, pairs: list[tuple[str, str]]
) -> None:
    props = {codec5.USER_PROPERTY: pairs} if pairs else None
    got = decode5(codec5.encode_publish(topic, payload, qos, 1 if qos else 0, props=props))
    assert (got.topic, got.payload, got.qos) == (topic, payload, qos)
    expected = b"".join(codec5.encode_property(codec5.USER_PROPERTY, p) for p in pairs)
    assert got.properties == expected
