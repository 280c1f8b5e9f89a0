"""The WebSocket adapter on a real uvicorn server, driven by the websockets client."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
from collections.abc import AsyncIterator

import httpx
import orjson
import pytest
from starlette.types import ASGIApp, Receive, Scope, Send
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from mainflux.adapters.access import CachedThingAccess
from mainflux.adapters.ws import create_app
from mainflux.core.errors import ServiceUnavailable
from mainflux.messaging.bus import Handler
from mainflux.messaging.envelope import Message
from mainflux.messaging.inproc import InProcessBus
from tests import servers
from tests.fakes import FakeThings

CH = "8d6a4f2e-1111-4c3b-9a55-0e9d8c7b6a51"
OTHER = "c0ffee00-0000-4000-8000-000000000002"
KEY = "0a1b2c3d-0000-4000-8000-00000000f00d"
THING = "7f7f7f7f-0000-4000-8000-0000000000bb"
MAX_FRAME = 4096


class BreakableBus(InProcessBus):
    """An in-process bus that can be made unreachable for publishers."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.refuse_subscriptions = False

    async def publish(self, message: Message, *, confirm: bool = False) -> None:
        if self.down:
            raise ServiceUnavailable()
        await super().publish(message)

    async def subscribe(self, subject: str, handler: Handler, *, queue: str = ""):  # type: ignore[no-untyped-def]
        if self.refuse_subscriptions:
            raise ServiceUnavailable()
        return await super().subscribe(subject, handler, queue=queue)


def serving(app: ASGIApp) -> contextlib.AbstractAsyncContextManager[int]:
    """The app on a uvicorn server with the sans-I/O websockets protocol; yields the port."""
    return servers.serving(app, ws="websockets-sansio", ws_max_size=MAX_FRAME)


@pytest.fixture
def things() -> FakeThings:
    """A things service knowing one thing (KEY), connected to CH only."""
    things = FakeThings()
    things.add(THING, KEY, CH)
    return things


@pytest.fixture
async def bus() -> AsyncIterator[BreakableBus]:
    instance = BreakableBus()
    yield instance
    await instance.close()


@pytest.fixture
async def port(things: FakeThings, bus: BreakableBus) -> AsyncIterator[int]:
    async with serving(create_app(things, bus)) as p:
        yield p


@pytest.fixture
async def inbox(bus: BreakableBus) -> asyncio.Queue[Message]:
    queue: asyncio.Queue[Message] = asyncio.Queue()

    async def handler(message: Message) -> None:
        queue.put_nowait(message)

    await bus.subscribe("channels.>", handler)
    return queue


def ws_url(port: int, suffix: str = "", query: str = "") -> str:
    return f"ws://127.0.0.1:{port}/channels/{CH}/messages{suffix}{query}"


@contextlib.asynccontextmanager
async def open_ws(url: str, key: str | None = KEY) -> AsyncIterator[ClientConnection]:
    headers = {"Authorization": key} if key is not None else {}
    async with connect(url, additional_headers=headers, open_timeout=5) as ws:
        yield ws


async def refused_status(url: str, key: str | None = KEY) -> int:
    with pytest.raises(InvalidStatus) as refused:
        async with open_ws(url, key):
            pass
    return refused.value.response.status_code


async def test_frames_are_published_as_ws_messages(
    port: int, inbox: asyncio.Queue[Message]
) -> None:
    async with open_ws(ws_url(port, "/room/1")) as ws:
        await ws.send('[{"n":"t","v":1}]')
        await ws.send(b"\x00\x01binary")
        first = await asyncio.wait_for(inbox.get(), 5)
        second = await asyncio.wait_for(inbox.get(), 5)
    assert (first.channel, first.subtopic, first.publisher, first.protocol) == (
        CH,
        "room.1",
        THING,
        "ws",
    )
    assert first.payload == b'[{"n":"t","v":1}]'
    assert second.payload == b"\x00\x01binary"


async def test_the_key_may_come_in_the_query(port: int, inbox: asyncio.Queue[Message]) -> None:
    async with open_ws(ws_url(port, query=f"?authorization={KEY}"), key=None) as ws:
        await ws.send("hello")
        assert (await asyncio.wait_for(inbox.get(), 5)).payload == b"hello"


async def test_channel_messages_arrive_as_frames(port: int, bus: BreakableBus) -> None:
    async with open_ws(ws_url(port)) as ws:
        await bus.publish(Message(CH, "", "other-thing", "http", b'{"text":1}'))
        await bus.publish(Message(CH, "", "other-thing", "http", b"\xff\xfe not utf-8"))
        assert await asyncio.wait_for(ws.recv(), 5) == '{"text":1}'
        assert await asyncio.wait_for(ws.recv(), 5) == b"\xff\xfe not utf-8"


async def test_cbor_clients_get_binary_frames(port: int, bus: BreakableBus) -> None:
    async with open_ws(ws_url(port, query="?content-type=application/senml%2Bcbor")) as ws:
        await bus.publish(Message(CH, "", "t", "http", b"text-looking"))
        assert await asyncio.wait_for(ws.recv(), 5) == b"text-looking"


async def test_own_frames_are_echoed_like_0_10(port: int) -> None:
    async with open_ws(ws_url(port, "/echo")) as ws:
        await ws.send("ping")
        assert await asyncio.wait_for(ws.recv(), 5) == "ping"


SUBTOPIC_MATCHING = [
    ("no subtopic gets only plain", "", ["", "a", "a.b"], [""], ""),
    ("exact subtopic", "/a", ["", "a", "a.b"], ["a"], "a"),
    ("star is one element", "/a/*", ["a", "a.b", "a.b.c", "x.b"], ["a.b"], "a.z"),
    ("gt is the rest", "/>", ["", "a", "a.b"], ["a", "a.b"], "z"),
    ("gt under a prefix", "/a/>", ["a", "a.b", "a.b.c", "b.c"], ["a.b", "a.b.c"], "a.z"),
]


@pytest.mark.parametrize(
    ("suffix", "published", "received", "last"),
    [c[1:] for c in SUBTOPIC_MATCHING],
    ids=[c[0] for c in SUBTOPIC_MATCHING],
)
async def test_delivery_matches_the_subtopic(
    port: int, bus: BreakableBus, suffix: str, published: list[str], received: list[str], last: str
) -> None:
    async with open_ws(ws_url(port, suffix)) as ws:
        for subtopic in [*published, last]:
            await bus.publish(Message(CH, subtopic, "t", "http", f"sub={subtopic}".encode()))
        got = [await asyncio.wait_for(ws.recv(), 5) for _ in [*received, last]]
    # in publish order, nothing unexpected before the final matching message
    assert got == [f"sub={s}" for s in [*received, last]]


async def test_a_listen_only_wildcard_connection_cannot_publish(
    port: int, inbox: asyncio.Queue[Message]
) -> None:
    async with open_ws(ws_url(port, "/>")) as ws:
        await ws.send("nope")
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    assert inbox.empty()


HANDSHAKES = [
    ("missing key", "", None, 403),
    ("empty key", "", "", 403),
    ("wrong key", "", "wrong", 403),
    ("bad subtopic", "/a*b", KEY, 400),
    ("space in subtopic", "/a+b", KEY, 400),
]


@pytest.mark.parametrize(
    ("suffix", "key", "status"), [c[1:] for c in HANDSHAKES], ids=[c[0] for c in HANDSHAKES]
)
async def test_refused_handshakes(port: int, suffix: str, key: str | None, status: int) -> None:
    assert await refused_status(ws_url(port, suffix), key) == status


async def test_a_refused_handshake_carries_the_json_error_body(port: int) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with open_ws(ws_url(port), "wrong"):
            pass
    response = refused.value.response
    assert response.headers["content-type"] == "application/json"
    assert orjson.loads(response.body) == {"error": "missing or invalid credentials provided"}


async def test_a_plain_request_on_a_channel_path_is_426(port: int) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"http://127.0.0.1:{port}/channels/{CH}/messages")
    assert response.status_code == 426
    assert response.headers["upgrade"] == "websocket"
    assert response.json()["error"] == "a WebSocket upgrade request is expected here"


async def test_not_connected_and_path_junk_are_refused(port: int) -> None:
    assert await refused_status(f"ws://127.0.0.1:{port}/channels/{OTHER}/messages") == 403
    assert await refused_status(f"ws://127.0.0.1:{port}/channels/{CH}/messagesX") == 400
    assert await refused_status(f"ws://127.0.0.1:{port}/channels//messages") == 400


async def test_things_or_bus_unreachable_at_handshake_is_503(
    port: int, things: FakeThings, bus: BreakableBus
) -> None:
    things.down = True
    assert await refused_status(ws_url(port)) == 503
    things.down = False
    bus.refuse_subscriptions = True
    assert await refused_status(ws_url(port)) == 503


async def test_bus_down_while_publishing_closes_with_1011(port: int, bus: BreakableBus) -> None:
    async with open_ws(ws_url(port)) as ws:
        bus.down = True
        await ws.send("lost")
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1011


async def test_an_oversized_frame_closes_only_that_connection(port: int) -> None:
    async with open_ws(ws_url(port, "/big")) as bystander:
        async with open_ws(ws_url(port, "/big")) as ws:
            await ws.send("x" * (MAX_FRAME + 1))
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
        await bystander.send("still here")
        assert await asyncio.wait_for(bystander.recv(), 5) == "still here"


async def handshake(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    nonce = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        f"GET /channels/{CH}/messages HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {nonce}\r\n"
        f"Sec-WebSocket-Version: 13\r\nAuthorization: {KEY}\r\n\r\n".encode()
    )
    await writer.drain()
    status = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert status.startswith(b"HTTP/1.1 101"), status
    return reader, writer


MALFORMED_FRAMES = [
    ("reserved-opcode", b"\x83\x80\x00\x00\x00\x00", 1002),
    ("unmasked", b"\x81\x05hello", 1002),
    ("bad-utf8", b"\x81\x82\x00\x00\x00\x00\xff\xfe", 1007),
    ("bad-utf8-fragmented", b"\x01\x81\x00\x00\x00\x00\xc3\x80\x81\x00\x00\x00\x00\xff", 1007),
    ("rsv-bits", b"\xf1\x80\x00\x00\x00\x00", 1002),
    ("lone-continuation", b"\x80\x81\x00\x00\x00\x00a", 1002),
    ("long-ping", b"\x89\xfe\x00\x80\x00\x00\x00\x00" + b"a" * 128, 1002),
    ("fragmented-ping", b"\x09\x80\x00\x00\x00\x00", 1002),
    ("bad-close-code", b"\x88\x82\x00\x00\x00\x00\x00\x05", 1002),
    ("absurd-length", b"\x82\xff\x7f\xff\xff\xff\xff\xff\xff\xff\x00\x00\x00\x00", 1009),
]


@pytest.mark.parametrize(
    ("frame", "code"), [c[1:] for c in MALFORMED_FRAMES], ids=[c[0] for c in MALFORMED_FRAMES]
)
async def test_malformed_frames_are_closed_with_their_code_and_the_server_lives(
    port: int, frame: bytes, code: int
) -> None:
    reader, writer = await handshake(port)
    writer.write(frame)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 5)  # read until the server hangs up
    writer.close()
    assert answer[0] == 0x88, "a close frame"
    assert int.from_bytes(answer[2:4]) == code, answer
    async with open_ws(ws_url(port, "/after")) as ws:
        await ws.send("alive")
        assert await asyncio.wait_for(ws.recv(), 5) == "alive"


async def test_an_oversized_message_in_small_fragments_is_closed_with_1009(port: int) -> None:
    async with open_ws(ws_url(port, "/big")) as bystander:
        async with open_ws(ws_url(port, "/big")) as ws:
            await ws.send(["x" * 1000 for _ in range(MAX_FRAME // 1000 + 1)])
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
        await bystander.send("still here")
        assert await asyncio.wait_for(bystander.recv(), 5) == "still here"


async def test_malformed_handshakes_are_refused(port: int) -> None:
    for request in (
        b"GET /channels/x/messages HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n",  # no key
        b"GET /channels/x/messages HTTP/1.1\r\nUpgrade: websocket\r\n\r\n",
        b"\x16\x03\x01 not http at all\r\n\r\n",
    ):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(200), 5)
        writer.close()
        assert not answer.startswith(b"HTTP/1.1 101"), answer
    async with open_ws(ws_url(port)) as ws:
        await ws.send("alive")
        assert await asyncio.wait_for(ws.recv(), 5) == "alive"


async def test_the_browser_page_and_service_routes(port: int) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        page = await http.get("/")
        assert page.status_code == 200
        assert "WebSocket" in page.text and page.headers["content-type"].startswith("text/html")
        assert (await http.get("/version")).json()["service"] == "websocket"
        assert (await http.get("/nothing")).status_code == 404


def mounted(app: ASGIApp, prefix: str) -> ASGIApp:
    async def strip(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and scope["path"].startswith(prefix):
            scope = dict(scope, root_path=prefix, path=scope["path"][len(prefix) :])
        await app(scope, receive, send)

    return strip


async def test_it_works_mounted_under_ws_through_the_cache(
    things: FakeThings, bus: BreakableBus
) -> None:
    cache = CachedThingAccess(things, None, max_age=3600)
    async with serving(mounted(create_app(cache, bus), "/ws")) as p:
        for _ in range(3):
            async with open_ws(f"ws://127.0.0.1:{p}/ws/channels/{CH}/messages/a%2Fb") as ws:
                await ws.send("via gateway")
                assert await asyncio.wait_for(ws.recv(), 5) == "via gateway"
        assert await refused_status(f"ws://127.0.0.1:{p}/ws/channels/{CH}/messages/a*b") == 400
    assert things.calls == 1, "the handshakes were answered from the cache"
