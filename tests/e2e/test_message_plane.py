"""The message plane over a real NATS: HTTP in, WebSocket and NATS out, Go-compatible wire."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import nats
import pytest
from websockets.asyncio.client import connect

from mainflux.adapters import http as http_adapter
from mainflux.adapters import ws as ws_adapter
from mainflux.messaging.nats import NatsBus
from mainflux.proto import message_pb2
from tests.fakes import FakeThings
from tests.servers import NatsServer, serving, until

KEY = "5c0e6f4a-0000-4000-8000-0000000000cc"
THING = "1d2c3b4a-0000-4000-8000-0000000000dd"


@pytest.fixture
def channel() -> str:
    return str(uuid.uuid4())


@pytest.fixture
async def plane(nats: NatsServer, channel: str) -> AsyncIterator[tuple[int, int, NatsBus]]:
    """An HTTP adapter and a WebSocket adapter, each with its own NATS connection."""
    things = FakeThings()
    things.add(THING, KEY, channel)
    http_bus = await NatsBus.connect(nats.url, name="http-adapter")
    ws_bus = await NatsBus.connect(nats.url, name="ws-adapter")
    try:
        async with (
            serving(http_adapter.create_app(things, http_bus)) as http_port,
            serving(ws_adapter.create_app(things, ws_bus), ws="websockets-sansio") as ws_port,
        ):
            yield http_port, ws_port, ws_bus
    finally:
        await http_bus.close()
        await ws_bus.close()


async def test_an_http_message_is_a_mainflux_envelope_on_nats(
    nats: NatsServer, plane: tuple[int, int, NatsBus], channel: str
) -> None:
    http_port, _, _ = plane
    raw = await _raw_client(nats)
    try:
        sub = await raw.subscribe(f"channels.{channel}.>")
        await raw.flush()
        body = b'[{"bn":"sensor:","n":"temp","u":"Cel","v":23.5}]'
        async with httpx.AsyncClient() as client:
            response = await client.post(
                f"http://127.0.0.1:{http_port}/channels/{channel}/messages/lab/bench",
                content=body,
                headers={"Authorization": KEY, "Content-Type": "application/senml+json"},
            )
        assert response.status_code == 202
        msg = await sub.next_msg(timeout=5)
        assert msg.subject == f"channels.{channel}.lab.bench"
        envelope = message_pb2.Message()
        envelope.ParseFromString(msg.data)
        assert envelope.channel == channel
        assert envelope.subtopic == "lab.bench"
        assert envelope.publisher == THING
        assert envelope.protocol == "http"
        assert envelope.payload == body
        assert envelope.created > 1_500_000_000 * 10**9
    finally:
        await raw.close()


async def test_a_raw_protobuf_from_any_producer_reaches_websocket_clients(
    nats: NatsServer, plane: tuple[int, int, NatsBus], channel: str
) -> None:
    _, ws_port, ws_bus = plane
    url = f"ws://127.0.0.1:{ws_port}/channels/{channel}/messages/>"
    async with connect(url, additional_headers={"Authorization": KEY}, open_timeout=5) as ws:
        await ws_bus.client.flush()  # the adapter's subscription is on the server
        raw = await _raw_client(nats)
        try:
            envelope = message_pb2.Message(
                channel=channel,
                subtopic="from.go",
                publisher="go-thing",
                protocol="mqtt",
                payload=b'[{"n":"x","v":1}]',
                created=1_590_000_000_000_000_000,
            )
            await raw.publish(f"channels.{channel}.from.go", envelope.SerializeToString())
            await raw.publish(f"channels.{channel}.junk", b"\xff not a protobuf \x00")
            await raw.publish(
                f"channels.{channel}.after",
                message_pb2.Message(
                    channel=channel, subtopic="after", payload=b"after"
                ).SerializeToString(),
            )
            await raw.flush()
        finally:
            await raw.close()
        assert await asyncio.wait_for(ws.recv(), 5) == '[{"n":"x","v":1}]'
        assert await asyncio.wait_for(ws.recv(), 5) == "after", "junk was skipped, not fatal"


async def test_http_in_websocket_out_across_adapters(
    plane: tuple[int, int, NatsBus], channel: str
) -> None:
    http_port, ws_port, ws_bus = plane
    url = f"ws://127.0.0.1:{ws_port}/channels/{channel}/messages"
    async with connect(url, additional_headers={"Authorization": KEY}, open_timeout=5) as ws:
        await ws_bus.client.flush()
        async with httpx.AsyncClient() as client:
            response = await client.post(
                f"http://127.0.0.1:{http_port}/channels/{channel}/messages",
                content=b'[{"n":"hello","vs":"world"}]',
                headers={"Authorization": KEY},
            )
        assert response.status_code == 202
        assert await asyncio.wait_for(ws.recv(), 5) == '[{"n":"hello","vs":"world"}]'


async def test_http_answers_503_while_nats_is_down_and_recovers(
    nats: NatsServer, plane: tuple[int, int, NatsBus], channel: str
) -> None:
    http_port, _, _ = plane
    url = f"http://127.0.0.1:{http_port}/channels/{channel}/messages"
    async with httpx.AsyncClient() as client:
        statuses: list[int] = []

        async def answered(status: int) -> bool:
            response = await client.post(url, content=b"x", headers={"Authorization": KEY})
            statuses.append(response.status_code)
            return response.status_code == status

        try:
            nats.stop()
            await until(lambda: answered(503), "HTTP answered 503 without NATS")
        finally:
            nats.start()
        assert (await client.get(f"http://127.0.0.1:{http_port}/health")).status_code == 200
        await until(lambda: answered(202), "publishing worked again once NATS was back")
        assert set(statuses) <= {202, 503}, statuses


async def _raw_client(server: NatsServer) -> nats.aio.client.Client:
    return await nats.connect(server.url)
