"""The HTTP adapter on a real uvicorn server, driven by httpx and raw sockets."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from mainflux.adapters.access import CachedThingAccess
from mainflux.adapters.http import create_app
from mainflux.core.errors import ServiceUnavailable
from mainflux.messaging.envelope import Message
from mainflux.messaging.inproc import InProcessBus
from tests import servers
from tests.fakes import FakeThings

CH = "5b1d3c52-7f0e-4a43-9d0d-2f7f2b9e1a10"
OTHER = "c0ffee00-0000-4000-8000-000000000001"
KEY = "a4b3c2d1-0000-4000-8000-00000000beef"
THING = "e2b1a0c9-0000-4000-8000-0000000000aa"


class DownBus:
    """A publisher whose bus cannot be reached."""

    async def publish(self, message: Message, *, confirm: bool = False) -> None:
        raise ServiceUnavailable()


@contextlib.asynccontextmanager
async def serving(app: ASGIApp) -> AsyncIterator[str]:
    """The app on a uvicorn server with the httptools protocol; yields its base URL."""
    async with servers.serving(app, http="httptools") as port:
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
async def bus() -> AsyncIterator[InProcessBus]:
    instance = InProcessBus()
    yield instance
    await instance.close()


@pytest.fixture
def things() -> FakeThings:
    """A things service: one thing (KEY) connected to CH only, and one with no connections."""
    things = FakeThings()
    things.add(THING, KEY, CH)
    things.add("lonely-thing", "lonely-key")
    return things


@pytest.fixture
async def inbox(bus: InProcessBus) -> asyncio.Queue[Message]:
    queue: asyncio.Queue[Message] = asyncio.Queue()

    async def handler(message: Message) -> None:
        queue.put_nowait(message)

    await bus.subscribe("channels.>", handler)
    return queue


@pytest.fixture
async def client(things: FakeThings, bus: InProcessBus) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        serving(create_app(things, bus, max_body=1000)) as url,
        httpx.AsyncClient(base_url=url) as http,
    ):
        yield http


async def test_a_post_is_accepted_and_put_on_the_bus(
    client: httpx.AsyncClient, inbox: asyncio.Queue[Message]
) -> None:
    body = b'[{"bn":"dev:","n":"temp","v":21.5}]'
    response = await client.post(
        f"/channels/{CH}/messages/room/1", content=body, headers={"Authorization": KEY}
    )
    assert response.status_code == 202
    assert response.content == b""
    message = await asyncio.wait_for(inbox.get(), 5)
    assert (message.channel, message.subtopic, message.publisher) == (CH, "room.1", THING)
    assert (message.protocol, message.payload) == ("http", body)
    assert message.created > 1_500_000_000 * 10**9
    assert message.subject == f"channels.{CH}.room.1"


@pytest.mark.parametrize(
    ("path", "subtopic"),
    [
        (f"/channels/{CH}/messages", ""),
        (f"/channels/{CH}/messages/", ""),
        (f"/channels/{CH}/messages//a//b/", "a.b"),
        (f"/channels/{CH}/messages/a%2Fb", "a.b"),
        (f"/channels/{CH}/messages/%C3%A9t%C3%A9", "été"),
        (f"/channels/{CH}/messages/a/*", "a.*"),
    ],
)
async def test_subtopics_are_derived_from_the_raw_path(
    client: httpx.AsyncClient, inbox: asyncio.Queue[Message], path: str, subtopic: str
) -> None:
    response = await client.post(path, content=b"x", headers={"Authorization": KEY})
    assert response.status_code == 202, path
    assert (await asyncio.wait_for(inbox.get(), 5)).subtopic == subtopic


FORBIDDEN = [
    ("unknown channel", "/channels/nope/messages", KEY),
    ("not connected", f"/channels/{OTHER}/messages", KEY),
    ("thing without connections", f"/channels/{CH}/messages", "lonely-key"),
    ("wrong key", f"/channels/{CH}/messages", "wrong"),
    ("empty key", f"/channels/{CH}/messages", ""),
    ("missing key", f"/channels/{CH}/messages", None),
]


@pytest.mark.parametrize(("path", "key"), [c[1:] for c in FORBIDDEN], ids=[c[0] for c in FORBIDDEN])
async def test_access_is_refused_with_403(
    client: httpx.AsyncClient, inbox: asyncio.Queue[Message], path: str, key: str | None
) -> None:
    headers = {} if key is None else {"Authorization": key}
    response = await client.post(path, content=b"x", headers=headers)
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"error": "missing or invalid credentials provided"}
    assert inbox.empty()


MALFORMED = [
    ("wildcard in element", f"/channels/{CH}/messages/a*b"),
    ("gt in element", f"/channels/{CH}/messages/a/b>"),
    ("plus is a space", f"/channels/{CH}/messages/a+b"),
    ("escaped space", f"/channels/{CH}/messages/a%20b"),
    ("escaped newline", f"/channels/{CH}/messages/a%0Ab"),
    ("broken escape", f"/channels/{CH}/messages/a%zz"),
    ("junk after messages", f"/channels/{CH}/messagesjunk"),
    ("empty channel", "/channels//messages"),
    ("dotted channel", "/channels/a.b/messages"),
    ("no messages segment", f"/channels/{CH}"),
]


@pytest.mark.parametrize("path", [c[1] for c in MALFORMED], ids=[c[0] for c in MALFORMED])
async def test_a_malformed_path_is_400(client: httpx.AsyncClient, path: str) -> None:
    response = await client.post(path, content=b"x", headers={"Authorization": KEY})
    assert response.status_code == 400, path
    assert response.json() == {"error": "malformed channel id, subtopic or request"}


async def test_a_body_over_the_limit_is_413(client: httpx.AsyncClient) -> None:
    response = await client.post(
        f"/channels/{CH}/messages", content=b"x" * 1001, headers={"Authorization": KEY}
    )
    assert response.status_code == 413
    assert response.json() == {"error": "request body larger than 1000 bytes"}
    ok = await client.post(
        f"/channels/{CH}/messages", content=b"x" * 1000, headers={"Authorization": KEY}
    )
    assert ok.status_code == 202, "a body at the limit is fine and the server still serves"


async def test_a_chunked_body_over_the_limit_is_413(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"y" * 200

    response = await client.post(
        f"/channels/{CH}/messages", content=chunks(), headers={"Authorization": KEY}
    )
    assert response.status_code == 413


async def test_a_bad_content_length_is_400(client: httpx.AsyncClient) -> None:
    port = int(str(client.base_url).rsplit(":", 1)[1].rstrip("/"))
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"POST /channels/{CH}/messages HTTP/1.1\r\nHost: x\r\nAuthorization: {KEY}\r\n"
        "Content-Length: -5\r\n\r\n".encode()
    )
    await writer.drain()
    status = await asyncio.wait_for(reader.readline(), 5)
    writer.close()
    assert status.split()[1] == b"400"
    assert (await client.get("/health")).status_code == 200, "the server is still up"


async def test_another_method_is_405(client: httpx.AsyncClient) -> None:
    response = await client.get(f"/channels/{CH}/messages", headers={"Authorization": KEY})
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.headers["content-type"] == "application/json"
    assert "POST" in response.json()["error"]


async def test_service_routes_and_unknown_paths(client: httpx.AsyncClient) -> None:
    version = await client.get("/version")
    assert version.status_code == 200
    assert version.json()["service"] == "http"
    assert (await client.get("/metrics")).status_code == 200
    missing = await client.get("/nothing/here")
    assert missing.status_code == 404


async def test_things_unreachable_is_503(client: httpx.AsyncClient, things: FakeThings) -> None:
    things.down = True
    response = await client.post(
        f"/channels/{CH}/messages", content=b"x", headers={"Authorization": KEY}
    )
    assert response.status_code == 503
    assert response.json()["error"].startswith("the things service or the message bus")


async def test_bus_unreachable_is_503_and_the_process_stays_up(things: FakeThings) -> None:
    async with (
        serving(create_app(things, DownBus())) as url,
        httpx.AsyncClient(base_url=url) as http,
    ):
        for _ in range(3):
            response = await http.post(
                f"/channels/{CH}/messages", content=b"x", headers={"Authorization": KEY}
            )
            assert response.status_code == 503
        assert (await http.get("/health")).status_code == 200


async def test_garbage_requests_leave_the_server_serving(client: httpx.AsyncClient) -> None:
    port = int(str(client.base_url).rsplit(":", 1)[1].rstrip("/"))
    for junk in (b"\x00\xff garbage\r\n\r\n", b"POST /channels HTTP/9.9\r\n\r\n", b"GET\r\n\r\n"):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(junk)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(200), 5)
        writer.close()
        assert answer == b"" or answer.startswith(b"HTTP/1.1 400"), answer
    response = await client.post(
        f"/channels/{CH}/messages", content=b"x", headers={"Authorization": KEY}
    )
    assert response.status_code == 202


def strip_prefix(app: ASGIApp, prefix: str, keep_path: bool) -> ASGIApp:
    """A gateway mount: sets ``root_path`` and either strips the prefix or keeps it."""

    async def mounted(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and scope["path"].startswith(prefix):
            path = scope["path"] if keep_path else scope["path"][len(prefix) :]
            scope = dict(scope, root_path=prefix, path=path)
        await app(scope, receive, send)

    return mounted


@pytest.mark.parametrize("keep_path", [False, True], ids=["stripped", "starlette-style"])
async def test_it_works_mounted_under_a_prefix(
    things: FakeThings, bus: InProcessBus, inbox: asyncio.Queue[Message], keep_path: bool
) -> None:
    app = strip_prefix(create_app(things, bus), "/http", keep_path)
    async with serving(app) as url, httpx.AsyncClient(base_url=url) as http:
        response = await http.post(
            f"/http/channels/{CH}/messages/a%2Fb", content=b"x", headers={"Authorization": KEY}
        )
        assert response.status_code == 202
        assert (await asyncio.wait_for(inbox.get(), 5)).subtopic == "a.b"
        bad = await http.post(
            f"/http/channels/{CH}/messages/a*b", content=b"x", headers={"Authorization": KEY}
        )
        assert bad.status_code == 400
        assert (await http.get("/http/version")).status_code == 200


async def test_a_steady_stream_through_the_cache_costs_one_access_call(
    things: FakeThings, bus: InProcessBus, inbox: asyncio.Queue[Message]
) -> None:
    cache = CachedThingAccess(things, None, max_age=3600)
    async with (
        serving(create_app(cache, bus)) as url,
        httpx.AsyncClient(base_url=url) as http,
    ):
        for i in range(25):
            response = await http.post(
                f"/channels/{CH}/messages", content=str(i).encode(), headers={"Authorization": KEY}
            )
            assert response.status_code == 202
        wrong = await http.post(
            f"/channels/{CH}/messages", content=b"x", headers={"Authorization": "wrong"}
        )
        assert wrong.status_code == 403
    assert things.calls == 2, "one call for the good key, one for the wrong one"
    assert [(await inbox.get()).payload for _ in range(25)] == [str(i).encode() for i in range(25)]


async def test_refusals_are_logged_once_per_cause_and_never_as_errors(
    client: httpx.AsyncClient, things: FakeThings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    path = f"/channels/{CH}/messages"
    for _ in range(3):
        wrong = await client.post(path, content=b"x", headers={"Authorization": "wrong-secret"})
        assert wrong.status_code == 403
        assert (await client.post(path, content=b"x")).status_code == 403
    things.down = True
    for _ in range(2):
        down = await client.post(path, content=b"x", headers={"Authorization": KEY})
        assert down.status_code == 503
    ours = [r for r in caplog.records if r.name == "mainflux.http"]
    infos = [r.getMessage() for r in ours if r.levelno == logging.INFO]
    assert len(infos) == 3, infos
    assert any("403 wrong key" in m for m in infos)
    assert any("403 no key" in m for m in infos)
    assert any("503 things service unavailable" in m for m in infos)
    assert len([r for r in ours if r.levelno == logging.DEBUG]) == 5
    server = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    assert not [r for r in server if r.levelno >= logging.WARNING or r.exc_info]
    assert not [r for r in server if "wrong-secret" in r.getMessage()]
