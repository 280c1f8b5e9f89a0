"""Soak test: a mixed load for a bounded time while parts of the platform are restarted.

Run: ``PYTHONPATH=src .venv/bin/python benchmarks/soak.py [--deployment both|allinone|micro]
[--duration 600] [--rate 50] [--interval S] [--warmup S] [--kill] [--logs DIR]``

For ``--duration`` seconds (10 minutes by default) it publishes one-record SenML
messages over HTTP, MQTT QoS 1 and MQTT QoS 0 (``--rate`` per second each), while a
WebSocket client, an MQTT client and a CoAP observer subscribe to the channel. Every
message carries its own id (``n`` = the protocol, ``v`` = a sequence number). After the
warm-up (``--warmup``, a sixth of the duration by default) it restarts, one every
``--interval`` seconds (``--interval 0``: no restarts, to watch memory alone):

- ``allinone``: ``mainflux run`` (embedded defaults: SQLite, in-process bus) killed with
  SIGKILL and started again on the same data directory and ports;
- ``micro``: the PostgreSQL writer, NATS (JetStream on disk), PostgreSQL and Redis in
  turn, each stopped cleanly (SIGKILL with ``--kill``) and started again after
  ``--down`` seconds. The soak starts its own NATS, Redis and PostgreSQL cluster
  (``initdb`` in a temporary directory, run as ``postgres`` when the soak runs as root)
  on free ports, then ``mainflux-things`` (single
  user), the HTTP, WebSocket, CoAP and MQTT adapters, the writer and the reader.

A message is acknowledged when it was answered HTTP 202 or MQTT PUBACK. A client that
gets a refusal (503), a closed connection or no answer sends the same message again
until it is acknowledged (that is not a loss; a retried message may be stored twice,
counted as a duplicate). QoS 0 messages are best effort: counted as sent, not in the
loss target. When the load stops, the soak waits (with a deadline) for the writer to
store every acknowledged message, then reads every stored record from the database
(and the reader API's total) and prints, per deployment: messages acknowledged, stored
and lost per protocol, deliveries to each subscriber (best effort across restarts), the
restarts done, and per process RSS at the start, after the warm-up and at the end,
open file descriptors at the start and end, and CPU per message (QoS 0 included). The
exit status is 1 when an acknowledged message was lost."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import logging
import os
import shutil
import signal
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from mqtt_storm import (  # the storm's process and provisioning helpers
    TOKEN,
    Process,
    Target,
    _binary,
    _user_token,
    clean_env,
    connect_packet,
    free_port,
    provision,
    publish_packet,
    raise_fd_limit,
    wait_for_port,
)

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
CLOCK = os.sysconf("SC_CLK_TCK")
PUBLISHERS = ("http", "mqtt1", "mqtt0")
LABELS = {"http": "HTTP", "mqtt1": "MQTT QoS 1", "mqtt0": "MQTT QoS 0 (best effort)"}
Key = tuple[str, int]  # (protocol, sequence number): a message's id


# --- processes --------------------------------------------------------------------------


@dataclass
class Managed(Process):
    """A platform process the soak may stop, kill and start again on the same ports."""

    stop_signal: int = signal.SIGTERM
    user: str | None = None  # run as this user (PostgreSQL refuses root)
    restarts: int = 0
    restarting: bool = False
    cpu_before: float = 0.0  # CPU seconds of earlier incarnations

    def start(self) -> None:
        if self.user is None:
            super().start()
            return
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.command,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                user=self.user,
                group=self.user,
            )
        for port in self.ports:
            wait_for_port(port, self.name, self.proc, self.log)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.proc.poll() is None else None

    def halt(self, signum: int) -> None:
        """Send ``signum`` and wait for the process (its CPU time is kept first)."""
        if self.proc is None:
            return
        self.cpu_before += tree_cpu(self.proc.pid)
        self.proc.send_signal(signum)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        self.halt(self.stop_signal)

    def cpu(self) -> float:
        pid = self.pid
        return self.cpu_before + (tree_cpu(pid) if pid else 0.0)


def _stat(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            return [int(c) for c in children.read().split()]
    except OSError:
        return []


def tree(pid: int) -> list[int]:
    """``pid`` and its children (PostgreSQL's backends; one level is enough)."""
    return [pid, *_children(pid)]


def tree_cpu(pid: int) -> float:
    """CPU seconds of the process, its waited-for children and its live children."""
    try:
        fields = _stat(pid)
        total = sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
        for child in _children(pid):
            with contextlib.suppress(OSError):
                total += sum(int(f) for f in _stat(child)[11:13])
    except OSError:
        return 0.0
    return total / CLOCK


def memory_and_fds(pid: int) -> tuple[float, int]:
    """RSS in MB (for a process with children: the PSS of them all) and open fds."""
    pids = tree(pid)
    rss = 0.0
    fds = 0
    for p in pids:
        try:
            if len(pids) == 1:
                with open(f"/proc/{p}/statm") as statm:
                    rss += int(statm.read().split()[1]) * PAGE_SIZE / 1e6
            else:
                with open(f"/proc/{p}/smaps_rollup") as smaps:
                    for line in smaps:
                        if line.startswith("Pss:"):
                            rss += int(line.split()[1]) / 1e3
                            break
            fds += len(os.listdir(f"/proc/{p}/fd"))
        except OSError:
            continue
    return rss, fds


@dataclass
class Samples:
    """RSS and fds of one process over the run: (seconds since the load began, MB, fds)."""

    points: list[tuple[float, float, int]] = field(default_factory=list)
    marks: dict[str, tuple[float, int]] = field(default_factory=dict)  # start, warm-up, end


# --- private servers ----------------------------------------------------------------------


def postgres_cluster(workdir: Path) -> Managed:
    """A PostgreSQL cluster of its own (trust authentication, user ``mainflux``)."""
    data = workdir / "pgdata"
    sockets = workdir / "pgsock"
    user = "postgres" if os.geteuid() == 0 else None
    for path in (data, sockets):
        path.mkdir(mode=0o700)
        if user:
            shutil.chown(path, user, user)
    bindir = Path(os.path.realpath(_binary("initdb"))).parent
    subprocess.run(
        [str(bindir / "initdb"), "-D", str(data), "-U", "mainflux", "--auth=trust", "-E", "UTF8"],
        check=True,
        stdout=subprocess.DEVNULL,
        user=user,
        group=user,
        cwd=workdir,
    )
    port = free_port()
    return Managed(
        "postgres",
        [
            str(bindir / "postgres"),
            "-D",
            str(data),
            "-p",
            str(port),
            "-k",
            str(sockets),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "max_connections=200",
        ],
        clean_env(),
        [port],
        workdir / "postgres.log",
        stop_signal=signal.SIGINT,  # fast shutdown: SIGTERM waits for every client to leave
        user=user,
    )


async def create_databases(port: int, names: list[str]) -> None:
    import asyncpg

    conn = await asyncpg.connect(f"postgresql://mainflux@127.0.0.1:{port}/postgres")
    try:
        for name in names:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


# --- deployments ----------------------------------------------------------------------------


@dataclass
class Platform:
    """A started deployment: where the clients go, what the soak restarts, what it samples."""

    name: str
    processes: list[Managed]
    restartable: list[Managed]  # restarted in turn
    gateway: str  # things and users API
    token: str
    http_url: str  # POST {http_url}/channels/<id>/messages
    ws_url: str  # ws://.../channels/<id>/messages
    coap: tuple[str, int]
    mqtt_port: int
    reader_url: str
    stored_rows: Callable[[str], Awaitable[list[tuple[str, float]]]]  # channel -> rows
    restart_signal: int
    down: float
    nats_url: str | None = None
    metrics_url: str = ""  # where mainflux_coap_dropped_total is served


def _py(module: str) -> list[str]:
    return [sys.executable, "-m", module]


@contextlib.contextmanager
def allinone(workdir: Path, args: argparse.Namespace) -> Iterator[Platform]:
    gateway, mqtt, coap = free_port(), free_port(), free_port()
    data = workdir / "allinone-data"
    process = Managed(
        "allinone",
        [*_py("mainflux.cli"), "run"],
        clean_env(
            MF_DATA_DIR=str(data),
            MF_GATEWAY_HOST="127.0.0.1",
            MF_GATEWAY_PORT=str(gateway),
            MF_MQTT_ADAPTER_MQTT_PORT=str(mqtt),
            MF_COAP_ADAPTER_PORT=str(coap),
            MF_LOG_LEVEL="info",
        ),
        [gateway, mqtt],
        workdir / "allinone.log",
        stop_signal=signal.SIGINT,
    )
    process.start()
    url = f"http://127.0.0.1:{gateway}"

    async def stored(channel: str) -> list[tuple[str, float]]:
        def read() -> list[tuple[str, float]]:
            db = sqlite3.connect(f"file:{data / 'mainflux.db'}?mode=ro", uri=True, timeout=30)
            try:
                query = "SELECT name, value FROM messages WHERE channel = ?"
                return [(n, v) for n, v in db.execute(query, (channel,))]
            finally:
                db.close()

        return await asyncio.to_thread(read)

    try:
        token = asyncio.run(_user_token(url))
        yield Platform(
            "all-in-one (mainflux run: SQLite, in-process bus)",
            [process],
            [process],
            url,
            token,
            f"{url}/http",
            f"ws://127.0.0.1:{gateway}/ws",
            ("127.0.0.1", coap),
            mqtt,
            url,
            stored,
            restart_signal=signal.SIGKILL,
            down=0.0,
            metrics_url=f"{url}/metrics",
        )
    finally:
        process.stop()


@contextlib.contextmanager
def microservices(workdir: Path, args: argparse.Namespace) -> Iterator[Platform]:
    postgres = postgres_cluster(workdir)
    pg_port = postgres.ports[0]
    redis_port, nats_port = free_port(), free_port()
    redis = Managed(
        "redis",
        [
            _binary("redis-server"),
            *("--port", str(redis_port), "--bind", "127.0.0.1"),
            *("--save", "", "--appendonly", "no"),
        ],
        clean_env(),
        [redis_port],
        workdir / "redis.log",
    )
    store = workdir / "jetstream"
    nats = Managed(
        "nats",
        [_binary("nats-server"), "-a", "127.0.0.1", "-p", str(nats_port), "-js", "-sd", str(store)],
        clean_env(),
        [nats_port],
        workdir / "nats.log",
    )
    redis_address = f"127.0.0.1:{redis_port}"
    nats_url = f"nats://127.0.0.1:{nats_port}"
    ports = {n: free_port() for n in ("things", "grpc", "http", "ws", "coap", "mqtt", "w", "r")}
    grpc = f"127.0.0.1:{ports['grpc']}"
    common = {"MF_LOG_LEVEL": "info", "MF_NATS_URL": nats_url}
    access = {"MF_THINGS_AUTH_GRPC_URL": grpc, "MF_THINGS_ES_URL": redis_address, **common}

    def db(prefix: str, name: str) -> dict[str, str]:
        return {
            f"MF_{prefix}_DB_HOST": "127.0.0.1",
            f"MF_{prefix}_DB_PORT": str(pg_port),
            f"MF_{prefix}_DB_USER": "mainflux",
            f"MF_{prefix}_DB_PASS": "mainflux",
            f"MF_{prefix}_DB": name,
        }

    def service(name: str, module: str, port: int, **env: str) -> Managed:
        return Managed(name, _py(module), clean_env(**env), [port], workdir / f"{name}.log")

    things = service(
        "things",
        "mainflux.things.main",
        ports["things"],
        **db("THINGS", "things"),
        MF_THINGS_CACHE_URL=redis_address,
        MF_THINGS_ES_URL=redis_address,
        MF_THINGS_SINGLE_USER_EMAIL="owner@example.com",
        MF_THINGS_SINGLE_USER_TOKEN=TOKEN,
        MF_THINGS_HTTP_PORT=str(ports["things"]),
        MF_THINGS_AUTH_HTTP_PORT=str(free_port()),
        MF_THINGS_AUTH_GRPC_PORT=str(ports["grpc"]),
        MF_LOG_LEVEL="info",
    )
    writer = service(
        "writer",
        "mainflux.writers.main",
        ports["w"],
        **db("POSTGRES_WRITER", "messages"),
        MF_POSTGRES_WRITER_PORT=str(ports["w"]),
        **common,
    )
    reader = service(
        "reader",
        "mainflux.readers.main",
        ports["r"],
        **db("POSTGRES_READER", "messages"),
        MF_POSTGRES_READER_PORT=str(ports["r"]),
        MF_THINGS_AUTH_GRPC_URL=grpc,
        MF_LOG_LEVEL="info",
    )
    http = service(
        "http",
        "mainflux.adapters.http.main",
        ports["http"],
        MF_HTTP_ADAPTER_HOST="127.0.0.1",
        MF_HTTP_ADAPTER_PORT=str(ports["http"]),
        **access,
    )
    ws = service(
        "ws",
        "mainflux.adapters.ws.main",
        ports["ws"],
        MF_WS_ADAPTER_HOST="127.0.0.1",
        MF_WS_ADAPTER_PORT=str(ports["ws"]),
        **access,
    )
    coap = service(
        "coap",
        "mainflux.adapters.coap.main",
        ports["coap"],
        MF_COAP_ADAPTER_HOST="127.0.0.1",
        MF_COAP_ADAPTER_PORT=str(ports["coap"]),
        **access,
    )
    mqtt = service(
        "mqtt",
        "mainflux.adapters.mqtt.main",
        ports["mqtt"],
        MF_MQTT_ADAPTER_MQTT_HOST="127.0.0.1",
        MF_MQTT_ADAPTER_MQTT_PORT=str(ports["mqtt"]),
        MF_MQTT_ADAPTER_WS_HOST="127.0.0.1",
        MF_MQTT_ADAPTER_WS_PORT=str(free_port()),
        MF_MQTT_ADAPTER_ES_URL=redis_address,
        **access,
    )
    if args.kill:
        for process in (postgres, redis, nats, writer):
            process.stop_signal = signal.SIGKILL
    started: list[Managed] = []
    try:
        for process in (postgres, redis, nats):
            process.start()
            started.append(process)
        asyncio.run(create_databases(pg_port, ["things", "messages"]))
        for process in (things, writer, reader, http, ws, coap, mqtt):
            process.start()
            started.append(process)

        async def stored(channel: str) -> list[tuple[str, float]]:
            import asyncpg

            conn = await asyncpg.connect(f"postgresql://mainflux@127.0.0.1:{pg_port}/messages")
            try:
                query = "SELECT name, value FROM messages WHERE channel = $1"
                return [(r["name"], r["value"]) for r in await conn.fetch(query, channel)]
            finally:
                await conn.close()

        yield Platform(
            "microservices (things, http, ws, coap, mqtt, writer, reader; "
            "NATS JetStream, PostgreSQL, Redis)",
            [postgres, redis, nats, things, writer, reader, http, ws, coap, mqtt],
            [writer, nats, postgres, redis],
            f"http://127.0.0.1:{ports['things']}",
            TOKEN,
            f"http://127.0.0.1:{ports['http']}",
            f"ws://127.0.0.1:{ports['ws']}",
            ("127.0.0.1", ports["coap"]),
            ports["mqtt"],
            f"http://127.0.0.1:{ports['r']}",
            stored,
            restart_signal=signal.SIGKILL if args.kill else 0,
            down=args.down,
            nats_url=nats_url,
            metrics_url=f"http://127.0.0.1:{ports['coap']}/metrics",
        )
    finally:
        for process in reversed(started):
            process.stop()


# --- the load ---------------------------------------------------------------------------------


def payload(protocol: str, seq: int) -> bytes:
    return b'[{"bn":"soak:","n":"%s","v":%d}]' % (protocol.encode(), seq)


def key_of(raw: bytes | str) -> Key | None:
    """The id a received payload carries, or None when it is not one of ours."""
    try:
        record = json.loads(raw)[0]
        return str(record["n"]), int(record["v"])
    except (ValueError, KeyError, IndexError, TypeError):
        return None


@dataclass
class Tally:
    """What happened to the messages of one publisher."""

    attempts: int = 0  # sends, retries included
    acked: dict[int, float] = field(default_factory=dict)  # seq -> when (s since the start)
    sent: dict[int, float] = field(default_factory=dict)  # QoS 0: written to the socket
    refusals: Counter[str] = field(default_factory=Counter)  # why a send was retried
    unacked: int = 0  # never acknowledged before the end (given up)


@dataclass
class Delivery:
    """What one subscriber received."""

    seen: Counter[Key] = field(default_factory=Counter)
    connects: int = 0
    errors: Counter[str] = field(default_factory=Counter)


class Load:
    """The publishers and subscribers of one deployment."""

    def __init__(
        self,
        platform: Platform,
        channel: str,
        pub_key: str,
        sub_key: str,
        pub_id: str,
        sub_id: str,
        rate: float,
    ) -> None:
        self.platform = platform
        self.channel = channel
        self.pub = (pub_id, pub_key)
        self.sub = (sub_id, sub_key)
        self.rate = rate
        self.tallies = {p: Tally() for p in PUBLISHERS}
        self.deliveries = {s: Delivery() for s in ("WebSocket", "MQTT", "CoAP observe")}
        self.stop = asyncio.Event()  # no new messages
        self.give_up = asyncio.Event()  # stop retrying
        self.subs_stop = asyncio.Event()
        self.topic = f"channels/{channel}/messages"
        self.started = time.monotonic()

    def clock(self) -> float:
        """Seconds since the load started."""
        return time.monotonic() - self.started

    async def paced(self, protocol: str, send: Callable[[int], Awaitable[None]]) -> None:
        """Start one send per 1/rate seconds (at most 32 in flight) until ``stop``."""
        gate = asyncio.Semaphore(32)
        tasks: set[asyncio.Task[None]] = set()
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        for seq in itertools.count(1):
            if self.stop.is_set():
                break
            await gate.acquire()

            async def one(seq: int = seq) -> None:
                try:
                    await send(seq)
                finally:
                    gate.release()

            task = asyncio.create_task(one())
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            next_at += 1 / self.rate
            delay = next_at - loop.time()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stop.wait(), delay)
            else:
                next_at = loop.time()  # behind (an outage): do not burst to catch up
        if tasks:
            await asyncio.gather(*tasks)

    # HTTP ------------------------------------------------------------------------------

    async def http(self) -> None:
        tally = self.tallies["http"]
        url = f"{self.platform.http_url}/channels/{self.channel}/messages"
        headers = {"Authorization": self.pub[1], "Content-Type": "application/senml+json"}
        limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
        async with httpx.AsyncClient(timeout=15, limits=limits) as client:

            async def send(seq: int) -> None:
                body = payload("http", seq)
                while not self.give_up.is_set():
                    tally.attempts += 1
                    try:
                        reply = await client.post(url, content=body, headers=headers)
                    except httpx.HTTPError as exc:
                        tally.refusals[type(exc).__name__] += 1
                    else:
                        if reply.status_code == 202:
                            tally.acked[seq] = self.clock()
                            return
                        tally.refusals[str(reply.status_code)] += 1
                    await asyncio.sleep(0.2)
                tally.unacked += 1

            await self.paced("http", send)

    # MQTT ------------------------------------------------------------------------------

    async def mqtt_publisher(self, qos: int) -> None:
        protocol = f"mqtt{qos}"
        tally = self.tallies[protocol]
        conn = MqttClient(self.platform.mqtt_port, f"soak-pub{qos}", *self.pub)

        async def send(seq: int) -> None:
            body = payload(protocol, seq)
            while not self.give_up.is_set():
                tally.attempts += 1
                try:
                    await conn.publish(self.topic, body, qos)
                except (OSError, TimeoutError, asyncio.IncompleteReadError, MqttRefused) as exc:
                    tally.refusals[type(exc).__name__] += 1
                    await asyncio.sleep(0.2)
                    continue
                (tally.acked if qos else tally.sent)[seq] = self.clock()
                return
            tally.unacked += 1

        try:
            await self.paced(protocol, send)
        finally:
            conn.close()

    async def mqtt_subscriber(self) -> None:
        got = self.deliveries["MQTT"]

        def on_message(raw: bytes) -> None:
            key = key_of(raw)
            if key:
                got.seen[key] += 1

        conn = MqttClient(self.platform.mqtt_port, "soak-sub", *self.sub, on_message=on_message)
        try:
            while not self.subs_stop.is_set():
                try:
                    await conn.subscribe(self.topic)
                    got.connects += 1
                    await conn.closed(self.subs_stop)
                except (OSError, TimeoutError, asyncio.IncompleteReadError, MqttRefused) as exc:
                    got.errors[type(exc).__name__] += 1
                conn.close()
                await _pause(self.subs_stop, 0.5)
        finally:
            conn.close()

    # WebSocket ---------------------------------------------------------------------------

    async def websocket(self) -> None:
        from websockets.asyncio.client import connect
        from websockets.exceptions import WebSocketException

        got = self.deliveries["WebSocket"]
        url = f"{self.platform.ws_url}/channels/{self.channel}/messages?authorization={self.sub[1]}"
        while not self.subs_stop.is_set():
            try:
                async with connect(url, open_timeout=10, ping_interval=5, ping_timeout=10) as ws:
                    got.connects += 1
                    ending = asyncio.ensure_future(self.subs_stop.wait())
                    try:
                        while True:
                            frame = asyncio.ensure_future(ws.recv())
                            await asyncio.wait({frame, ending}, return_when=asyncio.FIRST_COMPLETED)
                            if not frame.done():
                                frame.cancel()
                                break
                            key = key_of(frame.result())
                            if key:
                                got.seen[key] += 1
                    finally:
                        ending.cancel()
            except (OSError, TimeoutError, WebSocketException) as exc:
                got.errors[type(exc).__name__] += 1
            await _pause(self.subs_stop, 0.5)

    # CoAP --------------------------------------------------------------------------------

    async def coap(self) -> None:
        import aiocoap

        logging.getLogger("coap").setLevel(logging.CRITICAL)
        got = self.deliveries["CoAP observe"]
        host, port = self.platform.coap
        uri = f"coap://{host}:{port}/channels/{self.channel}/messages?authorization={self.sub[1]}"
        context = await aiocoap.Context.create_client_context()
        try:
            while not self.subs_stop.is_set():
                request = aiocoap.Message(code=aiocoap.GET, uri=uri, observe=0)
                pending = context.request(request)
                try:
                    first = await asyncio.wait_for(pending.response, 10)
                    if not first.code.is_successful():
                        got.errors[str(first.code)] += 1
                    else:
                        got.connects += 1
                        await self._observe(pending.observation, got)
                except Exception as exc:  # aiocoap raises many kinds
                    got.errors[type(exc).__name__] += 1
                finally:
                    with contextlib.suppress(Exception):
                        pending.observation.cancel()
                await _pause(self.subs_stop, 0.5)
        finally:
            await context.shutdown()

    async def _observe(self, observation: AsyncIterator[object], got: Delivery) -> None:
        """Count notifications until the observation ends, or none came for 5 s while
        messages were being published (the server restarted and forgot us)."""
        notes = observation.__aiter__()
        while not self.subs_stop.is_set():
            nxt = asyncio.ensure_future(notes.__anext__())
            ending = asyncio.ensure_future(self.subs_stop.wait())
            done, _ = await asyncio.wait(
                {nxt, ending}, timeout=5, return_when=asyncio.FIRST_COMPLETED
            )
            ending.cancel()
            if nxt not in done:
                nxt.cancel()
                if not self.stop.is_set() and not self.subs_stop.is_set():
                    got.errors["silent 5 s"] += 1
                return
            note = nxt.result()  # raises when the observation ended with an error
            key = key_of(note.payload)  # type: ignore[attr-defined]
            if key:
                got.seen[key] += 1


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


# --- a small MQTT 3.1.1 client (what the soak needs, nothing hidden) ----------------------------


class MqttRefused(Exception):
    """CONNACK with a non-zero code, or a SUBACK failure."""


class MqttClient:
    """One MQTT connection, opened (again) on demand; QoS 1 publishes wait for PUBACK."""

    def __init__(
        self,
        port: int,
        client_id: str,
        username: str,
        password: str,
        on_message: Callable[[bytes], None] | None = None,
    ) -> None:
        self.port = port
        self.client_id = client_id
        self.username = username
        self.password = password
        self.on_message = on_message
        self.writer: asyncio.StreamWriter | None = None
        self.reader_task: asyncio.Task[None] | None = None
        self.pending: dict[int, asyncio.Future[None]] = {}
        self.ids = itertools.cycle(range(1, 65536))
        self.lock = asyncio.Lock()
        self.suback: asyncio.Future[int] | None = None
        self.ended = asyncio.Event()

    async def ensure(self) -> asyncio.StreamWriter:
        async with self.lock:
            if self.writer is not None and not self.ended.is_set():
                return self.writer
            self.close()
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", self.port), 5
            )
            try:
                writer.write(connect_packet(self.client_id, self.username, self.password))
                kind, body = await asyncio.wait_for(_read_packet(reader), 10)
                if kind >> 4 != 2 or body[1] != 0:
                    raise MqttRefused(f"CONNACK {body[1] if len(body) > 1 else '?'}")
            except BaseException:
                writer.close()
                raise
            self.ended = asyncio.Event()
            self.writer = writer
            self.reader_task = asyncio.create_task(self._read(reader, writer, self.ended))
            return writer

    async def _read(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, ended: asyncio.Event
    ) -> None:
        pinger = asyncio.create_task(self._ping(writer))
        try:
            while True:
                first, body = await _read_packet(reader)
                kind = first >> 4
                if kind == 4:  # PUBACK
                    future = self.pending.pop(struct.unpack("!H", body[:2])[0], None)
                    if future is not None and not future.done():
                        future.set_result(None)
                elif kind == 3:  # PUBLISH
                    length = struct.unpack("!H", body[:2])[0]
                    rest = body[2 + length :]
                    if (first >> 1) & 3:  # QoS 1: acknowledge
                        writer.write(b"\x40\x02" + rest[:2])
                        rest = rest[2:]
                    if self.on_message is not None:
                        self.on_message(rest)
                elif kind == 9 and self.suback is not None and not self.suback.done():
                    self.suback.set_result(body[-1])
        except (OSError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            pinger.cancel()
            ended.set()
            for future in self.pending.values():
                if not future.done():
                    future.set_exception(ConnectionResetError("connection lost before PUBACK"))
                    future.exception()  # its publisher may have stopped waiting already
            self.pending.clear()
            writer.close()

    async def _ping(self, writer: asyncio.StreamWriter) -> None:
        while True:
            await asyncio.sleep(20)
            writer.write(b"\xc0\x00")

    async def publish(self, topic: str, body: bytes, qos: int) -> None:
        writer = await self.ensure()
        if writer.is_closing():  # reset by the server (writing would only be logged)
            raise ConnectionResetError("connection closed")
        if qos == 0:
            writer.write(publish_packet(topic, body))
            await writer.drain()
            return
        packet_id = next(self.ids)
        while packet_id in self.pending:
            packet_id = next(self.ids)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.pending[packet_id] = future
        topic_bytes = topic.encode()
        head = struct.pack("!H", len(topic_bytes)) + topic_bytes + struct.pack("!H", packet_id)
        writer.write(_packet(0x32, head + body))
        try:
            await writer.drain()
            await asyncio.wait_for(future, 15)
        finally:
            self.pending.pop(packet_id, None)

    async def subscribe(self, topic: str) -> None:
        writer = await self.ensure()
        self.suback = asyncio.get_running_loop().create_future()
        raw = topic.encode()
        writer.write(_packet(0x82, b"\x00\x01" + struct.pack("!H", len(raw)) + raw + b"\x00"))
        code = await asyncio.wait_for(self.suback, 10)
        if code == 0x80:
            raise MqttRefused("SUBACK failure")

    async def closed(self, stop: asyncio.Event) -> None:
        """Return when the connection ended or ``stop`` was set."""
        ending = asyncio.ensure_future(stop.wait())
        ended = asyncio.ensure_future(self.ended.wait())
        await asyncio.wait({ending, ended}, return_when=asyncio.FIRST_COMPLETED)
        ending.cancel()
        ended.cancel()

    def close(self) -> None:
        if self.reader_task is not None:
            self.reader_task.cancel()
            self.reader_task = None
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def _packet(first: int, body: bytes) -> bytes:
    size, length = len(body), b""
    while True:
        byte, size = size % 128, size // 128
        length += bytes([byte | (0x80 if size else 0)])
        if not size:
            return bytes([first]) + length + body


async def _read_packet(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    first = (await reader.readexactly(1))[0]
    size, shift = 0, 0
    while True:
        byte = (await reader.readexactly(1))[0]
        size |= (byte & 0x7F) << shift
        if not byte & 0x80:
            break
        shift += 7
        if shift > 21:
            raise ValueError("malformed remaining length")
    return first, await reader.readexactly(size)


# --- restarts, samples, accounting ----------------------------------------------------------


async def restart_in_turn(
    platform: Platform,
    load: Load,
    args: argparse.Namespace,
    done: list[str],
    snapshot: Callable[[str], None],
) -> None:
    """After the warm-up (when the "warm-up" snapshot is taken), stop (or kill) and start
    again one process every ``--interval`` seconds, in turn, until the last stretch of
    the load (so that the load ends on running processes); ``--interval 0``: none."""
    await _pause(load.stop, args.warmup)
    snapshot("warm-up")
    if not args.interval:
        return
    for process in itertools.cycle(platform.restartable):
        if load.stop.is_set() or load.clock() > args.duration - max(args.interval / 2, 5):
            return
        signum = platform.restart_signal or process.stop_signal
        began = load.clock()
        process.restarting = True
        try:
            await asyncio.to_thread(process.halt, signum)
            await asyncio.sleep(platform.down)
            await asyncio.to_thread(process.start)
        finally:
            process.restarting = False
        process.restarts += 1
        line = (
            f"{began:6.1f} s  {process.name}: {signal.Signals(signum).name}, "
            f"up again after {load.clock() - began:.1f} s"
        )
        done.append(line)
        print("  " + line, flush=True)
        await _pause(load.stop, args.interval)


def take_samples(platform: Platform, load: Load, samples: dict[str, Samples]) -> None:
    """One RSS and fds sample of every running process (none of one being restarted)."""
    now = load.clock()
    for process in platform.processes:
        pid = process.pid
        if pid is not None and not process.restarting:
            rss, fds = memory_and_fds(pid)
            if rss > 0:  # not a process that was just killed
                samples.setdefault(process.name, Samples()).points.append((now, rss, fds))


async def sample(
    platform: Platform, load: Load, every: float, samples: dict[str, Samples], stop: asyncio.Event
) -> None:
    """Sample every process every ``every`` seconds until ``stop``."""
    while not stop.is_set():
        take_samples(platform, load, samples)
        await _pause(stop, every)


async def stored_keys(platform: Platform, channel: str) -> Counter[Key]:
    rows = await platform.stored_rows(channel)
    found: Counter[Key] = Counter()
    for name, value in rows:
        found[(name.split(":", 1)[-1], int(value))] += 1
    return found


async def caught_up(platform: Platform, load: Load, deadline: float) -> tuple[Counter[Key], float]:
    """Wait until every acknowledged message is stored and the count stood still 3 s,
    or ``deadline`` seconds passed; return what is stored and how long it took."""
    began = time.monotonic()
    acked = {(p, seq) for p in PUBLISHERS for seq in load.tallies[p].acked}
    last, still_since = -1, began
    while True:
        try:
            found = await stored_keys(platform, load.channel)
        except Exception as exc:  # the database may still be starting
            print(f"  reading the stored messages failed ({exc}); retrying", flush=True)
            found = Counter()
        now = time.monotonic()
        total = sum(found.values())
        if total != last:
            last, still_since = total, now
        missing = sum(1 for key in acked if key not in found)
        if (missing == 0 and now - still_since >= 3) or now - began > deadline:
            return found, now - began
        await asyncio.sleep(1)


async def reader_total(platform: Platform, channel: str, key: str) -> str:
    try:
        async with httpx.AsyncClient(timeout=30) as client:
            reply = await client.get(
                f"{platform.reader_url}/channels/{channel}/messages",
                params={"limit": 1},
                headers={"Authorization": key},
            )
            reply.raise_for_status()
            return str(reply.json()["total"])
    except Exception as exc:
        return f"unavailable ({type(exc).__name__})"


async def jetstream_counts(url: str) -> str:
    import nats

    try:
        client = await nats.connect(url, connect_timeout=5, max_reconnect_attempts=1)
    except Exception as exc:
        return f"JetStream: unavailable ({exc})"
    try:
        js = client.jetstream()
        parts = []
        for stream in ("MAINFLUX_MESSAGES", "MAINFLUX_DEADLETTER"):
            try:
                info = await js.stream_info(stream)
                parts.append(f"{stream} holds {info.state.messages}")
            except Exception as exc:
                parts.append(f"{stream}: {type(exc).__name__}")
        return "JetStream: " + ", ".join(parts)
    finally:
        await client.close()


async def counter(url: str, name: str) -> str:
    """The sum of a Prometheus counter's samples at ``url`` (since the process started)."""
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            reply = await client.get(url)
            reply.raise_for_status()
    except httpx.HTTPError as exc:
        return f"unavailable ({type(exc).__name__})"
    values = [
        float(line.rsplit(" ", 1)[1])
        for line in reply.text.splitlines()
        if line.startswith(name) and not line.startswith(f"{name[:-6]}_created")
    ]
    return f"{sum(values):.0f}"


def _mb(value: tuple[float, int] | None) -> str:
    return f"{value[0]:.1f}" if value else "-"


def _fd(value: tuple[float, int] | None) -> str:
    return str(value[1]) if value else "-"


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), rule, *(line(r) for r in rows)])


async def soak(platform: Platform, args: argparse.Namespace) -> int:
    """Run the load with restarts on ``platform``, print its table; return messages lost."""
    target = Target(platform.mqtt_port, platform.gateway, platform.token)
    channel, things = await provision(target, 2)
    (pub_id, pub_key), (sub_id, sub_key) = things
    load = Load(platform, channel, pub_key, sub_key, pub_id, sub_id, args.rate)
    subscribers = [
        asyncio.create_task(load.websocket()),
        asyncio.create_task(load.mqtt_subscriber()),
        asyncio.create_task(load.coap()),
    ]
    waited = time.monotonic()
    while any(d.connects == 0 for d in load.deliveries.values()):
        if time.monotonic() - waited > 30:
            late = [n for n, d in load.deliveries.items() if d.connects == 0]
            print(f"  not subscribed after 30 s: {', '.join(late)} (going on)", flush=True)
            break
        await asyncio.sleep(0.1)
    cpu0 = {p.name: p.cpu() for p in platform.processes}
    own0 = time.process_time()
    load.started = time.monotonic()
    samples: dict[str, Samples] = {}

    def snapshot(mark: str) -> None:
        for process in platform.processes:
            pid = process.pid
            if pid is not None and not process.restarting:
                rss, fds = memory_and_fds(pid)
                samples.setdefault(process.name, Samples()).marks[mark] = (rss, fds)

    snapshot("start")
    sampling_done = asyncio.Event()
    sampler = asyncio.create_task(sample(platform, load, args.sample, samples, sampling_done))
    restarts: list[str] = []
    restarter = asyncio.create_task(restart_in_turn(platform, load, args, restarts, snapshot))
    publishers = asyncio.gather(load.http(), load.mqtt_publisher(1), load.mqtt_publisher(0))
    await _pause(load.stop, args.duration)
    load.stop.set()
    load_ended = load.clock()
    await restarter
    snapshot("end")
    try:
        await asyncio.wait_for(asyncio.shield(publishers), args.drain)
    except TimeoutError:
        load.give_up.set()
        await publishers
    sampling_done.set()
    await sampler
    # Let the subscribers receive what is still on its way (a few seconds at most).
    last, still = -1, time.monotonic()
    while time.monotonic() - still < 3 and load.clock() - load_ended < 30:
        received = sum(d.seen.total() for d in load.deliveries.values())
        if received != last:
            last, still = received, time.monotonic()
        await asyncio.sleep(0.2)
    load.subs_stop.set()
    await asyncio.gather(*subscribers, return_exceptions=True)
    found, catch_up = await caught_up(platform, load, args.catch_up)
    cpu = {p.name: p.cpu() - cpu0[p.name] for p in platform.processes}
    own = time.process_time() - own0
    in_reader = await reader_total(platform, channel, pub_key)
    streams = await jetstream_counts(platform.nats_url) if platform.nats_url else ""
    coap_dropped = await counter(platform.metrics_url, "mainflux_coap_dropped_total")

    # --- the table ---
    print(f"\n== {platform.name}")
    print(
        f"load {args.duration:.0f} s at {args.rate:g} msg/s per publisher, warm-up "
        f"{args.warmup:.0f} s, "
        + (f"one restart every {args.interval:.0f} s; " if args.interval else "no restarts; ")
        + f"load average {os.getloadavg()[0]:.2f}"
    )
    names = Counter(line.split()[2].rstrip(":") for line in restarts)
    print(
        "restarts done: "
        + (", ".join(f"{n} x{c}" for n, c in names.items()) or "none")
        + f" ({len(restarts)} in all)"
    )
    rows: list[list[str]] = []
    lost_total = 0
    lost_detail: list[str] = []
    acked_keys: set[Key] = set()
    qos0_keys: set[Key] = set()
    for p in PUBLISHERS:
        tally = load.tallies[p]
        counted = tally.acked if p != "mqtt0" else tally.sent
        mine = {seq: n for (q, seq), n in found.items() if q == p}
        lost = sorted(set(counted) - set(mine))
        dups = sum(n - 1 for n in mine.values() if n > 1)
        extra = len(set(mine) - set(counted))
        why = ", ".join(f"{k} {v}" for k, v in tally.refusals.most_common(4)) or "-"
        if p == "mqtt0":
            qos0_keys = {(p, s) for s in counted}
            rows.append(
                [
                    LABELS[p],
                    str(len(counted)),
                    "(not acknowledged)",
                    str(len(mine)),
                    f"{len(lost)} missing (best effort)",
                    str(dups),
                    str(extra),
                    f"{tally.attempts - len(counted)} ({why})",
                ]
            )
            continue
        acked_keys |= {(p, s) for s in counted}
        lost_total += len(lost)
        if lost:
            when = ", ".join(f"{tally.acked[s]:.1f}" for s in lost[:20])
            lost_detail.append(f"{LABELS[p]}: lost seq {lost[:20]} acknowledged at s {when}")
        rows.append(
            [
                LABELS[p],
                str(len(counted) + tally.unacked),
                str(len(counted)),
                str(len(mine)),
                str(len(lost)),
                str(dups),
                str(extra),
                f"{tally.attempts - len(counted)} ({why})",
            ]
        )
    print()
    print(
        _table(
            [
                "publisher",
                "messages",
                "acknowledged",
                "stored",
                "lost (acked, not stored)",
                "duplicates",
                "stored, not acked",
                "retries (why)",
            ],
            rows,
        )
    )
    rows = []
    for name, got in load.deliveries.items():
        of_acked = sum(1 for k in acked_keys if k in got.seen)
        of_qos0 = sum(1 for k in qos0_keys if k in got.seen)
        dups_by: Counter[str] = Counter()
        for (q, _), n in got.seen.items():
            if n > 1:
                dups_by[LABELS[q].split(" (")[0]] += n - 1
        dup_text = str(dups_by.total())
        if dups_by:
            dup_text += " (" + ", ".join(f"{q} {n}" for q, n in dups_by.most_common()) + ")"
        errors = ", ".join(f"{k} {v}" for k, v in got.errors.most_common(3)) or "-"
        rows.append(
            [
                name,
                str(got.connects),
                f"{of_acked} of {len(acked_keys)}",
                f"{of_qos0} of {len(qos0_keys)}",
                dup_text,
                errors,
            ]
        )
    print()
    print(
        _table(
            [
                "subscriber (best effort)",
                "subscriptions",
                "received of acknowledged",
                "of QoS 0 sent",
                "duplicates",
                "errors",
            ],
            rows,
        )
    )
    messages = len(acked_keys) + len(qos0_keys)
    rows = []
    for process in platform.processes:
        points = samples.get(process.name, Samples())
        start, warm, end = (points.marks.get(m) for m in ("start", "warm-up", "end"))
        peak = max((p[1] for p in points.points), default=0.0)
        peak = max([peak, *(m[0] for m in points.marks.values())])
        per = cpu[process.name] / messages * 1e6 if messages else 0.0
        rows.append(
            [
                process.name,
                str(process.restarts),
                f"{_mb(start)} / {_mb(warm)} / {_mb(end)} / {peak:.1f}",
                f"{_fd(start)} / {_fd(end)}",
                f"{cpu[process.name]:.1f}",
                f"{per:.0f}",
            ]
        )
    per_own = own / messages * 1e6 if messages else 0.0
    rows.append(["(load generator)", "-", "-", "-", f"{own:.1f}", f"{per_own:.0f}"])
    print()
    print(
        _table(
            [
                "process",
                "restarts",
                "RSS MB start / warm-up / end / max",
                "fds start / end",
                "CPU s",
                "CPU µs per message",
            ],
            rows,
        )
    )
    print(
        f"stored rows {sum(found.values())} (reader API total {in_reader}); writer caught up "
        f"{catch_up:.1f} s after the load{'; ' + streams if streams else ''}"
    )
    print(f"notifications the CoAP adapter dropped (observer queue full): {coap_dropped}")
    print(f"acknowledged messages lost: {lost_total} of {len(acked_keys)}", flush=True)
    for line in lost_detail:
        print("  " + line)
    for p in PUBLISHERS:
        if load.tallies[p].unacked:
            print(f"  {LABELS[p]}: {load.tallies[p].unacked} never acknowledged (gave up)")
    return lost_total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deployment", choices=["both", "allinone", "micro"], default="both")
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of load")
    parser.add_argument("--rate", type=float, default=50.0, help="messages/s per publisher")
    parser.add_argument(
        "--interval",
        type=float,
        help="seconds between restarts (default: a twelfth of the duration, at least 10)",
    )
    parser.add_argument(
        "--warmup",
        type=float,
        help="seconds before the first restart (default: a sixth of the duration)",
    )
    parser.add_argument(
        "--down",
        type=float,
        default=3.0,
        help="seconds a stopped service stays down (microservices)",
    )
    parser.add_argument(
        "--kill", action="store_true", help="microservices: SIGKILL instead of a clean stop"
    )
    parser.add_argument(
        "--drain",
        type=float,
        default=60.0,
        help="seconds unacknowledged sends may keep retrying after the load",
    )
    parser.add_argument(
        "--catch-up",
        type=float,
        default=120.0,
        help="seconds to wait for the writer to store what was acknowledged",
    )
    parser.add_argument("--sample", type=float, default=5.0, help="seconds between samples")
    parser.add_argument("--logs", help="keep the processes' logs and data in this directory")
    args = parser.parse_args()
    if args.duration <= 0 or args.rate <= 0:
        parser.error("--duration and --rate must be positive")
    if args.interval is None:
        args.interval = max(10.0, args.duration / 12)
    if args.interval < 0:
        parser.error("--interval must be 0 (no restarts) or more")
    if args.warmup is None:
        args.warmup = args.duration / 6
    raise_fd_limit()
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", flush=True)
    lost = 0
    workdir = Path(args.logs or tempfile.mkdtemp(prefix="mf-soak-"))
    workdir.mkdir(parents=True, exist_ok=True)
    os.chmod(workdir, 0o755)  # PostgreSQL runs as its own user under it
    try:
        if args.deployment in ("both", "allinone"):
            (workdir / "allinone").mkdir(exist_ok=True)
            with allinone(workdir / "allinone", args) as platform:
                print(f"== {platform.name}: started", flush=True)
                lost += asyncio.run(soak(platform, args))
        if args.deployment in ("both", "micro"):
            (workdir / "micro").mkdir(exist_ok=True)
            os.chmod(workdir / "micro", 0o755)
            with microservices(workdir / "micro", args) as platform:
                print(f"== {platform.name}: started", flush=True)
                lost += asyncio.run(soak(platform, args))
    finally:
        if args.logs:
            print(f"logs and data kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    sys.exit(1 if lost else 0)


if __name__ == "__main__":
    main()
