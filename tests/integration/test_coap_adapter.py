"""The CoAP adapter with real clients: aiocoap, libcoap's coap-client and raw datagrams.

The adapter serves real UDP on a free port; the things service is the shared fake
behind the real access cache, the bus is the in-process one (the NATS path is covered
by ``test_coap_main.py``)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiocoap
import httpx
import pytest
from aiocoap import numbers

from mainflux.adapters import http as http_adapter
from mainflux.adapters.access import CachedThingAccess
from mainflux.adapters.coap import open_server
from mainflux.adapters.coap.resource import MessagesResource, Tuning
from mainflux.core.errors import ServiceUnavailable
from mainflux.messaging.envelope import Message
from mainflux.messaging.inproc import InProcessBus
from tests.coap import Observation, RawEndpoint, coap_client, run_coap_client
from tests.fakes import FakeThings
from tests.servers import serving, until


def free_udp_port() -> int:
    """A UDP port that is free right now."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class DownBus(InProcessBus):
    """A bus whose publishes and subscriptions fail as an unreachable NATS does."""

    async def publish(self, message: Message, *, confirm: bool = False) -> None:
        raise ServiceUnavailable()

    async def subscribe(self, subject, handler, *, queue=""):  # type: ignore[no-untyped-def]
        raise ServiceUnavailable()


@dataclass
class Adapter:
    """A CoAP adapter on a UDP port, with its things, cache, bus and bus inbox."""

    resource: MessagesResource
    port: int
    things: FakeThings
    access: CachedThingAccess
    bus: InProcessBus
    inbox: asyncio.Queue[Message]
    channel: str
    thing: str
    key: str

    def uri(self, subtopic: str = "", key: str | None = None, channel: str = "") -> str:
        suffix = f"/{subtopic}" if subtopic else ""
        query = f"?authorization={self.key if key is None else key}" if key != "" else ""
        path = f"channels/{channel or self.channel}/messages{suffix}"
        return f"coap://127.0.0.1:{self.port}/{path}{query}"

    def path(self, *subtopic: str) -> list[str]:
        return ["channels", self.channel, "messages", *subtopic]

    @property
    def query(self) -> list[str]:
        return [f"authorization={self.key}"]

    async def publish(self, payload: bytes, subtopic: str = "", protocol: str = "http") -> None:
        """Publish on the bus as another adapter would."""
        await self.bus.publish(Message(self.channel, subtopic, "someone", protocol, payload))


@contextlib.asynccontextmanager
async def adapter(
    tuning: Tuning | None = None, bus: InProcessBus | None = None
) -> AsyncIterator[Adapter]:
    things = FakeThings()
    channel = str(uuid.uuid4())
    thing, key = things.thing(channel)
    access = CachedThingAccess(things, None)
    bus = bus or InProcessBus()
    inbox: asyncio.Queue[Message] = asyncio.Queue()

    async def collect(message: Message) -> None:
        if message.protocol == "coap":
            inbox.put_nowait(message)

    if not isinstance(bus, DownBus):
        await bus.subscribe("channels.>", collect)
    port = free_udp_port()
    async with open_server(access, bus, "127.0.0.1", port, tuning) as resource:
        yield Adapter(resource, port, things, access, bus, inbox, channel, thing, key)


@pytest.fixture
async def coap() -> AsyncIterator[Adapter]:
    async with adapter(Tuning(max_payload=8192)) as running:
        yield running


@pytest.fixture
async def client() -> AsyncIterator[aiocoap.Context]:
    context = await aiocoap.Context.create_client_context()
    yield context
    await context.shutdown()


async def request(
    client: aiocoap.Context,
    code: numbers.Code,
    uri: str,
    payload: bytes = b"",
    *,
    confirmable: bool = True,
) -> aiocoap.Message:
    message = aiocoap.Message(
        code=code,
        uri=uri,
        payload=payload,
        transport_tuning=numbers.Reliable() if confirmable else numbers.Unreliable(),
    )
    return await asyncio.wait_for(client.request(message).response, 20)


# -- publishing -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "confirmable"),
    [(numbers.POST, True), (numbers.POST, False), (numbers.PUT, True), (numbers.PUT, False)],
    ids=["POST CON", "POST NON", "PUT CON", "PUT NON"],
)
async def test_aiocoap_publishes_and_gets_2_04(
    coap: Adapter, client: aiocoap.Context, code: numbers.Code, confirmable: bool
) -> None:
    response = await request(client, code, coap.uri("room/temp"), b"21.5", confirmable=confirmable)
    assert response.code == numbers.CHANGED
    message = await asyncio.wait_for(coap.inbox.get(), 5)
    assert (message.channel, message.subtopic) == (coap.channel, "room.temp")
    assert (message.publisher, message.protocol, message.payload) == (coap.thing, "coap", b"21.5")
    assert message.created > 1_500_000_000 * 10**9


async def test_a_confirmable_publish_is_acknowledged_piggy_backed(coap: Adapter) -> None:
    raw = RawEndpoint(coap.port)
    try:
        sent = raw.send(numbers.POST, coap.path(), query=coap.query, payload=b"x")
        answer = await raw.receive()
        assert (answer.mtype, answer.mid) == (numbers.ACK, sent.mid)
        if answer.code == numbers.EMPTY:
            # Slower than aiocoap's EMPTY_ACK_DELAY (a loaded machine): acknowledged
            # at once, answered separately, as RFC 7252 allows.
            answer = await raw.answer_to(sent)
            raw.reply(answer, numbers.ACK)
        assert answer.code == numbers.CHANGED
        sent = raw.send(
            numbers.POST, coap.path(), query=coap.query, payload=b"y", mtype=numbers.NON
        )
        answer = await raw.receive()
        assert (answer.mtype, answer.token, answer.code) == (
            numbers.NON,
            sent.token,
            numbers.CHANGED,
        )
    finally:
        raw.close()


@pytest.mark.parametrize("non", [False, True], ids=["CON", "NON"])
async def test_coap_client_publishes(coap: Adapter, non: bool) -> None:
    args = ["-N"] if non else []
    _, err = await run_coap_client(*args, "-m", "post", "-e", "from libcoap", coap.uri("a/b"))
    assert err.strip() == "", err
    message = await asyncio.wait_for(coap.inbox.get(), 5)
    assert (message.subtopic, message.payload, message.protocol) == ("a.b", b"from libcoap", "coap")


async def test_the_subtopic_is_not_unescaped_and_empty_elements_are_dropped(
    coap: Adapter,
) -> None:
    raw = RawEndpoint(coap.port)
    try:
        raw.send(numbers.POST, coap.path("a", "", "b%20c"), query=coap.query, payload=b"1")
        assert (await raw.receive()).code == numbers.CHANGED
        assert (await asyncio.wait_for(coap.inbox.get(), 5)).subtopic == "a.b%20c"
    finally:
        raw.close()


async def test_a_payload_above_one_datagram_arrives_block_wise(
    coap: Adapter, client: aiocoap.Context
) -> None:
    payload = os.urandom(6000)
    response = await request(client, numbers.POST, coap.uri("big"), payload)
    assert response.code == numbers.CHANGED
    assert (await asyncio.wait_for(coap.inbox.get(), 5)).payload == payload


async def test_coap_client_sends_small_blocks(coap: Adapter, tmp_path) -> None:  # type: ignore[no-untyped-def]
    body = os.urandom(1500).hex().encode()  # 3000 bytes in 47 blocks of 64
    (tmp_path / "body").write_bytes(body)
    _, err = await run_coap_client(
        "-m", "put", "-b", "64", "-f", str(tmp_path / "body"), coap.uri("blocks")
    )
    assert err.strip() == "", err
    assert (await asyncio.wait_for(coap.inbox.get(), 5)).payload == body


# -- errors -----------------------------------------------------------------------------


async def test_every_refusal_has_its_code(coap: Adapter, client: aiocoap.Context) -> None:
    other_channel = str(uuid.uuid4())
    cases = [
        ("bad subtopic", numbers.POST, coap.uri("a*b"), b"x", numbers.BAD_REQUEST),
        ("empty payload", numbers.POST, coap.uri(), b"", numbers.BAD_REQUEST),
        ("wildcard publish", numbers.POST, coap.uri("a/>"), b"x", numbers.BAD_REQUEST),
        ("GET without Observe", numbers.GET, coap.uri(), b"", numbers.BAD_REQUEST),
        ("no key", numbers.POST, coap.uri(key=""), b"x", numbers.UNAUTHORIZED),
        (
            "empty key",
            numbers.POST,
            coap.uri(key="") + "?authorization=",
            b"x",
            numbers.UNAUTHORIZED,
        ),
        ("wrong key", numbers.POST, coap.uri(key="wrong"), b"x", numbers.FORBIDDEN),
        ("not connected", numbers.POST, coap.uri(channel=other_channel), b"x", numbers.FORBIDDEN),
        (
            "unknown path",
            numbers.POST,
            f"coap://127.0.0.1:{coap.port}/things",
            b"x",
            numbers.NOT_FOUND,
        ),
        (
            "not a messages path",
            numbers.GET,
            f"coap://127.0.0.1:{coap.port}/channels/c/x",
            b"",
            numbers.NOT_FOUND,
        ),
        ("method", numbers.DELETE, coap.uri(), b"", numbers.METHOD_NOT_ALLOWED),
        ("too large", numbers.POST, coap.uri(), os.urandom(9000), numbers.REQUEST_ENTITY_TOO_LARGE),
    ]
    for what, code, uri, payload, expected in cases:
        response = await request(client, code, uri, payload)
        assert response.code == expected, what
    assert coap.inbox.empty()


async def test_a_refused_confirmable_request_is_acknowledged(coap: Adapter) -> None:
    raw = RawEndpoint(coap.port)
    try:
        sent = raw.send(numbers.GET, ["nowhere"])
        answer = await raw.receive()
        assert (answer.mtype, answer.mid) == (numbers.ACK, sent.mid)
        if answer.code == numbers.EMPTY:  # a separate answer on a loaded machine
            answer = await raw.answer_to(sent)
        assert answer.code == numbers.NOT_FOUND
    finally:
        raw.close()


async def test_coap_client_sees_the_codes(coap: Adapter) -> None:
    _, err = await run_coap_client("-m", "post", "-e", "x", coap.uri(key="wrong"))
    assert "4.03" in err
    _, err = await run_coap_client("-m", "post", "-e", "x", coap.uri(key=""))
    assert "4.01" in err
    _, err = await run_coap_client("-m", "post", "-e", "x", f"coap://127.0.0.1:{coap.port}/x")
    assert "4.04" in err


async def test_too_large_is_4_13_with_size1_block_wise_too(coap: Adapter) -> None:
    raw = RawEndpoint(coap.port)
    try:
        token = os.urandom(4)
        block = os.urandom(1024)
        for number in range(8):  # 8 KiB so far: the limit
            request = aiocoap.Message(code=numbers.POST, payload=block)
            request.token = token
            request.opt.uri_path = tuple(coap.path())
            request.opt.uri_query = tuple(coap.query)
            request.opt.block1 = (number, True, 6)
            request.mtype, request.mid = numbers.CON, raw.next_mid()
            raw.send_raw(request.encode())
            assert (await raw.receive()).code == numbers.CONTINUE
        request = aiocoap.Message(code=numbers.POST, payload=b"over")
        request.token = token
        request.opt.uri_path = tuple(coap.path())
        request.opt.uri_query = tuple(coap.query)
        request.opt.block1 = (8, False, 6)
        request.mtype, request.mid = numbers.CON, raw.next_mid()
        raw.send_raw(request.encode())
        answer = await raw.receive()
        assert answer.code == numbers.REQUEST_ENTITY_TOO_LARGE
        assert answer.opt.size1 == 8192
        assert len(coap.resource.assemblies) == 0
        # The transfer was dropped: a block that continues it is out of order.
        request.mid = raw.next_mid()
        request.opt.block1 = (1, False, 6)
        raw.send_raw(request.encode())
        assert (await raw.receive()).code == numbers.REQUEST_ENTITY_INCOMPLETE
    finally:
        raw.close()
    assert coap.inbox.empty()


async def test_things_unreachable_is_5_03(coap: Adapter, client: aiocoap.Context) -> None:
    coap.things.down = True
    response = await request(client, numbers.POST, coap.uri(key="not-cached"), b"x")
    assert response.code == numbers.SERVICE_UNAVAILABLE


async def test_bus_unreachable_is_5_03_for_publish_and_observe(client: aiocoap.Context) -> None:
    async with adapter(bus=DownBus()) as down:
        response = await request(client, numbers.POST, down.uri(), b"x")
        assert response.code == numbers.SERVICE_UNAVAILABLE
        observation = client.request(aiocoap.Message(code=numbers.GET, uri=down.uri(), observe=0))
        response = await asyncio.wait_for(observation.response, 20)
        assert response.code == numbers.SERVICE_UNAVAILABLE
        assert down.resource.observers.count == 0


MALFORMED = [
    b"",
    b"\x40",  # a header cut short
    b"\x40\x01\x00",  # still short of the message id
    b"\x48\x01\x00\x01abc",  # a token longer than the datagram
    b"\x80\x01\x00\x01",  # version 2
    b"\x40\x01\x00\x01\xff",  # a payload marker without a payload
    b"\x40\x01\x00\x01\xdd\xff\xff",  # an option length running off the end
    b"\x40\x02\x00\x01\xbf",  # option delta 15 without a payload marker
    b"\x40\x01\x00\x01\x3b" + b"channels",  # Uri-Path cut short
    os.urandom(2000),
]


async def test_malformed_and_truncated_datagrams_leave_the_adapter_up(
    coap: Adapter, client: aiocoap.Context
) -> None:
    raw = RawEndpoint(coap.port)
    try:
        for datagram in MALFORMED:
            raw.send_raw(datagram)
        # A truncated block-wise transfer: the first block, then nothing.
        request = aiocoap.Message(code=numbers.POST, payload=b"x" * 64)
        request.token = b"t"
        request.opt.uri_path = tuple(coap.path())
        request.opt.uri_query = tuple(coap.query)
        request.opt.block1 = (0, True, 2)
        request.mtype, request.mid = numbers.NON, raw.next_mid()
        raw.send_raw(request.encode())
    finally:
        raw.close()
    response = await request_after(client, coap)
    assert response.code == numbers.CHANGED
    assert (await asyncio.wait_for(coap.inbox.get(), 5)).payload == b"still up"


async def request_after(client: aiocoap.Context, coap: Adapter) -> aiocoap.Message:
    return await request(client, numbers.POST, coap.uri(), b"still up")


# -- observing --------------------------------------------------------------------------


async def observe(client: aiocoap.Context, uri: str) -> Observation:
    """Start an observation and check the registration answer."""
    observation = Observation(client, uri)
    first = await observation.registered()
    assert first.code == numbers.CONTENT, first.payload
    assert first.opt.observe is not None
    return observation


async def test_an_observer_receives_every_message_from_any_protocol(
    coap: Adapter, client: aiocoap.Context
) -> None:
    observation = await observe(client, coap.uri())
    await coap.publish(b"from http", protocol="http")
    await coap.publish(b"from mqtt", protocol="mqtt")
    await coap.publish(b"other subtopic", subtopic="elsewhere")
    await coap.publish(b"\x00\xffbinary", protocol="ws")
    received = await observation.next(3)
    assert [n.payload for n in received] == [b"from http", b"from mqtt", b"\x00\xffbinary"]
    assert all(n.code == numbers.CONTENT for n in received)
    observes = [n.opt.observe for n in received]
    assert observes == sorted(observes) and len(set(observes)) == 3
    observation.cancel()


async def test_an_observer_receives_an_http_published_message(
    coap: Adapter, client: aiocoap.Context
) -> None:
    observation = await observe(client, coap.uri("lab/+"))
    observation_all = await observe(client, coap.uri(">"))
    async with (
        serving(http_adapter.create_app(coap.access, coap.bus)) as http_port,
        httpx.AsyncClient() as http,
    ):
        response = await http.post(
            f"http://127.0.0.1:{http_port}/channels/{coap.channel}/messages/lab/bench",
            content=b'{"v":1}',
            headers={"Authorization": coap.key},
        )
        assert response.status_code == 202
    assert await observation_all.payloads(1) == [b'{"v":1}']
    # ``+`` is not a wildcard in CoAP or NATS: that observer hears nothing of lab.bench.
    await coap.publish(b"plus", subtopic="lab.+")
    assert await observation.payloads(1) == [b"plus"]


async def test_wildcards_select_subtopics(coap: Adapter, client: aiocoap.Context) -> None:
    star = await observe(client, coap.uri("room/*"))
    await coap.publish(b"no", subtopic="hall.temp")
    await coap.publish(b"no", subtopic="room.a.b")
    await coap.publish(b"yes", subtopic="room.a")
    assert await star.payloads(1) == [b"yes"]


async def test_many_observers_of_one_channel_all_receive(
    coap: Adapter, client: aiocoap.Context
) -> None:
    contexts = [await aiocoap.Context.create_client_context() for _ in range(4)]
    try:
        observations = [await observe(c, coap.uri()) for c in [client, *contexts]]
        observations.append(await observe(client, coap.uri()))  # twice from one endpoint
        proc = await asyncio.create_subprocess_exec(
            coap_client(),
            "-m",
            "get",
            "-s",
            "60",
            coap.uri(),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            await until(lambda: coap.resource.observers.count == 7, "seven observers")
            assert coap.resource.observers.subjects() == 1  # one bus subscription for all
            for i in range(3):
                await coap.publish(b"m%d\n" % i)
            for observation in observations:
                assert await observation.payloads(3) == [b"m0\n", b"m1\n", b"m2\n"]
            assert proc.stdout is not None
            lines = [await asyncio.wait_for(proc.stdout.readline(), 20) for _ in range(3)]
            assert lines == [b"m0\n", b"m1\n", b"m2\n"]
        finally:
            proc.kill()
            await proc.wait()
    finally:
        for context in contexts:
            await context.shutdown()


async def test_coap_client_observes_and_deregisters(coap: Adapter) -> None:
    task = asyncio.create_task(run_coap_client("-m", "get", "-s", "3", coap.uri()))
    await until(lambda: coap.resource.observers.count == 1, "coap-client observes")
    await coap.publish(b"one\n")
    await coap.publish(b"two\n")
    out, _ = await task
    assert out.split() == ["one", "two"]
    await until(lambda: coap.resource.observers.count == 0, "coap-client deregistered")
    assert coap.resource.observers.subjects() == 0


async def test_get_with_observe_1_deregisters(coap: Adapter) -> None:
    raw = RawEndpoint(coap.port)
    try:
        registration = raw.send(
            numbers.GET, coap.path(), query=coap.query, observe=0, mtype=numbers.NON
        )
        first = await raw.answer_to(registration)
        assert first.code == numbers.CONTENT and first.opt.observe is not None
        await coap.publish(b"n1")
        notification = await raw.answer_to(registration)
        assert (notification.payload, notification.mtype) == (b"n1", numbers.NON)
        assert notification.opt.observe > first.opt.observe
        deregistration = raw.send(
            numbers.GET,
            coap.path(),
            query=coap.query,
            observe=1,
            token=registration.token,
            mtype=numbers.NON,
        )
        answer = await raw.answer_to(deregistration)
        assert answer.code == numbers.CONTENT and answer.opt.observe is None
        await until(lambda: coap.resource.observers.count == 0, "the observer is gone")
        assert coap.resource.observers.subjects() == 0
    finally:
        raw.close()


async def test_rst_to_a_notification_deregisters(coap: Adapter) -> None:
    raw = RawEndpoint(coap.port)
    try:
        registration = raw.send(numbers.GET, coap.path(), query=coap.query, observe=0)
        first = await raw.answer_to(registration)
        assert first.mtype == numbers.ACK
        await coap.publish(b"n1")
        notification = await raw.answer_to(registration)
        assert notification.mtype == numbers.CON  # a CON registration gets CON notifications
        raw.reply(notification, numbers.RST)
        await until(lambda: coap.resource.observers.count == 0, "the observer is gone")
    finally:
        raw.close()


async def test_rst_to_a_non_notification_deregisters(coap: Adapter) -> None:
    raw = RawEndpoint(coap.port)
    try:
        registration = raw.send(
            numbers.GET, coap.path(), query=coap.query, observe=0, mtype=numbers.NON
        )
        await raw.answer_to(registration)
        await coap.publish(b"n1")
        notification = await raw.answer_to(registration)
        assert notification.mtype == numbers.NON
        raw.reply(notification, numbers.RST)
        await until(lambda: coap.resource.observers.count == 0, "the observer is gone")
        assert coap.resource.observers.subjects() == 0
    finally:
        raw.close()


async def test_an_observer_that_stops_acknowledging_is_dropped() -> None:
    async with adapter(Tuning(ack_timeout=0.05, max_retransmit=1)) as coap:
        raw = RawEndpoint(coap.port)
        try:
            registration = raw.send(numbers.GET, coap.path(), query=coap.query, observe=0)
            await raw.answer_to(registration)
            await coap.publish(b"n1")
            notification = await raw.answer_to(registration)
            assert notification.mtype == numbers.CON
            raw.reply(notification, numbers.ACK)
            assert coap.resource.observers.count == 1
            await coap.publish(b"n2")  # this one is never acknowledged
            await until(lambda: coap.resource.observers.count == 0, "the dead observer dropped")
            assert coap.resource.observers.subjects() == 0
        finally:
            raw.close()


async def test_a_non_observer_gets_a_confirmable_notification_each_period() -> None:
    async with adapter(Tuning(ping_period=0.01)) as coap:
        raw = RawEndpoint(coap.port)
        try:
            registration = raw.send(
                numbers.GET, coap.path(), query=coap.query, observe=0, mtype=numbers.NON
            )
            await raw.answer_to(registration)
            await coap.publish(b"n")
            while True:
                message = await raw.receive()
                if message.code == numbers.EMPTY:  # a ping of the idle observer
                    assert message.mtype == numbers.CON
                    raw.reply(message, numbers.RST)
                    continue
                assert message.payload == b"n"
                if message.mtype == numbers.CON:
                    raw.reply(message, numbers.ACK)
                    break
                await coap.publish(b"n")  # a NON one: try again
            assert coap.resource.observers.count == 1
        finally:
            raw.close()


async def test_an_idle_observer_that_never_answers_a_ping_is_dropped() -> None:
    async with adapter(Tuning(ping_period=0.05, ack_timeout=0.05, max_retransmit=1)) as coap:
        raw = RawEndpoint(coap.port)
        try:
            registration = raw.send(
                numbers.GET, coap.path(), query=coap.query, observe=0, mtype=numbers.NON
            )
            await raw.answer_to(registration)
            ping = await raw.receive()
            assert (ping.code, ping.mtype) == (numbers.EMPTY, numbers.CON)
            await until(lambda: coap.resource.observers.count == 0, "the silent observer dropped")
            assert coap.resource.observers.subjects() == 0
        finally:
            raw.close()


async def test_an_idle_observer_that_answers_pings_stays() -> None:
    async with adapter(Tuning(ping_period=0.05, ack_timeout=0.05, max_retransmit=1)) as coap:
        raw = RawEndpoint(coap.port)
        try:
            registration = raw.send(
                numbers.GET, coap.path(), query=coap.query, observe=0, mtype=numbers.NON
            )
            await raw.answer_to(registration)
            for _ in range(5):
                ping = await raw.receive()
                assert (ping.code, ping.mtype) == (numbers.EMPTY, numbers.CON)
                raw.reply(ping, numbers.RST)
            assert coap.resource.observers.count == 1
        finally:
            raw.close()


async def test_observers_are_bounded() -> None:
    async with adapter(Tuning(max_observers=3, max_observers_per_thing=2)) as coap:
        _, other_key = coap.things.thing(coap.channel)
        client = await aiocoap.Context.create_client_context()
        try:
            await observe(client, coap.uri())
            await observe(client, coap.uri())
            refused = client.request(aiocoap.Message(code=numbers.GET, uri=coap.uri(), observe=0))
            assert (await asyncio.wait_for(refused.response, 20)).code == numbers.TOO_MANY_REQUESTS
            await observe(client, coap.uri(key=other_key))
            refused = client.request(
                aiocoap.Message(code=numbers.GET, uri=coap.uri(key=other_key), observe=0)
            )
            response = await asyncio.wait_for(refused.response, 20)
            assert response.code == numbers.SERVICE_UNAVAILABLE
            assert coap.resource.observers.count == 3
        finally:
            await client.shutdown()


async def test_observing_needs_the_same_rights_as_publishing(
    coap: Adapter, client: aiocoap.Context
) -> None:
    for uri, expected in [
        (coap.uri(key="wrong"), numbers.FORBIDDEN),
        (coap.uri(key=""), numbers.UNAUTHORIZED),
        (coap.uri("a*"), numbers.BAD_REQUEST),
    ]:
        observation = client.request(aiocoap.Message(code=numbers.GET, uri=uri, observe=0))
        assert (await asyncio.wait_for(observation.response, 20)).code == expected
    assert coap.resource.observers.count == 0


# -- revocation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "event",
    ["thing.disconnect", "thing.remove", "channel.remove", "thing.update"],
    ids=["disconnected", "thing removed", "channel removed", "key changed"],
)
async def test_a_revoked_observation_ends_with_4_03(
    coap: Adapter, client: aiocoap.Context, event: str
) -> None:
    observation = await observe(client, coap.uri())
    _, bystander_key = coap.things.thing(coap.channel)
    kept = await observe(client, coap.uri(key=bystander_key))
    # The owner's change reaches the things service, then its event the cache.
    if event == "thing.update":
        coap.things.keys.pop(coap.key)
        coap.things.keys[str(uuid.uuid4())] = coap.thing
    else:
        coap.things.links.discard((coap.channel, coap.thing))
    fields = {
        "thing.disconnect": {"chan_id": coap.channel, "thing_id": coap.thing},
        "thing.remove": {"id": coap.thing},
        "channel.remove": {"id": coap.channel},
        "thing.update": {"id": coap.thing},
    }[event]
    coap.access.invalidate({"operation": event, **fields})
    [ended] = await observation.next()
    assert (ended.code, ended.opt.observe) == (numbers.FORBIDDEN, None)
    expected = 0 if event == "channel.remove" else 1
    await until(lambda: coap.resource.observers.count == expected, "the revoked one is gone")
    if expected:
        await coap.publish(b"still")
        assert await kept.payloads(1) == [b"still"]


async def test_vanished_observers_do_not_take_the_others_down(coap: Adapter) -> None:
    live = RawEndpoint(coap.port)
    vanished = [RawEndpoint(coap.port) for _ in range(5)]
    try:
        registration = live.send(numbers.GET, coap.path(), query=coap.query, observe=0)
        await live.answer_to(registration)
        for endpoint in vanished:
            await endpoint.answer_to(
                endpoint.send(numbers.GET, coap.path(), query=coap.query, observe=0)
            )
            endpoint.close()  # its port is closed: what is sent there draws ICMP errors
        await until(lambda: coap.resource.observers.count == 6, "six observers")
        for i in range(3):
            await coap.publish(b"n%d" % i)
            notification = await live.answer_to(registration)
            assert notification.payload == b"n%d" % i
            live.reply(notification, numbers.ACK)
        await until(lambda: coap.resource.observers.count == 1, "the vanished ones dropped")
        await coap.publish(b"after")
        assert (await live.answer_to(registration)).payload == b"after"
    finally:
        live.close()
