"""Benchmark of the things access check (CanAccessByKey) and of entity creation.

Prints requests/s and p50/p99 latency of CanAccessByKey with a warm cache:
in-process, over the auth HTTP API (uvicorn in a separate process, several concurrent
keep-alive clients) and over gRPC (same server process); then the rate at which the
management HTTP API creates things (one per request, and in bulk). Asserts nothing.

    .venv/bin/python benchmarks/things_auth.py [--requests N] [--clients C] [--db-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

TOKEN = "bench-token"


async def _build(db_url: str):  # type: ignore[no-untyped-def]
    from mainflux.core.db import create_engine
    from mainflux.things.cache import InMemoryAccessCache
    from mainflux.things.main import build_service
    from mainflux.things.models import Channel, Thing
    from mainflux.things.singleuser import SingleUserAuth

    engine = create_engine(db_url)
    service = await build_service(
        engine, SingleUserAuth("bench@example.com", TOKEN), None, InMemoryAccessCache()
    )
    (thing,) = await service.create_things(TOKEN, [Thing()])
    (channel,) = await service.create_channels(TOKEN, [Channel(name="bench")])
    await service.connect(TOKEN, [channel.id], [thing.id])
    return engine, service, channel.id, thing.key


async def _serve(db_url: str) -> None:
    """Server mode: serve the management API, the auth API and gRPC; print the ports."""
    from mainflux.core.runner import bind_socket, serve_http
    from mainflux.things.api import create_app
    from mainflux.things.authapi import create_auth_app
    from mainflux.things.grpc import start_grpc_server

    engine, service, channel_id, key = await _build(db_url)
    api_sock = bind_socket("127.0.0.1", 0, "api")
    auth_sock = bind_socket("127.0.0.1", 0, "auth")
    server, grpc_port = await start_grpc_server(service, 0, "127.0.0.1")
    ports = {
        "api": api_sock.getsockname()[1],
        "auth": auth_sock.getsockname()[1],
        "grpc": grpc_port,
        "channel": channel_id,
        "key": key,
    }
    print(json.dumps(ports), flush=True)
    try:
        await asyncio.gather(
            serve_http(create_app(service), api_sock),
            serve_http(create_auth_app(service), auth_sock),
        )
    finally:
        await server.stop(None)
        await engine.dispose()


def _report(name: str, latencies: list[float], elapsed: float) -> float:
    latencies.sort()
    p50 = statistics.median(latencies) * 1e6
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1e6
    rate = len(latencies) / elapsed
    print(f"{name:<44} {rate:>10.0f} req/s   p50 {p50:>8.0f} us   p99 {p99:>8.0f} us")
    return rate


async def _load(
    name: str,
    clients: int,
    per_client: int,
    make: Callable[[], Awaitable[Callable[[], Awaitable[None]]]],
) -> float:
    """Run ``clients`` concurrent loops of ``per_client`` calls, after a warm-up."""
    calls = [await make() for _ in range(clients)]
    for call in calls:
        for _ in range(20):
            await call()
    latencies: list[float] = []

    async def loop(call: Callable[[], Awaitable[None]]) -> None:
        for _ in range(per_client):
            start = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    await asyncio.gather(*(loop(call) for call in calls))
    return _report(name, latencies, time.perf_counter() - start)


class HttpConnection:
    """A minimal HTTP/1.1 keep-alive client, so the client does not dominate the figures."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, body: bytes, auth: str = ""
    ) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n"
            + (f"Authorization: {auth}\r\n" if auth else "")
            + "\r\n"
        )
        self.writer.write(head.encode() + body)
        status_line = await self.reader.readline()
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        content = await self.reader.readexactly(length) if length else b""
        if not status_line:
            raise ConnectionError("the server closed the connection")
        return int(status_line.split()[1]), content


async def _bench(args: argparse.Namespace, db_url: str) -> None:
    import grpc

    from mainflux.proto import authn_pb2, authn_pb2_grpc

    n, c = args.requests, args.clients
    engine, service, channel_id, key = await _build(db_url)

    async def in_process() -> Callable[[], Awaitable[None]]:
        async def call() -> None:
            await service.can_access_by_key(channel_id, key)

        return call

    await _load("CanAccessByKey in-process (1 caller)", 1, n, in_process)
    await engine.dispose()

    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--db-url", db_url],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        ports = json.loads(server.stdout.readline())
        channel_id, key = ports["channel"], ports["key"]
        body = json.dumps({"token": key}).encode()

        async def http_client() -> Callable[[], Awaitable[None]]:
            conn = HttpConnection(ports["auth"])
            path = f"/channels/{channel_id}/access-by-key"

            async def call() -> None:
                status, _ = await conn.request("POST", path, body)
                assert status == 200, status

            return call

        await _load(f"CanAccessByKey auth HTTP ({c} clients)", c, n // c, http_client)

        channel = grpc.aio.insecure_channel(f"127.0.0.1:{ports['grpc']}")
        stub = authn_pb2_grpc.ThingsServiceStub(channel)
        request = authn_pb2.AccessByKeyReq(token=key, chanID=channel_id)

        async def grpc_client() -> Callable[[], Awaitable[None]]:
            async def call() -> None:
                await stub.CanAccessByKey(request)

            return call

        await _load(f"CanAccessByKey gRPC ({c} concurrent calls)", c, n // c, grpc_client)
        await channel.close()

        created = 0

        async def create_one() -> Callable[[], Awaitable[None]]:
            conn = HttpConnection(ports["api"])

            async def call() -> None:
                nonlocal created
                status, _ = await conn.request("POST", "/things", b'{"name":"t"}', TOKEN)
                assert status == 201, status
                created += 1

            return call

        creations = max(c, n // 10)
        await _load(f"POST /things, 1 thing each ({c} clients)", c, creations // c, create_one)

        batch = json.dumps([{"name": "t"}] * 100).encode()

        async def create_bulk() -> Callable[[], Awaitable[None]]:
            conn = HttpConnection(ports["api"])

            async def call() -> None:
                status, _ = await conn.request("POST", "/things/bulk", batch, TOKEN)
                assert status == 201, status

            return call

        bulk_calls = max(c, n // 200)
        rate = await _load(
            f"POST /things/bulk, 100 things ({c} clients)", c, bulk_calls // c, create_bulk
        )
        print(f"{'  = things created per second in bulk':<44} {rate * 100:>10.0f}")
    finally:
        server.terminate()
        server.wait(10)
        if server.stdout is not None:
            server.stdout.close()


def main() -> None:
    """Parse the options and run the benchmark (or the server half of it)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=20000, help="calls per access-check run")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients")
    parser.add_argument("--db-url", default="", help="database URL (default: a temporary SQLite)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        import uvloop  # the event loop mainflux.core.runner.run uses

        uvloop.run(_serve(args.db_url))
        return
    with tempfile.TemporaryDirectory() as tmp:
        db_url = args.db_url or f"sqlite+aiosqlite:///{Path(tmp) / 'things.db'}"
        engine_name = db_url.split(":")[0]
        print(f"things access benchmark: {args.requests} calls per run, database {engine_name}")
        asyncio.run(_bench(args, db_url))


if __name__ == "__main__":
    main()
