"""Open WebSockets follow the owner's decisions, and hostile clients stay bounded.

The adapter runs behind a real uvicorn and is driven by the websockets client. The
revocation tests use the real things service (SQLite) whose events go to the embedded
event log that the access cache tails, as in ``mainflux run``."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from mainflux.adapters.access import CachedThingAccess
from mainflux.adapters.ws import create_app
from mainflux.adapters.ws.api import WsApp
from mainflux.core.db import create_engine
from mainflux.events.sql import SqlEventStream
from mainflux.events.stream import Entry, EventStream
from mainflux.messaging.envelope import Message
from mainflux.messaging.inproc import InProcessBus
from mainflux.things import main as things_main
from mainflux.things.cache import InMemoryAccessCache
from mainflux.things.models import Channel, Thing
from mainflux.things.service import Service
from mainflux.things.singleuser import SingleUserAuth
from tests.fakes import FakeThings
from tests.integration.test_ws_adapter import open_ws, refused_status, serving
from tests.servers import until

TOKEN = "owner-token"
POLICY_VIOLATION = 1008


async def closed_with(ws: ClientConnection, code: int = POLICY_VIOLATION) -> None:
    """Wait for the server's close frame and check its code."""
    await asyncio.wait_for(ws.wait_closed(), 5)
    assert ws.close_code == code, ws.close_reason


async def alive(ws: ClientConnection, text: str = "still here") -> None:
    """The socket still publishes and receives (its own frames come back)."""
    await ws.send(text)
    assert await asyncio.wait_for(ws.recv(), 5) == text
    assert ws.close_code is None


@dataclass
class World:
    """The things service, the cache tailing its events, and the adapter on a port."""

    things: Service
    access: CachedThingAccess
    app: WsApp
    port: int

    async def thing(self) -> Thing:
        return (await self.things.create_things(TOKEN, [Thing(name="device")]))[0]

    async def channel(self, *things: Thing) -> str:
        channel = (await self.things.create_channels(TOKEN, [Channel(name="room")]))[0]
        if things:
            await self.things.connect(TOKEN, [channel.id], [t.id for t in things])
        return channel.id

    def url(self, channel: str, subtopic: str = "") -> str:
        suffix = f"/{subtopic}" if subtopic else ""
        return f"ws://127.0.0.1:{self.port}/channels/{channel}/messages{suffix}"

    async def after_event(self, change: Awaitable[object]) -> None:
        """Make a change and wait until the cache (and so the adapter) has seen its event."""
        seen = self.access.events_seen
        await change
        await until(lambda: self.access.events_seen > seen, "the cache saw the event")


async def tail_started(access: CachedThingAccess, events: SqlEventStream) -> None:
    """Wait until the cache's tail reads: it starts at "now", so append until it sees one."""
    for _ in range(50):
        await events.append("mainflux.things", {"operation": "noop"})
        with contextlib.suppress(AssertionError):
            await until(lambda: access.events_seen > 0, "the tail saw an entry", 0.2)
            return
    raise AssertionError("the access cache never started tailing the event log")


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'mainflux.db'}")
    events = SqlEventStream(engine, poll_interval=0.05)
    await events.create_schema()
    auth = SingleUserAuth("owner@example.com", TOKEN)
    things = await things_main.build_service(engine, auth, events, InMemoryAccessCache())
    access = CachedThingAccess(things, events)
    tail = asyncio.create_task(access.run(block=0.2))
    bus = InProcessBus()
    app = create_app(access, bus)
    assert isinstance(app, WsApp)
    try:
        await tail_started(access, events)
        async with serving(app) as port:
            yield World(things, access, app, port)
    finally:
        tail.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await tail
        await bus.close()
        await events.close()
        await engine.dispose()


async def test_a_disconnect_closes_that_connection_only(world: World) -> None:
    thing, other = await world.thing(), await world.thing()
    channel = await world.channel(thing, other)
    elsewhere = await world.channel(thing)
    async with (
        open_ws(world.url(channel, "a"), thing.key) as revoked,
        open_ws(world.url(elsewhere, "b"), thing.key) as same_thing_elsewhere,
        open_ws(world.url(channel, "c"), other.key) as other_thing_here,
    ):
        await world.things.disconnect(TOKEN, channel, thing.id)
        await closed_with(revoked)
        assert revoked.close_reason == "access revoked"
        await alive(same_thing_elsewhere)
        await alive(other_thing_here)
    assert await refused_status(world.url(channel), thing.key) == 403


async def test_removing_a_thing_closes_all_its_connections(world: World) -> None:
    thing, bystander = await world.thing(), await world.thing()
    first = await world.channel(thing, bystander)
    second = await world.channel(thing)
    async with (
        open_ws(world.url(first, "a"), thing.key) as one,
        open_ws(world.url(second, "b"), thing.key) as two,
        open_ws(world.url(first, "c"), bystander.key) as other,
    ):
        await world.things.remove_thing(TOKEN, thing.id)
        await closed_with(one)
        await closed_with(two)
        await alive(other)


async def test_a_key_change_closes_the_connections_that_hold_the_old_key(world: World) -> None:
    thing, bystander = await world.thing(), await world.thing()
    channel = await world.channel(thing, bystander)
    async with (
        open_ws(world.url(channel, "a"), thing.key) as old_key,
        open_ws(world.url(channel, "b"), bystander.key) as other,
    ):
        await world.things.update_key(TOKEN, thing.id, f"new-{uuid.uuid4()}")
        await closed_with(old_key)
        await alive(other)
    assert await refused_status(world.url(channel), thing.key) == 403


async def test_a_name_update_keeps_the_connection_open(world: World) -> None:
    thing = await world.thing()
    channel = await world.channel(thing)
    async with open_ws(world.url(channel), thing.key) as ws:
        renamed = Thing(id=thing.id, name="renamed", metadata={"floor": 2})
        await world.after_event(world.things.update_thing(TOKEN, renamed))
        await world.app.live.settled()  # the key was checked again and still holds
        await alive(ws)


async def test_removing_a_channel_closes_every_connection_on_it(world: World) -> None:
    thing, other = await world.thing(), await world.thing()
    channel = await world.channel(thing, other)
    kept = await world.channel(thing)
    async with (
        open_ws(world.url(channel, "a"), thing.key) as one,
        open_ws(world.url(channel, ">"), other.key) as two,
        open_ws(world.url(kept), thing.key) as elsewhere,
    ):
        await world.things.remove_channel(TOKEN, channel)
        await closed_with(one)
        await closed_with(two)
        await alive(elsewhere)


async def test_the_listener_lives_only_while_sockets_are_open(world: World) -> None:
    thing = await world.thing()
    channel = await world.channel(thing)
    assert not world.app.live.watching
    async with open_ws(world.url(channel), thing.key) as ws:
        assert world.app.live.watching
        await alive(ws)
    await until(lambda: world.app.live.count == 0, "the socket was released")
    assert not world.app.live.watching


# -- the same rules with a scripted things service -------------------------------------

CH = "3d7e2a10-0000-4000-8000-00000000c0de"
KEY = "k-1"
THING = "thing-1"


def scripted_things() -> FakeThings:
    """Three things on the channel ``CH``: ``thing-1`` (key ``KEY``), ``thing-2``, ``thing-3``."""
    things = FakeThings()
    for thing_id, key in ((THING, KEY), ("thing-2", "k-2"), ("thing-3", "k-3")):
        things.add(thing_id, key, CH)
    return things


@dataclass
class Scripted:
    things: FakeThings
    cache: CachedThingAccess
    bus: InProcessBus
    app: WsApp
    port: int

    def url(self, subtopic: str = "") -> str:
        return f"ws://127.0.0.1:{self.port}/channels/{CH}/messages{subtopic}"


class FlakyStream:
    """A things event stream with no events whose reads fail while ``down``: what the
    access cache's tail sees of an event store outage."""

    def __init__(self) -> None:
        self.down = False

    async def append(self, stream: str, fields: Mapping[str, str]) -> str:
        return "0-1"

    async def read(
        self, stream: str, after: str = "0-0", count: int = 100, block: float | None = None
    ) -> list[Entry]:
        if self.down:
            raise ConnectionError("event store down")
        await asyncio.sleep(block or 0)  # a blocking read that finds nothing new
        return []

    async def close(self) -> None:
        return None


@contextlib.asynccontextmanager
async def scripted(events: EventStream | None = None, **caps: int) -> AsyncIterator[Scripted]:
    things = scripted_things()
    cache = CachedThingAccess(things, events, max_age=3600)
    tail = asyncio.create_task(cache.run(block=0.05, retry=0.01))
    bus = InProcessBus()
    app = create_app(cache, bus, **caps)
    assert isinstance(app, WsApp)
    try:
        async with serving(app) as port:
            yield Scripted(things, cache, bus, app, port)
    finally:
        tail.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await tail
        await bus.close()


async def test_a_key_that_cannot_be_checked_keeps_its_connection() -> None:
    async with scripted() as s, open_ws(s.url(), KEY) as ws:
        s.things.down = True
        s.cache.invalidate({"operation": "thing.update", "id": THING})
        await s.app.live.settled()
        await alive(ws)
        s.things.down = False
        del s.things.keys[KEY]
        s.cache.invalidate({"operation": "thing.update", "id": THING})
        await closed_with(ws)


async def test_a_key_now_naming_another_thing_closes_the_connection() -> None:
    async with scripted() as s, open_ws(s.url(), KEY) as ws:
        s.things.keys[KEY] = "thing-2"
        s.cache.invalidate({"operation": "thing.update", "id": THING})
        await closed_with(ws)


async def test_a_revocation_during_the_handshake_is_not_missed() -> None:
    async with scripted() as s, open_ws(s.url("/keep"), "k-2") as keeper:
        s.things.gate = asyncio.Event()
        s.things.entered.clear()
        attempt = asyncio.create_task(refused_status(s.url(), KEY))
        await asyncio.wait_for(s.things.entered.wait(), 5)
        # the answer in flight says "allowed"; the disconnect lands before it returns
        s.things.links.discard((CH, THING))
        s.cache.invalidate({"operation": "thing.disconnect", "chan_id": CH, "thing_id": THING})
        s.things.gate.set()
        s.things.gate = None
        assert await asyncio.wait_for(attempt, 5) == 403
        await alive(keeper)


async def test_after_an_event_store_outage_every_socket_is_checked_again() -> None:
    events = FlakyStream()
    async with (
        scripted(events) as s,
        open_ws(s.url("/a"), KEY) as disconnected,
        open_ws(s.url("/b"), "k-2") as untouched,
        open_ws(s.url("/c"), "k-3") as rekeyed,
    ):
        events.down = True
        await until(lambda: s.cache.read_failures > 0, "the tail noticed the outage")
        # changes whose events are lost with the event store
        s.things.links.discard((CH, THING))
        del s.things.keys["k-3"]
        await alive(untouched, "nothing is closed during the outage")
        events.down = False
        await closed_with(disconnected)
        await closed_with(rekeyed)
        await s.app.live.settled()
        await alive(untouched)


async def test_sockets_that_cannot_be_checked_after_an_outage_stay_open() -> None:
    events = FlakyStream()
    async with scripted(events) as s, open_ws(s.url(), KEY) as ws:
        events.down = s.things.down = True
        await until(lambda: s.cache.read_failures > 0, "the tail noticed the outage")
        heard = s.app.live.revocations
        events.down = False
        await until(lambda: s.app.live.revocations > heard, "the adapter heard of the outage")
        await s.app.live.settled()
        await alive(ws)


# -- caps ------------------------------------------------------------------------------


async def test_the_adapter_cap_refuses_the_next_connection_with_503() -> None:
    async with (
        scripted(max_connections=2) as s,
        open_ws(s.url(), KEY) as one,
        open_ws(s.url(), "k-2") as two,
    ):
        assert await refused_status(s.url(), "k-3") == 503
        await s.bus.publish(Message(CH, "", "t", "http", b"for both"))
        assert await asyncio.wait_for(one.recv(), 5) == "for both"
        assert await asyncio.wait_for(two.recv(), 5) == "for both"
        await two.close()
        await until(lambda: s.app.live.count == 1, "the closed socket was released")
        async with open_ws(s.url(), "k-3") as three:
            await alive(three, "a freed slot is usable")


async def test_the_per_thing_cap_refuses_with_429_while_others_connect() -> None:
    async with (
        scripted(max_connections_per_thing=2) as s,
        open_ws(s.url("/a"), KEY) as one,
        open_ws(s.url("/b"), KEY) as two,
    ):
        assert await refused_status(s.url("/c"), KEY) == 429
        async with open_ws(s.url("/d"), "k-2") as other_thing:
            await alive(other_thing)
        await alive(one, "first")
        await alive(two, "second")
        assert s.app.live.of_thing(THING) == 2


async def test_unauthenticated_handshakes_count_against_the_adapter_cap() -> None:
    async with scripted(max_connections=1) as s, open_ws(s.url(), KEY) as ws:
        assert await refused_status(s.url(), "wrong") == 503
        await alive(ws)
    async with scripted(max_connections=1) as s:
        s.things.gate = asyncio.Event()
        s.things.entered.clear()
        pending = asyncio.create_task(refused_status(s.url(), "wrong"))
        await asyncio.wait_for(s.things.entered.wait(), 5)
        assert await refused_status(s.url(), KEY) == 503, "a slow handshake holds its slot"
        s.things.gate.set()
        assert await asyncio.wait_for(pending, 5) == 403


# -- logs ------------------------------------------------------------------------------

HOSTILE_FRAMES = [
    (b"\x83\x80\x00\x00\x00\x00", 1002),  # reserved opcode
    (b"\x81\x82\x00\x00\x00\x00\xff\xfe", 1007),  # text that is not UTF-8
    (b"\x01\x81\x00\x00\x00\x00\xc3\x80\x81\x00\x00\x00\x00\xff", 1007),  # in fragments
    (b"\x82\xff\x7f\xff\xff\xff\xff\xff\xff\xff\x00\x00\x00\x00", 1009),  # absurd length
]


async def raw_handshake(
    port: int, channel: str, key: str
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Open a WebSocket by hand, to send frames no client library would."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    nonce = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        f"GET /channels/{channel}/messages HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {nonce}\r\n"
        f"Sec-WebSocket-Version: 13\r\nAuthorization: {key}\r\n\r\n".encode()
    )
    await writer.drain()
    status = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert status.startswith(b"HTTP/1.1 101"), status
    return reader, writer


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every record at DEBUG and up (the test server's records propagate to the root)."""
    caplog.set_level(logging.DEBUG)
    return caplog


def server_side(logs: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """The records of the server and the adapter, not those of the client library."""
    return [r for r in logs.records if not r.name.startswith("websockets")]


async def test_refusals_are_logged_once_per_cause_and_never_as_errors(
    logs: pytest.LogCaptureFixture,
) -> None:
    async with scripted(max_connections_per_thing=1) as s:
        for _ in range(3):
            assert await refused_status(s.url(), "wrong-secret") == 403
            assert await refused_status(s.url("/a*b"), KEY) == 400
        async with open_ws(s.url(), KEY):
            assert await refused_status(s.url(), KEY) == 429
            assert await refused_status(s.url(), KEY) == 429
        for frame, code in HOSTILE_FRAMES:
            reader, writer = await raw_handshake(s.port, CH, "k-2")
            writer.write(frame)
            await writer.drain()
            answer = await asyncio.wait_for(reader.read(), 5)
            writer.close()
            assert answer[0] == 0x88 and int.from_bytes(answer[2:4]) == code, answer
    ours = [r for r in logs.records if r.name == "mainflux.ws"]
    infos = [r.getMessage() for r in ours if r.levelno == logging.INFO]
    assert len(infos) == 3, infos
    assert any("403 wrong key" in m for m in infos)
    assert any("400 bad path" in m for m in infos)
    assert any("429 too many connections" in m for m in infos)
    assert len([r for r in ours if r.levelno == logging.DEBUG]) == 5
    noisy = [r for r in server_side(logs) if r.levelno >= logging.WARNING or r.exc_info]
    assert not noisy, [r.getMessage() for r in noisy]
    assert not [r for r in server_side(logs) if "wrong-secret" in r.getMessage()]


async def test_a_refused_handshake_logs_nothing_about_the_key_even_in_the_query(
    logs: pytest.LogCaptureFixture,
) -> None:
    async with scripted() as s:
        url = s.url("?authorization=query-secret")
        assert await refused_status(url, key=None) == 403
    assert server_side(logs), "the refusal was logged"
    assert not [r for r in server_side(logs) if "query-secret" in r.getMessage()]


async def test_the_close_after_a_revocation_does_not_break_a_reading_client() -> None:
    async with scripted() as s, open_ws(s.url(), KEY) as ws:
        await s.bus.publish(Message(CH, "", "t", "http", b"before"))
        assert await asyncio.wait_for(ws.recv(), 5) == "before"
        s.cache.invalidate({"operation": "thing.remove", "id": THING})
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == POLICY_VIOLATION
