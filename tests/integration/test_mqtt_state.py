"""The broker's state across a restart, in SQLite, PostgreSQL and Redis: a device with
clean session 0 finds its session, subscriptions and the QoS 1 messages published
while it was away; retained messages stay; bounds and rights are applied again on the
way back in; what cannot be read is dropped, not fatal. And QoS 1 messages a connected
3.1.1 client leaves unacknowledged are sent again after the retry interval."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import orjson
import pytest
import redis

from mainflux.adapters.mqtt import codec, codec5, restore
from mainflux.adapters.mqtt.adapter import MqttAdapter, build_adapter, build_standalone
from mainflux.adapters.mqtt.broker import AllowAll, Broker
from mainflux.adapters.mqtt.codec import Publish
from mainflux.adapters.mqtt.journal import Journal
from mainflux.adapters.mqtt.limits import BrokerLimits
from mainflux.adapters.mqtt.persistence import Enqueue, Unsubscribe
from mainflux.adapters.mqtt.state import open_state
from mainflux.adapters.mqtt.state_redis import RedisStateStore
from mainflux.adapters.mqtt.state_sql import SqlStateStore
from mainflux.core.db import create_engine
from mainflux.messaging.inproc import InProcessBus
from tests.fakes import FakeStateStore, FakeThings
from tests.integration.test_mqtt5_support import Raw5
from tests.integration.test_mqtt_support import (
    WAIT,
    Client,
    LoopThread,
    RunningAdapter,
    close_clients,
    eventually,
    local_settings,
)


class Restartable:
    """A broker with a state store that can be stopped and started again on the same
    loop thread (a new adapter, a new store, the same URL)."""

    def __init__(self, url: str, limits: BrokerLimits | None = None, things: Any = None) -> None:
        self.url = url
        self.instance = f"test-{uuid.uuid4().hex[:8]}"  # its own keys in a shared Redis
        self.things = things
        self.thread = LoopThread()
        self.adapter: MqttAdapter = self._start(limits)

    def _start(self, limits: BrokerLimits | None) -> MqttAdapter:
        async def start() -> MqttAdapter:
            state = await open_state(self.url, self.instance)
            settings = local_settings(limits, ws_port=None)
            if self.things is None:
                adapter = build_standalone(settings, state)
            else:
                adapter = build_adapter(self.things, InProcessBus(), None, settings, state=state)
            await adapter.start()
            return adapter

        return self.thread.run(start())  # type: ignore[no-any-return]

    @property
    def port(self) -> int:
        return self.adapter.ports["mqtt"]

    @property
    def broker(self) -> Broker:
        return self.adapter.broker

    def restart(self, limits: BrokerLimits | None = None) -> None:
        """Stop (clients, adapter, store) and start again, reading the state back."""
        close_clients()
        self.thread.run(self.adapter.stop())
        self.adapter = self._start(limits)

    def close(self) -> None:
        close_clients()
        self.thread.run(self.adapter.stop())
        self.thread.close()


@pytest.fixture(params=["sqlite", "postgres", "redis"])
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh place for the broker's state, in each kind of store."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'state.db'}"
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture
def sqlite_state(tmp_path: Path) -> tuple[str, Path]:
    path = tmp_path / "state.db"
    return f"sqlite+aiosqlite:///{path}", path


def reconnect(port: int, client_id: str) -> tuple[Client, bool]:
    """A client resuming ``client_id``'s persistent session: ``(client, present)``."""
    client = Client(port, client_id, clean=False, connect=False)
    code, present = client.connect()
    assert code == 0
    return client, present


def test_a_persistent_session_and_retained_messages_survive_a_restart(state_url: str) -> None:
    broker = Restartable(state_url)
    try:
        device = Client(broker.port, "device-1", clean=False)
        assert device.subscribe("sensors/#", 1) == [1]
        device.close()
        publisher = Client(broker.port)
        publisher.publish("sensors/a", b"before", 1)
        publisher.publish("sensors/retained", b"kept", 1, retain=True)
        broker.restart()
        Client(broker.port).publish("sensors/b", b"after", 1)
        device, present = reconnect(broker.port, "device-1")
        assert present
        got = [device.receive() for _ in range(3)]
        assert [(m.topic, m.payload, m.qos) for m in got] == [
            ("sensors/a", b"before", 1),
            ("sensors/retained", b"kept", 1),
            ("sensors/b", b"after", 1),
        ]
        late = Client(broker.port)
        late.subscribe("sensors/retained", 1)
        message = late.receive()
        assert (message.payload, message.retain) == (b"kept", True)
        device.close()
        broker.restart()  # what the device acknowledged is not delivered again
        session = broker.broker.session("device-1", "device-1")
        assert session is not None and session.subscriptions == {"sensors/#": 1}
        assert not session.pending and not session.inflight
    finally:
        broker.close()


def test_a_clean_session_leaves_nothing_behind(state_url: str) -> None:
    broker = Restartable(state_url)
    try:
        device = Client(broker.port, "device-2", clean=False)
        device.subscribe("x/#", 1)
        device.close()
        Client(broker.port, "device-2", clean=True).close()  # discards the session
        broker.restart()
        assert broker.broker.session("device-2", "device-2") is None
    finally:
        broker.close()


def test_bounds_apply_to_what_is_read_back(sqlite_state: tuple[str, Path]) -> None:
    url, path = sqlite_state
    broker = Restartable(url)
    try:
        device = Client(broker.port, "device-3", clean=False)
        device.subscribe("q/#", 1)
        device.close()
        publisher = Client(broker.port)
        for i in range(5):
            publisher.publish("q/m", str(i).encode(), 1)
        for name in ("r1", "r2", "r3"):
            publisher.publish(f"ret/{name}", name.encode(), 1, retain=True)
        broker.restart(BrokerLimits(max_offline_queue=2, max_retained_count=1))
        session = broker.broker.session("device-3", "device-3")
        assert session is not None and session.pending is not None
        assert [m.payload for m, *_ in session.pending] == [b"0", b"1"]
        assert len(broker.broker.retained) == 1
        broker.restart()  # what did not fit was deleted
        session = broker.broker.session("device-3", "device-3")
        assert session is not None and session.pending is not None and len(session.pending) == 2
    finally:
        broker.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM mqtt_queue").fetchone() == (2,)
        assert db.execute("SELECT count(*) FROM mqtt_retained").fetchone() == (1,)


def test_unreadable_rows_are_dropped_and_the_rest_restored(
    sqlite_state: tuple[str, Path],
) -> None:
    url, path = sqlite_state
    broker = Restartable(url)
    try:
        device = Client(broker.port, "device-4", clean=False)
        device.subscribe("good/#", 1)
        device.close()
        publisher = Client(broker.port)
        publisher.publish("good/1", b"one", 1)
        publisher.publish("good/2", b"two", 1)
        publisher.publish("good/ret", b"r", 1, retain=True)
        close_clients()
        broker.thread.run(broker.adapter.stop())
        with sqlite3.connect(path) as db:
            first = db.execute("SELECT min(seq) FROM mqtt_queue").fetchone()[0]
            db.execute("UPDATE mqtt_queue SET record = x'c1ff00' WHERE seq = ?", (first,))
            db.execute("UPDATE mqtt_retained SET record = x'00'")
            db.execute(
                "INSERT INTO mqtt_subscriptions VALUES ('device-4', 'device-4', 'bad/#/x', 1, 0)"
            )
            db.execute(
                "INSERT INTO mqtt_subscriptions VALUES ('device-4', 'device-4', 'ok/q', 7, 0)"
            )
        broker.adapter = broker._start(None)
        device, present = reconnect(broker.port, "device-4")
        assert present
        assert device.receive().payload == b"two"
        session = broker.broker.session("device-4", "device-4")
        assert session is not None and session.subscriptions == {"good/#": 1}
        assert len(broker.broker.retained) == 0
    finally:
        broker.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM mqtt_subscriptions").fetchone() == (1,)
        assert db.execute("SELECT count(*) FROM mqtt_retained").fetchone() == (0,)


def test_unreadable_redis_entries_are_dropped(redis_url: str) -> None:
    broker = Restartable(redis_url)
    try:
        device = Client(broker.port, "device-5", clean=False)
        device.subscribe("r/#", 1)
        device.close()
        close_clients()
        broker.thread.run(broker.adapter.stop())
        prefix = f"mainflux.mqtt.state.{broker.instance}:"
        with redis.Redis.from_url(redis_url) as client:
            client.hset(prefix + "sessions", "not json", b"\xc1")
            client.hset(prefix + "sessions", '["o","c"]', b"\xc1")
        broker.adapter = broker._start(None)
        assert broker.broker.session("device-5", "device-5") is not None
        with redis.Redis.from_url(redis_url) as client:
            assert client.hkeys(prefix + "sessions") == [b'["device-5","device-5"]']
    finally:
        broker.close()


def test_a_restored_subscription_is_checked_against_current_rights(redis_url: str) -> None:
    things = FakeThings()
    kept, lost = str(uuid.uuid4()), str(uuid.uuid4())
    device = things.thing(kept, lost)
    publisher = things.thing(kept, lost)
    broker = Restartable(redis_url, things=things)
    try:
        client = Client(broker.port, "dev", clean=False, username=device[0], password=device[1])
        for channel in (kept, lost):
            assert client.subscribe(f"channels/{channel}/messages", 1) == [1]
        client.close()
        things.links.discard((lost, device[0]))  # while the broker is down: no event
        broker.restart()
        sender = Client(broker.port, username=publisher[0], password=publisher[1])
        sender.publish(f"channels/{lost}/messages", b"not for you", 1)
        sender.publish(f"channels/{kept}/messages", b"for you", 1)
        session = broker.broker.session(device[0], "dev")
        assert session is not None
        assert session.subscriptions == {f"channels/{kept}/messages": 1}
        assert [m.payload for m, *_ in session.pending or ()] == [b"for you"]
    finally:
        broker.close()


@pytest.mark.parametrize("still_connected", [True, False], ids=["allowed", "disconnected"])
def test_a_subscription_the_things_service_cannot_check_is_held_until_it_can(
    redis_url: str, monkeypatch: pytest.MonkeyPatch, still_connected: bool
) -> None:
    monkeypatch.setattr(restore, "RECHECK_INTERVAL", 0.05)
    things = FakeThings()
    channel = str(uuid.uuid4())
    topic = f"channels/{channel}/messages"
    device = things.thing(channel)
    publisher = things.thing(channel)
    broker = Restartable(redis_url, things=things)
    try:
        client = Client(broker.port, "dev", clean=False, username=device[0], password=device[1])
        client.subscribe(topic, 1)
        client.close()
        Client(broker.port, username=publisher[0], password=publisher[1]).publish(topic, b"m", 1)
        close_clients()
        broker.thread.run(broker.adapter.stop())
        if not still_connected:
            things.links.discard((channel, device[0]))
        things.down = True
        broker.adapter = broker._start(None)
        session = broker.broker.session(device[0], "dev")
        assert session is not None and session.subscriptions == {}  # delivers nothing
        assert not session.pending  # what was queued waits for the verdict too
        assert broker.broker.held == {session: {topic: (1, 0)}}
        things.down = False
        assert eventually(lambda: not broker.broker.held)
        if still_connected:
            assert session.subscriptions == {topic: 1}
            assert eventually(lambda: [m.payload for m, *_ in session.pending or ()] == [b"m"])
        else:
            assert session.subscriptions == {}
            things.down = True
            broker.restart()  # the refused subscription and its message are gone for good
            again = broker.broker.session(device[0], "dev")
            assert again is not None and broker.broker.held == {}
            name = orjson.dumps([device[0], "dev"]).decode()
            with redis.Redis.from_url(redis_url) as store:
                assert store.hlen(f"mainflux.mqtt.state.{broker.instance}:queue:{name}") == 0
    finally:
        broker.close()


def _read(sock: socket.socket, decoder: Any, count: int) -> list[Any]:
    packets: list[Any] = []
    while len(packets) < count:
        data = sock.recv(65536)
        assert data, f"connection closed after {packets}"
        packets += decoder.feed(data)
    return packets


def test_an_unacknowledged_message_is_sent_again_to_a_connected_311_client_not_to_a_v5_one() -> (
    None
):
    broker = Restartable("none", BrokerLimits(retry_interval=1.0))
    try:
        old = socket.create_connection(("127.0.0.1", broker.port), timeout=WAIT)
        old.sendall(codec.encode_connect(codec.Connect("old", clean_session=True)))
        decoder = codec.Decoder()
        assert _read(old, decoder, 1)[0].kind == codec.CONNACK
        old.sendall(codec.encode_subscribe(1, [("retry/#", 1)]))
        assert _read(old, decoder, 1)[0].kind == codec.SUBACK
        new = Raw5(broker.port, "new")
        new.send(codec5.encode_subscribe(1, [("retry/#", 1)]))
        assert new.read(1)[0].kind == codec.SUBACK
        Client(broker.port).publish("retry/x", b"ack me", 1)
        first = _read(old, decoder, 1)[0]
        assert (first.payload, first.dup) == (b"ack me", False)
        assert new.read(1)[0].payload == b"ack me"
        again = _read(old, decoder, 1)[0]  # no PUBACK: it comes again, flagged DUP
        assert (again.payload, again.dup, again.packet_id) == (b"ack me", True, first.packet_id)
        # The sweep that resent it is over: the version 5 client got nothing before its
        # PINGRESP.
        new.send(codec.PINGREQ_BYTES)
        assert [p.kind for p in new.read(1)] == [codec.PINGRESP]
        old.sendall(codec.encode_ack(codec.PUBACK, first.packet_id))
        assert eventually(lambda: broker.broker.stats.resent >= 1)
        old.close()
        new.close()
    finally:
        broker.close()


class WithFakeStore:
    """A standalone broker keeping its state in a :class:`FakeStateStore`."""

    def __init__(self) -> None:
        self.store = FakeStateStore()

        async def build() -> MqttAdapter:
            return build_standalone(local_settings(ws_port=None), self.store)

        self.running = RunningAdapter(build)
        journal = self.running.adapter.journal
        assert journal is not None
        self.journal = journal


@pytest.fixture
def faked() -> Iterator[WithFakeStore]:
    broker = WithFakeStore()
    yield broker
    broker.running.stop()


def test_the_puback_waits_while_the_store_is_down(faked: WithFakeStore) -> None:
    port = faked.running.port
    device = Client(port, "device-6", clean=False)
    device.subscribe("d/#", 1)
    device.close()
    faked.store.down = True
    publisher = Client(port)
    sent = publisher.paho.publish("d/x", b"held", 1)
    assert eventually(lambda: faked.store.failed >= 1)
    assert not sent.is_published()  # not stored: not acknowledged
    faked.store.down = False
    sent.wait_for_publish(WAIT)
    assert sent.is_published()
    assert any(isinstance(op, Enqueue) for op in faked.store.ops)


def test_qos0_and_clean_subscribers_never_reach_the_store(faked: WithFakeStore) -> None:
    port = faked.running.port
    clean = Client(port, "clean-sub")
    clean.subscribe("e/#", 1)
    persistent = Client(port, "persistent-sub", clean=False)
    persistent.subscribe("e/#", 1)
    faked.running.run(faked.journal.flush())
    before = faked.journal.changes
    publisher = Client(port)
    publisher.publish("e/zero", b"0", 0)
    assert clean.receive().payload == b"0"
    assert persistent.receive().payload == b"0"
    assert faked.journal.changes == before  # QoS 0: nothing recorded
    persistent.close()
    publisher.publish("e/one", b"1", 1)
    assert clean.receive().payload == b"1"
    faked.running.run(faked.journal.flush())
    enqueued = [op for op in faked.store.ops if isinstance(op, Enqueue)]
    assert [op.client_id for op in enqueued] == ["persistent-sub"]  # not the clean one


async def test_the_default_store_is_the_deployment_s_own(redis_url: str, sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    try:
        in_database = await open_state("", "i", engine=engine, redis_url=redis_url)
        assert isinstance(in_database, SqlStateStore)  # the all-in-one: its database
        in_redis = await open_state("", "i", redis_url=redis_url)
        assert isinstance(in_redis, RedisStateStore)  # mainflux-mqtt: its Redis
        await in_redis.close()
        assert await open_state("none", "i", engine=engine, redis_url=redis_url) is None
        assert await open_state("", "i") is None  # the standalone broker: nothing kept
    finally:
        await engine.dispose()


@pytest.mark.parametrize("operation", ["thing.disconnect", "thing.remove"])
def test_a_revocation_while_restored_subscriptions_are_asked_about_is_not_missed(
    redis_url: str, operation: str
) -> None:
    things = FakeThings()
    channel = str(uuid.uuid4())
    device = things.thing(channel)
    broker = Restartable(redis_url, things=things)
    try:
        client = Client(broker.port, "dev", clean=False, username=device[0], password=device[1])
        client.subscribe(f"channels/{channel}/messages", 1)
        client.close()
        close_clients()
        broker.thread.run(broker.adapter.stop())
        gate = broker.thread.run(_hold(things))
        built: list[MqttAdapter] = []

        async def start() -> None:
            state = await open_state(redis_url, broker.instance)
            settings = local_settings(None, ws_port=None)
            built.append(build_adapter(things, InProcessBus(), None, settings, state=state))
            await built[0].start()

        starting = asyncio.run_coroutine_threadsafe(start(), broker.thread.loop)
        assert eventually(lambda: "can_access_by_id" in things.held)  # "yes" is on its way
        things.links.discard((channel, device[0]))
        event = {"operation": operation, "chan_id": channel, "thing_id": device[0], "id": device[0]}
        access = built[0].access
        assert access is not None
        broker.thread.loop.call_soon_threadsafe(access.invalidate, event)
        broker.thread.loop.call_soon_threadsafe(gate.set)
        starting.result(WAIT)
        broker.adapter = built[0]
        session = broker.broker.session(device[0], "dev")
        assert not broker.broker.held
        if operation == "thing.disconnect":
            assert session is not None and session.subscriptions == {}
        else:  # the session is gone, from the store too
            assert session is None
            broker.thread.run(broker.adapter.stop())
            with redis.Redis.from_url(redis_url) as store:
                prefix = f"mainflux.mqtt.state.{broker.instance}:"
                assert store.hlen(prefix + "sessions") == 0
            broker.adapter = broker._start(None)
    finally:
        broker.close()


async def _hold(things: FakeThings) -> asyncio.Event:
    """Hold the next access question (made on the broker's loop)."""
    return things.hold("can_access_by_id")


def test_a_pubrel_left_without_pubcomp_is_sent_again_to_a_connected_311_client() -> None:
    broker = Restartable("none", BrokerLimits(retry_interval=1.0))
    try:
        sock = socket.create_connection(("127.0.0.1", broker.port), timeout=WAIT)
        sock.sendall(codec.encode_connect(codec.Connect("q2", clean_session=True)))
        decoder = codec.Decoder()
        assert _read(sock, decoder, 1)[0].kind == codec.CONNACK
        sock.sendall(codec.encode_subscribe(1, [("two/#", 2)]))
        assert _read(sock, decoder, 1)[0].kind == codec.SUBACK
        Client(broker.port).publish("two/x", b"exactly once", 2)
        publish = _read(sock, decoder, 1)[0]
        assert (publish.qos, publish.payload) == (2, b"exactly once")
        sock.sendall(codec.encode_ack(codec.PUBREC, publish.packet_id))
        first, again = _read(sock, decoder, 2)  # PUBREL, and again without PUBCOMP
        assert (first.kind, first.packet_id) == (codec.PUBREL, publish.packet_id)
        assert (again.kind, again.packet_id) == (codec.PUBREL, publish.packet_id)
        sock.sendall(codec.encode_ack(codec.PUBCOMP, publish.packet_id))
        assert eventually(lambda: not broker.broker.session("q2", "q2").inflight)  # type: ignore[union-attr]
        sock.close()
    finally:
        broker.close()


class LostAnswer:
    """A real store whose first batch is committed but answered with a dropped
    connection (the server committed; the client never heard it)."""

    def __init__(self, store: SqlStateStore) -> None:
        self.store = store
        self.lost = False

    async def apply(self, ops: Any) -> None:
        await self.store.apply(ops)
        if not self.lost:
            self.lost = True
            raise ConnectionError("connection lost during COMMIT")

    async def load(self) -> Any:
        return await self.store.load()

    async def ping(self) -> None:
        await self.store.ping()

    async def close(self) -> None:
        await self.store.close()


async def test_a_batch_sent_again_after_a_lost_commit_answer_is_stored(db_url: str) -> None:
    store = await open_state(db_url, "lost")
    assert isinstance(store, SqlStateStore)
    journal = Journal(LostAnswer(store), close_timeout=0.1)  # type: ignore[arg-type]
    try:
        journal.save_session("thing", "c", None, 0.0)
        journal.subscribe("thing", "c", "a/#", 1, 0)
        journal.enqueue("thing", "c", Publish("a/b", b"x", 1), 1, False)
        journal.retain("a/b", Publish("a/b", b"r", 1, True))
        await asyncio.wait_for(journal.durable(), WAIT)  # retried, not refused for ever
        state = await store.load()
        assert [len(s.queued) for s in state.sessions] == [1]
        assert len(state.retained) == 1
    finally:
        await journal.close()
        await store.close()


@pytest.mark.parametrize("options", [-1, (1 << 40) << 8], ids=["negative", "huge-id"])
def test_stored_subscription_options_out_of_range_are_unreadable(
    sqlite_state: tuple[str, Path], options: int
) -> None:
    url, path = sqlite_state
    broker = Restartable(url)
    try:
        device = Client(broker.port, "device-9", clean=False)
        device.subscribe("opt/#", 1)
        device.close()
        close_clients()
        broker.thread.run(broker.adapter.stop())
        with sqlite3.connect(path) as db:
            db.execute("UPDATE mqtt_subscriptions SET options = ?", (options,))
        broker.adapter = broker._start(None)
        sock = socket.create_connection(("127.0.0.1", broker.port), timeout=WAIT)
        connect = codec.Connect("device-9", clean_session=False)
        sock.sendall(codec5.encode_connect(connect, {codec5.SESSION_EXPIRY: 60}))
        assert _read(sock, codec5.Decoder5(), 1)[0].kind == codec.CONNACK
        publisher = Client(broker.port)
        sent = publisher.paho.publish("opt/x", b"x", 1)
        sent.wait_for_publish(WAIT)
        assert sent.is_published()  # the publisher is not cut off by a stored row
        session = broker.broker.session("device-9", "device-9")
        assert session is not None and session.subscriptions == {}
        sock.close()
    finally:
        broker.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM mqtt_subscriptions").fetchone() == (0,)


def test_a_stored_session_ending_at_no_time_does_not_stop_expiry(redis_url: str) -> None:
    broker = Restartable(redis_url)
    try:
        close_clients()
        broker.thread.run(broker.adapter.stop())
        prefix = f"mainflux.mqtt.state.{broker.instance}:"
        with redis.Redis.from_url(redis_url) as store:
            value = msgspec.msgpack.encode((60, float("nan")))
            store.hset(prefix + "sessions", '["odd","odd"]', value)
        broker.adapter = broker._start(None)
        assert broker.broker.session("odd", "odd") is None  # unreadable: not restored
        sock = socket.create_connection(("127.0.0.1", broker.port), timeout=WAIT)
        connect = codec.Connect("brief", clean_session=False)
        sock.sendall(codec5.encode_connect(connect, {codec5.SESSION_EXPIRY: 1}))
        assert _read(sock, codec5.Decoder5(), 1)[0].kind == codec.CONNACK
        sock.close()
        assert eventually(lambda: broker.broker.session("brief", "brief") is None, 3 * WAIT)
    finally:
        broker.close()


def test_a_qos2_publish_sent_again_is_not_acknowledged_before_it_is_stored(
    faked: WithFakeStore,
) -> None:
    port = faked.running.port
    device = Client(port, "device-10", clean=False)
    device.subscribe("q2/#", 2)
    device.close()
    faked.store.down = True
    first = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    first.sendall(codec.encode_connect(codec.Connect("pub-10", clean_session=False)))
    assert _read(first, codec.Decoder(), 1)[0].kind == codec.CONNACK
    first.sendall(codec.encode_publish("q2/x", b"once", 2, 7))
    assert eventually(lambda: faked.store.failed >= 1)
    first.close()  # the publisher gave up waiting, and comes back with its session
    again = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    again.sendall(codec.encode_connect(codec.Connect("pub-10", clean_session=False)))
    decoder = codec.Decoder()
    assert _read(again, decoder, 1)[0].kind == codec.CONNACK
    again.sendall(codec.encode_publish("q2/x", b"once", 2, 7, dup=True))
    again.sendall(codec.PINGREQ_BYTES)  # answered once the PUBLISH before it is
    failed = faked.store.failed
    assert eventually(lambda: faked.store.failed > failed)  # still not stored
    again.settimeout(0.3)
    with pytest.raises(TimeoutError):
        again.recv(65536)  # no PUBREC for a message the store does not have
    again.settimeout(WAIT)
    faked.store.down = False
    pubrec, pingresp = _read(again, decoder, 2)
    assert (pubrec.kind, pubrec.packet_id, pingresp.kind) == (codec.PUBREC, 7, codec.PINGRESP)
    assert any(isinstance(op, Enqueue) for op in faked.store.ops)
    again.close()


def test_changes_undone_while_the_store_is_down_cost_no_memory(faked: WithFakeStore) -> None:
    port = faked.running.port
    faked.store.down = True
    sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    sock.sendall(codec.encode_connect(codec.Connect("flood", clean_session=False)))
    decoder = codec.Decoder()
    assert _read(sock, decoder, 1)[0].kind == codec.CONNACK
    count = 5000
    try:
        for i in range(count):  # QoS 0: nothing waits for the store
            sock.sendall(codec.encode_publish(f"r/{i}", b"v", 0, retain=True))
            sock.sendall(codec.encode_publish(f"r/{i}", b"", 0, retain=True))
            sock.sendall(codec.encode_subscribe(i + 1, [(f"s/{i}", 1)]))
            sock.sendall(codec.encode_unsubscribe(i + 1, [f"s/{i}"]))
        sock.sendall(codec.PINGREQ_BYTES)
        assert _read(sock, decoder, 2 * count + 1)[-1].kind == codec.PINGRESP
        assert len(faked.running.adapter.broker.retained) == 0
        assert faked.journal.backlog < 2100  # moot changes are compacted past 1024
    finally:
        sock.close()
        faked.store.down = False


def test_start_up_does_not_wait_for_a_things_service_that_does_not_answer(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(restore, "CHECK_DEADLINE", 0.2)
    monkeypatch.setattr(restore, "RECHECK_INTERVAL", 0.05)
    things = FakeThings()
    channel = str(uuid.uuid4())
    topic = f"channels/{channel}/messages"
    device = things.thing(channel)
    broker = Restartable(redis_url, things=things)
    try:
        client = Client(broker.port, "dev", clean=False, username=device[0], password=device[1])
        client.subscribe(topic, 1)
        client.close()
        close_clients()
        broker.thread.run(broker.adapter.stop())
        silent = things.gate = asyncio.Event()  # questions wait, unanswered
        broker.adapter = broker._start(None)  # the listeners open all the same
        session = broker.broker.session(device[0], "dev")
        assert session is not None and session.subscriptions == {}
        assert broker.broker.held == {session: {topic: (1, 0)}}
        broker.thread.loop.call_soon_threadsafe(silent.set)
        assert eventually(lambda: not broker.broker.held)
        assert session.subscriptions == {topic: 1}
    finally:
        broker.close()


def test_a_restored_session_is_never_another_thing_s_with_the_same_client_id(
    state_url: str,
) -> None:
    things = FakeThings()
    first_channel, second_channel = str(uuid.uuid4()), str(uuid.uuid4())
    first = things.thing(first_channel)
    second = things.thing(second_channel)
    publisher = things.thing(first_channel)
    broker = Restartable(state_url, things=things)
    try:
        client = Client(broker.port, "same", clean=False, username=first[0], password=first[1])
        assert client.subscribe(f"channels/{first_channel}/messages", 1) == [1]
        client.close()
        broker.restart()
        sender = Client(broker.port, username=publisher[0], password=publisher[1])
        sender.publish(f"channels/{first_channel}/messages", b"for the first", 1)
        other = Client(broker.port, "same", clean=False, connect=False)
        other.paho.username_pw_set(second[0], second[1])
        assert other.connect() == (0, False)  # nothing inherited
        assert other.nothing()
        broker.restart()
        again, present = reconnect_as(broker.port, "same", first)
        assert present
        assert again.receive().payload == b"for the first"
    finally:
        broker.close()


def reconnect_as(port: int, client_id: str, thing: tuple[str, str]) -> tuple[Client, bool]:
    """A thing's client resuming ``client_id``'s persistent session."""
    client = Client(port, client_id, clean=False, connect=False)
    client.paho.username_pw_set(thing[0], thing[1])
    code, present = client.connect()
    assert code == 0
    return client, present


async def test_a_held_subscription_let_in_then_dropped_is_deleted_from_the_store() -> None:
    store = FakeStateStore()
    store.down = True  # one batch: letting it in and dropping it
    journal = Journal(store, close_timeout=0.05)
    broker = Broker(AllowAll(), BrokerLimits())
    broker.keep_state(journal)
    session = broker.adopt("thing", "c", None, None)
    assert session is not None
    session.journal = journal
    broker.held[session] = {"a/#": (1, 0)}  # read back from the store
    broker.subscribe(session, "a/#", 1, 0x20)
    assert broker.unsubscribe(session, "a/#")
    store.down = False
    await journal.flush()
    assert store.ops == [Unsubscribe("thing", "c", "a/#")]
    await journal.close()
