"""HTTP ingest benchmark: keep-alive POSTs of a one-record SenML message, counted on the bus.

Run: ``.venv/bin/python benchmarks/http_ingest.py [--duration 8] [--connections 50]``

Every shape runs its server in separate process(es) and is driven by a load generator
process of our own (raw asyncio sockets, one request in flight per connection, reusing
each connection). Figures printed per shape: delivered msg/s (what a bus subscriber
received during the measured window), request latency p50/p99 (client side), delivery
latency p50/p99 (``created`` stamp to the subscriber), the server's RSS, and the server's
CPU time per delivered message (from ``/proc``; steadier than msg/s on a busy machine).

Shapes:
- ``raw-asgi``: the reference, a raw ASGI endpoint that does nothing but answer 202;
- ``all-in-one``: the adapter with the in-process bus, a subscriber in the same process;
- ``all-in-one + SQLite writer``: the same, plus the all-in-one's message writer storing
  into a temporary SQLite file (a 202 then waits for the writer's commit);
- ``http+nats``: the ``mainflux-http`` app on NATS (``--nats``, default the server at
  localhost:4222), the subscriber a plain NATS connection in the benchmark process (it
  counts every envelope and decodes one in eight for latency); also at half peak rate;
- ``http+nats x2``: two worker processes sharing the port with ``SO_REUSEPORT``.

Thing keys go through the adapter's :class:`CachedThingAccess` (over an in-memory things
service), as in production. Our rates are printed as ratios of the raw endpoint's."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

CHANNEL = "9a3c1b7e-2d4f-4e5a-8b6c-7d8e9f0a1b2c"
KEY = "f00dcafe-0000-4000-8000-000000000001"
THING = "beefbeef-0000-4000-8000-000000000002"
BODY = b'[{"bn":"bench:","n":"temperature","u":"Cel","v":21.5}]'
PATH = f"/channels/{CHANNEL}/messages"
HERE = os.path.abspath(__file__)


def percentile(samples: list[float], q: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- the server side ---------------------------------------------------------------------


class StaticThings:
    """The things service answering for one thing connected to one channel."""

    async def can_access_by_key(self, channel_id: str, key: str) -> str:
        from mainflux.core.errors import Unauthorized

        if key != KEY or channel_id != CHANNEL:
            raise Unauthorized()
        return THING

    async def can_access_by_id(self, channel_id: str, thing_id: str) -> None:
        return None

    async def identify(self, key: str) -> str:
        return THING


class Counter:
    """Counts received envelopes and keeps delivery latencies (ms)."""

    def __init__(self) -> None:
        self.count = 0
        self.latencies: list[float] = []
        self.recording = False

    async def __call__(self, message: Any) -> None:
        self.count += 1
        if self.recording:
            self.latencies.append((time.time_ns() - message.created) / 1e6)

    def snapshot(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "p50": percentile(self.latencies, 0.5),
            "p99": percentile(self.latencies, 0.99),
        }


async def raw_app(scope: dict, receive: Any, send: Any) -> None:
    """The do-nothing reference endpoint."""
    if scope["type"] != "http":
        if scope["type"] == "lifespan":
            while True:
                event = await receive()
                kind = event["type"].replace("lifespan.", "")
                await send({"type": f"lifespan.{kind}.complete"})
                if kind == "shutdown":
                    return
        return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    await send(
        {"type": "http.response.start", "status": 202, "headers": [(b"content-length", b"0")]}
    )
    await send({"type": "http.response.body", "body": b""})


async def control(counter: Counter, port: int) -> asyncio.AbstractServer:
    """A tiny line protocol on ``port``: ``start`` (record latencies) and ``stats``."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        command = (await reader.readline()).strip()
        if command == b"start":
            counter.latencies.clear()
            counter.recording = True
        elif command == b"stop":
            counter.recording = False
        writer.write(json.dumps(counter.snapshot()).encode() + b"\n")
        await writer.drain()
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", port)


async def serve(args: argparse.Namespace) -> None:
    from mainflux.adapters.access import CachedThingAccess
    from mainflux.adapters.http import create_app
    from mainflux.core import runner
    from mainflux.messaging.inproc import InProcessBus
    from mainflux.messaging.nats import NatsBus

    counter = Counter()
    closers = []
    if args.serve == "raw":
        app: Any = raw_app
    else:
        inproc = args.serve in ("inproc", "inproc-store")
        bus: Any = InProcessBus() if inproc else await NatsBus.connect(args.nats)
        closers.append(bus.close)
        if inproc:
            await bus.subscribe("channels.>", counter)
        if args.serve == "inproc-store":
            closers.extend(await start_writer(bus))
        app = create_app(CachedThingAccess(StaticThings(), None), bus)
    if args.control:
        await control(counter, args.control)
    sock = runner.bind_socket("127.0.0.1", args.port, "port", reuse_port=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    server = asyncio.create_task(runner.serve_http(app, sock))
    await runner.until_stopped(stop, server)
    for close in closers:
        await close()


async def start_writer(bus: Any) -> list[Any]:
    """The all-in-one's writer on ``bus``, storing into a temporary SQLite file; returns
    what to close after the bus."""
    import shutil
    import tempfile
    from pathlib import Path

    from mainflux.core.db import create_engine, sqlite_url
    from mainflux.storage.migrate import migrate_messages
    from mainflux.writers.settings import WriterSettings
    from mainflux.writers.writer import build_writer

    folder = tempfile.mkdtemp(prefix="http-ingest-")
    engine = create_engine(sqlite_url(Path(folder) / "messages.db"))
    await migrate_messages(engine)
    writer = build_writer(engine, bus, WriterSettings())
    await writer.start()

    async def remove() -> None:
        shutil.rmtree(folder, ignore_errors=True)

    return [writer.close, engine.dispose, remove]


# -- the load generator ------------------------------------------------------------------


class Connection(asyncio.Protocol):
    """One keep-alive connection sending the same request again after each answer."""

    def __init__(self, request: bytes, shared: dict[str, Any], interval: float) -> None:
        self.request = request
        self.shared = shared
        self.interval = interval
        self.buffer = b""
        self.sent_at = 0.0
        self.next_at = 0.0
        self.transport: asyncio.Transport | None = None
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.next_at = time.perf_counter()
        self.send()

    def send(self) -> None:
        if self.shared["stop"] or self.transport is None or self.transport.is_closing():
            return
        self.sent_at = time.perf_counter()
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            now = time.perf_counter()
            shared = self.shared
            if shared["recording"]:
                shared["done"] += 1
                if head[9:12] != b"202":
                    shared["errors"] += 1
                shared["latencies"].append((now - self.sent_at) * 1000)
            if self.interval:
                self.next_at += self.interval
                delay = self.next_at - now
                if delay > 0:
                    asyncio.get_running_loop().call_later(delay, self.send)
                    continue
                self.next_at = now
            self.send()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


async def load(args: argparse.Namespace) -> None:
    request = (
        f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {KEY}\r\n"
        f"Content-Type: application/senml+json\r\nContent-Length: {len(BODY)}\r\n\r\n"
    ).encode() + BODY
    shared: dict[str, Any] = {"stop": False, "recording": False, "done": 0, "errors": 0}
    shared["latencies"] = []
    interval = args.connections / args.rate if args.rate else 0.0
    loop = asyncio.get_running_loop()
    conns = []
    for _ in range(args.connections):
        _, proto = await loop.create_connection(
            lambda: Connection(request, shared, interval), "127.0.0.1", args.port
        )
        conns.append(proto)
    await asyncio.sleep(args.warmup)
    shared["recording"] = True
    started = time.perf_counter()
    await asyncio.sleep(args.duration)
    shared["recording"] = False
    elapsed = time.perf_counter() - started
    shared["stop"] = True
    for conn in conns:
        if conn.transport is not None:
            conn.transport.close()
    lat = shared["latencies"]
    print(
        json.dumps(
            {
                "done": shared["done"],
                "errors": shared["errors"],
                "elapsed": elapsed,
                "p50": percentile(lat, 0.5),
                "p99": percentile(lat, 0.99),
            }
        )
    )


# -- the orchestration -------------------------------------------------------------------


@dataclass
class Result:
    name: str
    rate: float
    delivered: float
    errors: int
    req_p50: float
    req_p99: float
    del_p50: float
    del_p99: float
    rss: float
    cpu_us: float = float("nan")  # server CPU microseconds per delivered message
    workers: int = 1


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_port(port: int, timeout: float = 15.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port}")


def ask(port: int, command: str) -> dict[str, Any]:
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(command.encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    return json.loads(data)


class NatsCounter:
    """A NATS subscriber on ``channels.>`` in its own thread's event loop."""

    def __init__(self, url: str) -> None:
        import threading

        self.url = url
        self.counter = Counter()
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        self.ready.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._subscribe())
        self.ready.set()
        self.loop.run_forever()

    async def _subscribe(self) -> None:
        # A plain nats-py subscription that counts every envelope and decodes one in
        # eight for the delivery latency, so the subscriber takes little of the CPU the
        # adapter under test needs (this machine has two cores).
        import nats

        from mainflux.messaging.envelope import Message

        self.nc = await nats.connect(self.url, name="bench-subscriber")
        counter = self.counter

        async def count(msg: Any) -> None:
            counter.count += 1
            if counter.recording and counter.count % 8 == 0:
                created = Message.decode(msg.data).created
                counter.latencies.append((time.time_ns() - created) / 1e6)

        await self.nc.subscribe(f"channels.{CHANNEL}", cb=count, pending_msgs_limit=1_000_000)
        await self.nc.flush()

    def call(self, command: str) -> dict[str, Any]:
        def do() -> dict[str, Any]:
            if command == "start":
                self.counter.latencies.clear()
                self.counter.recording = True
            elif command == "stop":
                self.counter.recording = False
            return self.counter.snapshot()

        return asyncio.run_coroutine_threadsafe(_wrap(do), self.loop).result(10)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.nc.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)


async def _wrap(fn: Any) -> Any:
    return fn()


def run_shape(
    name: str, mode: str, args: argparse.Namespace, *, workers: int = 1, rate: float = 0.0
) -> Result:
    port = free_port()
    control_port = free_port() if mode.startswith("inproc") else 0
    env = dict(os.environ, PYTHONPATH=os.path.join(os.path.dirname(HERE), "..", "src"))
    servers = [
        subprocess.Popen(
            [sys.executable, HERE, "--serve", mode, "--port", str(port), "--nats", args.nats]
            + (["--control", str(control_port)] if control_port and i == 0 else []),
            env=env,
        )
        for i in range(workers)
    ]
    subscriber = NatsCounter(args.nats) if mode == "nats" else None
    try:
        wait_port(port)
        if control_port:
            wait_port(control_port)
        time.sleep(0.5 * workers)

        def stats(command: str) -> dict[str, Any]:
            if subscriber is not None:
                return subscriber.call(command)
            if control_port:
                return ask(control_port, command)
            return {"count": float("nan"), "p50": float("nan"), "p99": float("nan")}

        loaders = [
            subprocess.Popen(
                [
                    sys.executable,
                    HERE,
                    "--load",
                    "--port",
                    str(port),
                    "--connections",
                    str(args.connections // args.load_procs),
                    "--duration",
                    str(args.duration),
                    "--warmup",
                    str(args.warmup),
                    "--rate",
                    str(rate / args.load_procs),
                ],
                stdout=subprocess.PIPE,
                env=env,
            )
            for _ in range(args.load_procs)
        ]
        time.sleep(args.warmup)
        cpu_before = sum(cpu_seconds(s.pid) for s in servers)
        before = stats("start")
        time.sleep(args.duration)
        after = stats("stop")
        cpu = sum(cpu_seconds(s.pid) for s in servers) - cpu_before
        rss = sum(rss_mb(s.pid) for s in servers)
        outputs = [json.loads(loader.communicate()[0]) for loader in loaders]
    finally:
        for server in servers:
            server.send_signal(signal.SIGTERM)
        for server in servers:
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
        if subscriber is not None:
            subscriber.close()
    done = sum(o["done"] for o in outputs)
    elapsed = max(o["elapsed"] for o in outputs)
    if mode == "raw":
        delivered = done / elapsed
    else:
        delivered = (after["count"] - before["count"]) / args.duration
    count = delivered * args.duration
    return Result(
        name=name,
        rate=rate,
        delivered=delivered,
        errors=sum(o["errors"] for o in outputs),
        req_p50=max(o["p50"] for o in outputs),
        req_p99=max(o["p99"] for o in outputs),
        del_p50=after["p50"],
        del_p99=after["p99"],
        rss=rss,
        cpu_us=cpu / count * 1e6 if count else float("nan"),
        workers=workers,
    )


def report(results: list[Result], reference: float) -> None:
    print()
    head = (
        f"{'shape':<28}{'msg/s':>9}{'ratio':>7}{'errors':>8}{'req p50':>9}{'req p99':>9}"
        f"{'dlv p50':>9}{'dlv p99':>9}{'RSS MB':>8}{'CPU us/msg':>11}  (RSS, CPU: all workers)"
    )
    print(head)
    print("-" * len(head))
    for r in results:
        print(
            f"{r.name:<28}{r.delivered:>9.0f}{r.delivered / reference:>7.2f}{r.errors:>8}"
            f"{r.req_p50:>9.2f}{r.req_p99:>9.2f}{r.del_p50:>9.2f}{r.del_p99:>9.2f}{r.rss:>8.1f}"
            f"{r.cpu_us:>11.1f}"
        )
    print("(msg/s: delivered to a bus subscriber; raw-asgi: answered requests; latencies in ms)")


def check(results: dict[str, Result], reference: float) -> None:
    one = results.get("http+nats")
    if one is None:
        return
    print("\ntargets (from the issue):")
    two = results.get("http+nats x2")
    half = results.get("http+nats @ half peak")
    rows = [
        ("1 process on NATS >= 8000 msg/s", one.delivered >= 8000, f"{one.delivered:.0f}"),
        (
            "1 process >= 0.6 x raw endpoint",
            one.delivered >= 0.6 * reference,
            f"{one.delivered / reference:.2f}",
        ),
    ]
    if two is not None:
        rows.append(("2 workers >= 15000 msg/s", two.delivered >= 15000, f"{two.delivered:.0f}"))
    if half is not None:
        rows.append(("p99 <= 20 ms at half peak", half.req_p99 <= 20, f"{half.req_p99:.2f} ms"))
    biggest = max(r.rss / r.workers for r in results.values())
    rows.append(("RSS <= 150 MB per process", biggest <= 150, f"{biggest:.1f} MB at most"))
    for label, ok, value in rows:
        print(f"  {'met ' if ok else 'MISS'}  {label:<36} measured {value}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--load-procs", type=int, default=1)
    parser.add_argument("--nats", default=os.environ.get("MF_NATS_URL", "nats://localhost:4222"))
    parser.add_argument("--no-workers", action="store_true", help="skip the two-worker shape")
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated shapes to run: raw, inproc, inproc-store, nats (default: all)",
    )
    parser.add_argument(
        "--serve", choices=["raw", "inproc", "inproc-store", "nats"], help=argparse.SUPPRESS
    )
    parser.add_argument("--load", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--control", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.serve or args.load:
        import uvloop

        uvloop.install()
        asyncio.run(serve(args) if args.serve else load(args))
        return

    print(
        f"http_ingest: {args.connections} keep-alive connections, {args.duration:.0f} s per shape, "
        f"{len(BODY)}-byte SenML body, {os.cpu_count()} CPUs, NATS {args.nats}"
    )
    results: dict[str, Result] = {}
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    shapes = [
        ("raw-asgi (reference)", "raw", 1),
        ("all-in-one (in-process bus)", "inproc", 1),
        ("all-in-one + SQLite writer", "inproc-store", 1),
        ("http+nats", "nats", 1),
    ]
    if not args.no_workers:
        shapes.append(("http+nats x2", "nats", 2))
    shapes = [s for s in shapes if not only or s[1] in only or s[1] == "raw"]
    for name, mode, workers in shapes:
        results[name] = run_shape(name, mode, args, workers=workers)
        print(f"  {name}: {results[name].delivered:.0f} msg/s", flush=True)
    if "http+nats" in results:
        peak = results["http+nats"].delivered
        half = "http+nats @ half peak"
        results[half] = run_shape(half, "nats", args, rate=peak / 2)
        print(f"  {half}: {results[half].delivered:.0f} msg/s", flush=True)
    reference = results["raw-asgi (reference)"].delivered
    report(list(results.values()), reference)
    check(results, reference)


if __name__ == "__main__":
    main()
