"""The MQTT packet codec: round trips, incremental decoding, limits, and fuzzing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mainflux.adapters.mqtt import codec
from mainflux.adapters.mqtt.codec import Connect, Decoder, ProtocolError, Publish, Will


def decode_one(data: bytes, limit: int = codec.MAX_REMAINING_LENGTH) -> codec.Packet:
    packets = Decoder(limit).feed(data)
    assert len(packets) == 1
    return packets[0]


def test_connect_round_trips_every_field() -> None:
    sent = Connect(
        "dev-1",
        clean_session=False,
        keepalive=30,
        username="thing",
        password=b"key",
        will=Will("channels/c/messages", b"bye", 1, True),
    )
    got = decode_one(codec.encode_connect(sent))
    assert isinstance(got, Connect)
    assert (got.client_id, got.clean_session, got.keepalive) == ("dev-1", False, 30)
    assert (got.username, got.password) == ("thing", b"key")
    assert got.will is not None
    assert (got.will.topic, got.will.payload, got.will.qos, got.will.retain) == (
        "channels/c/messages",
        b"bye",
        1,
        True,
    )


@pytest.mark.parametrize("qos", [0, 1, 2], ids=["qos0", "qos1", "qos2"])
def test_publish_round_trips(qos: int) -> None:
    data = codec.encode_publish("a/b", b"payload", qos, 7 if qos else 0, retain=True)
    got = decode_one(data)
    assert isinstance(got, Publish)
    assert (got.topic, got.payload, got.qos, got.retain) == ("a/b", b"payload", qos, True)
    assert got.packet_id == (7 if qos else 0)


def test_qos0_publish_is_forwarded_as_received() -> None:
    data = codec.encode_publish("a/b", b"x" * 300)
    got = decode_one(data)
    assert isinstance(got, Publish)
    assert got.wire0() == data


def test_many_packets_in_one_read_are_all_decoded() -> None:
    data = b"".join(codec.encode_publish("t", bytes([i])) for i in range(50)) + codec.PINGREQ_BYTES
    packets = Decoder().feed(data)
    assert len(packets) == 51
    assert [p.payload for p in packets[:50]] == [bytes([i]) for i in range(50)]  # type: ignore[union-attr]
    assert packets[50].kind == codec.PINGREQ


def test_packets_split_at_every_byte_still_decode() -> None:
    data = codec.encode_publish("a/b", b"z" * 200, 1, 9) + codec.encode_subscribe(3, [("a/#", 1)])
    for cut in range(1, len(data)):
        decoder = Decoder()
        packets = decoder.feed(data[:cut]) + decoder.feed(data[cut:])
        assert [p.kind for p in packets] == [codec.PUBLISH, codec.SUBSCRIBE]
        assert decoder.buffered == 0


def test_oversized_remaining_length_is_refused_before_the_body_arrives() -> None:
    header = b"\x30" + codec.remaining_length(10_000)
    with pytest.raises(ProtocolError, match="exceeds"):
        Decoder(1024).feed(header)


def test_a_five_byte_remaining_length_is_malformed() -> None:
    with pytest.raises(ProtocolError):
        Decoder().feed(b"\x30\xff\xff\xff\xff\x01")


@pytest.mark.parametrize(
    "data",
    [
        codec.encode_publish(b"a/\xff", b"x"),
        codec.encode_publish("a/+", b"x"),
        codec.encode_publish("a/#", b"x"),
        codec.encode_publish("", b"x"),
        b"\x36\x05\x00\x01a\x00\x01",  # QoS 3
        b"\x32\x03\x00\x01a",  # QoS 1 without packet id
        b"\x80\x02\x00\x01",  # SUBSCRIBE with wrong flags
        b"\x82\x02\x00\x01",  # SUBSCRIBE without filters
        b"\x82\x06\x00\x01\x00\x01a\x03",  # requested QoS 3
        b"\x00\x00",  # reserved type 0
        b"\xf0\x00",  # reserved type 15
        b"\xc1\x00",  # PINGREQ with flags
        b"\x40\x03\x00\x01\x00",  # PUBACK with trailing byte
        b"\x10\x0b\x00\x02hj\x04\x02\x00\x00\x00\x01a",  # wrong protocol name
        b"\x10\x0d\x00\x04MQTT\x04\x03\x00\x00\x00\x01a",  # reserved connect flag
    ],
    ids=[
        "topic-not-utf8",
        "topic-plus",
        "topic-hash",
        "topic-empty",
        "qos3",
        "no-packet-id",
        "subscribe-flags",
        "subscribe-empty",
        "subscribe-qos3",
        "type0",
        "type15",
        "pingreq-flags",
        "puback-trailing",
        "protocol-name",
        "connect-reserved-flag",
    ],
)
def test_malformed_packets_raise_protocol_error(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        Decoder().feed(data)


def test_acks_and_suback_encode_as_the_spec_says() -> None:
    assert codec.encode_ack(codec.PUBREL, 0x0102) == b"\x62\x02\x01\x02"
    assert codec.encode_suback(5, [0, 0x80]) == b"\x90\x04\x00\x05\x00\x80"
    assert codec.encode_connack(True, 0) == b"\x20\x02\x01\x00"
    assert codec.remaining_length(321) == b"\xc1\x02"


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300), st.integers(min_value=1, max_value=64))
def test_random_bytes_raise_nothing_but_protocol_error(data: bytes, chunk: int) -> None:
    decoder = Decoder(1024)
    try:
        for start in range(0, len(data), chunk):
            decoder.feed(data[start : start + chunk])
    except ProtocolError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(range(1, 15)), st.integers(0, 15), st.binary(max_size=64))
def test_random_bodies_under_any_header_raise_nothing_but_protocol_error(
    kind: int, flags: int, body: bytes
) -> None:
    data = bytes([(kind << 4) | flags]) + codec.remaining_length(len(body)) + body
    try:
        packets = Decoder().feed(data)
    except ProtocolError:
        return
    assert len(packets) == 1


@settings(max_examples=200, deadline=None)
@given(
    st.text(min_size=1, max_size=40).filter(
        lambda t: "+" not in t and "#" not in t and "\x00" not in t
    ),
    st.binary(max_size=200),
    st.integers(0, 2),
)
def test_any_valid_publish_round_trips(topic: str, payload: bytes, qos: int) -> None:
    got = decode_one(codec.encode_publish(topic, payload, qos, 1 if qos else 0))
    assert isinstance(got, Publish)
    assert (got.topic, got.payload, got.qos) == (topic, payload, qos)


def test_a_large_packet_arriving_in_chunks_is_buffered_once_and_decoded() -> None:
    payload = bytes(range(256)) * 800
    data = codec.encode_publish("big", payload, 1, 5) + codec.PINGREQ_BYTES
    decoder = Decoder()
    packets: list[codec.Packet] = []
    for start in range(0, len(data), 7000):
        packets += decoder.feed(data[start : start + 7000])
        assert decoder.buffered <= len(data)
    assert [p.kind for p in packets] == [codec.PUBLISH, codec.PINGREQ]
    assert packets[0].payload == payload  # type: ignore[union-attr]
    assert decoder.buffered == 0
