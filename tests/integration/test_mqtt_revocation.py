"""Revocations reaching the MQTT adapter through a real Redis ``mainflux.things``
stream: the cases the end-to-end tests cannot steer (an answer given just before the
change, a things service that cannot answer the key check) and what only the broker
can tell (absent sessions and retained messages forgotten)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from paho.mqtt.packettypes import PacketTypes

from mainflux.adapters.access import CachedThingAccess
from mainflux.adapters.mqtt.adapter import MqttAdapter, build_adapter
from mainflux.adapters.mqtt.broker import Broker
from mainflux.adapters.mqtt.limits import BrokerLimits
from mainflux.events.redis import RedisEventStream
from mainflux.messaging.inproc import InProcessBus
from tests.fakes import FakeThings
from tests.integration.test_mqtt5_support import Client5, properties
from tests.integration.test_mqtt_support import (
    WAIT,
    Client,
    RunningAdapter,
    eventually,
    local_settings,
)
from tests.servers import restartable_redis, wait_until

STREAM = "mainflux.things"


class Platform:
    """The Mainflux adapter over the things fake, tailing ``mainflux.things``."""

    def __init__(self, redis_url: str, limits: BrokerLimits | None = None) -> None:
        self.things = FakeThings()
        self.redis = redis.Redis.from_url(redis_url, decode_responses=True)

        async def build() -> MqttAdapter:
            self.events = RedisEventStream(redis_url)
            settings = local_settings(limits)
            return build_adapter(
                self.things, InProcessBus(), None, settings, things_events=self.events
            )

        self.running = RunningAdapter(build)
        access = self.running.adapter.access
        assert access is not None
        self.access: CachedThingAccess = access
        self.broker: Broker = self.running.adapter.broker
        # the stream is tailed from its end: wait until the tail has begun
        wait_until(
            lambda: self._seen(lambda: self.redis.xadd(STREAM, {"operation": "noop"}), 0.5),
            "the adapter tails mainflux.things",
        )

    @property
    def port(self) -> int:
        return self.running.port

    def event(self, **fields: str) -> None:
        """Append a things event and wait until the adapter has handled it."""
        assert self._seen(lambda: self.redis.xadd(STREAM, dict(fields)), WAIT)

    def _seen(self, append: Any, timeout: float) -> bool:
        before = self.access.events_seen
        append()
        return eventually(lambda: self.access.events_seen > before, timeout)

    def release(self, gate: asyncio.Event) -> None:
        self.running.thread.loop.call_soon_threadsafe(gate.set)

    def client(self, thing: tuple[str, str], version: int = 4, **options: Any) -> Any:
        if version == 5:
            return Client5(self.port, username=thing[0], password=thing[1], **options)
        return Client(self.port, username=thing[0], password=thing[1], **options)

    def stop(self) -> None:
        self.running.stop_adapter()
        self.running.run(self.events.close())
        self.running.thread.close()
        self.redis.close()


@pytest.fixture
def platform(redis_url: str) -> Iterator[Platform]:
    running = Platform(redis_url)
    yield running
    running.stop()


def channel() -> str:
    return str(uuid.uuid4())


def topic(chan: str) -> str:
    return f"channels/{chan}/messages"


@pytest.mark.parametrize("version", [4, 5], ids=["mqtt311", "mqtt5"])
def test_a_subscription_allowed_just_before_a_disconnect_is_asked_again(
    platform: Platform, version: int
) -> None:
    chan = channel()
    thing = platform.things.thing(chan)
    client = platform.client(thing, version)
    gate = platform.things.hold("can_access_by_id")
    client.paho.subscribe(topic(chan), 1)
    assert eventually(lambda: "can_access_by_id" in platform.things.held)  # "yes" is on its way
    platform.things.links.discard((chan, thing[0]))
    platform.event(operation="thing.disconnect", chan_id=chan, thing_id=thing[0])
    platform.release(gate)
    assert client.subacks.get(timeout=WAIT) == [0x80 if version == 4 else 0x87]
    assert platform.broker.sessions_of(thing[0])[0].subscriptions == {}


@pytest.mark.parametrize("version", [4, 5], ids=["mqtt311", "mqtt5"])
def test_a_connect_authenticated_just_before_a_key_change_is_asked_again(
    platform: Platform, version: int
) -> None:
    thing_id, key = platform.things.thing()
    gate = platform.things.hold("identify")
    client = platform.client((thing_id, key), version, connect=False)
    client.paho.connect_async("127.0.0.1", platform.port)
    client.paho.loop_start()
    assert eventually(lambda: "identify" in platform.things.held)
    del platform.things.keys[key]
    platform.event(operation="thing.update", id=thing_id)
    platform.release(gate)
    assert client.connacks.get(timeout=WAIT)[0] == 0x86  # paho's name for 3.1.1's 4 too


def test_a_key_check_does_not_join_a_question_asked_before_the_change(
    platform: Platform,
) -> None:
    thing_id, key = platform.things.thing()
    live = platform.client((thing_id, key), 5)
    gate = platform.things.hold("identify")
    platform.event(operation="thing.update", id=thing_id)  # renamed: the key is checked
    assert eventually(lambda: "identify" in platform.things.held)  # "valid" on its way
    del platform.things.keys[key]
    platform.event(operation="thing.update", id=thing_id)  # the key changed
    assert live.disconnect_reason() == 0x87  # its second check asked afresh
    platform.release(gate)


def test_a_key_check_the_things_service_cannot_answer_keeps_the_connection(
    platform: Platform,
) -> None:
    chan = channel()
    thing, other = platform.things.thing(chan), platform.things.thing(chan)
    client = platform.client(thing, 5)
    assert client.subscribe(topic(chan), 1) == [1]
    calls = platform.things.asked["identify"]
    platform.things.down = True
    platform.event(operation="thing.update", id=thing[0])
    assert eventually(lambda: platform.things.asked["identify"] > calls)  # checked, no answer
    platform.things.down = False
    platform.client(other).publish(topic(chan), b"still connected", 1)
    assert client.receive().payload == b"still connected"
    assert not client.disconnected.is_set()
    # The same check with an answer closes it: the first one was a real check.
    del platform.things.keys[thing[1]]
    platform.event(operation="thing.update", id=thing[0])
    assert client.disconnect_reason() == 0x87


def test_a_removed_things_absent_sessions_and_delayed_wills_are_discarded(
    platform: Platform,
) -> None:
    chan = channel()
    thing, other = platform.things.thing(chan), platform.things.thing(chan)
    for name in ("kept-1", "kept-2"):
        platform.client(thing, client_id=name, clean=False).close()
    platform.client(other, client_id="kept-1", clean=False).close()  # same id, other thing
    will_delay = properties(PacketTypes.WILLMESSAGE, WillDelayInterval=600)
    delayed = Client5(
        platform.port,
        "with-will",
        username=thing[0],
        password=thing[1],
        session_expiry=600,
        will=(topic(chan), b"will", 1, False, will_delay),
    )
    delayed.close(reason=0x04)  # asks for the will, after its delay
    broker = platform.broker
    assert eventually(lambda: broker.delayed_wills == 1)
    assert eventually(lambda: all(s.conn is None for s in broker.sessions_of(thing[0])))
    assert len(broker.sessions_of(thing[0])) == 3
    platform.event(operation="thing.remove", id=thing[0])
    assert broker.sessions_of(thing[0]) == []
    assert broker.delayed_wills == 0
    assert [s.client_id for s in broker.sessions_of(other[0])] == ["kept-1"]


def test_a_removed_channels_retained_messages_are_forgotten(platform: Platform) -> None:
    gone, kept = channel(), channel()
    thing = platform.things.thing(gone, kept)
    publisher = platform.client(thing)
    publisher.publish(topic(gone), b"retained here", 1, retain=True)
    publisher.publish(topic(kept), b"retained there", 1, retain=True)
    assert eventually(lambda: len(platform.broker.retained) == 2)
    platform.event(operation="channel.remove", id=gone)
    assert [m.topic for m in platform.broker.retained.matching("channels/+/messages")] == [
        topic(kept)
    ]


def test_after_an_event_stream_outage_every_right_is_checked_again() -> None:
    """Changes made while ``mainflux.things`` could not be read were never heard: once it
    can be read again, live keys and the subscriptions of live and absent sessions are
    put to the things service again."""
    with restartable_redis() as redis_server:
        platform = Platform(redis_server.url)
        try:
            chan = channel()
            kept, unlinked, rekeyed = (platform.things.thing(chan) for _ in range(3))
            listening = platform.client(kept)
            assert listening.subscribe(topic(chan), 1) == [1]
            live = platform.client(unlinked, client_id="live")
            assert live.subscribe(topic(chan), 1) == [1]
            absent = platform.client(unlinked, client_id="absent", clean=False)
            assert absent.subscribe(topic(chan), 1) == [1]
            absent.close()
            closing = platform.client(rekeyed, 5)
            broker = platform.broker
            assert eventually(lambda: len(broker.sessions_of(unlinked[0])) == 2)

            redis_server.stop()
            assert eventually(lambda: platform.access.read_failures > 0)
            platform.things.links.discard((chan, unlinked[0]))  # never reaches the stream
            del platform.things.keys[rekeyed[1]]
            redis_server.start()

            assert closing.disconnect_reason() == 0x87
            assert eventually(
                lambda: all(s.subscriptions == {} for s in broker.sessions_of(unlinked[0]))
            )
            assert len(broker.sessions_of(unlinked[0])) == 2  # the sessions themselves stay
            platform.client(kept).publish(topic(chan), b"still allowed", 1)
            assert listening.receive().payload == b"still allowed"
            assert not listening.disconnected.is_set()
        finally:
            platform.stop()
