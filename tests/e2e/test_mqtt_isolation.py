"""Tenant isolation of MQTT on a running all-in-one (``mainflux run``, bus on NATS):
a client id is not a credential, and a thing's rights follow the owner's changes.

Devices are paho-mqtt clients (MQTT 3.1.1 and 5) and the Mosquitto command-line
clients; the owner drives the things HTTP API through the gateway."""

from __future__ import annotations

import queue
import subprocess
import threading
import uuid
from collections.abc import Iterator

import nats
import pytest

from mainflux.messaging.envelope import Message
from tests.e2e.conftest import Platform
from tests.e2e.isolation import (
    Owner,
    Thing,
    device,
    on_channel,
    park,
    received_until,
    topic,
    until_silent,
)
from tests.integration.test_mqtt_support import WAIT, LoopThread, close_clients
from tests.servers import NatsServer

TRACE = ("-d", "-F", "%t %p")  # protocol trace (to see the SUBACK), then "topic payload"
VERSIONS = pytest.mark.parametrize("version", [4, 5], ids=["mqtt311", "mqtt5"])


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory, nats: NatsServer) -> Iterator[Platform]:
    running = Platform(
        tmp_path_factory.mktemp("isolation") / "data", extra_env={"MF_NATS_URL": nats.url}
    )
    running.start()
    yield running
    if running.proc is not None:
        assert running.stop() == 0
    # Refused handshakes and revocations are routine: never an error with a traceback.
    assert "Traceback" not in running.output, running.output
    assert " ERROR " not in running.output, running.output


@pytest.fixture(scope="module")
def owner(platform: Platform) -> Iterator[Owner]:
    user = Owner(platform.url)
    yield user
    user.close()


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    close_clients()


def client_id() -> str:
    return f"dev-42-{uuid.uuid4().hex[:6]}"


# --- a client id is not a credential ---------------------------------------------------


@VERSIONS
def test_another_thing_with_the_same_client_id_inherits_nothing(
    platform: Platform, owner: Owner, version: int
) -> None:
    ca, cb = owner.channel(), owner.channel()
    a, b, publisher = owner.thing(ca), owner.thing(cb), owner.thing(ca, cb)
    shared = client_id()
    assert park(platform.mqtt_port, a, version, shared, topic(ca, "#")) is False
    sender = device(platform.mqtt_port, publisher)
    sender.publish(topic(ca), b"for A only", 1)  # queued in A's absent session

    intruder = device(platform.mqtt_port, b, version, shared, persistent=True, connect=False)
    rc, present = intruder.connect()[:2]
    assert (rc, present) == (0, False)
    assert intruder.subscribe(topic(cb), 1) == [1]
    sender.publish(topic(cb), b"marker", 1)
    assert received_until(intruder, b"marker") == [(topic(cb), b"marker")]

    owner_again = device(platform.mqtt_port, a, version, shared, persistent=True, connect=False)
    rc, present = owner_again.connect()[:2]
    assert (rc, present) == (0, True)
    assert received_until(owner_again, b"for A only") == [(topic(ca, ""), b"for A only")]
    assert not intruder.disconnected.is_set()  # neither took the other over


@VERSIONS
def test_the_same_client_id_under_another_thing_does_not_take_over(
    platform: Platform, owner: Owner, version: int
) -> None:
    ca, cb = owner.channel(), owner.channel()
    a, b, publisher = owner.thing(ca), owner.thing(cb), owner.thing(ca, cb)
    shared = client_id()
    first = device(platform.mqtt_port, a, version, shared, persistent=True)
    assert first.subscribe(topic(ca), 1) == [1]
    second = device(platform.mqtt_port, b, version, shared, persistent=True)
    assert second.subscribe(topic(cb), 1) == [1]
    sender = device(platform.mqtt_port, publisher)
    sender.publish(topic(ca), b"to A", 1)
    sender.publish(topic(cb), b"to B", 1)
    assert received_until(first, b"to A") == [(topic(ca), b"to A")]
    assert received_until(second, b"to B") == [(topic(cb), b"to B")]
    assert not first.disconnected.is_set() and not second.disconnected.is_set()
    # The same thing and client id still take over, as MQTT says.
    again = device(platform.mqtt_port, a, version, shared, persistent=True, connect=False)
    assert again.connect()[:2] == (0, True)
    assert first.disconnected.wait(WAIT)
    assert not second.disconnected.is_set()


def test_a_delayed_will_is_not_cancelled_by_another_things_client_id(
    platform: Platform, owner: Owner
) -> None:
    ca, cb = owner.channel(), owner.channel()
    a, b, watcher = owner.thing(ca), owner.thing(cb), owner.thing(ca)
    shared = client_id()
    listener = device(platform.mqtt_port, watcher)
    assert listener.subscribe(topic(ca), 1) == [1]
    park(platform.mqtt_port, a, 5, shared, will=(topic(ca), b"A is gone"), will_delay=1)
    device(platform.mqtt_port, b, 5, shared, persistent=True)  # A does not come back
    assert received_until(listener, b"A is gone") == [(topic(ca), b"A is gone")]


def test_mosquitto_sub_with_a_borrowed_client_id_prints_nothing_of_the_owner(
    platform: Platform, owner: Owner
) -> None:
    """The reported attack, with the Mosquitto clients as the intruder and publisher."""
    ca, cb = owner.channel(), owner.channel()
    a, b, publisher = owner.thing(ca), owner.thing(cb), owner.thing(ca, cb)
    assert park(platform.mqtt_port, a, 4, "dev-42", topic(ca, "#")) is False
    mosquitto_pub(platform, publisher, topic(ca), "secret of A")
    intruder = MosquittoSub(platform, b, "dev-42", topic(cb))
    try:
        mosquitto_pub(platform, publisher, topic(cb), "marker")
        assert intruder.lines_until("marker") == [f"{topic(cb)} marker"]
    finally:
        intruder.stop()


def mosquitto_pub(platform: Platform, thing: Thing, name: str, payload: str) -> None:
    where = ["-h", "127.0.0.1", "-p", str(platform.mqtt_port), "-u", thing.id, "-P", thing.key]
    subprocess.run(
        ["mosquitto_pub", *where, "-q", "1", "-t", name, "-m", payload],
        check=True,
        timeout=30,
    )


class MosquittoSub:
    """``mosquitto_sub -c -q 1`` in the background; lines are read as they come."""

    def __init__(self, platform: Platform, thing: Thing, client: str, name: str) -> None:
        where = ["-h", "127.0.0.1", "-p", str(platform.mqtt_port), "-u", thing.id, "-P", thing.key]
        self.proc = subprocess.Popen(
            [
                "stdbuf",
                "-oL",
                "mosquitto_sub",
                *where,
                "-i",
                client,
                "-c",
                "-q",
                "1",
                "-t",
                name,
                *TRACE,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.printed: list[str] = []  # message lines, from the start (before SUBACK too)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        while "received SUBACK" not in self._next():
            pass

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def _next(self) -> str:
        line = self.lines.get(timeout=WAIT)
        if line.startswith("channels/"):  # "topic payload"; the rest is the -d trace
            self.printed.append(line)
        return line

    def lines_until(self, payload: str) -> list[str]:
        """The message lines printed since the start, up to the one carrying ``payload``."""
        while not any(line.endswith(f" {payload}") for line in self.printed):
            self._next()
        return self.printed

    def stop(self) -> None:
        """Stop the process, let the reader thread reach the end of its output, close it."""
        self.proc.terminate()
        self.proc.wait(10)
        self.reader.join(10)
        assert not self.reader.is_alive(), "mosquitto_sub's output never ended"
        assert self.proc.stdout is not None
        self.proc.stdout.close()


# --- revocation ------------------------------------------------------------------------


class Bus:
    """A raw NATS publisher of Mainflux envelopes: what another protocol or another
    adapter instance puts on the bus."""

    def __init__(self, url: str) -> None:
        self.thread = LoopThread()
        self.nc = self.thread.run(nats.connect(url))

    def publish(self, channel: str, payload: bytes) -> None:
        envelope = Message(channel, "", "some-thing", "http", payload).encode()

        async def send() -> None:
            await self.nc.publish(f"channels.{channel}", envelope)
            await self.nc.flush()

        self.thread.run(send())

    def close(self) -> None:
        self.thread.run(self.nc.close())
        self.thread.close()


@pytest.fixture
def bus(nats: NatsServer) -> Iterator[Bus]:
    publisher = Bus(nats.url)
    yield publisher
    publisher.close()


@VERSIONS
def test_disconnecting_a_thing_silences_its_live_and_absent_subscriptions(
    platform: Platform, owner: Owner, version: int
) -> None:
    revoked, kept = owner.channel(), owner.channel()
    thing, publisher = owner.thing(revoked, kept), owner.thing(revoked, kept)
    away = client_id()
    park(platform.mqtt_port, thing, version, away, topic(revoked, "#"), topic(kept, "#"))
    live = device(platform.mqtt_port, thing, version)
    assert live.subscribe(topic(revoked, "#"), 1) == [1]
    assert live.subscribe(topic(kept, "#"), 1) == [1]
    sender = device(platform.mqtt_port, publisher)
    sender.publish(topic(revoked), b"before", 1)
    assert received_until(live, b"before") == [(topic(revoked), b"before")]

    owner.disconnect(revoked, thing.id)
    until_silent(
        [live],
        revoked,
        lambda probe: sender.publish(topic(revoked), probe, 1),
        lambda marker: sender.publish(topic(kept), marker, 1),
    )
    assert not live.disconnected.is_set()  # only the channel went, not the connection
    sender.publish(topic(kept), b"last", 1)

    back = device(platform.mqtt_port, thing, version, away, persistent=True, connect=False)
    assert back.connect()[:2] == (0, True)
    got = received_until(back, b"last")
    assert on_channel(got, revoked) == []  # nor queued while away
    assert (topic(kept), b"last") in got


@VERSIONS
def test_removing_a_channel_silences_every_subscription_to_it(
    platform: Platform, owner: Owner, bus: Bus, version: int
) -> None:
    revoked, kept = owner.channel(), owner.channel()
    one, two = owner.thing(revoked, kept), owner.thing(revoked, kept)
    away = client_id()
    park(platform.mqtt_port, one, version, away, topic(revoked, "#"), topic(kept, "#"))
    subscribers = [device(platform.mqtt_port, thing, version) for thing in (one, two)]
    for subscriber in subscribers:
        assert subscriber.subscribe(topic(revoked, "#"), 1) == [1]
        assert subscriber.subscribe(topic(kept, "#"), 1) == [1]
    bus.publish(revoked, b"before")
    for subscriber in subscribers:
        assert received_until(subscriber, b"before") == [(topic(revoked), b"before")]

    owner.remove_channel(revoked)
    # Nobody may publish on a removed channel any more; what is already on the bus
    # (another protocol's or another instance's message) must not be delivered either.
    until_silent(
        subscribers,
        revoked,
        lambda probe: bus.publish(revoked, probe),
        lambda marker: bus.publish(kept, marker),
    )
    bus.publish(kept, b"last")
    back = device(platform.mqtt_port, one, version, away, persistent=True, connect=False)
    assert back.connect()[:2] == (0, True)
    got = received_until(back, b"last")
    assert on_channel(got, revoked) == []
    assert (topic(kept), b"last") in got


@VERSIONS
def test_removing_a_thing_closes_its_connections(
    platform: Platform, owner: Owner, version: int
) -> None:
    chan = owner.channel()
    doomed, bystander, publisher = owner.thing(chan), owner.thing(chan), owner.thing(chan)
    park(platform.mqtt_port, doomed, version, client_id(), topic(chan))
    victim = device(platform.mqtt_port, doomed, version)
    assert victim.subscribe(topic(chan), 1) == [1]
    other = device(platform.mqtt_port, bystander, version)
    assert other.subscribe(topic(chan), 1) == [1]

    owner.remove_thing(doomed.id)
    assert victim.disconnected.wait(15)
    if version == 5:
        assert victim.disconnect_reason() == 0x87  # type: ignore[union-attr]
    refused = device(platform.mqtt_port, doomed, version, connect=False)
    assert refused.connect()[0] in (4, 0x86)  # its key is gone too
    sender = device(platform.mqtt_port, publisher)
    sender.publish(topic(chan), b"still here", 1)
    assert received_until(other, b"still here") == [(topic(chan), b"still here")]
    assert not other.disconnected.is_set()


@VERSIONS
def test_changing_a_key_closes_the_connections_made_with_the_old_one(
    platform: Platform, owner: Owner, version: int
) -> None:
    chan = owner.channel()
    rekeyed, bystander, publisher = owner.thing(chan), owner.thing(chan), owner.thing(chan)
    old = [device(platform.mqtt_port, rekeyed, version) for _ in range(2)]
    other = device(platform.mqtt_port, bystander, version)
    assert other.subscribe(topic(chan), 1) == [1]

    new_key = owner.change_key(rekeyed.id)
    for client in old:
        assert client.disconnected.wait(15)
        if version == 5:
            assert client.disconnect_reason() == 0x87  # type: ignore[union-attr]
    assert device(platform.mqtt_port, rekeyed, version, connect=False).connect()[0] in (4, 0x86)
    renewed = device(platform.mqtt_port, Thing(rekeyed.id, new_key), version)
    assert renewed.subscribe(topic(chan), 1) == [1]
    sender = device(platform.mqtt_port, publisher)
    sender.publish(topic(chan), b"after", 1)
    assert received_until(renewed, b"after") == [(topic(chan), b"after")]
    assert received_until(other, b"after") == [(topic(chan), b"after")]
