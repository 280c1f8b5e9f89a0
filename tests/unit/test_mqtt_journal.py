"""The journal of the broker's state: batches in order, nothing written for a message
acknowledged before its batch, publishers held while the store is down; and what
:mod:`~mainflux.adapters.mqtt.persistence` stores of a message."""

from __future__ import annotations

import asyncio
import time

import pytest

from mainflux.adapters.mqtt.codec import Publish
from mainflux.adapters.mqtt.codec5 import Publish5
from mainflux.adapters.mqtt.journal import Journal
from mainflux.adapters.mqtt.persistence import (
    BadRecord,
    Dequeue,
    Enqueue,
    Retain,
    SaveSession,
    Subscribe,
    Unsubscribe,
    decode_message,
    encode_message,
)
from tests.fakes import FakeStateStore


async def test_changes_of_one_turn_go_in_one_batch_in_order() -> None:
    store = FakeStateStore()
    journal = Journal(store)
    journal.save_session("thing", "c", None, 0.0)
    journal.subscribe("thing", "c", "a/#", 1, 0)
    seq = journal.enqueue("thing", "c", Publish("a/b", b"x", 1), 1, False)
    await journal.durable()
    assert len(store.batches) == 1
    assert [type(op) for op in store.ops] == [SaveSession, Subscribe, Enqueue]
    journal.dequeue("thing", "c", seq)
    await journal.flush()
    assert store.ops[-1] == Dequeue("thing", "c", seq)
    await journal.close()


async def test_a_message_acknowledged_before_its_batch_is_never_written() -> None:
    store = FakeStateStore()
    journal = Journal(store)
    seq = journal.enqueue("thing", "c", Publish("a", b"x", 1), 1, False)
    journal.dequeue("thing", "c", seq)
    journal.retain("r", Publish("r", b"1", 0, True))
    journal.retain("r", Publish("r", b"2", 0, True))
    await journal.flush()
    assert [op for op in store.ops if not isinstance(op, Retain)] == []
    retained = [op for op in store.ops if isinstance(op, Retain)]
    assert len(retained) == 1 and retained[0].record is not None
    assert decode_message(retained[0].record)[0].payload == b"2"
    await journal.close()


async def test_a_store_that_is_down_holds_the_waiters_until_it_is_back() -> None:
    store = FakeStateStore()
    store.down = True
    journal = Journal(store)
    journal.enqueue("thing", "c", Publish("a", b"x", 1), 1, False)
    durable = journal.durable()
    while not store.failed:
        await asyncio.sleep(0)
    assert not durable.done()
    store.down = False
    await asyncio.wait_for(durable, 10)
    assert [type(op) for op in store.ops] == [Enqueue]
    assert journal.failures >= 1
    await journal.close()


async def test_close_gives_up_on_a_store_that_stays_down() -> None:
    store = FakeStateStore()
    store.down = True
    journal = Journal(store, close_timeout=0.05)
    journal.save_session("thing", "c", None, 0.0)
    await journal.close()  # logs what is lost and returns
    assert store.ops == []


def test_a_version_5_message_keeps_its_properties_and_its_deadline() -> None:
    message = Publish5("t", b"p", 1, properties=b"\x01\x01", expires_at=time.monotonic() + 60)
    back, qos, retain = decode_message(encode_message(message, 1, True))
    assert isinstance(back, Publish5)
    assert (back.topic, back.payload, qos, retain, back.properties) == (
        "t",
        b"p",
        1,
        True,
        b"\x01\x01",
    )
    assert 50 < back.expires_at - time.monotonic() <= 60


def test_a_deadline_passed_while_stored_means_expired() -> None:
    message = Publish5("t", b"p", 1, expires_at=time.monotonic() + 0.001)
    record = encode_message(message, 1, False)
    back, _, _ = decode_message(record)
    assert isinstance(back, Publish5)
    assert back.expired(time.monotonic() + 1)


@pytest.mark.parametrize(
    "record",
    [b"", b"\xc1", b"\x00", b"\x96\xa1t\xc4\x01p\x07\xc2\xc0\x00"],
    ids=["empty", "not msgpack", "not a tuple", "bad qos"],
)
def test_an_unreadable_record_is_a_bad_record(record: bytes) -> None:
    with pytest.raises(BadRecord):
        decode_message(record)


async def test_a_store_that_stays_down_costs_memory_for_live_changes_only() -> None:
    store = FakeStateStore()
    store.down = True
    journal = Journal(store, close_timeout=0.05)
    journal.save_session("thing", "c", None, 0.0)
    while not store.failed:  # the first batch is being retried
        await asyncio.sleep(0)
    for i in range(10_000):  # delivered and acknowledged while the store is down
        seq = journal.enqueue("thing", "c", Publish("a", b"x", 1), 1, False)
        journal.dequeue("thing", "c", seq)
        journal.retain("r", Publish("r", str(i).encode(), 0, True))
        journal.subscribe("thing", "c", "f", 1, 0)
    assert journal.backlog < 3_000
    store.down = False
    await journal.flush()
    assert [type(op) for op in store.ops] == [SaveSession, Retain, Subscribe]
    await journal.close()


async def test_a_batch_that_turns_out_moot_still_answers_its_waiters() -> None:
    store = FakeStateStore()
    journal = Journal(store)
    for _ in range(3_000):
        seq = journal.enqueue("thing", "c", Publish("a", b"x", 1), 1, False)
        journal.dequeue("thing", "c", seq)
    await asyncio.wait_for(journal.durable(), 10)
    assert store.ops == []
    await journal.close()


async def test_what_is_made_and_removed_in_one_batch_is_never_written() -> None:
    store = FakeStateStore()
    journal = Journal(store)
    journal.retain("new", Publish("new", b"1", 0, True), True)
    journal.retain("new", Publish("new", b"2", 0, True))
    journal.retain("new", None)
    journal.subscribe("thing", "c", "new/#", 1, 0, True)
    journal.unsubscribe("thing", "c", "new/#")
    journal.retain("old", Publish("old", b"1", 0, True))  # the store may have it
    journal.retain("old", None)
    journal.subscribe("thing", "c", "old/#", 1, 0)
    journal.unsubscribe("thing", "c", "old/#")
    await journal.flush()
    assert store.ops == [Retain("old", None), Unsubscribe("thing", "c", "old/#")]
    journal.retain("new", Publish("new", b"3", 0, True), True)  # a later batch
    await journal.flush()
    journal.retain("new", None)  # the store has it now
    await journal.flush()
    assert store.ops[-1] == Retain("new", None)
    await journal.close()
