"""CoAP adapter benchmark: NON POST ingest and observe fan-out, beside the HTTP adapter.

Run: ``.venv/bin/python benchmarks/coap_bench.py [--duration 6] [--observers 100]``

Each shape runs the adapter in its own process (in-process bus, a counting subscriber
in the same process, thing keys through the adapter's :class:`CachedThingAccess`) and
drives it from a separate load process of raw UDP sockets (hand-encoded datagrams, no
CoAP library on the client side, so the figures are the adapter's):

- ``coap ingest``: NON POSTs of a one-record SenML message from ``--sockets`` sockets,
  each keeping ``--window`` requests in flight (a new one goes out when a 2.04 comes
  back); figure: messages per second delivered to the bus subscriber;
- ``http ingest`` (reference): the same message through the HTTP adapter, the
  all-in-one shape of ``benchmarks/http_ingest.py`` (keep-alive connections, one request
  in flight each); the CoAP figure is printed as a ratio of it;
- ``coap fan-out``: ``--observers`` observers (NON registrations) of one channel while
  NON POSTs are published to it; figure: notifications per second received by the
  observers (and published messages per second), printed as a ratio of the HTTP ingest
  rate (both count messages the adapter handled).

For every shape: the adapter's CPU microseconds per delivered message or notification
(from ``/proc``) and its RSS."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

HERE = os.path.abspath(__file__)
sys.path.insert(0, os.path.dirname(HERE))

import http_ingest  # noqa: E402  (the HTTP reference shape and shared helpers)
from http_ingest import BODY, CHANNEL, KEY, cpu_seconds, free_port, rss_mb  # noqa: E402

CHANGED = 0x44  # 2.04
CONTENT = 0x45  # 2.05
CON, NON, ACK = 0, 1, 2


# -- the server side ---------------------------------------------------------------------


async def serve(args: argparse.Namespace) -> None:
    from mainflux.adapters.access import CachedThingAccess
    from mainflux.adapters.coap import open_server
    from mainflux.adapters.coap.resource import Tuning
    from mainflux.core import runner
    from mainflux.messaging.inproc import InProcessBus

    counter = http_ingest.Counter()
    bus = InProcessBus()
    await bus.subscribe("channels.>", counter)
    await http_ingest.control(counter, args.control)
    access = CachedThingAccess(http_ingest.StaticThings(), None)
    tuning = Tuning(max_observers=args.observers + 10, max_observers_per_thing=args.observers + 10)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with open_server(access, bus, "127.0.0.1", args.port, tuning):
        runner.tune_garbage_collector()
        await stop.wait()
    await bus.close()


# -- the load generator ------------------------------------------------------------------


def _encode(
    mtype: int,
    code: int,
    mid: int,
    token: bytes,
    options: list[tuple[int, bytes]],
    payload: bytes = b"",
) -> bytes:
    """One CoAP datagram (options sorted by number, lengths below 269)."""
    out = bytearray([0x40 | (mtype << 4) | len(token), code]) + struct.pack("!H", mid) + token
    last = 0
    for number, value in sorted(options, key=lambda o: o[0]):
        parts = []
        for n in (number - last, len(value)):
            parts.append((n, b"") if n < 13 else (13, bytes([n - 13])))
        out.append((parts[0][0] << 4) | parts[1][0])
        out += parts[0][1] + parts[1][1] + value
        last = number
    if payload:
        out += b"\xff" + payload
    return bytes(out)


def _messages_options(observe: bool = False) -> list[tuple[int, bytes]]:
    path = [(11, p.encode()) for p in ("channels", CHANNEL, "messages")]
    query = [(15, f"authorization={KEY}".encode())]
    return path + query + ([(6, b"")] if observe else [])


class Publisher(asyncio.DatagramProtocol):
    """One socket keeping ``window`` NON POSTs in flight. NON requests are never
    retransmitted: when no answer came for :data:`STALL` seconds, the ones in flight are
    taken as lost and the window is filled again."""

    STALL = 0.2

    def __init__(self, shared: dict[str, Any], window: int) -> None:
        self.shared = shared
        self.window = window
        self.mid = int.from_bytes(os.urandom(2), "big")
        self.transport: asyncio.DatagramTransport | None = None
        self.options = _messages_options()
        self.heard = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.refill(-1)

    def refill(self, heard_before: int) -> None:
        """Fill the window again unless an answer came since the last check."""
        if self.shared["stop"]:
            return
        if self.heard == heard_before:
            for _ in range(self.window):
                self.send()
        asyncio.get_running_loop().call_later(self.STALL, self.refill, self.heard)

    def send(self) -> None:
        if self.shared["stop"] or self.transport is None:
            return
        self.mid = (self.mid + 1) & 0xFFFF
        token = struct.pack("!H", self.mid)
        self.transport.sendto(_encode(NON, 0x02, self.mid, token, self.options, BODY))

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.heard += 1
        if self.shared["recording"]:
            self.shared["done"] += 1
            if len(data) < 2 or data[1] != CHANGED:
                self.shared["errors"] += 1
        self.send()

    def error_received(self, exc: Exception) -> None:
        self.shared["errors"] += 1


class Observer(asyncio.DatagramProtocol):
    """One observation (NON registration) counting the notifications it receives."""

    def __init__(self, shared: dict[str, Any]) -> None:
        self.shared = shared
        self.transport: asyncio.DatagramTransport | None = None
        self.registered = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        mid = int.from_bytes(os.urandom(2), "big")
        transport.sendto(_encode(NON, 0x01, mid, b"ob", _messages_options(observe=True)))  # type: ignore[attr-defined]

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if not self.registered.done():
            self.registered.set_result(data[1] if len(data) > 1 else 0)
            return
        if (data[0] >> 4) & 3 == CON and self.transport is not None:  # a confirmable check
            self.transport.sendto(bytes([0x60, 0]) + data[2:4])
        if self.shared["recording"] and len(data) > 1 and data[1] == CONTENT:
            self.shared["notified"] += 1


async def load(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    shared: dict[str, Any] = {"stop": False, "recording": False, "done": 0, "errors": 0}
    shared["notified"] = 0
    observers = []
    for _ in range(args.observers if args.load == "fanout" else 0):
        _, observer = await loop.create_datagram_endpoint(
            lambda: Observer(shared), remote_addr=("127.0.0.1", args.port)
        )
        observers.append(observer)
    codes = [await asyncio.wait_for(o.registered, 30) for o in observers]
    if any(code != CONTENT for code in codes):
        raise SystemExit(f"observations refused: {sorted(set(codes))}")
    transports = []
    for _ in range(args.sockets):
        transport, _ = await loop.create_datagram_endpoint(
            lambda: Publisher(shared, args.window), remote_addr=("127.0.0.1", args.port)
        )
        transports.append(transport)
    await asyncio.sleep(args.warmup)
    shared["recording"] = True
    started = time.perf_counter()
    await asyncio.sleep(args.duration)
    shared["recording"] = False
    elapsed = time.perf_counter() - started
    shared["stop"] = True
    for transport in transports:
        transport.close()
    for observer in observers:
        if observer.transport is not None:
            observer.transport.close()
    print(json.dumps({k: shared[k] for k in ("done", "errors", "notified")} | {"elapsed": elapsed}))


# -- the orchestration -------------------------------------------------------------------


@dataclass
class Result:
    name: str
    rate: float  # delivered messages (or notifications) per second
    published: float  # messages per second that went in
    errors: int
    rss: float
    cpu_us: float


def run_coap(name: str, mode: str, args: argparse.Namespace) -> Result:
    port, control = free_port(), free_port()
    env = dict(os.environ, PYTHONPATH=os.path.join(os.path.dirname(HERE), "..", "src"))
    server = subprocess.Popen(
        [
            sys.executable,
            HERE,
            "--serve",
            "--port",
            str(port),
            "--control",
            str(control),
            "--observers",
            str(args.observers),
        ],
        env=env,
    )
    try:
        http_ingest.wait_port(control)
        loader = subprocess.Popen(
            [
                sys.executable,
                HERE,
                "--load",
                mode,
                "--port",
                str(port),
                "--sockets",
                str(args.sockets),
                "--window",
                str(args.window),
                "--observers",
                str(args.observers),
                "--duration",
                str(args.duration),
                "--warmup",
                str(args.warmup),
            ],
            stdout=subprocess.PIPE,
            env=env,
        )
        # Registrations first, then the warm-up; the measured window starts after both.
        time.sleep(args.warmup + (2.0 if mode == "fanout" else 0.0))
        cpu_before = cpu_seconds(server.pid)
        before = http_ingest.ask(control, "start")
        time.sleep(args.duration)
        after = http_ingest.ask(control, "stop")
        cpu = cpu_seconds(server.pid) - cpu_before
        rss = rss_mb(server.pid)
        out, _ = loader.communicate(timeout=120)
        if loader.returncode != 0:
            raise SystemExit(f"{name}: the load generator failed")
        output = json.loads(out)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
    published = (after["count"] - before["count"]) / args.duration
    rate = output["notified"] / output["elapsed"] if mode == "fanout" else published
    handled = rate * args.duration
    return Result(
        name,
        rate,
        published,
        output["errors"],
        rss,
        cpu / handled * 1e6 if handled else float("nan"),
    )


def run_http(args: argparse.Namespace) -> Result:
    shape_args = argparse.Namespace(
        connections=args.connections,
        load_procs=1,
        duration=args.duration,
        warmup=args.warmup,
        nats=os.environ.get("MF_NATS_URL", "nats://localhost:4222"),
    )
    r = http_ingest.run_shape("http ingest (reference)", "inproc", shape_args)
    return Result(r.name, r.delivered, r.delivered, r.errors, r.rss, r.cpu_us)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=6.0)
    parser.add_argument("--warmup", type=float, default=1.5)
    parser.add_argument("--sockets", type=int, default=8, help="CoAP publishing sockets")
    parser.add_argument("--window", type=int, default=8, help="NON requests in flight each")
    parser.add_argument("--connections", type=int, default=50, help="HTTP connections")
    parser.add_argument("--observers", type=int, default=100)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--load", choices=["ingest", "fanout"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--control", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.serve or args.load:
        import uvloop

        uvloop.install()
        asyncio.run(serve(args) if args.serve else load(args))
        return

    print(
        f"coap_bench: {args.duration:.0f} s per shape, {len(BODY)}-byte SenML body, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}"
    )
    http = run_http(args)
    print(f"  {http.name}: {http.rate:.0f} msg/s", flush=True)
    ingest = run_coap("coap ingest (NON POST)", "ingest", args)
    print(f"  {ingest.name}: {ingest.rate:.0f} msg/s", flush=True)
    fan = run_coap(f"coap fan-out ({args.observers} observers)", "fanout", args)
    print(f"  {fan.name}: {fan.rate:.0f} notifications/s", flush=True)

    print()
    head = (
        f"{'shape':<32}{'per s':>10}{'ratio':>7}{'msg in/s':>10}{'errors':>8}{'RSS MB':>8}"
        f"{'CPU us':>8}"
    )
    print(head)
    print("-" * len(head))
    for r in (http, ingest, fan):
        print(
            f"{r.name:<32}{r.rate:>10.0f}{r.rate / http.rate:>7.2f}{r.published:>10.0f}"
            f"{r.errors:>8}{r.rss:>8.1f}{r.cpu_us:>8.1f}"
        )
    print(
        "(per s: messages delivered to the bus subscriber, or notifications received by the "
        "observers; ratio: of the HTTP ingest rate; CPU us: adapter CPU per message or "
        "notification)"
    )


if __name__ == "__main__":
    main()
