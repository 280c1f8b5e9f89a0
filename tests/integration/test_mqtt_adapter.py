"""The Mainflux MQTT adapter: things authenticate, channels authorize, the bus bridges."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator

import pytest

from mainflux.adapters.mqtt.adapter import MqttAdapter, build_adapter
from mainflux.adapters.mqtt.codec import Connect, encode_connect
from mainflux.events.redis import RedisEventStream
from mainflux.messaging.envelope import Message
from mainflux.messaging.inproc import InProcessBus
from mainflux.messaging.nats import NatsBus
from tests.fakes import FakeThings
from tests.integration.test_mqtt_support import (
    Client,
    RunningAdapter,
    eventually,
    local_settings,
    raw_connect,
)


class Platform:
    """One adapter on an in-process bus, with a recorder of what reaches the bus."""

    def __init__(self, redis_url: str | None = None) -> None:
        self.things = FakeThings()
        self.on_bus: list[Message] = []
        self.events: RedisEventStream | None = None
        self.redis_url = redis_url
        self.running = RunningAdapter(self._build)

    async def _build(self) -> MqttAdapter:
        self.bus = InProcessBus()

        async def record(message: Message) -> None:
            self.on_bus.append(message)

        await self.bus.subscribe("channels.>", record)
        if self.redis_url is not None:
            self.events = RedisEventStream(self.redis_url)
        settings = local_settings(instance="mqtt-test-1")
        return build_adapter(self.things, self.bus, self.events, settings)

    @property
    def port(self) -> int:
        return self.running.port

    def client(self, thing: tuple[str, str], **options: object) -> Client:
        return Client(self.port, username=thing[0], password=thing[1], **options)  # type: ignore[arg-type]

    def stop(self) -> None:
        async def close() -> None:
            await self.bus.close()
            if self.events is not None:
                await self.events.close()

        self.running.stop_adapter()
        self.running.run(close())
        self.running.thread.close()


@pytest.fixture
def platform() -> Iterator[Platform]:
    running = Platform()
    yield running
    running.stop()


def channel() -> str:
    return str(uuid.uuid4())


def refused_code(port: int, username: str | None, password: str | None) -> int:
    """The CONNACK return code of a refused CONNECT (the broker then closes)."""
    connect = Connect(
        "c", username=username, password=None if password is None else password.encode()
    )
    reply = raw_connect(port, encode_connect(connect))
    assert len(reply) == 4 and reply[0] == 0x20, reply
    return reply[3]


def test_connect_needs_the_thing_id_and_its_key(platform: Platform) -> None:
    thing_id, key = platform.things.thing()
    other_id, _ = platform.things.thing()
    assert refused_code(platform.port, thing_id, "wrong key") == 4
    assert refused_code(platform.port, other_id, key) == 5
    assert refused_code(platform.port, None, None) == 4
    assert refused_code(platform.port, thing_id, "") == 4
    platform.client((thing_id, key)).close()


def test_subscriptions_are_checked_against_the_channel_connections(platform: Platform) -> None:
    mine, theirs = channel(), channel()
    thing = platform.things.thing(mine)
    client = platform.client(thing)
    assert client.subscribe(f"channels/{mine}/messages/#", 1) == [1]
    assert client.subscribe(f"channels/{mine}/messages", 0) == [0]
    assert client.subscribe(f"channels/{theirs}/messages", 1) == [0x80]
    assert client.subscribe("some/other/topic", 1) == [0x80]
    assert client.subscribe("channels/+/messages", 1) == [0x80]
    client.close()


def test_a_refused_publish_is_dropped_and_the_client_disconnected(platform: Platform) -> None:
    mine, theirs = channel(), channel()
    thing = platform.things.thing(mine)
    client = platform.client(thing)
    client.paho.publish(f"channels/{theirs}/messages", b"nope", 1)
    assert client.disconnected.wait(5)
    other = platform.client(thing)
    other.paho.publish("not/a/channel", b"nope", 0)
    assert other.disconnected.wait(5)
    allowed = platform.client(thing)
    allowed.publish(f"channels/{mine}/messages", b"marker", 1)
    assert eventually(lambda: len(platform.on_bus) > 0)
    assert [m.payload for m in platform.on_bus] == [b"marker"], "only the allowed message"
    allowed.close()


def test_accepted_publishes_reach_the_bus_and_local_subscribers_once(platform: Platform) -> None:
    chan = channel()
    publisher = platform.things.thing(chan)
    subscriber = platform.client(platform.things.thing(chan))
    subscriber.subscribe(f"channels/{chan}/messages/#", 1)
    client = platform.client(publisher)
    client.publish(f"channels/{chan}/messages/room/temp", b'[{"v":1}]', 1)
    assert eventually(lambda: len(platform.on_bus) == 1)
    message = platform.on_bus[0]
    assert (message.channel, message.subtopic, message.publisher, message.protocol) == (
        chan,
        "room.temp",
        publisher[0],
        "mqtt",
    )
    assert message.payload == b'[{"v":1}]'
    got = subscriber.receive()
    assert (got.topic, got.payload) == (f"channels/{chan}/messages/room/temp", b'[{"v":1}]')
    assert subscriber.nothing(0.5)
    client.close()
    subscriber.close()


def test_messages_of_other_protocols_reach_subscribers_at_qos1(platform: Platform) -> None:
    chan = channel()
    subscriber = platform.client(platform.things.thing(chan))
    subscriber.subscribe(f"channels/{chan}/messages/#", 2)
    sent = Message(chan, "a.b", "some-thing", "http", b"raw body")
    platform.running.run(platform.bus.publish(sent))
    got = subscriber.receive()
    assert (got.topic, got.payload, got.qos) == (f"channels/{chan}/messages/a/b", b"raw body", 1)
    subscriber.close()


def test_connect_and_disconnect_events_go_to_redis(redis_url: str) -> None:
    running = Platform(redis_url)
    try:
        thing = running.things.thing()
        running.client(thing).close()
        assert running.events is not None
        events = running.events

        def mine() -> list[dict[str, str]]:
            entries = running.running.run(events.read("mainflux.mqtt", "0-0", 1000))
            return [f for _, f in entries if f["thing_id"] == thing[0]]

        assert eventually(lambda: len(mine()) == 2)
        first, second = mine()
        assert [first["event_type"], second["event_type"]] == ["connect", "disconnect"]
        assert first["instance"] == "mqtt-test-1"
        assert abs(int(first["timestamp"]) - time.time()) < 60
    finally:
        running.stop()


def test_two_instances_on_one_nats_act_as_one_broker(nats_url: str) -> None:
    things = FakeThings()
    chan = channel()
    publisher, sub_a, sub_b = (things.thing(chan) for _ in range(3))

    def start() -> RunningAdapter:
        async def build() -> MqttAdapter:
            bus = await NatsBus.connect(nats_url)
            return build_adapter(things, bus, None, local_settings())

        return RunningAdapter(build)

    a, b = start(), start()
    try:
        on_a = Client(a.port, username=sub_a[0], password=sub_a[1])
        on_b = Client(b.port, username=sub_b[0], password=sub_b[1])
        on_a.subscribe(f"channels/{chan}/messages/#", 1)
        on_b.subscribe(f"channels/{chan}/messages/#", 1)
        for running in (a, b):  # each bridge's subscription has reached the NATS server
            bridge = running.adapter.bridge
            assert bridge is not None and isinstance(bridge.bus, NatsBus)
            running.run(bridge.bus.client.flush())
        sender = Client(a.port, username=publisher[0], password=publisher[1])
        for i in range(5):
            sender.publish(f"channels/{chan}/messages/n", str(i).encode(), 1)
        for receiver in (on_a, on_b):
            got = [receiver.receive() for _ in range(5)]
            assert [m.payload for m in got] == [str(i).encode() for i in range(5)]
            assert {m.qos for m in got} == {1}
        assert on_a.nothing(0.5) and on_b.nothing(0.1)
        sender.close()
    finally:
        for running in (a, b):
            bridge = running.adapter.bridge
            running.stop_adapter()
            if bridge is not None:
                running.run(bridge.bus.close())
            running.thread.close()


def test_bad_subtopic_is_delivered_locally_but_not_bridged(platform: Platform) -> None:
    chan = channel()
    thing = platform.things.thing(chan)
    client = platform.client(thing)
    client.subscribe(f"channels/{chan}/messages/#", 0)
    client.publish(f"channels/{chan}/messages/bad*/x", b"local", 1)
    assert client.receive().payload == b"local"
    client.publish(f"channels/{chan}/messages/good", b"bridged", 1)
    assert eventually(lambda: len(platform.on_bus) == 1)
    assert platform.on_bus[0].subtopic == "good"
    client.close()


async def test_adapter_stops_cleanly_without_clients() -> None:
    adapter = build_adapter(FakeThings(), InProcessBus(), None, local_settings())
    await adapter.start()
    assert set(adapter.ports) == {"mqtt", "ws"}
    await adapter.stop()
    await asyncio.sleep(0)
