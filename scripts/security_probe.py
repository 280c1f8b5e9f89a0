#!/usr/bin/env python3
"""Repeat the platform's security attacks against a running platform, one line each.

Usage::

    .venv/bin/python scripts/security_probe.py --url http://127.0.0.1:8080 --mqtt-port 1883 \\
        [--ws-url ws://127.0.0.1:8080/ws] [--data-dir ./data] [--slow] [--ws-cap 100]

``--url`` is the all-in-one gateway. For microservices give each service's address with
``--users-url``, ``--things-url``, ``--http-url`` (the HTTP adapter, e.g.
``http://127.0.0.1:8185``), ``--reader-url`` and ``--ws-url`` (e.g. ``ws://127.0.0.1:8186``);
each defaults to ``--url`` (the HTTP adapter to ``<url>/http``, the WebSocket adapter to
``ws://<url host>/ws``). ``--mqtt-host`` defaults to the host of ``--url``.

The probe registers fresh users (random emails; Mainflux has no way to delete them),
creates things and channels through the HTTP API, and then attacks:

1. MQTT sessions: another user's thing connecting with a client id in use.
2. Revocation: live MQTT and WebSocket subscribers after the owner disconnects a thing,
   changes its key, removes it or removes the channel (seconds measured and printed).
3. Accounts: a hostile ``Referer`` on a reset request, account probing through login
   answers, over-long passwords, tokens surviving a password change, email case.
4. HTTP limits: huge or numerous headers, huge bodies, bulk and nesting caps, paging
   numbers, a slow client (``--slow``, takes ``--request-timeout`` seconds), and
   1,000 silent sockets on the HTTP and MQTT ports.
5. MQTT bounds: an over-long client id, more subscriptions than a session may hold.
6. WebSocket caps (only with ``--ws-cap N``, the per-thing socket cap).
7. Files (only with ``--data-dir``): the data directory is 0700 and its files 0600.

Each attack prints ``PASS`` or ``FAIL``, what was done, what the platform answered and
what was expected; a last line counts them. Exit status: 0 when everything passed, 1
otherwise, 2 when the platform cannot be reached. With ``PROBE_TRACEBACK=1`` a probe that
could not run to its end also prints its traceback."""

from __future__ import annotations

import argparse
import email
import os
import queue
import resource
import select
import socket
import ssl
import stat
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import paho.mqtt.client as mqtt
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as ws_connect

PASSWORD = "probe-password-1"
EVIL_REFERER = "http://evil.example"
TAKEOVER_CLIENT_ID = "dev-42"


class ProbeError(Exception):
    """A step the probe needs (setting up users, things, a baseline) did not work."""


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class Target:
    """Where the platform's faces are, and the bounds the probes expect."""

    users_url: str
    things_url: str
    http_url: str
    reader_url: str
    ws_url: str
    mqtt_host: str
    mqtt_port: int
    mqtt_tls: bool
    data_dir: Path | None
    mail_dir: Path | None
    insecure: bool
    slow: bool
    ws_cap: int | None
    deadline: float
    request_timeout: float
    silent_sockets: int
    max_bulk: int
    max_subscriptions: int
    max_client_id: int

    def ssl_context(self) -> ssl.SSLContext:
        """A client TLS context (unverified with ``--insecure``)."""
        context = ssl.create_default_context()
        if self.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context


def parse_args(argv: list[str] | None = None) -> Target:
    """Read the command line into a :class:`Target`."""
    parser = argparse.ArgumentParser(
        prog="security_probe.py",
        description="Repeat the security attacks against a running platform.",
    )
    parser.add_argument("--url", required=True, help="the gateway, e.g. http://127.0.0.1:8080")
    parser.add_argument("--users-url", help="users service (default: --url)")
    parser.add_argument("--things-url", help="things service (default: --url)")
    parser.add_argument("--http-url", help="HTTP adapter (default: <url>/http)")
    parser.add_argument("--reader-url", help="messages reader (default: --url)")
    parser.add_argument("--ws-url", help="WebSocket adapter (default: ws://<url host>/ws)")
    parser.add_argument("--mqtt-host", help="MQTT host (default: the host of --url)")
    parser.add_argument("--mqtt-port", type=int, default=1883)
    parser.add_argument("--mqtt-tls", action="store_true", help="MQTT over TLS on --mqtt-port")
    parser.add_argument("--data-dir", type=Path, help="the data directory of mainflux run")
    parser.add_argument("--mail-dir", type=Path, help="mail outbox (default: <data-dir>/mail)")
    parser.add_argument("--insecure", action="store_true", help="do not verify TLS certificates")
    parser.add_argument("--slow", action="store_true", help="also run the slow-client probe")
    parser.add_argument("--ws-cap", type=int, help="WebSocket sockets allowed per thing")
    parser.add_argument(
        "--deadline", type=float, default=2.0, help="seconds a revocation may take (2)"
    )
    parser.add_argument(
        "--request-timeout", type=float, default=30.0, help="MF_HTTP_REQUEST_TIMEOUT (30)"
    )
    parser.add_argument("--silent-sockets", type=int, default=1000, help="per port (1000)")
    parser.add_argument("--max-bulk", type=int, default=100, help="MF_THINGS_MAX_BULK (100)")
    parser.add_argument(
        "--max-subscriptions", type=int, default=1000, help="MF_MQTT_ADAPTER_MAX_SUBSCRIPTIONS"
    )
    parser.add_argument(
        "--max-client-id", type=int, default=256, help="MF_MQTT_ADAPTER_MAX_CLIENT_ID_LENGTH"
    )
    args = parser.parse_args(argv)
    url = args.url.rstrip("/")
    parts = urlsplit(url)
    ws_scheme = "wss" if parts.scheme == "https" else "ws"
    data_dir: Path | None = args.data_dir
    mail_dir: Path | None = args.mail_dir or (data_dir / "mail" if data_dir else None)
    return Target(
        users_url=(args.users_url or url).rstrip("/"),
        things_url=(args.things_url or url).rstrip("/"),
        http_url=(args.http_url or f"{url}/http").rstrip("/"),
        reader_url=(args.reader_url or url).rstrip("/"),
        ws_url=(args.ws_url or f"{ws_scheme}://{parts.netloc}/ws").rstrip("/"),
        mqtt_host=args.mqtt_host or parts.hostname or "127.0.0.1",
        mqtt_port=args.mqtt_port,
        mqtt_tls=args.mqtt_tls,
        data_dir=data_dir,
        mail_dir=mail_dir,
        insecure=args.insecure,
        slow=args.slow,
        ws_cap=args.ws_cap,
        deadline=args.deadline,
        request_timeout=args.request_timeout,
        silent_sockets=args.silent_sockets,
        max_bulk=args.max_bulk,
        max_subscriptions=args.max_subscriptions,
        max_client_id=args.max_client_id,
    )


# --------------------------------------------------------------------------- report


@dataclass
class Report:
    """Prints one line per attack and counts the results."""

    passed: int = 0
    failed: int = 0

    def check(self, section: str, title: str, did: str, expected: str, got: str, ok: bool) -> None:
        """Record and print one attack: ``did`` -> ``got`` (``expected``)."""
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        verdict = "PASS" if ok else "FAIL"
        print(f"{verdict}  [{section}] {title}: {did} -> {got} (expected {expected})", flush=True)

    def error(self, section: str, title: str, exc: BaseException) -> None:
        """Record a probe that could not run to its end as a failure."""
        self.failed += 1
        print(f"FAIL  [{section}] {title}: probe error: {exc}", flush=True)

    def skip(self, section: str, title: str, why: str) -> None:
        """Print a probe that was not asked for (it counts neither way)."""
        print(f"SKIP  [{section}] {title}: {why}", flush=True)

    def summary(self) -> str:
        """The last line."""
        return f"{self.passed} passed, {self.failed} failed"


def marker() -> bytes:
    """A unique SenML payload, recognisable wherever it arrives."""
    return f'[{{"n":"probe-{uuid.uuid4().hex}","v":1}}]'.encode()


def seconds(value: float | None) -> str:
    """``1.23 s`` or ``never``."""
    return "never" if value is None else f"{value:.2f} s"


# --------------------------------------------------------------------------- HTTP API


@dataclass(frozen=True)
class User:
    """A registered user with a login token."""

    email: str
    password: str
    token: str


@dataclass(frozen=True)
class Thing:
    """A thing's id and key."""

    id: str
    key: str


def random_email(prefix: str = "probe") -> str:
    """A fresh address nobody registered."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.com"


class Api:
    """The Mainflux 0.11 HTTP API calls the probes need."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.client = httpx.Client(timeout=15.0, verify=not target.insecure, trust_env=False)

    def close(self) -> None:
        """Close the HTTP connections."""
        self.client.close()

    @staticmethod
    def _expect(response: httpx.Response, status: int, what: str) -> httpx.Response:
        if response.status_code != status:
            raise ProbeError(f"{what}: {response.status_code} {response.text[:200]!r}")
        return response

    def register(self, email_: str, password: str) -> httpx.Response:
        """``POST /users``."""
        body = {"email": email_, "password": password}
        return self.client.post(f"{self.target.users_url}/users", json=body)

    def login(self, email_: str, password: str) -> httpx.Response:
        """``POST /tokens``."""
        body = {"email": email_, "password": password}
        return self.client.post(f"{self.target.users_url}/tokens", json=body)

    def new_user(self, email_: str | None = None) -> User:
        """Register a fresh user and log in."""
        address = email_ or random_email()
        self._expect(self.register(address, PASSWORD), 201, f"register {address}")
        token = self._expect(self.login(address, PASSWORD), 201, f"log in {address}")
        return User(address, PASSWORD, token.json()["token"])

    def change_password(self, user: User, new_password: str) -> httpx.Response:
        """``PATCH /password`` with the user's token."""
        return self.client.patch(
            f"{self.target.users_url}/password",
            json={"old_password": user.password, "password": new_password},
            headers={"Authorization": user.token},
        )

    def reset_request(self, email_: str, referer: str) -> httpx.Response:
        """``POST /password/reset-request`` with a ``Referer``."""
        return self.client.post(
            f"{self.target.users_url}/password/reset-request",
            json={"email": email_},
            headers={"Referer": referer},
        )

    def things(self, token: str, query: str = "") -> httpx.Response:
        """``GET /things`` with a raw query string."""
        url = f"{self.target.things_url}/things" + (f"?{query}" if query else "")
        return self.client.get(url, headers={"Authorization": token})

    def create_thing(self, user: User, name: str = "probe") -> Thing:
        """``POST /things`` then ``GET /things/<id>`` for its key."""
        headers = {"Authorization": user.token}
        created = self._expect(
            self.client.post(
                f"{self.target.things_url}/things", json={"name": name}, headers=headers
            ),
            201,
            "create thing",
        )
        thing_id = created.headers["location"].rsplit("/", 1)[-1]
        view = self._expect(
            self.client.get(f"{self.target.things_url}/things/{thing_id}", headers=headers),
            200,
            "view thing",
        )
        return Thing(thing_id, view.json()["key"])

    def create_channel(self, user: User, name: str = "probe") -> str:
        """``POST /channels``; the new channel's id."""
        created = self._expect(
            self.client.post(
                f"{self.target.things_url}/channels",
                json={"name": name},
                headers={"Authorization": user.token},
            ),
            201,
            "create channel",
        )
        return created.headers["location"].rsplit("/", 1)[-1]

    def connect(self, user: User, channel: str, thing: Thing) -> None:
        """``PUT /channels/<c>/things/<t>``."""
        url = f"{self.target.things_url}/channels/{channel}/things/{thing.id}"
        self._expect(self.client.put(url, headers={"Authorization": user.token}), 200, "connect")

    def thing_on(self, user: User, channel: str, name: str = "probe") -> Thing:
        """A new thing of ``user`` connected to ``channel``."""
        thing = self.create_thing(user, name)
        self.connect(user, channel, thing)
        return thing

    def disconnect(self, user: User, channel: str, thing: Thing) -> httpx.Response:
        """``DELETE /channels/<c>/things/<t>``."""
        url = f"{self.target.things_url}/channels/{channel}/things/{thing.id}"
        return self.client.delete(url, headers={"Authorization": user.token})

    def update_key(self, user: User, thing: Thing, key: str) -> httpx.Response:
        """``PATCH /things/<id>/key``."""
        return self.client.patch(
            f"{self.target.things_url}/things/{thing.id}/key",
            json={"key": key},
            headers={"Authorization": user.token},
        )

    def remove_thing(self, user: User, thing: Thing) -> httpx.Response:
        """``DELETE /things/<id>``."""
        url = f"{self.target.things_url}/things/{thing.id}"
        return self.client.delete(url, headers={"Authorization": user.token})

    def remove_channel(self, user: User, channel: str) -> httpx.Response:
        """``DELETE /channels/<id>``."""
        url = f"{self.target.things_url}/channels/{channel}"
        return self.client.delete(url, headers={"Authorization": user.token})

    def publish(self, thing: Thing, channel: str, payload: bytes) -> None:
        """Publish through the HTTP adapter; the adapter must answer 202."""
        response = self.client.post(
            f"{self.target.http_url}/channels/{channel}/messages",
            content=payload,
            headers={"Authorization": thing.key, "Content-Type": "application/senml+json"},
        )
        self._expect(response, 202, "publish over HTTP")


@dataclass(frozen=True)
class Reply:
    """The answer to an attack: a status and body, or (status None) how the request failed."""

    status: int | None
    text: str = ""

    def __str__(self) -> str:
        if self.status is None:
            return self.text
        body = self.text.strip()
        return f"{self.status} {body[:120]}" if body else str(self.status)


def attempt(request: Callable[[], httpx.Response]) -> Reply:
    """Send an attack; a connection the server cuts is an answer too, not a probe error."""
    try:
        response = request()
    except httpx.HTTPError as exc:
        return Reply(None, f"no answer ({type(exc).__name__}: {exc})")
    return Reply(response.status_code, response.text)


# --------------------------------------------------------------------------- MQTT


class MqttClient:
    """A paho MQTT 3.1.1 client whose callbacks are turned into events to wait on."""

    def __init__(
        self, target: Target, thing: Thing, client_id: str = "", clean_session: bool = True
    ) -> None:
        self._target = target
        self._client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id or f"probe-{uuid.uuid4().hex[:12]}",
            clean_session=clean_session,
            protocol=mqtt.MQTTv311,
        )
        self._client.username_pw_set(thing.id, thing.key)
        self._client.reconnect_delay_set(min_delay=300, max_delay=600)  # never during a probe
        if target.mqtt_tls:
            self._client.tls_set_context(target.ssl_context())
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.on_subscribe = self._on_subscribe
        self.connack = threading.Event()
        self.accepted = False
        self.session_present = False
        self.closed = threading.Event()
        self.closed_at: float | None = None
        self._received: list[bytes] = []
        self._arrived = threading.Condition()
        self._subacks: queue.Queue[list[int]] = queue.Queue()

    def _on_connect(self, _c: Any, _u: Any, flags: Any, reason: Any, _p: Any) -> None:
        self.accepted = not reason.is_failure
        self.session_present = bool(flags.session_present)
        self.connack.set()

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, _r: Any, _p: Any) -> None:
        if self.closed_at is None:
            self.closed_at = time.monotonic()
        self.closed.set()

    def _on_message(self, _c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        with self._arrived:
            self._received.append(bytes(message.payload))
            self._arrived.notify_all()

    def _on_subscribe(self, _c: Any, _u: Any, _mid: int, reasons: list[Any], _p: Any) -> None:
        self._subacks.put([reason.value for reason in reasons])

    def open(self, timeout: float = 5.0) -> bool:
        """Connect and wait for the CONNACK; whether it accepted the connection."""
        self._client.connect(self._target.mqtt_host, self._target.mqtt_port, keepalive=30)
        self._client.loop_start()
        if not self.connack.wait(timeout):
            raise ProbeError("no CONNACK from the MQTT port")
        return self.accepted

    def subscribe(self, topic: str, qos: int = 1, timeout: float = 5.0) -> list[int]:
        """Subscribe and wait for the SUBACK's codes."""
        self._client.subscribe(topic, qos)
        try:
            return self._subacks.get(timeout=timeout)
        except queue.Empty:
            raise ProbeError(f"no SUBACK for {topic}") from None

    def wait_for(self, payload: bytes, timeout: float) -> bool:
        """Whether ``payload`` arrives (or has arrived) within ``timeout`` seconds."""
        with self._arrived:
            return self._arrived.wait_for(lambda: payload in self._received, timeout)

    def received(self) -> list[bytes]:
        """Every payload received so far."""
        with self._arrived:
            return list(self._received)

    def close(self) -> None:
        """Disconnect cleanly (when still connected) and stop the network thread."""
        with suppress(Exception):
            self._client.disconnect()
        self._client.loop_stop()


@contextmanager
def mqtt_session(
    target: Target, thing: Thing, client_id: str = "", clean_session: bool = True
) -> Iterator[MqttClient]:
    """An open :class:`MqttClient`, closed on exit; a refused CONNECT is a ProbeError."""
    client = MqttClient(target, thing, client_id, clean_session)
    try:
        if not client.open():
            raise ProbeError(f"CONNECT of thing {thing.id} refused")
        yield client
    finally:
        client.close()


def _mqtt_string(text: str) -> bytes:
    data = text.encode()
    return len(data).to_bytes(2, "big") + data


def _remaining_length(length: int) -> bytes:
    out = bytearray()
    while True:
        length, digit = divmod(length, 128)
        out.append(digit | (0x80 if length else 0))
        if not length:
            return bytes(out)


def connect_packet(client_id: str, username: str, password: str) -> bytes:
    """An MQTT 3.1.1 CONNECT (clean session, keepalive 30 s)."""
    body = (
        _mqtt_string("MQTT")
        + bytes([4, 0x80 | 0x40 | 0x02])
        + (30).to_bytes(2, "big")
        + _mqtt_string(client_id)
        + _mqtt_string(username)
        + _mqtt_string(password)
    )
    return b"\x10" + _remaining_length(len(body)) + body


def subscribe_packet(packet_id: int, filters: list[str], qos: int = 1) -> bytes:
    """An MQTT SUBSCRIBE for ``filters``."""
    body = packet_id.to_bytes(2, "big") + b"".join(
        _mqtt_string(topic) + bytes([qos]) for topic in filters
    )
    return b"\x82" + _remaining_length(len(body)) + body


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionResetError("closed by the server")
        data += chunk
    return bytes(data)


def read_packet(sock: socket.socket) -> tuple[int, bytes]:
    """One MQTT packet: (first byte, body)."""
    first = _recv_exactly(sock, 1)[0]
    length, shift = 0, 0
    while True:
        digit = _recv_exactly(sock, 1)[0]
        length |= (digit & 0x7F) << shift
        shift += 7
        if not digit & 0x80:
            break
    return first, _recv_exactly(sock, length)


def open_mqtt_socket(target: Target, timeout: float = 10.0) -> socket.socket:
    """A TCP (or TLS) socket to the MQTT port."""
    sock = socket.create_connection((target.mqtt_host, target.mqtt_port), timeout=timeout)
    if target.mqtt_tls:
        return target.ssl_context().wrap_socket(sock, server_hostname=target.mqtt_host)
    return sock


def raw_connack(target: Target, client_id: str, thing: Thing) -> tuple[int, int] | None:
    """Send a CONNECT on a raw socket: (session present, return code), or None if closed."""
    with open_mqtt_socket(target) as sock:
        sock.sendall(connect_packet(client_id, thing.id, thing.key))
        try:
            kind, body = read_packet(sock)
        except OSError:
            return None
        if kind != 0x20 or len(body) != 2:
            raise ProbeError(f"not a CONNACK: {kind:#x} {body!r}")
        return body[0] & 1, body[1]


# --------------------------------------------------------------------------- raw HTTP


@dataclass
class RawAnswer:
    """What a raw HTTP exchange got back: a status, or how the connection ended."""

    status: int | None
    body: bytes = b""
    ending: str = ""

    def describe(self) -> str:
        """``431 ...`` or ``connection closed without an answer``."""
        if self.status is None:
            return f"connection {self.ending or 'closed'} without an answer"
        text = self.body.decode(errors="replace").strip()
        return f"{self.status} {text[:100]}".strip()


def open_http_socket(target: Target, url: str, timeout: float = 10.0) -> socket.socket:
    """A TCP (or TLS) socket to the host and port of ``url``."""
    parts = urlsplit(url)
    tls = parts.scheme == "https"
    port = parts.port or (443 if tls else 80)
    host = parts.hostname or "127.0.0.1"
    sock = socket.create_connection((host, port), timeout=timeout)
    if tls:
        return target.ssl_context().wrap_socket(sock, server_hostname=host)
    return sock


def read_answer(sock: socket.socket, timeout: float) -> RawAnswer:
    """Read one HTTP response (head and ``Content-Length`` body) or how it ended."""
    sock.settimeout(timeout)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/"):
            return RawAnswer(None, ending="closed")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        while len(body) < min(length, 4096):
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
        return RawAnswer(int(head.split()[1]), body)
    except TimeoutError:
        return RawAnswer(None, ending="still open")
    except OSError:
        return RawAnswer(None, ending="reset")


def raw_exchange(
    target: Target, url: str, head: bytes, body: bytes = b"", timeout: float = 15.0
) -> RawAnswer:
    """Send ``head`` (and ``body`` unless the server answered the head already)."""
    with open_http_socket(target, url) as sock:
        try:
            sock.sendall(head)
            early, _, _ = select.select([sock], [], [], 1.0) if body else ([], [], [])
            if body and not early:
                sock.sendall(body)
        except OSError:
            pass  # the server may close before the whole request is sent
        return read_answer(sock, timeout)


def host_header(url: str) -> str:
    """The ``Host`` header value for ``url``."""
    return urlsplit(url).netloc


# --------------------------------------------------------------------------- context


@dataclass
class Context:
    """What every probe shares: the target, the API, the report and two users."""

    target: Target
    api: Api
    report: Report
    alice: User
    bob: User


# --------------------------------------------------------------------------- 1 MQTT sessions


def probe_takeover(ctx: Context) -> None:
    """Thing B of another user connects with thing A's client id and clean session 0."""
    api, target = ctx.api, ctx.target
    channel_a = api.create_channel(ctx.alice, "takeover-a")
    thing_a = api.thing_on(ctx.alice, channel_a, "thing-a")
    channel_b = api.create_channel(ctx.bob, "takeover-b")
    thing_b = api.thing_on(ctx.bob, channel_b, "thing-b")
    with mqtt_session(target, thing_a, TAKEOVER_CLIENT_ID, clean_session=False) as a:
        codes = a.subscribe(f"channels/{channel_a}/messages/#", qos=1)
        if codes != [1]:
            raise ProbeError(f"A's SUBSCRIBE answered {codes}")
    queued = marker()
    api.publish(thing_a, channel_a, queued)
    b = MqttClient(target, thing_b, TAKEOVER_CLIENT_ID, clean_session=False)
    try:
        accepted = b.open()
        b.wait_for(queued, 2.0)
        got_a = sum(payload == queued for payload in b.received())
        present = b.session_present
    finally:
        b.close()
    ctx.report.check(
        "mqtt-session",
        "client-id takeover by another user's thing",
        f"A subscribed as {TAKEOVER_CLIENT_ID} (clean 0, QoS 1) and left, a message was "
        f"published on A's channel, B connected as {TAKEOVER_CLIENT_ID} (clean 0)",
        "B accepted, session_present=0, none of A's messages",
        f"B {'accepted' if accepted else 'refused'}, session_present={int(present)}, "
        f"{got_a} of A's messages",
        accepted and not present and got_a == 0,
    )
    a2 = MqttClient(target, thing_a, TAKEOVER_CLIENT_ID, clean_session=False)
    try:
        accepted = a2.open()
        delivered = a2.wait_for(queued, 5.0)
        present = a2.session_present
    finally:
        a2.close()
    ctx.report.check(
        "mqtt-session",
        "the owner's session survives",
        f"A reconnected as {TAKEOVER_CLIENT_ID} (clean 0)",
        "session_present=1 and the queued message delivered",
        f"{'accepted' if accepted else 'refused'}, session_present={int(present)}, "
        f"queued message {'delivered' if delivered else 'NOT delivered'}",
        accepted and present and delivered,
    )
    api.remove_thing(ctx.alice, thing_a)  # discards A's absent session


# --------------------------------------------------------------------------- 2 revocation


def _first_undelivered(
    api: Api, sub: MqttClient, publisher: Thing, channel: str, since: float, limit: float
) -> tuple[float | None, list[bytes]]:
    """Publish until a message is not delivered within 0.5 s: (its delay after ``since``,
    the payloads published from then on)."""
    while time.monotonic() - since < limit:
        payload = marker()
        sent_at = time.monotonic()
        api.publish(publisher, channel, payload)
        if not sub.wait_for(payload, 0.5):
            return sent_at - since, [payload]
    return None, []


def probe_mqtt_disconnect(ctx: Context) -> None:
    """The owner disconnects a subscribing thing: its subscription goes, its socket stays."""
    api, target = ctx.api, ctx.target
    channel = api.create_channel(ctx.alice, "revoke-disconnect")
    subscriber = api.thing_on(ctx.alice, channel, "subscriber")
    publisher = api.thing_on(ctx.alice, channel, "publisher")
    with mqtt_session(target, subscriber) as sub:
        sub.subscribe(f"channels/{channel}/messages/#", qos=1)
        baseline = marker()
        api.publish(publisher, channel, baseline)
        if not sub.wait_for(baseline, 5.0):
            raise ProbeError("the subscriber did not get a message before the disconnect")
        start = time.monotonic()
        status = api.disconnect(ctx.alice, channel, subscriber).status_code
        after, stopped = _first_undelivered(
            api, sub, publisher, channel, start, ctx.target.deadline + 3
        )
        confirm = marker()
        api.publish(publisher, channel, confirm)
        stopped.append(confirm)
        sub.wait_for(confirm, 1.0)
        late = [payload for payload in stopped if payload in sub.received()]
        open_ = not sub.closed.is_set()
    ctx.report.check(
        "revocation",
        "MQTT subscriber, thing disconnected from the channel",
        f"DELETE /channels/<c>/things/<t> ({status}) while subscribed, then published over HTTP",
        f"no message after <= {target.deadline:g} s, connection kept",
        (
            f"messages stopped after {seconds(after)}, {len(late)} later ones delivered"
            if after is not None
            else f"messages still delivered {target.deadline + 3:g} s later"
        )
        + f", connection {'open' if open_ else 'closed'}",
        status == 204 and after is not None and after <= target.deadline and not late and open_,
    )


def _mqtt_closed_by(
    ctx: Context, title: str, did: str, revoke: Callable[[User, Thing], httpx.Response]
) -> None:
    """A connected MQTT thing must lose its connection when ``revoke`` is done."""
    api, target = ctx.api, ctx.target
    channel = api.create_channel(ctx.alice, "revoke")
    thing = api.thing_on(ctx.alice, channel)
    with mqtt_session(target, thing) as client:
        client.subscribe(f"channels/{channel}/messages/#", qos=1)
        start = time.monotonic()
        status = revoke(ctx.alice, thing).status_code
        client.closed.wait(target.deadline + 3)
        after = None if client.closed_at is None else client.closed_at - start
    ctx.report.check(
        "revocation",
        title,
        f"{did} ({status}) while connected",
        f"connection closed within {target.deadline:g} s",
        f"closed after {seconds(after)}",
        after is not None and after <= target.deadline,
    )


def probe_mqtt_key_change(ctx: Context) -> None:
    """Changing a connected thing's key closes its MQTT connection."""
    _mqtt_closed_by(
        ctx,
        "MQTT connection, key changed",
        "PATCH /things/<id>/key",
        lambda user, thing: ctx.api.update_key(user, thing, str(uuid.uuid4())),
    )


def probe_mqtt_thing_removed(ctx: Context) -> None:
    """Removing a connected thing closes its MQTT connection."""
    _mqtt_closed_by(
        ctx, "MQTT connection, thing removed", "DELETE /things/<id>", ctx.api.remove_thing
    )


@contextmanager
def ws_session(target: Target, channel: str, thing: Thing) -> Iterator[ClientConnection]:
    """A WebSocket subscription to ``channel`` with the key in the query, closed on exit."""
    uri = f"{target.ws_url}/channels/{channel}/messages?authorization={quote(thing.key, safe='')}"
    context = target.ssl_context() if uri.startswith("wss:") else None
    with ws_connect(uri, ssl=context, open_timeout=5, close_timeout=2, proxy=None) as ws:
        yield ws


def ws_wait_closed(ws: ClientConnection, timeout: float) -> tuple[int | None, float | None]:
    """Wait for the server to close: (close code, monotonic time), or (None, None)."""
    end = time.monotonic() + timeout
    while (left := end - time.monotonic()) > 0:
        try:
            ws.recv(timeout=left)
        except TimeoutError:
            break
        except ConnectionClosed as closed:
            return (closed.rcvd.code if closed.rcvd else None), time.monotonic()
    return None, None


def _ws_closed_by(
    ctx: Context, title: str, did: str, revoke: Callable[[str, Thing], httpx.Response]
) -> None:
    """A WebSocket subscriber must be closed with 1008 when ``revoke`` is done."""
    api, target = ctx.api, ctx.target
    channel = api.create_channel(ctx.alice, "revoke-ws")
    thing = api.thing_on(ctx.alice, channel)
    with ws_session(target, channel, thing) as ws:
        start = time.monotonic()
        status = revoke(channel, thing).status_code
        code, closed_at = ws_wait_closed(ws, target.deadline + 3)
    after = None if closed_at is None else closed_at - start
    ctx.report.check(
        "revocation",
        title,
        f"{did} ({status}) while subscribed",
        f"closed with 1008 within {target.deadline:g} s",
        f"closed with {code} after {seconds(after)}" if after is not None else "still open",
        code == 1008 and after is not None and after <= target.deadline,
    )


def probe_ws_disconnect(ctx: Context) -> None:
    """Disconnecting a thing closes its WebSocket on the channel."""
    _ws_closed_by(
        ctx,
        "WebSocket subscriber, thing disconnected",
        "DELETE /channels/<c>/things/<t>",
        lambda channel, thing: ctx.api.disconnect(ctx.alice, channel, thing),
    )


def probe_ws_channel_removed(ctx: Context) -> None:
    """Removing a channel closes the WebSockets on it."""
    _ws_closed_by(
        ctx,
        "WebSocket subscriber, channel removed",
        "DELETE /channels/<c>",
        lambda channel, _thing: ctx.api.remove_channel(ctx.alice, channel),
    )


# --------------------------------------------------------------------------- 3 accounts


def _reset_link(mail_dir: Path, to: str, timeout: float = 5.0) -> str | None:
    """The link of the reset mail to ``to`` in the outbox, waiting for it to appear."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for path in sorted(mail_dir.glob("*.eml")) if mail_dir.is_dir() else []:
            message = email.message_from_bytes(path.read_bytes())
            if (message["To"] or "").lower() != to.lower():
                continue
            text = message.get_payload(decode=True)
            body = text.decode(errors="replace") if isinstance(text, bytes) else ""
            links = [word for word in body.split() if "://" in word]
            return links[0] if links else ""
        time.sleep(0.1)  # polling the outbox: the mail is written after the answer
    return None


def probe_reset_referer(ctx: Context) -> None:
    """A reset request with a hostile ``Referer`` must not put that host in the link."""
    response = ctx.api.reset_request(ctx.alice.email, EVIL_REFERER)
    link = None
    if ctx.target.mail_dir is not None:
        link = _reset_link(ctx.target.mail_dir, ctx.alice.email)
    if link is None:
        mail = "no mail dir given" if ctx.target.mail_dir is None else "no mail found"
    else:
        mail = f"link {link.split('?')[0]}?token=..."
    ctx.report.check(
        "accounts",
        "password reset with a hostile Referer",
        f"POST /password/reset-request, Referer: {EVIL_REFERER}",
        "201, link without evil.example",
        f"{response.status_code}, {mail}",
        response.status_code == 201
        and (ctx.target.mail_dir is None or (link is not None and "evil.example" not in link)),
    )


def probe_login_probing(ctx: Context) -> None:
    """Unknown email and wrong password must be indistinguishable."""
    unknown = attempt(lambda: ctx.api.login(random_email("nobody"), PASSWORD))
    wrong = attempt(lambda: ctx.api.login(ctx.alice.email, PASSWORD + "x"))
    ctx.report.check(
        "accounts",
        "account probing through login",
        "POST /tokens with an unknown email, then a known email and a wrong password",
        "the same status (403) and body",
        f"{unknown} | {wrong}",
        unknown.status == wrong.status == 403 and unknown.text == wrong.text,
    )


def probe_long_password(ctx: Context) -> None:
    """Passwords over bcrypt's 72 bytes are refused, counted in bytes."""
    for label, password in (
        ("73 ASCII bytes", "p" * 73),
        ("37 characters, 73 bytes", "é" * 36 + "p"),
    ):
        reply = attempt(partial(ctx.api.register, random_email(), password))
        ctx.report.check(
            "accounts",
            f"register with a password of {label}",
            "POST /users",
            "400",
            str(reply),
            reply.status == 400,
        )


def probe_password_change(ctx: Context) -> None:
    """A password change revokes the tokens issued before it."""
    user = ctx.api.new_user()
    before = ctx.api.things(user.token).status_code
    changed = ctx.api.change_password(user, PASSWORD + "-new")
    after = attempt(lambda: ctx.api.things(user.token))
    relogin = ctx.api.login(user.email, PASSWORD + "-new").status_code
    ctx.report.check(
        "accounts",
        "old token after a password change",
        f"GET /things ({before}), PATCH /password ({changed.status_code}), GET /things "
        "with the token issued before",
        "403 (and login with the new password 201)",
        f"{after} (login {relogin})",
        changed.status_code == 201 and after.status == 403 and relogin == 201,
    )


def probe_email_case(ctx: Context) -> None:
    """Emails compare case-insensitively."""
    mixed = f"Mixed-{uuid.uuid4().hex[:8]}@Example.com"
    registered = ctx.api.register(mixed, PASSWORD).status_code
    reply = attempt(lambda: ctx.api.login(mixed.lower(), PASSWORD))
    ctx.report.check(
        "accounts",
        "email case",
        f"register {mixed} ({registered}), log in as {mixed.lower()}",
        "201",
        "201 with a token" if reply.status == 201 else str(reply),
        registered == 201 and reply.status == 201,
    )


# --------------------------------------------------------------------------- 4 HTTP limits


def _version_head(url: str, extra: str) -> bytes:
    return f"GET /version HTTP/1.1\r\nHost: {host_header(url)}\r\n{extra}\r\n".encode()


def probe_header_bytes(ctx: Context) -> None:
    """64 KiB of headers."""
    url = ctx.target.things_url
    got = raw_exchange(ctx.target, url, _version_head(url, f"X-Pad: {'a' * 65536}\r\n"))
    ctx.report.check(
        "http-limits",
        "64 KiB of headers",
        "GET /version with a 64 KiB header",
        "431 or closed",
        got.describe(),
        got.status in (431, None) and got.ending != "still open",
    )


def probe_header_count(ctx: Context) -> None:
    """150 header fields."""
    url = ctx.target.things_url
    fields = "".join(f"X-Field-{i}: {i}\r\n" for i in range(150))
    got = raw_exchange(ctx.target, url, _version_head(url, fields))
    ctx.report.check(
        "http-limits",
        "150 header fields",
        "GET /version with 150 header fields",
        "431",
        got.describe(),
        got.status == 431,
    )


def probe_big_body(ctx: Context) -> None:
    """A 2 MiB JSON body."""
    url = ctx.target.things_url
    body = b'{"name":"big","metadata":{"pad":"' + b"a" * (2 * 1024 * 1024) + b'"}}'
    head = (
        f"POST /things HTTP/1.1\r\nHost: {host_header(url)}\r\n"
        f"Authorization: {ctx.alice.token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    got = raw_exchange(ctx.target, url, head, body)
    ctx.report.check(
        "http-limits",
        "2 MiB JSON body",
        "POST /things with a 2 MiB body",
        "413",
        got.describe(),
        got.status == 413,
    )


def probe_bulk_cap(ctx: Context) -> None:
    """One more thing than the bulk cap."""
    count = ctx.target.max_bulk + 1
    reply = attempt(
        lambda: ctx.api.client.post(
            f"{ctx.target.things_url}/things/bulk",
            json=[{"name": f"bulk-{i}"} for i in range(count)],
            headers={"Authorization": ctx.alice.token},
        )
    )
    ctx.report.check(
        "http-limits",
        "bulk over the cap",
        f"POST /things/bulk with {count} things",
        f"400 naming {ctx.target.max_bulk}",
        str(reply),
        reply.status == 400 and str(ctx.target.max_bulk) in reply.text,
    )


def probe_deep_metadata(ctx: Context) -> None:
    """Metadata nested 100 levels deep."""
    depth = 100
    metadata = '{"a":' * depth + "1" + "}" * depth
    reply = attempt(
        lambda: ctx.api.client.post(
            f"{ctx.target.things_url}/things",
            content=f'{{"name":"deep","metadata":{metadata}}}',
            headers={"Authorization": ctx.alice.token, "Content-Type": "application/json"},
        )
    )
    ctx.report.check(
        "http-limits",
        "deeply nested metadata",
        f"POST /things with metadata nested {depth} deep",
        "400",
        str(reply),
        reply.status == 400,
    )


def probe_paging_numbers(ctx: Context) -> None:
    """A superscript digit as limit and a 5000-digit offset, on things and on the reader."""
    queries = (("limit=%C2%B2", "?limit=²"), ("offset=" + "9" * 5000, "?offset=<5000 digits>"))
    for query, label in queries:
        reply = attempt(partial(ctx.api.things, ctx.alice.token, query))
        ctx.report.check(
            "http-limits",
            f"paging {label}",
            f"GET /things{label}",
            "400",
            str(reply),
            reply.status == 400,
        )
    channel = ctx.api.create_channel(ctx.alice, "reader")
    thing = ctx.api.thing_on(ctx.alice, channel, "reader")
    for query, label in queries:
        url = f"{ctx.target.reader_url}/channels/{channel}/messages?{query}"
        reply = attempt(partial(ctx.api.client.get, url, headers={"Authorization": thing.key}))
        ctx.report.check(
            "http-limits",
            f"reader paging {label}",
            f"GET /channels/<c>/messages{label} with a thing key",
            "400",
            str(reply),
            reply.status == 400,
        )


def probe_slow_client(ctx: Context) -> None:
    """A client sending its request one byte a second is cut at the request timeout."""
    if not ctx.target.slow:
        ctx.report.skip("http-limits", "slow client", "give --slow to run it (about 30 s)")
        return
    url, limit = ctx.target.things_url, ctx.target.request_timeout
    data = f"GET /version HTTP/1.1\r\nHost: {host_header(url)}\r\nX-Slow: ".encode() + b"a" * 600
    got = RawAnswer(None, ending="still open")
    with open_http_socket(ctx.target, url) as sock:
        start = time.monotonic()
        for byte in data:
            if time.monotonic() - start > limit + 10:
                break
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                got = RawAnswer(None, ending="closed")
                break
            readable, _, _ = select.select([sock], [], [], 1.0)  # the attack's own pace
            if readable:
                got = read_answer(sock, 5.0)
                break
        elapsed = time.monotonic() - start
    ctx.report.check(
        "http-limits",
        "slow client",
        "GET /version sent one byte per second",
        f"408 or closed within {limit:g} s (+2)",
        f"{got.describe()} after {elapsed:.1f} s",
        got.status in (408, None) and got.ending != "still open" and elapsed <= limit + 2,
    )


def _open_silent(host: str, port: int, count: int) -> tuple[list[socket.socket], int]:
    """``count`` connected sockets that never send anything; (sockets, failures)."""
    sockets: list[socket.socket] = []
    failures = 0
    for _ in range(count):
        try:
            sockets.append(socket.create_connection((host, port), timeout=5))
        except OSError:
            failures += 1
    return sockets, failures


def probe_silent_sockets(ctx: Context) -> None:
    """Silent sockets on the HTTP and MQTT ports do not keep real clients out."""
    target, count = ctx.target, ctx.target.silent_sockets
    parts = urlsplit(target.things_url)
    http_port = parts.port or (443 if parts.scheme == "https" else 80)
    channel = ctx.api.create_channel(ctx.alice, "silent")
    thing = ctx.api.thing_on(ctx.alice, channel, "silent")
    http_socks, http_failed = _open_silent(parts.hostname or "127.0.0.1", http_port, count)
    mqtt_socks, mqtt_failed = _open_silent(target.mqtt_host, target.mqtt_port, count)
    try:
        with httpx.Client(timeout=10.0, verify=not target.insecure, trust_env=False) as fresh:
            try:
                version = str(fresh.get(f"{target.things_url}/version").status_code)
            except httpx.HTTPError as exc:
                version = type(exc).__name__
        try:
            connack = raw_connack(target, f"probe-{uuid.uuid4().hex[:8]}", thing)
        except OSError as exc:
            connack = None
            note = type(exc).__name__
        else:
            note = "closed" if connack is None else f"CONNACK {connack[1]}"
    finally:
        for sock in http_socks + mqtt_socks:
            sock.close()
    ctx.report.check(
        "http-limits",
        "silent sockets",
        f"{len(http_socks)} silent sockets on the HTTP port ({http_failed} failed to open), "
        f"{len(mqtt_socks)} on MQTT ({mqtt_failed} failed), then GET /version and an MQTT "
        "CONNECT",
        "200 and CONNACK 0",
        f"{version} and {note}",
        version == "200" and connack is not None and connack[1] == 0,
    )


# --------------------------------------------------------------------------- 5 MQTT bounds


def probe_long_client_id(ctx: Context) -> None:
    """A client id longer than the bound is refused before any lookup."""
    channel = ctx.api.create_channel(ctx.alice, "client-id")
    thing = ctx.api.thing_on(ctx.alice, channel)
    length = max(300, ctx.target.max_client_id + 1)
    connack = raw_connack(ctx.target, "c" * length, thing)
    ctx.report.check(
        "mqtt-bounds",
        "long client id",
        f"CONNECT with a valid key and a {length}-character client id",
        "CONNACK 2 (identifier rejected)",
        "closed without CONNACK" if connack is None else f"CONNACK {connack[1]}",
        connack is not None and connack[1] == 2,
    )


def probe_subscription_cap(ctx: Context) -> None:
    """One filter more than a session may hold gets SUBACK 0x80."""
    cap = ctx.target.max_subscriptions
    channel = ctx.api.create_channel(ctx.alice, "subscriptions")
    thing = ctx.api.thing_on(ctx.alice, channel)
    filters = [f"channels/{channel}/messages/s{i}" for i in range(cap + 1)]
    with open_mqtt_socket(ctx.target) as sock:
        sock.sendall(connect_packet(f"probe-{uuid.uuid4().hex[:8]}", thing.id, thing.key))
        kind, body = read_packet(sock)
        if kind != 0x20 or body[1] != 0:
            raise ProbeError(f"CONNECT refused: {body!r}")
        sock.sendall(subscribe_packet(1, filters))
        kind, body = read_packet(sock)
    codes = list(body[2:]) if kind == 0x90 else []
    granted = sum(code in (0, 1, 2) for code in codes[:cap])
    last = f"{codes[-1]:#04x}" if codes else "none"
    ctx.report.check(
        "mqtt-bounds",
        "subscriptions over the cap",
        f"SUBSCRIBE with {cap + 1} filters in one packet",
        f"{cap} granted, the last 0x80",
        f"{granted} granted, the last {last}",
        len(codes) == cap + 1 and granted == cap and codes[-1] == 0x80,
    )


# --------------------------------------------------------------------------- 6 WebSocket caps


def probe_ws_cap(ctx: Context) -> None:
    """A thing may hold ``--ws-cap`` sockets; one more is 429, another thing still gets in."""
    cap = ctx.target.ws_cap
    if cap is None:
        ctx.report.skip("ws-caps", "sockets per thing", "give --ws-cap N to run it")
        return
    channel = ctx.api.create_channel(ctx.alice, "ws-cap")
    thing = ctx.api.thing_on(ctx.alice, channel, "ws-cap")
    other = ctx.api.thing_on(ctx.alice, channel, "ws-other")
    with ExitStack() as stack:
        for _ in range(cap):
            stack.enter_context(ws_session(ctx.target, channel, thing))
        extra = _ws_status(ctx.target, channel, thing)
        neighbour = _ws_status(ctx.target, channel, other)
    ctx.report.check(
        "ws-caps",
        "sockets per thing",
        f"{cap} WebSockets of one thing open, then one more, then one of another thing",
        "429, then 101",
        f"{extra}, then {neighbour}",
        extra == "429" and neighbour == "101",
    )


def _ws_status(target: Target, channel: str, thing: Thing) -> str:
    """The handshake status of a new WebSocket (closed again at once)."""
    try:
        with ws_session(target, channel, thing):
            return "101"
    except InvalidStatus as refused:
        return str(refused.response.status_code)


# --------------------------------------------------------------------------- 7 files


def probe_files(ctx: Context) -> None:
    """The data directory is 0700, and so is every directory in it; every file 0600."""
    root = ctx.target.data_dir
    if root is None:
        ctx.report.skip("files", "data directory modes", "give --data-dir to run it")
        return
    wrong: list[str] = []
    count = 0
    for path in [root, *sorted(root.rglob("*"))]:
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            continue
        count += 1
        want = 0o700 if stat.S_ISDIR(info.st_mode) else 0o600
        mode = stat.S_IMODE(info.st_mode)
        if mode != want:
            wrong.append(f"{path} {mode:04o}")
    ctx.report.check(
        "files",
        "data directory modes",
        f"checked {count} paths under {root}",
        "directories 0700, files 0600",
        "all as expected" if not wrong else "; ".join(wrong),
        not wrong,
    )


# --------------------------------------------------------------------------- main

PROBES: list[tuple[str, Callable[[Context], None]]] = [
    ("mqtt-session", probe_takeover),
    ("revocation", probe_mqtt_disconnect),
    ("revocation", probe_mqtt_key_change),
    ("revocation", probe_mqtt_thing_removed),
    ("revocation", probe_ws_disconnect),
    ("revocation", probe_ws_channel_removed),
    ("accounts", probe_reset_referer),
    ("accounts", probe_login_probing),
    ("accounts", probe_long_password),
    ("accounts", probe_password_change),
    ("accounts", probe_email_case),
    ("http-limits", probe_header_bytes),
    ("http-limits", probe_header_count),
    ("http-limits", probe_big_body),
    ("http-limits", probe_bulk_cap),
    ("http-limits", probe_deep_metadata),
    ("http-limits", probe_paging_numbers),
    ("http-limits", probe_slow_client),
    ("http-limits", probe_silent_sockets),
    ("mqtt-bounds", probe_long_client_id),
    ("mqtt-bounds", probe_subscription_cap),
    ("ws-caps", probe_ws_cap),
    ("files", probe_files),
]


def raise_open_files(needed: int) -> None:
    """Raise the soft open-files limit towards ``needed`` (the silent-socket probe)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        limit = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))


def main(argv: list[str] | None = None) -> int:
    """Run every probe; 0 when all passed, 1 when one failed, 2 when unreachable."""
    target = parse_args(argv)
    raise_open_files(2 * target.silent_sockets + 512 + (target.ws_cap or 0))
    api = Api(target)
    try:
        version = api.client.get(f"{target.things_url}/version")
        print(f"probing {target.things_url} (version: {version.text.strip()})", flush=True)
        alice, bob = api.new_user(), api.new_user()
    except (httpx.HTTPError, ProbeError) as exc:
        print(f"security_probe: cannot set up against {target.things_url}: {exc}", file=sys.stderr)
        return 2
    report = Report()
    ctx = Context(target, api, report, alice, bob)
    try:
        for section, probe in PROBES:
            try:
                probe(ctx)
            except Exception as exc:
                report.error(section, probe.__name__.removeprefix("probe_"), exc)
                if os.environ.get("PROBE_TRACEBACK"):
                    traceback.print_exc()
    finally:
        api.close()
    print(report.summary(), flush=True)
    return 0 if report.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
