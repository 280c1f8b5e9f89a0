"""One suite for both buses: the in-process bus and NATS (a real server from the fixture)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from mainflux.core.errors import MalformedEntity, ServiceUnavailable
from mainflux.messaging.bus import HANDLER_FAILURES, Bus
from mainflux.messaging.envelope import Message
from mainflux.messaging.inproc import InProcessBus
from mainflux.messaging.nats import NatsBus
from tests.servers import NatsServer, until


@pytest.fixture(params=["inproc", "nats"])
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[Bus]:
    if request.param == "inproc":
        instance: Bus = InProcessBus()
    else:
        server: NatsServer = request.getfixturevalue("nats")
        instance = await NatsBus.connect(server.url)
    try:
        yield instance
    finally:
        await instance.close()


def inbox() -> tuple[asyncio.Queue[Message], object]:
    queue: asyncio.Queue[Message] = asyncio.Queue()

    async def handler(message: Message) -> None:
        queue.put_nowait(message)

    return queue, handler


async def next_of(queue: asyncio.Queue[Message]) -> Message:
    return await asyncio.wait_for(queue.get(), 5)


async def ready(bus: Bus) -> None:
    """Make sure subscriptions made so far are live on the server."""
    if isinstance(bus, NatsBus):
        await bus.client.flush()


def channel() -> str:
    return str(uuid.uuid4())


async def test_a_subscriber_gets_its_subject_with_the_whole_envelope(bus: Bus) -> None:
    ch = channel()
    queue, handler = inbox()
    await bus.subscribe(f"channels.{ch}", handler)
    await ready(bus)
    sent = Message(ch, "", "thing-1", "http", b'[{"n":"t","v":1}]', 1234567890123456789)
    await bus.publish(sent)
    got = await next_of(queue)
    assert got == sent


@pytest.mark.parametrize(
    ("pattern", "subtopic", "delivered"),
    [
        ("channels.{ch}", "", True),
        ("channels.{ch}", "a", False),
        ("channels.{ch}.*", "a", True),
        ("channels.{ch}.*", "a.b", False),
        ("channels.{ch}.*", "", False),
        ("channels.{ch}.>", "a.b.c", True),
        ("channels.{ch}.>", "", False),
        ("channels.*.a", "a", True),
        ("channels.>", "x.y", True),
        ("channels.{ch}.a.*.c", "a.b.c", True),
    ],
    ids=lambda v: str(v),
)
async def test_wildcards_follow_nats_rules(
    bus: Bus, pattern: str, subtopic: str, delivered: bool
) -> None:
    ch = channel()
    queue, handler = inbox()
    await bus.subscribe(pattern.format(ch=ch), handler)
    # A marker the subscription always matches tells us nothing else came first.
    marker_queue, marker_handler = inbox()
    await bus.subscribe(f"channels.{ch}.marker.>", marker_handler)
    await ready(bus)
    await bus.publish(Message(ch, subtopic, payload=b"probe"))
    await bus.publish(Message(ch, "marker.x", payload=b"marker"))
    await next_of(marker_queue)
    if delivered:
        assert (await next_of(queue)).payload == b"probe"
    else:
        if pattern.endswith(">") and pattern.count(".") <= 2:
            # "channels.>" style patterns also match the marker itself
            assert (await next_of(queue)).payload == b"marker"
        else:
            assert queue.empty(), f"{pattern} must not get subtopic {subtopic!r}"


async def test_a_queue_group_delivers_each_message_to_exactly_one_member(bus: Bus) -> None:
    ch = channel()
    first, first_handler = inbox()
    second, second_handler = inbox()
    everyone, everyone_handler = inbox()
    await bus.subscribe(f"channels.{ch}.>", first_handler, queue="writers")
    await bus.subscribe(f"channels.{ch}.>", second_handler, queue="writers")
    await bus.subscribe(f"channels.{ch}.>", everyone_handler)
    await ready(bus)
    for i in range(40):
        await bus.publish(Message(ch, f"s{i}", payload=str(i).encode()))
    seen = [(await next_of(everyone)).payload for _ in range(40)]
    assert len(seen) == 40
    # The plain subscriber has all 40; the group members between them exactly 40 too.
    await bus.publish(Message(ch, "end", payload=b"end"))
    await next_of(everyone)
    group: list[bytes] = []

    def all_in() -> bool:
        for queue in (first, second):
            while not queue.empty():
                group.append(queue.get_nowait().payload)
        return len(group) >= 41

    await until(all_in, "the group members got 41 messages between them")
    assert sorted(group) == sorted([str(i).encode() for i in range(40)] + [b"end"])


async def test_unsubscribe_stops_delivery(bus: Bus) -> None:
    ch = channel()
    queue, handler = inbox()
    sub = await bus.subscribe(f"channels.{ch}", handler)
    await ready(bus)
    await bus.publish(Message(ch, payload=b"before"))
    assert (await next_of(queue)).payload == b"before"
    await sub.unsubscribe()
    marker, marker_handler = inbox()
    await bus.subscribe(f"channels.{ch}", marker_handler)
    await ready(bus)
    await bus.publish(Message(ch, payload=b"after"))
    assert (await next_of(marker)).payload == b"after"
    assert queue.empty()


async def test_a_failing_handler_does_not_stop_the_subscription(bus: Bus) -> None:
    ch = channel()
    queue: asyncio.Queue[Message] = asyncio.Queue()

    async def flaky(message: Message) -> None:
        if message.payload == b"boom":
            raise RuntimeError("handler bug")
        queue.put_nowait(message)

    await bus.subscribe(f"channels.{ch}", flaky)
    await ready(bus)
    failures = HANDLER_FAILURES._value.get()
    await bus.publish(Message(ch, payload=b"boom"))
    await bus.publish(Message(ch, payload=b"fine"))
    assert (await next_of(queue)).payload == b"fine"
    assert HANDLER_FAILURES._value.get() == failures + 1, "every bus counts a failing handler"


@pytest.mark.parametrize("subject", ["", "channels..x", "channels.>.x", "."])
async def test_a_malformed_subscription_subject_is_refused(bus: Bus, subject: str) -> None:
    async def handler(message: Message) -> None:
        raise AssertionError("never called")

    with pytest.raises(MalformedEntity):
        await bus.subscribe(subject, handler)


async def test_a_closed_bus_refuses_to_publish(bus: Bus) -> None:
    await bus.close()
    with pytest.raises(ServiceUnavailable):
        await bus.publish(Message(channel(), payload=b"x"))


async def test_nats_outage_gives_service_unavailable_then_recovers(nats: NatsServer) -> None:
    bus = await NatsBus.connect(nats.url)
    ch = channel()
    queue, handler = inbox()
    await bus.subscribe(f"channels.{ch}", handler)
    await bus.client.flush()
    try:
        nats.stop()

        async def refused() -> bool:
            try:
                await bus.publish(Message(ch, payload=b"lost"))
            except ServiceUnavailable:
                return True
            return False

        await until(refused, "a publish is refused once the client noticed the outage")
    finally:
        nats.start()
    try:
        await until(lambda: bus.connected, "the bus reconnects by itself")
        await bus.client.flush()
        await bus.publish(Message(ch, payload=b"back"))
        got = await next_of(queue)
        while got.payload == b"lost":  # anything sent before the client noticed
            got = await next_of(queue)
        assert got.payload == b"back", "the subscription came back with the connection"
    finally:
        await bus.close()


async def test_nats_connect_to_nothing_is_service_unavailable() -> None:
    from tests.servers import free_port

    with pytest.raises(ServiceUnavailable):
        await NatsBus.connect(f"nats://127.0.0.1:{free_port()}", connect_timeout=0.5)


async def test_a_failed_nats_connection_names_the_url_without_its_password() -> None:
    from tests.servers import free_port

    port = free_port()
    with pytest.raises(ServiceUnavailable) as refused:
        await NatsBus.connect(f"nats://writer:s3cret@127.0.0.1:{port}", connect_timeout=0.5)
    assert f"nats://writer:***@127.0.0.1:{port}" in str(refused.value)
    assert "s3cret" not in str(refused.value)


async def test_inproc_slow_subscriber_is_bounded_and_counted() -> None:
    bus = InProcessBus(max_pending=2, put_timeout=0.01)
    release = asyncio.Event()
    handled: list[bytes] = []

    async def slow(message: Message) -> None:
        await release.wait()
        handled.append(message.payload)

    ch = channel()
    await bus.subscribe(f"channels.{ch}", slow)
    for i in range(20):
        await bus.publish(Message(ch, payload=str(i).encode()))
    assert bus.pending() <= 2, "the queue never grows past max_pending"
    assert bus.dropped >= 20 - 3, "what did not fit was dropped and counted"
    release.set()
    await bus.close()
    assert 1 <= len(handled) <= 3
    assert bus.dropped + len(handled) == 20


async def test_inproc_queue_group_skips_a_full_member() -> None:
    bus = InProcessBus(max_pending=1, put_timeout=0.01)
    stuck = asyncio.Event()
    fast: list[bytes] = []

    async def blocked(message: Message) -> None:
        await stuck.wait()

    async def quick(message: Message) -> None:
        fast.append(message.payload)

    ch = channel()
    await bus.subscribe(f"channels.{ch}", blocked, queue="g")
    await bus.subscribe(f"channels.{ch}", quick, queue="g")
    for i in range(10):
        await bus.publish(Message(ch, payload=str(i).encode()))
        await asyncio.sleep(0)
    stuck.set()
    await bus.close()
    assert len(fast) >= 7, "a full member is skipped in favour of one with room"
    assert bus.dropped == 0


async def test_inproc_unsubscribe_from_inside_the_handler() -> None:
    bus = InProcessBus()
    ch = channel()
    got: list[bytes] = []
    subs = []

    async def once(message: Message) -> None:
        got.append(message.payload)
        await subs[0].unsubscribe()

    subs.append(await bus.subscribe(f"channels.{ch}", once))
    await bus.publish(Message(ch, payload=b"1"))
    await bus.publish(Message(ch, payload=b"2"))
    await bus.close()
    assert got == [b"1"]


async def test_in_process_bus_bounds_each_subscriber_by_payload_bytes() -> None:
    """A slow subscriber holds at most ``max_pending_bytes`` of payload; the rest is
    dropped for it (and counted) instead of growing memory."""
    from mainflux.messaging.envelope import Message
    from mainflux.messaging.inproc import InProcessBus

    bus = InProcessBus(max_pending=1000, max_pending_bytes=3 * 1024, put_timeout=0.05)
    release = asyncio.Event()
    got: list[int] = []

    async def slow(message: Message) -> None:
        await release.wait()
        got.append(len(message.payload))

    await bus.subscribe("channels.>", slow)
    for _ in range(10):
        await bus.publish(Message("c", payload=b"x" * 1024))
    release.set()
    await bus.close()
    # One message is being handled, three fit in the bound, six were dropped.
    assert len(got) == 4
    assert bus.dropped == 6
