"""Confirmed publishes on NATS: stored by the JetStream stream capturing the subject
before they return, plain publishes where no stream captures it (private servers)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator

import aiocoap
import httpx
import nats
import pytest
from aiocoap import numbers
from nats.aio.client import Client as NatsClient
from nats.js import api

from mainflux.adapters.access import CachedThingAccess
from mainflux.adapters.coap import open_server
from mainflux.adapters.http import create_app
from mainflux.adapters.mqtt.adapter import MqttAdapter, build_adapter
from mainflux.core.errors import ServiceUnavailable
from mainflux.messaging.envelope import Message
from mainflux.messaging.nats import NatsBus
from tests import servers
from tests.fakes import FakeThings
from tests.integration.test_coap_adapter import free_udp_port, request
from tests.integration.test_durable_adapters import acknowledged
from tests.integration.test_mqtt_support import Client, RunningAdapter, local_settings
from tests.servers import NatsServer, until

KEY = "a4b3c2d1-0000-4000-8000-00000000c0f1"
THING = "e2b1a0c9-0000-4000-8000-0000000000c1"


@pytest.fixture
def server() -> Iterator[NatsServer]:
    """A private server with JetStream (tests below stop and kill it)."""
    with servers.nats_server() as private:
        yield private


@pytest.fixture
async def admin(server: NatsServer) -> AsyncIterator[NatsClient]:
    """A second connection, for JetStream administration and core subscriptions."""
    nc = await nats.connect(server.url, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
    yield nc
    await nc.close()


def message(channel: str, n: int = 0, subtopic: str = "") -> Message:
    return Message(channel, subtopic, "thing", "http", f"payload {n}".encode(), 1_000 + n)


async def stored(nc: NatsClient, stream: str) -> int:
    return (await nc.jsm().stream_info(stream)).state.messages


async def test_a_confirmed_publish_is_stored_when_it_returns_and_survives_a_kill(
    server: NatsServer,
) -> None:
    nc = await nats.connect(server.url)
    await nc.jsm().add_stream(
        name="CONFIRMED", subjects=["channels.>"], storage=api.StorageType.FILE
    )
    await nc.close()
    bus = await NatsBus.connect(server.url)
    ch = str(uuid.uuid4())
    count = 30
    try:
        assert bus.confirms(f"channels.{ch}")
        for n in range(count):
            await bus.publish(message(ch, n), confirm=True)
            # A fresh connection sees it at once: the stream had it before the return.
            check = await nats.connect(server.url)
            assert await stored(check, "CONFIRMED") == n + 1
            await check.close()
        server.kill()
        server.start()
        check = await nats.connect(server.url)
        jsm = check.jsm()
        assert await stored(check, "CONFIRMED") == count
        kept = [
            Message.decode((await jsm.get_msg("CONFIRMED", seq)).data or b"")
            for seq in range(1, count + 1)
        ]
        assert kept == [message(ch, n) for n in range(count)]
        await check.close()
    finally:
        await bus.close()


@pytest.mark.parametrize(
    "streams",
    [
        pytest.param(None, id="no-jetstream"),
        pytest.param([], id="no-streams"),
        pytest.param(["other.>", "channels.elsewhere"], id="streams-of-other-subjects"),
    ],
)
async def test_with_no_stream_capturing_a_confirmed_publish_is_a_plain_one(
    streams: list[str] | None,
) -> None:
    with servers.nats_server(jetstream=streams is not None) as server:
        nc = await nats.connect(server.url)
        if streams:
            await nc.jsm().add_stream(name="ELSEWHERE", subjects=streams)
        got: asyncio.Queue[bytes] = asyncio.Queue()

        async def core_subscriber(msg: nats.aio.msg.Msg) -> None:
            got.put_nowait(msg.data)

        await nc.subscribe("channels.>", cb=core_subscriber)
        await nc.flush()
        bus = await NatsBus.connect(server.url)
        ch = str(uuid.uuid4())
        try:
            assert not bus.confirms(f"channels.{ch}")
            for n in range(3):
                await bus.publish(message(ch, n), confirm=True)  # no ServiceUnavailable
            for n in range(3):
                data = await asyncio.wait_for(got.get(), 5)
                assert Message.decode(data) == message(ch, n)
        finally:
            await bus.close()
            await nc.close()


async def test_a_stream_created_after_connecting_is_confirmed_after_the_refresh(
    server: NatsServer, admin: NatsClient
) -> None:
    bus = await NatsBus.connect(server.url)
    ch = str(uuid.uuid4())
    try:
        assert not bus.confirms(f"channels.{ch}")
        await admin.jsm().add_stream(name="LATE", subjects=[f"channels.{ch}.>"])
        await until(lambda: bus.confirms(f"channels.{ch}.a"), "the bus reads the new stream")
        assert not bus.confirms(f"channels.{ch}")
        await bus.publish(message(ch, 1, "a"), confirm=True)
        assert await stored(admin, "LATE") == 1
    finally:
        await bus.close()


async def test_a_deleted_stream_refuses_once_then_publishes_are_plain(
    server: NatsServer, admin: NatsClient
) -> None:
    await admin.jsm().add_stream(name="GONE", subjects=["channels.>"])
    bus = await NatsBus.connect(server.url)
    ch = str(uuid.uuid4())
    try:
        assert bus.confirms(f"channels.{ch}")
        await admin.jsm().delete_stream("GONE")
        with pytest.raises(ServiceUnavailable):
            await bus.publish(message(ch), confirm=True)
        await until(lambda: not bus.confirms(f"channels.{ch}"), "the bus forgets the stream")
        await bus.publish(message(ch), confirm=True)
    finally:
        await bus.close()


async def test_a_refusing_stream_fails_confirmed_publishes_only(
    server: NatsServer, admin: NatsClient
) -> None:
    await admin.jsm().add_stream(
        name="FULL", subjects=["channels.>"], max_msgs=1, discard=api.DiscardPolicy.NEW
    )
    bus = await NatsBus.connect(server.url)
    ch = str(uuid.uuid4())
    try:
        await bus.publish(message(ch, 1), confirm=True)
        with pytest.raises(ServiceUnavailable, match="refused"):
            await bus.publish(message(ch, 2), confirm=True)
        await bus.publish(message(ch, 3))  # the stream refuses it too, silently
        await bus.flush()
        assert await stored(admin, "FULL") == 1
    finally:
        await bus.close()


async def test_the_http_adapter_answers_503_when_the_stream_refuses(
    server: NatsServer, admin: NatsClient
) -> None:
    ch = str(uuid.uuid4())
    await admin.jsm().add_stream(
        name="ONE", subjects=["channels.>"], max_msgs=1, discard=api.DiscardPolicy.NEW
    )
    things = FakeThings()
    things.add(THING, KEY, ch)
    bus = await NatsBus.connect(server.url)
    try:
        async with (
            servers.serving(create_app(things, bus, max_body=1000), http="httptools") as port,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http,
        ):
            path = f"/channels/{ch}/messages"
            first = await http.post(path, content=b"1", headers={"Authorization": KEY})
            assert first.status_code == 202
            assert await stored(admin, "ONE") == 1
            second = await http.post(path, content=b"2", headers={"Authorization": KEY})
            assert second.status_code == 503
    finally:
        await bus.close()


def test_mqtt_acknowledges_qos1_once_stored_and_never_what_the_stream_refuses() -> None:
    things = FakeThings()
    ch = str(uuid.uuid4())
    thing = things.thing(ch)
    with servers.nats_server() as server:

        async def stream(add: bool) -> int:
            nc = await nats.connect(server.url)
            try:
                if add:
                    await nc.jsm().add_stream(
                        name="ONE",
                        subjects=["channels.>"],
                        max_msgs=1,
                        discard=api.DiscardPolicy.NEW,
                    )
                return await stored(nc, "ONE")
            finally:
                await nc.close()

        asyncio.run(stream(add=True))
        buses: list[NatsBus] = []

        async def build() -> MqttAdapter:
            buses.append(await NatsBus.connect(server.url))
            return build_adapter(things, buses[0], None, local_settings(instance="confirm"))

        running = RunningAdapter(build)
        try:
            client = Client(running.port, username=thing[0], password=thing[1])
            topic = f"channels/{ch}/messages"
            first = client.paho.publish(topic, b"1", qos=1)
            first.wait_for_publish(5)
            assert acknowledged(first)
            assert asyncio.run(stream(add=False)) == 1
            second = client.paho.publish(topic, b"2", qos=1)
            assert client.disconnected.wait(5), "refused: disconnected so that it sends again"
            assert not acknowledged(second)
        finally:
            running.stop_adapter()
            running.run(buses[0].close())
            running.thread.close()


async def test_coap_confirms_con_requests_only(server: NatsServer, admin: NatsClient) -> None:
    await admin.jsm().add_stream(
        name="ONE", subjects=["channels.>"], max_msgs=1, discard=api.DiscardPolicy.NEW
    )
    things = FakeThings()
    ch = str(uuid.uuid4())
    _, key = things.thing(ch)
    bus = await NatsBus.connect(server.url)
    port = free_udp_port()
    uri = f"coap://127.0.0.1:{port}/channels/{ch}/messages?authorization={key}"
    context = await aiocoap.Context.create_client_context()
    try:
        async with open_server(CachedThingAccess(things, None), bus, "127.0.0.1", port):
            first = await request(context, numbers.POST, uri, b"1")
            assert first.code == numbers.CHANGED
            assert await stored(admin, "ONE") == 1
            refused = await request(context, numbers.POST, uri, b"2")
            assert refused.code == numbers.SERVICE_UNAVAILABLE
            unconfirmed = await request(context, numbers.POST, uri, b"3", confirmable=False)
            assert unconfirmed.code == numbers.CHANGED  # not waited for: the stream drops it
    finally:
        await context.shutdown()
        await bus.close()
