"""Real servers for the tests: private Redis and NATS processes, private PostgreSQL databases.

Nothing here is faked. A missing server binary or an unreachable PostgreSQL is a test
failure with a message saying what to run (``make test`` sets everything up)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import pytest
import uvicorn
from starlette.types import ASGIApp

PG_ADMIN = os.environ.get(
    "MF_TEST_POSTGRES", "postgresql://mainflux:mainflux@127.0.0.1:5432/postgres"
)


def free_port() -> int:
    """A TCP port that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    """Wait until something accepts TCP connections on ``port``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


async def until(
    condition: Callable[[], object | Awaitable[object]], what: str, timeout: float = 10.0
) -> None:
    """Wait, letting the event loop run, until ``condition()`` holds (it may be a coroutine
    function); fail naming ``what`` when it still does not after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        held = condition()
        if inspect.isawaitable(held):
            held = await held
        if held:
            return
        assert loop.time() < deadline, f"never happened within {timeout}s: {what}"
        await asyncio.sleep(0.01)


def wait_until(condition: Callable[[], object], what: str, timeout: float = 10.0) -> None:
    """Block until ``condition()`` holds (it is checked every 20 ms); fail naming ``what``
    when it still does not after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"never happened within {timeout}s: {what}"
        time.sleep(0.02)


@asynccontextmanager
async def serving(app: ASGIApp, **options: Any) -> AsyncIterator[int]:
    """Serve ``app`` with uvicorn on a free local port inside the block; yield the port.

    ``options`` go to :class:`uvicorn.Config`; the server's log records reach pytest's
    log capture. The block starts once the server has started (lifespan included)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    config = uvicorn.Config(app, log_level="warning", log_config=None, lifespan="on", **options)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await until(lambda: server.started or task.done(), "the uvicorn server started")
        assert not task.done(), "the uvicorn server stopped before it started"
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        await task
        sock.close()


def _binary(name: str) -> str:
    path = shutil.which(name) or (
        f"/usr/sbin/{name}" if os.path.exists(f"/usr/sbin/{name}") else None
    )
    if path is None:
        pytest.fail(f"{name} is not installed: run `make test` (scripts/services.sh installs it)")
    return path


class RedisServer:
    """A throw-away Redis (no persistence) on a free port that tests may stop and restart."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                _binary("redis-server"),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


@contextmanager
def redis_server() -> Iterator[str]:
    """Start a throw-away Redis on a free port; yield its URL."""
    with restartable_redis() as server:
        yield server.url


@contextmanager
def restartable_redis() -> Iterator[RedisServer]:
    """Start a throw-away Redis on a free port; yield it (it may be stopped and restarted)."""
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


class NatsServer:
    """A NATS server on a free port that tests may stop and restart; with JetStream
    unless ``jetstream`` is False (as Go Mainflux 0.11 deployments run it)."""

    def __init__(self, *, jetstream: bool = True) -> None:
        self.jetstream = jetstream
        self.port = free_port()
        self.store = tempfile.mkdtemp(prefix="mf-nats-")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                _binary("nats-server"),
                "-a",
                "127.0.0.1",
                "-p",
                str(self.port),
                *(["-js", "-sd", self.store] if self.jetstream else []),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None

    def kill(self) -> None:
        """SIGKILL the server (nothing flushed, nothing said to clients)."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None


@contextmanager
def nats_server(*, jetstream: bool = True) -> Iterator[NatsServer]:
    """Start a throw-away NATS server (with JetStream unless told otherwise); yield it."""
    server = NatsServer(jetstream=jetstream)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.store, ignore_errors=True)


def _pg_connect(dsn: str):  # type: ignore[no-untyped-def]
    import asyncio

    import asyncpg

    async def run(sql: str) -> None:
        try:
            conn = await asyncpg.connect(dsn, timeout=5)
        except Exception as exc:
            pytest.fail(
                f"PostgreSQL at {dsn} is unreachable ({exc}); run `make test`, "
                "which starts it and creates the mainflux role"
            )
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    def execute(sql: str) -> None:
        # A thread of its own, so this also works from inside a running event loop.
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, run(sql)).result()

    return execute


@contextmanager
def postgres_database() -> Iterator[str]:
    """Create a private PostgreSQL database; yield its asyncpg URL; drop it after."""
    name = f"mft_{uuid.uuid4().hex[:12]}"
    execute = _pg_connect(PG_ADMIN)
    execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
