"""MQTT device storm on a cold cache: do all devices stay connected, is every message kept?

Run: ``PYTHONPATH=src .venv/bin/python benchmarks/mqtt_storm.py [--devices 1000]
[--messages 5] [--deployment both|allinone|micro] [--hold 5]``

For each deployment it starts a fresh platform on free ports, provisions ``--devices``
things on one channel over HTTP, and then lets every device connect (MQTT 3.1.1,
user name = thing id, password = thing key) and publish ``--messages`` QoS 0 messages
at once, on a cold access cache. Devices stay connected ``--hold`` seconds after the
last one published.

- ``allinone``: ``mainflux run`` (embedded defaults: SQLite, in-process bus); messages
  are counted as stored records, read back through the reader API.
- ``micro``: ``mainflux-things`` (PostgreSQL, a private Redis for its cache and events)
  and ``mainflux-mqtt`` on a private NATS; messages are counted by a NATS subscriber.
  Things runs in single-user mode: users/authn are not on the device path.
- an existing platform: ``--mqtt HOST:PORT --things URL --token TOKEN`` and
  ``--nats URL`` (count on NATS) or ``--reader URL`` (count stored records).

Printed per deployment: devices dropped (refused at CONNECT or disconnected by the
server), messages lost, seconds until every device was connected, and CPU seconds of
each platform process during the storm (from /proc) and of this load generator."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

JSON = {"Content-Type": "application/json"}
TOKEN = "storm-owner-token"
BULK = 100


# --- small helpers ------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, what: str, proc: subprocess.Popen[bytes] | None, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"{what} exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"{what} did not listen on {port} within 60s")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MF_")}
    env.update(extra)
    return env


@dataclass
class Process:
    """A platform process whose output goes to a file."""

    name: str
    command: list[str]
    env: dict[str, str]
    ports: list[int]
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.command, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        for port in self.ports:
            wait_for_port(port, self.name, self.proc, self.log)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None


@dataclass
class Target:
    """Where the storm goes and how messages are counted."""

    mqtt_port: int
    things_url: str  # the things management API (or the all-in-one gateway)
    token: str
    nats_url: str | None = None  # count messages on NATS ...
    reader_url: str | None = None  # ... or as stored records
    host: str = "127.0.0.1"
    processes: dict[str, int] = field(default_factory=dict)  # name -> pid, for CPU


# --- deployments ------------------------------------------------------------------------


@contextlib.contextmanager
def allinone(workdir: Path, extra: dict[str, str]) -> Iterator[Target]:
    gateway, mqtt = free_port(), free_port()
    process = Process(
        "mainflux run",
        [sys.executable, "-m", "mainflux.cli", "run"],
        clean_env(
            MF_DATA_DIR=str(workdir / "data"),
            MF_GATEWAY_HOST="127.0.0.1",
            MF_GATEWAY_PORT=str(gateway),
            MF_MQTT_ADAPTER_MQTT_PORT=str(mqtt),
            MF_COAP_ADAPTER_PORT=str(free_port()),
            **extra,
        ),
        [gateway, mqtt],
        workdir / "allinone.log",
    )
    process.start()
    try:
        url = f"http://127.0.0.1:{gateway}"
        token = asyncio.run(_user_token(url))
        assert process.proc is not None
        yield Target(mqtt, url, token, reader_url=url, processes={"allinone": process.proc.pid})
    finally:
        process.stop()


async def _user_token(url: str) -> str:
    user = {"email": "storm@example.com", "password": "12345678"}
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        (await client.post("/users", json=user)).raise_for_status()
        return str((await client.post("/tokens", json=user)).json()["token"])


def _binary(name: str) -> str:
    path = shutil.which(name) or (
        f"/usr/sbin/{name}" if os.path.exists(f"/usr/sbin/{name}") else None
    )
    if path is None:
        raise SystemExit(f"{name} is not installed (scripts/services.sh installs it)")
    return path


async def _database(admin: str, name: str, drop: bool = False) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin)
    try:
        if drop:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        else:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


@contextlib.contextmanager
def microservices(workdir: Path, pg_admin: str, extra: dict[str, str]) -> Iterator[Target]:
    redis_port, nats_port = free_port(), free_port()
    http, grpc, mqtt = free_port(), free_port(), free_port()
    database = f"storm_{uuid.uuid4().hex[:12]}"
    asyncio.run(_database(pg_admin, database))
    pg = httpx.URL(pg_admin)
    redis = Process(
        "redis",
        [
            _binary("redis-server"),
            "--port",
            str(redis_port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        clean_env(),
        [redis_port],
        workdir / "redis.log",
    )
    nats = Process(
        "nats",
        [_binary("nats-server"), "-a", "127.0.0.1", "-p", str(nats_port)],
        clean_env(),
        [nats_port],
        workdir / "nats.log",
    )
    redis_address = f"127.0.0.1:{redis_port}"
    things = Process(
        "things",
        [sys.executable, "-m", "mainflux.things.main"],
        clean_env(
            MF_THINGS_DB_HOST=pg.host,
            MF_THINGS_DB_PORT=str(pg.port or 5432),
            MF_THINGS_DB_USER=pg.username or "",
            MF_THINGS_DB_PASS=pg.password or "",
            MF_THINGS_DB=database,
            MF_THINGS_CACHE_URL=redis_address,
            MF_THINGS_ES_URL=redis_address,
            MF_THINGS_SINGLE_USER_EMAIL="owner@example.com",
            MF_THINGS_SINGLE_USER_TOKEN=TOKEN,
            MF_THINGS_HTTP_PORT=str(http),
            MF_THINGS_AUTH_HTTP_PORT=str(free_port()),
            MF_THINGS_AUTH_GRPC_PORT=str(grpc),
            MF_THINGS_LOG_LEVEL="warning",
        ),
        [http, grpc],
        workdir / "things.log",
    )
    adapter = Process(
        "mqtt",
        [sys.executable, "-m", "mainflux.adapters.mqtt.main"],
        clean_env(
            MF_MQTT_ADAPTER_MQTT_HOST="127.0.0.1",
            MF_MQTT_ADAPTER_MQTT_PORT=str(mqtt),
            MF_MQTT_ADAPTER_WS_HOST="127.0.0.1",
            MF_MQTT_ADAPTER_WS_PORT=str(free_port()),
            MF_MQTT_ADAPTER_ES_URL=redis_address,
            MF_THINGS_ES_URL=redis_address,
            MF_THINGS_AUTH_GRPC_URL=f"127.0.0.1:{grpc}",
            MF_NATS_URL=f"nats://127.0.0.1:{nats_port}",
            **extra,
        ),
        [mqtt],
        workdir / "mqtt.log",
    )
    started: list[Process] = []
    try:
        for process in (redis, nats, things, adapter):
            process.start()
            started.append(process)
        pids = {p.name: p.proc.pid for p in started if p.proc is not None}
        yield Target(
            mqtt,
            f"http://127.0.0.1:{http}",
            TOKEN,
            nats_url=f"nats://127.0.0.1:{nats_port}",
            processes=pids,
        )
    finally:
        for process in reversed(started):
            process.stop()
        asyncio.run(_database(pg_admin, database, drop=True))


# --- provisioning -------------------------------------------------------------------------


async def provision(target: Target, devices: int) -> tuple[str, list[tuple[str, str]]]:
    """One channel and ``devices`` things connected to it: ``(channel, [(id, key)])``."""
    auth = {"Authorization": target.token, **JSON}
    async with httpx.AsyncClient(base_url=target.things_url, timeout=60) as client:
        reply = await client.post("/channels/bulk", json=[{"name": "storm"}], headers=auth)
        reply.raise_for_status()
        channel = reply.json()["channels"][0]["id"]
        things: list[tuple[str, str]] = []
        for first in range(0, devices, BULK):
            batch = [{"name": f"d{i}"} for i in range(first, min(devices, first + BULK))]
            reply = await client.post("/things/bulk", json=batch, headers=auth)
            reply.raise_for_status()
            created = [(t["id"], t["key"]) for t in reply.json()["things"]]
            connect = {"channel_ids": [channel], "thing_ids": [t[0] for t in created]}
            (await client.post("/connect", json=connect, headers=auth)).raise_for_status()
            things.extend(created)
    return channel, things


# --- MQTT devices ---------------------------------------------------------------------------


def _string(value: str) -> bytes:
    raw = value.encode()
    return struct.pack("!H", len(raw)) + raw


def _packet(kind: int, body: bytes) -> bytes:
    length, size = b"", len(body)
    while True:
        byte, size = size % 128, size // 128
        length += bytes([byte | (0x80 if size else 0)])
        if not size:
            return bytes([kind]) + length + body


def connect_packet(client_id: str, username: str, password: str) -> bytes:
    body = _string("MQTT") + bytes([4, 0xC2]) + struct.pack("!H", 60)
    return _packet(0x10, body + _string(client_id) + _string(username) + _string(password))


def publish_packet(topic: str, payload: bytes) -> bytes:
    return _packet(0x30, _string(topic) + payload)


@dataclass
class Storm:
    devices: int
    connected: int = 0
    refused: dict[int, int] = field(default_factory=dict)  # CONNACK code -> devices
    no_answer: int = 0  # closed before any CONNACK
    dropped_later: int = 0  # closed by the server after CONNACK
    published: int = 0
    all_connected_at: float = 0.0
    started: float = 0.0
    done: asyncio.Event = field(default_factory=asyncio.Event)
    remaining: int = 0

    @property
    def dropped(self) -> int:
        return sum(self.refused.values()) + self.no_answer + self.dropped_later


async def device(
    storm: Storm,
    target: Target,
    number: int,
    thing: tuple[str, str],
    topic: str,
    messages: int,
    release: asyncio.Event,
) -> None:
    thing_id, key = thing
    writer = None
    published = False
    try:
        reader, writer = await asyncio.open_connection(target.host, target.mqtt_port)
        writer.write(connect_packet(f"storm-{number}", thing_id, key))
        try:
            connack = await reader.readexactly(4)
        except (asyncio.IncompleteReadError, ConnectionError):
            storm.no_answer += 1
            return
        if connack[3] != 0:
            storm.refused[connack[3]] = storm.refused.get(connack[3], 0) + 1
            return
        storm.connected += 1
        if storm.connected == storm.devices:
            storm.all_connected_at = time.monotonic() - storm.started
        writer.write(
            b"".join(
                publish_packet(topic, b'[{"bn":"storm:","n":"d%d","v":%d}]' % (number, i))
                for i in range(messages)
            )
        )
        await writer.drain()
        storm.published += messages
        published = True
        _finished(storm)
        closed = asyncio.ensure_future(reader.read(1))
        ended = asyncio.ensure_future(release.wait())
        await asyncio.wait({closed, ended}, return_when=asyncio.FIRST_COMPLETED)
        if closed.done():
            storm.dropped_later += 1
        closed.cancel()
        ended.cancel()
        writer.write(b"\xe0\x00")  # DISCONNECT
    except OSError:
        storm.no_answer += 1
    finally:
        if not published:
            _finished(storm)
        if writer is not None:
            writer.close()


def _finished(storm: Storm) -> None:
    """One device published (or gave up)."""
    storm.remaining -= 1
    if storm.remaining == 0:
        storm.done.set()


async def storm(
    target: Target,
    channel: str,
    things: list[tuple[str, str]],
    args: argparse.Namespace,
    counted: Callable[[], Awaitable[int]],
) -> Storm:
    """Every device connects and publishes at once; they stay connected until every
    message published was counted (or the count stood still ``--settle`` seconds), and
    ``--hold`` seconds more."""
    result = Storm(len(things), remaining=len(things))
    release = asyncio.Event()
    topic = f"channels/{channel}/messages"
    result.started = time.monotonic()
    tasks = [
        asyncio.ensure_future(device(result, target, i, thing, topic, args.messages, release))
        for i, thing in enumerate(things)
    ]
    all_ended = asyncio.ensure_future(asyncio.gather(*tasks))
    done = asyncio.ensure_future(result.done.wait())
    await asyncio.wait({all_ended, done}, timeout=args.timeout, return_when=asyncio.FIRST_COMPLETED)
    last, since = -1, time.monotonic()
    while True:
        count = await counted()
        if count >= result.published:
            break
        if count != last:
            last, since = count, time.monotonic()
        elif time.monotonic() - since > args.settle:
            break
        await asyncio.sleep(0.5)
    await asyncio.sleep(args.hold)
    release.set()
    await asyncio.wait_for(all_ended, timeout=60)
    done.cancel()
    return result


# --- counting ---------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def nats_counter(url: str, channel: str) -> AsyncIterator[list[int]]:
    import nats

    count = [0]

    async def seen(_: object) -> None:
        count[0] += 1

    client = await nats.connect(url)
    try:
        await client.subscribe(f"channels.{channel}", cb=seen)
        await client.flush()
        yield count
    finally:
        await client.drain()


async def stored(url: str, channel: str, key: str) -> int:
    """Records stored on the channel (read through the reader API)."""
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        reply = await client.get(
            f"/channels/{channel}/messages",
            params={"limit": 1},
            headers={"Authorization": key},
        )
        reply.raise_for_status()
        return int(reply.json()["total"])


async def measure(target: Target, args: argparse.Namespace, name: str) -> None:
    channel, things = await provision(target, args.devices)
    before = {p: cpu_seconds(pid) for p, pid in target.processes.items()}
    own = time.process_time()
    expected = args.devices * args.messages
    if target.nats_url:
        async with nats_counter(target.nats_url, channel) as seen:

            async def on_nats() -> int:
                return seen[0]

            result = await storm(target, channel, things, args, on_nats)
            counted = seen[0]
    else:
        reader_url = target.reader_url
        assert reader_url is not None

        async def on_disk() -> int:
            return await stored(reader_url, channel, things[0][1])

        result = await storm(target, channel, things, args, on_disk)
        counted = await on_disk()
    cpu = {p: cpu_seconds(pid) - before[p] for p, pid in target.processes.items()}
    load = time.process_time() - own
    kept = "on NATS" if target.nats_url else "stored"
    print(f"== {name}: {args.devices} devices x {args.messages} QoS 0 messages")
    refused = ", ".join(f"CONNACK {c}: {n}" for c, n in sorted(result.refused.items()))
    print(
        f"devices dropped: {result.dropped} of {args.devices}"
        f" (refused: {refused or 0}; no CONNACK: {result.no_answer};"
        f" disconnected after CONNACK: {result.dropped_later})"
    )
    print(
        f"messages lost: {result.published - counted} of {result.published} published"
        f" ({counted} {kept}; {expected} meant to be published)"
    )
    connected = (
        f"{result.all_connected_at:.2f} s" if result.all_connected_at else "never (some dropped)"
    )
    print(f"time to all connected: {connected}")
    print(
        "CPU seconds during the storm: "
        + ", ".join(f"{p} {s:.2f}" for p, s in cpu.items())
        + f", load generator {load:.2f}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=5, help="QoS 0 messages per device")
    parser.add_argument("--deployment", choices=["both", "allinone", "micro"], default="both")
    parser.add_argument(
        "--hold",
        type=float,
        default=5.0,
        help="seconds devices stay connected after every message was counted",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=120.0,
        help="seconds the storm may take before it is cut short",
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=10.0,
        help="seconds the message count may stay still before it is final",
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a variable for the started MQTT adapter (all-in-one: the process); repeatable",
    )
    parser.add_argument(
        "--deadline",
        default="",
        help="MF_THINGS_AUTH_DEADLINE of the started platform (0: the old behaviour, one try)",
    )
    parser.add_argument(
        "--pg-admin",
        default=os.environ.get(
            "MF_BENCH_POSTGRES", "postgresql://mainflux:mainflux@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--logs", help="keep the processes' logs (and data) in this directory")
    parser.add_argument("--mqtt", help="HOST:PORT of a running platform's MQTT adapter")
    parser.add_argument("--things", help="its things API (or gateway) URL")
    parser.add_argument("--token", help="a user token there")
    parser.add_argument("--nats", help="count messages on this NATS URL")
    parser.add_argument("--reader", help="count stored messages through this reader URL")
    args = parser.parse_args()
    raise_fd_limit()
    extra = dict(item.split("=", 1) for item in args.env)
    if args.deadline:
        extra["MF_THINGS_AUTH_DEADLINE"] = args.deadline
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", flush=True)
    if args.mqtt:
        if not (args.things and args.token and (args.nats or args.reader)):
            parser.error("--mqtt needs --things, --token and --nats or --reader")
        host, port = args.mqtt.rsplit(":", 1)
        target = Target(int(port), args.things, args.token, args.nats, args.reader, host)
        asyncio.run(measure(target, args, f"platform at {args.mqtt}"))
        return
    with tempfile.TemporaryDirectory(prefix="mqtt-storm-") as tmp:
        workdir = Path(args.logs or tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        if args.deployment in ("both", "allinone"):
            with allinone(workdir, extra) as target:
                asyncio.run(measure(target, args, "all-in-one (mainflux run)"))
        if args.deployment in ("both", "micro"):
            with microservices(workdir, args.pg_admin, extra) as target:
                asyncio.run(measure(target, args, "microservices (things + mqtt, NATS)"))


if __name__ == "__main__":
    main()
