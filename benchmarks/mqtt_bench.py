"""MQTT adapter load test, each figure against Mosquitto run the same way.

A load generator of its own (pre-encoded packets, raw sockets, several processes)
drives two brokers in turn, in the same invocation:

- ``mainflux``: the Mainflux MQTT adapter (thing authentication and channel
  authorization through the cached thing access, every message bridged to the
  in-process bus), started here in its own process;
- ``mosquitto``: a private ``mosquitto -p <free port>``.

Scenarios (all payloads 100 bytes unless said):

1a. QoS 0 fan-in, 10 publishers writing as fast as they can -> 1 subscriber.
1b. QoS 0 fan-in, 1,000 connections each writing one message per send -> 1 subscriber.
2.  QoS 1 end to end (publishers wait for PUBACKs, the subscriber acknowledges):
    delivered msg/s and p99 latency.
3.  10,000 idle connections: broker RSS per connection and the connect rate.
4.  Flood: 200 clients publishing 1 MiB messages for ``--flood-seconds`` to a slow
    subscriber: the broker's peak RSS (bound for the adapter: 512 MB) and survival.

    .venv/bin/python benchmarks/mqtt_bench.py [--seconds 5] [--flood-seconds 30]

``--only cpu`` measures instead the adapter's CPU per message. The adapter runs in this
process and client sockets of the same event loop publish QoS 0 messages in lock-step
rounds: every publishing connection writes once, and the subscriber reads the round
back before the next is sent, so every run hands the adapter the same reads. Shapes as
1a (one connection, 100 messages per write) and 1b (100 connections, one message per
write each). The figure is ``time.process_time()`` per message (the clients' few calls
per round included), the median of ``--repeat`` runs; on a busy or virtual machine it
still varies, so ``--callgrind`` counts instructions instead: each shape runs under
``valgrind --tool=callgrind`` for ``--cpu-messages`` and for a quarter of that, and the
difference per message leaves start-up and set-up out; the fewest instructions of
``--repeat`` runs of each length are kept, as noise only adds work (runs agree to within
about 1% whatever the load). To compare two versions of the code, run it with
``PYTHONPATH`` set to each one's ``src`` (the script uses its own checkout's ``src`` only
when ``PYTHONPATH`` is unset):

    PYTHONPATH=/path/to/other/src .venv/bin/python benchmarks/mqtt_bench.py \\
        --only cpu --callgrind --repeat 1
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing as mp
import os
import resource
import select
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if not os.environ.get("PYTHONPATH"):
    sys.path.insert(0, str(ROOT / "src"))

from mainflux.adapters.mqtt import codec  # noqa: E402

CHANNEL = "6a2e0b3c-2f64-4d0e-9a39-0c2f3a3b1c55"
TOPIC = f"channels/{CHANNEL}/messages/bench"
PAYLOAD = b"x" * 100


def raise_fd_limit() -> None:
    """Allow as many sockets as the hard limit permits."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def free_port() -> int:
    """A TCP port that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 15.0) -> None:
    """Wait until something accepts connections on 127.0.0.1:``port``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise SystemExit(f"nothing listens on 127.0.0.1:{port}")


def rss_bytes(pid: int) -> int:
    """Resident memory of a process."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


# --- the adapter under test, in its own process ------------------------------------------


class BenchThings:
    """Things access for the bench: key ``key-N`` is thing ``thing-N``, on the bench channel."""

    async def identify(self, key: str) -> str:
        from mainflux.core.errors import Unauthorized

        if not key.startswith("key-"):
            raise Unauthorized()
        return "thing-" + key[4:]

    async def can_access_by_id(self, channel_id: str, thing_id: str) -> None:
        from mainflux.core.errors import Unauthorized

        if channel_id != CHANNEL:
            raise Unauthorized()

    async def can_access_by_key(self, channel_id: str, key: str) -> str:
        await self.can_access_by_id(channel_id, "")
        return await self.identify(key)


@contextlib.asynccontextmanager
async def running_adapter(port: int) -> AsyncIterator[Any]:
    """The Mainflux adapter on ``port`` with an in-process bus, running until exit, its
    garbage collector tuned as ``mainflux-mqtt`` does once started."""
    from mainflux.adapters.mqtt.adapter import build_adapter
    from mainflux.adapters.mqtt.settings import MqttSettings
    from mainflux.core.runner import tune_garbage_collector
    from mainflux.messaging.inproc import InProcessBus

    bus = InProcessBus()
    settings = MqttSettings(host="127.0.0.1", mqtt_port=port, ws_port=None)
    adapter = build_adapter(BenchThings(), bus, None, settings)
    await adapter.start()
    tune_garbage_collector()
    try:
        yield adapter
    finally:
        await adapter.stop()
        await bus.close()


def serve_adapter(port: int) -> None:
    """Run the Mainflux adapter (every thing ``thing-N``/``key-N`` on the bench channel)."""
    raise_fd_limit()
    import uvloop

    async def main() -> None:
        async with running_adapter(port) as adapter:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            loop.add_signal_handler(signal.SIGTERM, stop.set)
            await stop.wait()
            print(adapter.broker.stats.as_dict(), file=sys.stderr)

    uvloop.install()
    if os.environ.get("MQTT_BENCH_PROFILE"):
        import cProfile

        cProfile.runctx(
            "asyncio.run(main())", globals(), locals(), os.environ["MQTT_BENCH_PROFILE"]
        )
    else:
        asyncio.run(main())


@dataclass
class Broker:
    """A broker process under test."""

    name: str
    port: int
    proc: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None


@contextlib.contextmanager
def start_broker(name: str) -> Iterator[Broker]:
    """Start ``mainflux`` (the adapter) or ``mosquitto`` on a free port."""
    port = free_port()
    if name == "mainflux":
        cmd = [sys.executable, __file__, "--serve", str(port)]
    else:
        cmd = ["mosquitto", "-p", str(port)]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=raise_fd_limit
    )
    try:
        wait_for_port(port)
        time.sleep(0.3)
        yield Broker(name, port, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- raw clients -------------------------------------------------------------------------


def connect(port: int, number: int, *, clean: bool = True) -> socket.socket:
    """A connected, authenticated client socket (CONNACK read)."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    packet = codec.Connect(
        f"bench-{os.getpid()}-{number}",
        clean_session=clean,
        username=f"thing-{number}",
        password=f"key-{number}".encode(),
    )
    sock.sendall(codec.encode_connect(packet))
    reply = recv_exact(sock, 4)
    if reply[3] != 0:
        raise SystemExit(f"CONNECT refused with code {reply[3]}")
    return sock


def recv_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def subscribe(sock: socket.socket, qos: int) -> None:
    sock.sendall(codec.encode_subscribe(1, [(f"channels/{CHANNEL}/messages/#", qos)]))
    reply = recv_exact(sock, 5)
    if reply[4] == 0x80:
        raise SystemExit("SUBSCRIBE refused")


def count_subscriber(port: int, seconds: float, ready: mp.Event, out: mp.Queue) -> None:
    """Count QoS 0 messages received in a window starting one second after the first."""
    sock = connect(port, 0)
    subscribe(sock, 0)
    size = len(codec.encode_publish(TOPIC, PAYLOAD))
    ready.set()
    buf = bytearray(1 << 20)
    total = 0
    sock.settimeout(10)
    first = 0.0
    start_count = start_time = None
    while True:
        try:
            n = sock.recv_into(buf)
        except TimeoutError:
            break
        if not n:
            break
        total += n
        now = time.monotonic()
        if not first:
            first = now
        if start_time is None and now - first >= 1.0:
            start_time, start_count = now, total
        if start_time is not None and now - start_time >= seconds:
            out.put((total - start_count) / size / (now - start_time))  # type: ignore[operator]
            return
    out.put(0.0)


def fast_publisher(port: int, first: int, count: int, until: float) -> None:
    """``count`` connections writing batches of pre-encoded QoS 0 PUBLISHes."""
    socks = [connect(port, first + i) for i in range(count)]
    batch = codec.encode_publish(TOPIC, PAYLOAD) * 500
    while time.monotonic() < until:
        for sock in socks:
            try:
                sock.sendall(batch)
            except OSError:
                return


def device_publisher(port: int, first: int, count: int, until: float) -> None:
    """``count`` connections, each send one message (round robin, non-blocking).

    A socket whose kernel buffer is full is parked in an epoll set until it is
    writable again (its partly sent packet finished first), so the generator sleeps
    instead of spinning when the broker falls behind, and never corrupts a stream."""
    socks = [connect(port, first + i) for i in range(count)]
    by_fd: dict[int, socket.socket] = {}
    for sock in socks:
        sock.setblocking(False)
        by_fd[sock.fileno()] = sock
    packet = codec.encode_publish(TOPIC, PAYLOAD)
    poller = select.epoll()
    rest: dict[int, memoryview] = {}
    ready = list(socks)
    while time.monotonic() < until:
        still = []
        for sock in ready:
            fd = sock.fileno()
            data = rest.pop(fd, None)
            if data is None:
                data = memoryview(packet)
            try:
                sent = sock.send(data)
            except BlockingIOError:
                sent = 0
            except OSError:
                continue
            if sent < len(data):
                rest[fd] = data[sent:]
                poller.register(fd, select.EPOLLOUT)
            else:
                still.append(sock)
        ready = still
        for fd, _ in poller.poll(0 if ready else 0.05):
            poller.unregister(fd)
            ready.append(by_fd[fd])
    poller.close()


def fan_in(broker: Broker, seconds: float, connections: int, procs: int, device: bool) -> float:
    """Delivered msg/s at one subscriber while publishers write."""
    ctx = mp.get_context("fork")
    ready, out = ctx.Event(), ctx.Queue()
    sub = ctx.Process(target=count_subscriber, args=(broker.port, seconds, ready, out))
    sub.start()
    ready.wait(10)
    until = time.monotonic() + seconds + 4
    target = device_publisher if device else fast_publisher
    per = connections // procs
    pubs = [
        ctx.Process(target=target, args=(broker.port, 1 + i * per, per, until))
        for i in range(procs)
    ]
    for p in pubs:
        p.start()
    rate = float(out.get(timeout=seconds + 30))
    for p in pubs:
        p.join(seconds + 30)
    sub.join(5)
    return rate


# --- QoS 1 end to end ----------------------------------------------------------------------


def qos1_subscriber(port: int, seconds: float, ready: mp.Event, out: mp.Queue) -> None:
    sock = connect(port, 0)
    subscribe(sock, 1)
    ready.set()
    decoder = codec.Decoder()
    latencies: list[int] = []
    sock.settimeout(10)
    start = None
    received = 0
    while True:
        try:
            data = sock.recv(1 << 20)
        except TimeoutError:
            break
        if not data:
            break
        now = time.monotonic_ns()
        acks = []
        for packet in decoder.feed(data):
            if isinstance(packet, codec.Publish):
                acks.append(codec.encode_ack(codec.PUBACK, packet.packet_id))
                if start is not None:
                    received += 1
                    latencies.append(now - struct.unpack_from(">q", packet.payload)[0])
        if acks:
            sock.sendall(b"".join(acks))
        if start is None:
            start = time.monotonic()
        elif time.monotonic() - start >= seconds:
            break
    elapsed = time.monotonic() - (start or time.monotonic())
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99)] / 1e6 if latencies else float("nan")
    out.put((received / elapsed if elapsed else 0.0, p99))


def qos1_publisher(port: int, number: int, window: int, until: float) -> None:
    sock = connect(port, number)
    head = codec.publish_header(TOPIC, len(PAYLOAD), 1)
    pad = PAYLOAD[8:]
    decoder = codec.Decoder()
    while time.monotonic() < until:
        stamp = struct.pack(">q", time.monotonic_ns())
        sock.sendall(
            b"".join(head + pid.to_bytes(2, "big") + stamp + pad for pid in range(1, window + 1))
        )
        acked = 0
        while acked < window:
            data = sock.recv(65536)
            if not data:
                return
            acked += sum(1 for p in decoder.feed(data) if p.kind == codec.PUBACK)


def qos1(broker: Broker, seconds: float) -> tuple[float, float]:
    ctx = mp.get_context("fork")
    ready, out = ctx.Event(), ctx.Queue()
    sub = ctx.Process(target=qos1_subscriber, args=(broker.port, seconds, ready, out))
    sub.start()
    ready.wait(10)
    until = time.monotonic() + seconds + 2
    pubs = [
        ctx.Process(target=qos1_publisher, args=(broker.port, 1 + i, 50, until)) for i in range(2)
    ]
    for p in pubs:
        p.start()
    rate, p99 = out.get(timeout=seconds + 30)
    for p in pubs:
        p.join(seconds + 30)
    sub.join(5)
    return rate, p99


# --- idle connections ------------------------------------------------------------------------


def idle(broker: Broker, count: int) -> tuple[float, float]:
    """(RSS bytes per connection, connections per second)."""
    raise_fd_limit()
    time.sleep(0.5)
    before = rss_bytes(broker.pid)
    socks = []
    started = time.monotonic()
    for i in range(count):
        sock = socket.create_connection(("127.0.0.1", broker.port))
        packet = codec.Connect(
            f"idle-{i}", keepalive=0, username=f"thing-{i}", password=f"key-{i}".encode()
        )
        sock.sendall(codec.encode_connect(packet))
        socks.append(sock)
    for sock in socks:
        if recv_exact(sock, 4)[3] != 0:
            raise SystemExit("idle CONNECT refused")
    elapsed = time.monotonic() - started
    time.sleep(1.0)
    after = rss_bytes(broker.pid)
    for sock in socks:
        sock.close()
    return (after - before) / count, count / elapsed


# --- flood -------------------------------------------------------------------------------------


def slow_subscriber(port: int, until: float) -> None:
    sock = connect(port, 0)
    subscribe(sock, 0)
    sock.settimeout(1)
    while time.monotonic() < until:
        with contextlib.suppress(TimeoutError, OSError):
            sock.recv(16384)
        time.sleep(0.01)


def flood_publisher(port: int, first: int, count: int, until: float) -> None:
    socks = []
    for i in range(count):
        with contextlib.suppress(OSError, ConnectionError):
            socks.append(connect(port, first + i))
    for sock in socks:
        sock.setblocking(False)
    packet = codec.encode_publish(TOPIC, b"m" * (1 << 20))
    views = {sock: memoryview(packet) for sock in socks}
    while time.monotonic() < until and views:
        for sock in list(views):
            try:
                sent = sock.send(views[sock])
            except BlockingIOError:
                continue
            except OSError:
                del views[sock]
                continue
            rest = views[sock][sent:]
            views[sock] = rest if len(rest) else memoryview(packet)
        time.sleep(0.001)


def flood(broker: Broker, seconds: float, clients: int) -> tuple[float, bool]:
    """(peak RSS bytes, broker still alive)."""
    ctx = mp.get_context("fork")
    until = time.monotonic() + seconds
    sub = ctx.Process(target=slow_subscriber, args=(broker.port, until))
    sub.start()
    time.sleep(0.5)
    procs = 4
    pubs = [
        ctx.Process(
            target=flood_publisher, args=(broker.port, 1 + i * 1000, clients // procs, until)
        )
        for i in range(procs)
    ]
    for p in pubs:
        p.start()
    peak = 0
    while time.monotonic() < until and broker.alive():
        peak = max(peak, rss_bytes(broker.pid))
        time.sleep(0.2)
    for p in pubs:
        p.join(30)
    sub.join(30)
    return peak, broker.alive()


# --- CPU per message, the adapter in this process -------------------------------------------

CPU_SHAPES = {"1a": (1, 100), "1b": (100, 1)}  # shape: (publishing connections, messages per write)


async def _recv_exact(sock: socket.socket, size: int) -> bytes:
    loop = asyncio.get_running_loop()
    data = b""
    while len(data) < size:
        chunk = await loop.sock_recv(sock, size - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


async def _client(port: int, number: int) -> socket.socket:
    """A connected, authenticated non-blocking client socket of this process's loop."""
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    sock.setblocking(False)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    await loop.sock_connect(sock, ("127.0.0.1", port))
    packet = codec.Connect(
        f"cpu-{number}", username=f"thing-{number}", password=f"key-{number}".encode()
    )
    await loop.sock_sendall(sock, codec.encode_connect(packet))
    if (await _recv_exact(sock, 4))[3] != 0:
        raise SystemExit("CONNECT refused")
    return sock


async def _lockstep(shape: str, messages: int) -> tuple[int, float, float]:
    """Publish about ``messages`` QoS 0 messages through the adapter running in this
    loop, in rounds (every publishing connection writes once), each round read back by
    the subscriber before the next is sent; returns (messages, CPU seconds, wall seconds).

    The client sockets live in the adapter's own loop and write a round without
    yielding to it: every write reaches the adapter's side of the loopback connection
    whole before it reads, so each run hands it the same reads."""
    loop = asyncio.get_running_loop()
    port = free_port()
    connections, per_write = CPU_SHAPES[shape]
    async with running_adapter(port):
        sub = await _client(port, 0)
        await loop.sock_sendall(
            sub, codec.encode_subscribe(1, [(f"channels/{CHANNEL}/messages/#", 0)])
        )
        if (await _recv_exact(sub, 5))[4] == 0x80:
            raise SystemExit("SUBSCRIBE refused")
        pubs = [await _client(port, 1 + i) for i in range(connections)]
        packet = codec.encode_publish(TOPIC, PAYLOAD)
        write = packet * per_write
        per_round = per_write * connections
        buf = bytearray(1 << 20)
        sent = 0
        cpu, wall = time.process_time(), time.monotonic()
        while sent < messages:
            for sock in pubs:  # without yielding: the adapter finds every write at once
                done = sock.send(write)
                if done < len(write):
                    await loop.sock_sendall(sock, write[done:])
            sent += per_round
            want = len(packet) * per_round
            while want > 0:
                got = await loop.sock_recv_into(sub, buf)
                if not got:
                    raise SystemExit("the adapter closed the subscriber")
                want -= got
        cpu, wall = time.process_time() - cpu, time.monotonic() - wall
        for sock in [sub, *pubs]:
            sock.close()
    return sent, cpu, wall


def cpu_run(shape: str, messages: int) -> tuple[int, float, float]:
    """One lock-step run on uvloop: (messages, CPU seconds, wall seconds)."""
    import uvloop

    return uvloop.run(_lockstep(shape, messages))


def callgrind_instructions(shape: str, messages: int) -> int:
    """Instructions this script executes for a lock-step run of ``messages`` messages
    under ``valgrind --tool=callgrind`` (start-up included)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        cmd = [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={out}",
            sys.executable,
            __file__,
            "--cpu-run",
            f"{shape}:{messages}",
        ]
        env = dict(os.environ, PYTHONHASHSEED="0")
        if not os.environ.get("PYTHONPATH"):
            env["PYTHONPATH"] = str(ROOT / "src")
        subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for line in out.read_text().splitlines():
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    raise SystemExit("callgrind wrote no totals")


def cpu_figures(messages: int, repeat: int, callgrind: bool) -> None:
    """Print the adapter's CPU per message for each lock-step shape."""
    import mainflux

    print(f"code under test: {Path(mainflux.__file__).parent}", flush=True)
    for shape in CPU_SHAPES:
        label = f"cpu {shape} lock-step"
        if callgrind:  # the difference of two run lengths leaves out start-up and set-up
            per_round = CPU_SHAPES[shape][0] * CPU_SHAPES[shape][1]
            short, long = messages // 4, messages
            sent = {n: -(-n // per_round) * per_round for n in (short, long)}  # whole rounds
            # Noise only adds work (an extra loop turn, a first compile), so the fewest
            # instructions of each length are kept.
            counts = {n: [callgrind_instructions(shape, n) for _ in range(repeat)] for n in sent}
            extra = sent[long] - sent[short]
            per = (min(counts[long]) - min(counts[short])) / extra
            spread = max(max(c) - min(c) for c in counts.values()) / extra
            say("mainflux", label, f"{per:>8,.0f} instructions/msg (runs spread {spread:,.0f})")
            continue
        runs = [cpu_run(shape, messages) for _ in range(repeat)]
        per_msg = [cpu / sent for sent, cpu, _ in runs]
        rate = statistics.median(sent / wall for sent, _, wall in runs)
        each = " ".join(f"{p * 1e6:.2f}" for p in per_msg)
        say(
            "mainflux",
            label,
            f"{statistics.median(per_msg) * 1e6:>6.2f} us CPU/msg ({each}); {rate:,.0f} msg/s",
        )


# --- report ------------------------------------------------------------------------------------


def say(name: str, label: str, figure: str) -> None:
    """Print one figure as soon as it is known."""
    print(f"{name:9} {label:34} {figure}", flush=True)


def ratio(ours: float, theirs: float) -> str:
    return f"{ours / theirs:.2f}x" if theirs else "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description="MQTT adapter vs Mosquitto")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--flood-seconds", type=float, default=30.0)
    parser.add_argument("--idle", type=int, default=10_000)
    parser.add_argument(
        "--only", default="1a,1b,2,3,4", help="shapes to run: 1a,1b,2,3,4 and/or cpu"
    )
    parser.add_argument(
        "--cpu-messages",
        type=int,
        help="messages per run of --only cpu (default 200,000; with --callgrind 20,000)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="runs of 1a/1b per broker (and of each cpu shape); the median is kept",
    )
    parser.add_argument(
        "--callgrind",
        action="store_true",
        help="cpu: count instructions under valgrind instead of CPU time",
    )
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--cpu-run", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_adapter(args.serve)
        return
    if args.cpu_run:
        shape, messages = args.cpu_run.split(":")
        cpu_run(shape, int(messages))
        return
    raise_fd_limit()
    only = set(args.only.split(","))
    results: dict[str, dict[str, object]] = {"mainflux": {}, "mosquitto": {}}
    print(f"load average before: {os.getloadavg()[0]:.2f}", flush=True)
    if "cpu" in only:
        messages = args.cpu_messages or (20_000 if args.callgrind else 200_000)
        cpu_figures(messages, args.repeat, args.callgrind)
    for key, label, connections, device in (
        ("1a", "1a fan-in, 10 fast publishers", 10, False),
        ("1b", "1b fan-in, 1,000 device conns", 1000, True),
    ):
        if key not in only:
            continue
        runs: dict[str, list[float]] = {"mainflux": [], "mosquitto": []}
        for _ in range(args.repeat):  # interleaved, so both see the same background load
            for name in runs:
                with start_broker(name) as broker:
                    runs[name].append(fan_in(broker, args.seconds, connections, 2, device))
        for name, rates in runs.items():
            results[name][key] = statistics.median(rates)
            each = " ".join(f"{r / 1000:,.0f}k" for r in rates)
            say(name, label, f"{results[name][key]:>10,.0f} msg/s (median of {each})")
    for name in ("mainflux", "mosquitto"):
        r = results[name]
        if "2" in only:
            with start_broker(name) as broker:
                r["2"] = qos1(broker, args.seconds)
            rate, p99 = r["2"]  # type: ignore[misc]
            say(name, "2  QoS 1 end to end", f"{rate:>10,.0f} msg/s, p99 {p99:.2f} ms")
        if "3" in only:
            with start_broker(name) as broker:
                r["3"] = idle(broker, args.idle)
            per, rate = r["3"]  # type: ignore[misc]
            say(name, f"3  {args.idle:,} idle connections", f"{per / 1024:>10.2f} KB/conn")
            say(name, "3  connect rate", f"{rate:>10,.0f} conn/s")
        if "4" in only:
            with start_broker(name) as broker:
                r["4"] = flood(broker, args.flood_seconds, 200)
            peak, alive = r["4"]  # type: ignore[misc]
            state = "alive" if alive else "CRASHED"
            say(name, "4  flood 200 x 1 MiB, slow sub", f"peak RSS {peak / 2**20:,.0f} MB, {state}")
    ours, theirs = results["mainflux"], results["mosquitto"]
    if not ours:
        return
    print("\nmainflux / mosquitto (same invocation):")
    for key, label, floor in (
        ("1a", "1a QoS 0 fan-in, fast", 50_000),
        ("1b", "1b QoS 0 fan-in, devices", 30_000),
    ):
        if key in ours:
            a, b = float(ours[key]), float(theirs[key])  # type: ignore[arg-type]
            verdict = "met" if a >= b and a >= floor else "MISSED"
            print(
                f"  {label:28} {ratio(a, b):>7}   target >= 1.0x and >= {floor:,} msg/s: {verdict}"
            )
    if "2" in ours:
        (a, pa), (b, pb) = ours["2"], theirs["2"]  # type: ignore[misc]
        print(f"  {'2  QoS 1 msg/s':28} {ratio(a, b):>7}   p99 {pa:.2f} ms vs {pb:.2f} ms")
    if "3" in ours:
        (a, ca), (b, cb) = ours["3"], theirs["3"]  # type: ignore[misc]
        verdict = "met" if a <= 4096 else "MISSED"
        print(
            f"  {'3  RSS per idle conn':28} {ratio(a, b):>7}   {a / 1024:.2f} KB "
            f"(target <= 4 KB: {verdict}); connect rate {ratio(ca, cb)}"
        )
    if "4" in ours:
        peak, alive = ours["4"]  # type: ignore[misc]
        verdict = "met" if alive and peak <= 512 * 2**20 else "MISSED"
        print(
            f"  {'4  flood peak RSS':28} {peak / 2**20:,.0f} MB "
            f"(bound 512 MB, alive: {alive}): {verdict}"
        )


if __name__ == "__main__":
    main()
