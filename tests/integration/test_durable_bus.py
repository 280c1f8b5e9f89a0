"""Durable subscribers of the in-process bus: publishers wait for their batch, never dropped."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence

import pytest
from prometheus_client import REGISTRY

from mainflux.core.errors import MalformedEntity, ServiceUnavailable
from mainflux.messaging.bus import DurableSubscriber
from mainflux.messaging.envelope import Message
from mainflux.messaging.inproc import InProcessBus


def channel() -> str:
    return str(uuid.uuid4())


async def until(condition: Callable[[], bool]) -> None:
    """Let other tasks run until ``condition`` holds (no clock involved)."""
    for _ in range(10_000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("the condition never held")


class Gate:
    """A batch handler that records each batch and holds it until released."""

    def __init__(self) -> None:
        self.batches: list[list[bytes]] = []
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self, messages: Sequence[Message]) -> None:
        self.batches.append([m.payload for m in messages])
        self.entered.set()
        await self.release.wait()


def refused(reason: str) -> float:
    return REGISTRY.get_sample_value("mainflux_bus_refused_total", {"reason": reason}) or 0.0


def test_the_in_process_bus_offers_durable_subscriptions() -> None:
    assert isinstance(InProcessBus(), DurableSubscriber)


async def test_a_publish_returns_only_once_its_batch_was_handled() -> None:
    bus = InProcessBus()
    gate = Gate()
    ch = channel()
    await bus.subscribe_durable([f"channels.{ch}"], gate)
    publishing = asyncio.create_task(bus.publish(Message(ch, payload=b"1")))
    await gate.entered.wait()
    assert not publishing.done(), "the publisher waits while its batch is being stored"
    gate.release.set()
    await publishing
    assert gate.batches == [[b"1"]]
    await bus.close()


async def test_concurrent_publishers_share_one_batch() -> None:
    bus = InProcessBus()
    gate = Gate()
    ch = channel()
    await bus.subscribe_durable([f"channels.{ch}"], gate, max_batch=5)
    first = asyncio.create_task(bus.publish(Message(ch, payload=b"first")))
    await gate.entered.wait()
    others = [asyncio.create_task(bus.publish(Message(ch, payload=b"%d" % i))) for i in range(8)]
    sub = bus._durable[0]
    await until(lambda: sub.pending == 9)
    gate.release.set()
    await asyncio.gather(first, *others)
    assert gate.batches == [[b"first"], [b"0", b"1", b"2", b"3", b"4"], [b"5", b"6", b"7"]]
    await bus.close()


async def test_only_matching_subjects_wait_for_the_durable_subscriber() -> None:
    bus = InProcessBus()
    gate = Gate()
    ch = channel()
    await bus.subscribe_durable([f"channels.{ch}.stored", f"channels.{ch}.also.>"], gate)
    await bus.publish(Message(ch, "elsewhere", payload=b"not stored"))
    gate.release.set()
    await bus.publish(Message(ch, "stored", payload=b"a"))
    await bus.publish(Message(ch, "also.x.y", payload=b"b"))
    assert gate.batches == [[b"a"], [b"b"]]
    await bus.close()


async def test_ordinary_subscribers_get_the_message_while_it_is_being_stored() -> None:
    bus = InProcessBus()
    gate = Gate()
    ch = channel()
    seen: asyncio.Queue[bytes] = asyncio.Queue()

    async def plain(message: Message) -> None:
        seen.put_nowait(message.payload)

    await bus.subscribe(f"channels.{ch}", plain)
    await bus.subscribe_durable([f"channels.{ch}"], gate)
    publishing = asyncio.create_task(bus.publish(Message(ch, payload=b"m")))
    assert await asyncio.wait_for(seen.get(), 5) == b"m"
    assert not publishing.done()
    gate.release.set()
    await publishing
    await bus.close()


async def test_a_full_durable_subscriber_makes_publishers_wait_instead_of_dropping() -> None:
    bus = InProcessBus(put_timeout=60.0)
    gate = Gate()
    ch = channel()
    sub = await bus.subscribe_durable([f"channels.{ch}"], gate, max_pending=1)
    first = asyncio.create_task(bus.publish(Message(ch, payload=b"1")))
    await gate.entered.wait()
    second = asyncio.create_task(bus.publish(Message(ch, payload=b"2")))
    await until(lambda: sub.waiting == 1)
    assert sub.pending == 1, "nothing beyond max_pending is queued"
    gate.release.set()
    await asyncio.gather(first, second)
    assert gate.batches == [[b"1"], [b"2"]]
    assert bus.dropped == 0
    await bus.close()


async def test_a_durable_subscriber_that_stays_full_refuses_the_publish() -> None:
    bus = InProcessBus(put_timeout=0.05)
    gate = Gate()
    ch = channel()
    seen: list[bytes] = []

    async def plain(message: Message) -> None:
        seen.append(message.payload)

    await bus.subscribe(f"channels.{ch}", plain)
    await bus.subscribe_durable([f"channels.{ch}"], gate, max_pending=1)
    first = asyncio.create_task(bus.publish(Message(ch, payload=b"1")))
    await gate.entered.wait()
    before = refused("full")
    with pytest.raises(ServiceUnavailable, match="behind"):
        await bus.publish(Message(ch, payload=b"2"))
    assert refused("full") == before + 1
    gate.release.set()
    await first
    await bus.close()
    assert gate.batches == [[b"1"]]
    assert seen == [b"1"], "a refused message reaches no subscriber"


async def test_a_failed_batch_is_an_error_for_each_of_its_publishers() -> None:
    bus = InProcessBus()
    ch = channel()
    handled: list[bytes] = []
    entered = asyncio.Event()
    release = asyncio.Event()

    async def failing_once(messages: Sequence[Message]) -> None:
        if messages[0].payload == b"block":
            entered.set()
            await release.wait()
            raise RuntimeError("disk on fire")
        handled.extend(m.payload for m in messages)

    await bus.subscribe_durable([f"channels.{ch}"], failing_once)
    blocked = asyncio.create_task(bus.publish(Message(ch, payload=b"block")))
    await entered.wait()
    before = refused("failed")
    release.set()
    with pytest.raises(ServiceUnavailable, match="storage failed"):
        await blocked
    assert refused("failed") == before + 1
    await bus.publish(Message(ch, payload=b"next"))
    assert handled == [b"next"], "the subscription carries on after a failed batch"
    await bus.close()


async def test_closing_the_bus_stores_what_waits_then_refuses_new_publishes() -> None:
    bus = InProcessBus()
    gate = Gate()
    ch = channel()
    await bus.subscribe_durable([f"channels.{ch}"], gate)
    publishing = [
        asyncio.create_task(bus.publish(Message(ch, payload=b"%d" % i))) for i in range(5)
    ]
    await gate.entered.wait()
    gate.release.set()
    await bus.close()
    await asyncio.gather(*publishing)
    assert sorted(p for batch in gate.batches for p in batch) == [b"%d" % i for i in range(5)]
    with pytest.raises(ServiceUnavailable):
        await bus.publish(Message(ch, payload=b"late"))


async def test_publishers_left_when_a_durable_subscriber_gives_up_get_an_error() -> None:
    bus = InProcessBus()
    gate = Gate()
    ch = channel()
    sub = await bus.subscribe_durable([f"channels.{ch}"], gate)
    first = asyncio.create_task(bus.publish(Message(ch, payload=b"1")))
    await gate.entered.wait()
    second = asyncio.create_task(bus.publish(Message(ch, payload=b"2")))
    await until(lambda: sub.pending == 2)
    await sub.unsubscribe(timeout=0)
    for task in (first, second):
        with pytest.raises(ServiceUnavailable):
            await task
    await bus.publish(Message(ch, payload=b"3"))  # no durable subscriber: nothing waits
    assert gate.batches == [[b"1"]]
    await bus.close()


async def test_a_durable_subscription_needs_valid_subjects() -> None:
    bus = InProcessBus()
    gate = Gate()
    with pytest.raises(MalformedEntity):
        await bus.subscribe_durable([], gate)
    with pytest.raises(MalformedEntity):
        await bus.subscribe_durable(["channels..x"], gate)
    await bus.close()
    with pytest.raises(ServiceUnavailable):
        await bus.subscribe_durable(["channels.>"], gate)


async def test_a_durable_handler_may_unsubscribe_itself() -> None:
    bus = InProcessBus()
    ch = channel()
    handled: list[bytes] = []
    subs = []

    async def once(messages: Sequence[Message]) -> None:
        handled.extend(m.payload for m in messages)
        await subs[0].unsubscribe()

    subs.append(await bus.subscribe_durable([f"channels.{ch}"], once))
    await bus.publish(Message(ch, payload=b"1"))
    await bus.publish(Message(ch, payload=b"2"))  # nothing waits for it any more
    await bus.close()
    assert handled == [b"1"]
