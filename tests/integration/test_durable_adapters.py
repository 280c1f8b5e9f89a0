"""Adapters over a bus with a durable subscriber: HTTP answers 202 only once the message
is stored and 503 with ``Retry-After`` when storage refuses it; MQTT acknowledges QoS 1
only once stored and never acknowledges a refused message."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator, Sequence

import httpx
import paho.mqtt.client as mqtt
import pytest

from mainflux.adapters.http import create_app
from mainflux.adapters.mqtt.adapter import MqttAdapter, build_adapter
from mainflux.messaging.envelope import Message
from mainflux.messaging.inproc import InProcessBus
from tests.fakes import FakeThings
from tests.integration.test_http_adapter import CH, KEY, THING, serving
from tests.integration.test_mqtt_support import Client, RunningAdapter, local_settings

SENML = b'[{"n":"t","v":1}]'


class Storage:
    """A durable subscriber standing in for the writer: records batches, can hold or fail."""

    def __init__(self, *, hold: bool = False, fail: bool = False) -> None:
        self.batches: list[list[bytes]] = []
        self.entered = threading.Event()
        self.release = asyncio.Event()
        if not hold:
            self.release.set()
        self.fail = fail

    async def __call__(self, messages: Sequence[Message]) -> None:
        self.batches.append([m.payload for m in messages])
        self.entered.set()
        await self.release.wait()
        if self.fail:
            raise RuntimeError("the disk is full")


# --- HTTP ---------------------------------------------------------------------------------


async def post(bus: InProcessBus) -> httpx.Response:
    async with (
        serving(create_app(one_thing(), bus)) as url,
        httpx.AsyncClient(base_url=url) as http,
    ):
        return await http.post(
            f"/channels/{CH}/messages", content=SENML, headers={"Authorization": KEY}
        )


async def test_http_answers_202_once_the_message_is_stored() -> None:
    bus = InProcessBus()
    storage = Storage()
    await bus.subscribe_durable(["channels.>"], storage)
    response = await post(bus)
    assert response.status_code == 202
    assert storage.batches == [[SENML]]
    await bus.close()


async def test_http_answers_503_with_retry_after_when_storage_fails() -> None:
    bus = InProcessBus()
    await bus.subscribe_durable(["channels.>"], Storage(fail=True))
    response = await post(bus)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    await bus.close()


async def test_http_answers_503_with_retry_after_when_storage_is_behind() -> None:
    bus = InProcessBus(put_timeout=0.05)
    storage = Storage(hold=True)
    await bus.subscribe_durable(["channels.>"], storage, max_pending=1)
    waiting = asyncio.create_task(bus.publish(Message(CH, payload=b"first")))
    await asyncio.to_thread(storage.entered.wait, 5)
    response = await post(bus)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    storage.release.set()
    await waiting
    assert storage.batches == [[b"first"]]
    await bus.close()


# --- MQTT ---------------------------------------------------------------------------------


def one_thing() -> FakeThings:
    """A things service with one thing (``KEY``) connected to ``CH``."""
    things = FakeThings()
    things.add(THING, KEY, CH)
    return things


class Broker:
    """The MQTT adapter on an in-process bus whose durable subscriber is ``storage``."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.things = FakeThings()
        self.running = RunningAdapter(self._build)

    async def _build(self) -> MqttAdapter:
        self.bus = InProcessBus()
        await self.bus.subscribe_durable(["channels.>"], self.storage)
        return build_adapter(self.things, self.bus, None, local_settings(instance="durable"))

    def release(self) -> None:
        self.running.thread.loop.call_soon_threadsafe(self.storage.release.set)

    def client(self, channel: str) -> Client:
        thing = self.things.thing(channel)
        return Client(self.running.port, username=thing[0], password=thing[1])

    def stop(self) -> None:
        self.release()
        self.running.stop_adapter()
        self.running.run(self.bus.close())
        self.running.thread.close()


def acknowledged(info: mqtt.MQTTMessageInfo) -> bool:
    """Whether the broker acknowledged the message (paho raises once it gave up on it)."""
    try:
        return info.is_published()
    except RuntimeError:
        return False


@pytest.fixture
def held() -> Iterator[Broker]:
    broker = Broker(Storage(hold=True))
    yield broker
    broker.stop()


@pytest.fixture
def failing() -> Iterator[Broker]:
    broker = Broker(Storage(fail=True))
    yield broker
    broker.stop()


def test_mqtt_acknowledges_qos1_only_once_the_message_is_stored(held: Broker) -> None:
    channel = str(uuid.uuid4())
    client = held.client(channel)
    info = client.paho.publish(f"channels/{channel}/messages", SENML, qos=1)
    assert held.storage.entered.wait(5)
    info.wait_for_publish(0.5)
    assert not acknowledged(info), "no PUBACK while the message is being stored"
    held.release()
    info.wait_for_publish(5)
    assert acknowledged(info)
    assert held.storage.batches == [[SENML]]


def test_mqtt_never_acknowledges_a_message_storage_refused(failing: Broker) -> None:
    channel = str(uuid.uuid4())
    client = failing.client(channel)
    info = client.paho.publish(f"channels/{channel}/messages", SENML, qos=1)
    assert client.disconnected.wait(5), "the client is disconnected so that it sends again"
    assert not acknowledged(info)
    assert failing.storage.batches == [[SENML]]
