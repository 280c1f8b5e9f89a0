"""A slow things service makes MQTT clients wait, never refuses them.

The MQTT adapter asks a things service over real gRPC on a free port (the shared
:class:`~tests.fakes.FakeThings` behind the real gRPC servicer). Its per-call timeout is
short; MF_THINGS_AUTH_DEADLINE is how long a check may keep asking. A things service
that answers late (its questions held past several timeouts) is waited for; a definite
"no" still refuses at once; a service that never answers is "server unavailable" once
the deadline has passed."""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from mainflux.adapters.access import CachedThingAccess
from mainflux.adapters.mqtt.adapter import MqttAdapter, build_adapter
from mainflux.adapters.runtime import AccessSettings, open_access
from mainflux.things.grpc import start_grpc_server
from tests.fakes import FakeThings
from tests.integration.test_mqtt_support import local_settings
from tests.servers import free_port, until

CHANNEL = "c0ffee00-0000-4000-8000-000000000001"
TOPIC = f"channels/{CHANNEL}/messages"
CALL_TIMEOUT = 0.2  # seconds per gRPC call: a held question outlives several of them


def _string(value: str) -> bytes:
    raw = value.encode()
    return struct.pack("!H", len(raw)) + raw


def _packet(kind: int, body: bytes) -> bytes:
    assert len(body) < 128
    return bytes([kind, len(body)]) + body


def connect_packet(username: str, password: str) -> bytes:
    flags_and_keepalive = bytes([4, 0xC2]) + struct.pack("!H", 60)
    body = _string("MQTT") + flags_and_keepalive + _string(f"dev-{username[:8]}")
    return _packet(0x10, body + _string(username) + _string(password))


def publish_qos1(topic: str, packet_id: int) -> bytes:
    return _packet(0x32, _string(topic) + struct.pack("!H", packet_id) + b"21.5")


@dataclass
class Device:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    async def connack(self) -> int:
        """The CONNACK return code."""
        reply = await asyncio.wait_for(self.reader.readexactly(4), 30)
        assert reply[0] == 0x20, reply
        return reply[3]

    async def puback_or_close(self) -> bytes:
        """The next packet's first 4 bytes, or ``b""`` when the server closed."""
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            return await asyncio.wait_for(self.reader.readexactly(4), 30)
        return b""


@dataclass
class Setup:
    things: FakeThings
    adapter: MqttAdapter
    access: CachedThingAccess
    devices: list[Device] = field(default_factory=list)

    async def device(self, thing_id: str, key: str) -> Device:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.adapter.ports["mqtt"])
        writer.write(connect_packet(thing_id, key))
        self.devices.append(Device(reader, writer))
        return self.devices[-1]

    async def close(self) -> None:
        for device in self.devices:
            device.writer.close()
            with contextlib.suppress(ConnectionError):
                await device.writer.wait_closed()


@contextlib.asynccontextmanager
async def adapter_on(grpc_port: int, things: FakeThings, deadline: float) -> AsyncIterator[Setup]:
    settings = AccessSettings(
        grpc_url=f"127.0.0.1:{grpc_port}", grpc_timeout=CALL_TIMEOUT, deadline=deadline
    )
    async with open_access(settings) as access:
        adapter = build_adapter(access, None, None, local_settings())
        await adapter.start()
        ready = Setup(things, adapter, access)
        try:
            yield ready
        finally:
            await ready.close()
            await adapter.stop()


@contextlib.asynccontextmanager
async def things_served(things: FakeThings, port: int = 0) -> AsyncIterator[int]:
    server, bound = await start_grpc_server(things, port, "127.0.0.1")
    try:
        yield bound
    finally:
        await server.stop(None)


@contextlib.asynccontextmanager
async def setup(deadline: float = 30.0) -> AsyncIterator[Setup]:
    things = FakeThings()
    async with things_served(things) as port, adapter_on(port, things, deadline) as ready:
        yield ready


async def test_a_connect_waits_for_a_slow_things_service_instead_of_being_refused() -> None:
    async with setup() as s:
        thing_id, key = s.things.thing(CHANNEL)
        s.things.gate = asyncio.Event()  # every question waits: slow, but alive
        device = await s.device(thing_id, key)
        # asked again after each timed-out call, the client still waiting
        await until(
            lambda: s.things.asked["identify"] >= 2, "identify asked again after a timed-out call"
        )
        assert s.adapter.broker.stats.connections_refused == 0
        s.things.gate.set()
        assert await device.connack() == 0


async def test_a_publish_waits_for_a_slow_things_service_instead_of_a_disconnect() -> None:
    async with setup() as s:
        thing_id, key = s.things.thing(CHANNEL)
        device = await s.device(thing_id, key)
        assert await device.connack() == 0
        s.things.gate = asyncio.Event()
        device.writer.write(publish_qos1(TOPIC, 7))
        await until(
            lambda: s.things.asked["can_access_by_id"] >= 2, "asked again after a timed-out call"
        )
        s.things.gate.set()
        assert await device.puback_or_close() == b"\x40\x02\x00\x07"  # PUBACK 7


async def test_a_definite_no_still_refuses_at_once() -> None:
    async with setup() as s:
        thing_id, key = s.things.thing()  # connected to no channel
        wrong = await s.device(thing_id, "not-the-key")
        assert await wrong.connack() == 4  # bad user name or password
        assert s.things.asked["identify"] == 1  # a "no" is not asked again
        device = await s.device(thing_id, key)
        assert await device.connack() == 0
        device.writer.write(publish_qos1(TOPIC, 1))
        assert await device.puback_or_close() == b""  # refused publish: disconnected
        assert s.things.asked["can_access_by_id"] == 1


async def test_a_things_service_that_never_answers_is_unavailable_after_the_deadline() -> None:
    async with setup(deadline=1.0) as s:
        thing_id, key = s.things.thing(CHANNEL)
        s.things.gate = asyncio.Event()  # never set: hung
        device = await s.device(thing_id, key)
        assert await device.connack() == 3  # server unavailable
        assert s.things.asked["identify"] >= 2


async def test_a_things_service_not_listening_is_unavailable_after_the_deadline() -> None:
    things = FakeThings()
    async with adapter_on(free_port(), things, deadline=1.0) as s:
        thing_id, key = things.thing(CHANNEL)
        device = await s.device(thing_id, key)
        assert await device.connack() == 3


async def test_a_things_service_that_comes_up_within_the_deadline_lets_the_client_in() -> None:
    things = FakeThings()
    port = free_port()
    async with adapter_on(port, things, deadline=30.0) as s:
        thing_id, key = things.thing(CHANNEL)
        device = await s.device(thing_id, key)
        await until(lambda: s.access.calls, "the client asked a things service not there yet")
        async with things_served(things, port):
            assert await device.connack() == 0
