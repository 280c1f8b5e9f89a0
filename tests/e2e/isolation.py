"""Helpers of the MQTT isolation tests: the things API as an owner uses it, devices of
either MQTT version, and a check that a revoked channel stays silent.

A revocation travels through the things event stream, so the tests cannot know the
instant it lands. They publish rounds instead: a probe on the revoked channel, then a
marker on a channel still allowed, both from one connection (so the broker sees them
in that order), and wait for each marker. Once a marker arrives with no probe before
it, the revocation is in force; every later round must stay that way."""

from __future__ import annotations

import itertools
import queue
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from mainflux.adapters.mqtt import codec, codec5
from tests.integration.test_mqtt5_support import Client5
from tests.integration.test_mqtt_support import WAIT, Client

Device = Client | Client5
_ROUNDS = itertools.count(1)


@dataclass(frozen=True)
class Thing:
    """A thing's credentials."""

    id: str
    key: str


class Owner:
    """A user of the things HTTP API (the all-in-one gateway or ``mainflux-things``)."""

    def __init__(self, url: str, token: str | None = None) -> None:
        self.http = httpx.Client(base_url=url, timeout=10)
        if token is None:
            creds = {"email": f"{uuid.uuid4().hex[:10]}@example.com", "password": "12345678"}
            assert self.http.post("/users", json=creds).status_code == 201
            token = self.http.post("/tokens", json=creds).json()["token"]
        self.headers = {"Authorization": token}

    def thing(self, *channels: str) -> Thing:
        """A new thing, connected to ``channels``."""
        created = self.http.post("/things", json={"name": "device"}, headers=self.headers)
        assert created.status_code == 201, created.text
        thing_id = created.headers["location"].rsplit("/", 1)[1]
        key = self.http.get(f"/things/{thing_id}", headers=self.headers).json()["key"]
        for channel in channels:
            self.connect(channel, thing_id)
        return Thing(thing_id, key)

    def channel(self) -> str:
        """A new channel's id."""
        created = self.http.post("/channels", json={"name": "room"}, headers=self.headers)
        assert created.status_code == 201, created.text
        return str(created.headers["location"].rsplit("/", 1)[1])

    def connect(self, channel: str, thing_id: str) -> None:
        reply = self.http.put(f"/channels/{channel}/things/{thing_id}", headers=self.headers)
        assert reply.status_code == 200, reply.text

    def disconnect(self, channel: str, thing_id: str) -> None:
        reply = self.http.delete(f"/channels/{channel}/things/{thing_id}", headers=self.headers)
        assert reply.status_code == 204, reply.text

    def remove_thing(self, thing_id: str) -> None:
        reply = self.http.delete(f"/things/{thing_id}", headers=self.headers)
        assert reply.status_code == 204, reply.text

    def remove_channel(self, channel: str) -> None:
        reply = self.http.delete(f"/channels/{channel}", headers=self.headers)
        assert reply.status_code == 204, reply.text

    def change_key(self, thing_id: str) -> str:
        """Give the thing a new key; returns it."""
        key = str(uuid.uuid4())
        reply = self.http.patch(f"/things/{thing_id}/key", json={"key": key}, headers=self.headers)
        assert reply.status_code == 200, reply.text
        return key

    def close(self) -> None:
        self.http.close()


def topic(channel: str, subtopic: str = "") -> str:
    """The MQTT topic of a channel (with an optional subtopic)."""
    return f"channels/{channel}/messages" + (f"/{subtopic}" if subtopic else "")


def device(
    port: int,
    thing: Thing,
    version: int = 4,
    client_id: str | None = None,
    *,
    persistent: bool = False,
    connect: bool = True,
    **options: Any,
) -> Device:
    """A paho client of ``thing`` speaking MQTT 3.1.1 (``version`` 4) or 5; a
    persistent one keeps its session while away (3.1.1 clean session 0; version 5 a
    session expiry of an hour)."""
    if version == 5:
        return Client5(
            port,
            client_id,
            clean_start=not persistent,
            session_expiry=3600 if persistent else None,
            username=thing.id,
            password=thing.key,
            connect=connect,
            **options,
        )
    return Client(
        port,
        client_id,
        clean=not persistent,
        username=thing.id,
        password=thing.key,
        connect=connect,
        **options,
    )


def park(
    port: int,
    thing: Thing,
    version: int,
    client_id: str,
    *filters: str,
    will: tuple[str, bytes] | None = None,
    will_delay: int = 0,
) -> bool:
    """Open a persistent session of ``thing`` with a raw socket, subscribe to
    ``filters`` at QoS 1, DISCONNECT, and return once the broker has closed the socket
    (the session is then absent for sure). Returns CONNACK's session present flag.

    With a ``will`` (``(topic, payload)``, version 5 only) the DISCONNECT asks for the
    will (reason 0x04), published after ``will_delay`` seconds."""
    secret = thing.key.encode()
    connect = codec.Connect(client_id, clean_session=False, username=thing.id, password=secret)
    goodbye = codec.DISCONNECT_BYTES
    if will is not None:
        connect.will = codec.Will(will[0], will[1], 1, False)
        goodbye = codec5.encode_disconnect(codec5.DISCONNECT_WITH_WILL)
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as sock:
        if version == 5:
            packets = _Packets(sock, codec5.Decoder5())
            will_props = {codec5.WILL_DELAY: will_delay} if will_delay else None
            sock.sendall(codec5.encode_connect(connect, {codec5.SESSION_EXPIRY: 3600}, will_props))
            connack: Any = packets.next(codec.CONNACK)
            assert connack.codes == [0], connack.codes
            subscribe = codec5.encode_subscribe(1, [(f, 1) for f in filters])
        else:
            packets = _Packets(sock, codec.Decoder())
            sock.sendall(codec.encode_connect(connect))
            connack = packets.next(codec.CONNACK)
            assert connack.return_code == 0, connack.return_code
            subscribe = codec.encode_subscribe(1, [(f, 1) for f in filters])
        if filters:
            sock.sendall(subscribe)
            suback: Any = packets.next(codec.SUBACK)
            assert suback.codes == [1] * len(filters), suback.codes
        sock.sendall(goodbye)
        while sock.recv(65536):  # messages of a resumed session may come first
            pass
    return bool(connack.session_present)


class _Packets:
    """Packets read from a raw socket, one kind at a time (others are skipped)."""

    def __init__(self, sock: socket.socket, decoder: codec.Decoder) -> None:
        self.sock = sock
        self.decoder = decoder
        self.ready: list[Any] = []

    def next(self, kind: int) -> Any:
        while True:
            while self.ready:
                packet = self.ready.pop(0)
                if packet.kind == kind:
                    return packet
            data = self.sock.recv(65536)
            assert data, "closed by the broker"
            self.ready += self.decoder.feed(data)


def received_until(client: Device, marker: bytes) -> list[tuple[str, bytes]]:
    """``(topic, payload)`` of every message received up to and including ``marker``."""
    got: list[tuple[str, bytes]] = []
    while True:
        try:
            message = client.receive(WAIT)
        except queue.Empty:
            raise AssertionError(f"{marker!r} did not arrive; got {got}") from None
        got.append((message.topic, message.payload))
        if message.payload == marker:
            return got


def on_channel(messages: list[tuple[str, bytes]], channel: str) -> list[bytes]:
    """The payloads of ``messages`` published on ``channel``."""
    return [payload for name, payload in messages if name.startswith(f"channels/{channel}/")]


def until_silent(
    subscribers: list[Device],
    revoked: str,
    send_probe: Callable[[bytes], None],
    send_marker: Callable[[bytes], None],
    timeout: float = 15.0,
) -> None:
    """Publish probe/marker rounds until no subscriber gets a probe of the ``revoked``
    channel before the round's marker, then check one more round stays silent."""
    deadline = time.monotonic() + timeout
    while True:
        if _round(subscribers, revoked, send_probe, send_marker):
            break
        assert time.monotonic() < deadline, f"channel {revoked} still delivered"
    assert _round(subscribers, revoked, send_probe, send_marker), "the revoked channel came back"


def _round(
    subscribers: list[Device],
    revoked: str,
    send_probe: Callable[[bytes], None],
    send_marker: Callable[[bytes], None],
) -> bool:
    n = next(_ROUNDS)
    probe, marker = f"probe-{n}".encode(), f"marker-{n}".encode()
    send_probe(probe)
    send_marker(marker)
    silent = True
    for subscriber in subscribers:
        got = received_until(subscriber, marker)
        silent = silent and not on_channel(got, revoked)
    return silent
