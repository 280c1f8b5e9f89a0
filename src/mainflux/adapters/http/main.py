"""``mainflux-http``: the HTTP adapter as its own process (or several sharing the port).

Settings (Mainflux's names, the docker defaults):

==============================  =======================  ===================================
``MF_HTTP_ADAPTER_PORT``        8185                     listening port
``MF_HTTP_ADAPTER_HOST``        0.0.0.0                  listening address
``MF_NATS_URL``                 nats://localhost:4222    the message bus
``MF_THINGS_AUTH_GRPC_URL``     localhost:8183           things' gRPC access service
``MF_THINGS_AUTH_GRPC_TIMEOUT`` 1                        seconds per access call
``MF_THINGS_ES_URL``            (unset)                  Redis ``host:port`` of the things
                                                         events (``_PASS``, ``_DB`` too);
                                                         when unset the access cache relies
                                                         on its max age only
``MF_HTTP_ADAPTER_MAX_BODY``    1048576                  largest body in bytes (413 above)
``MF_HTTP_ADAPTER_WORKERS``     1                        processes sharing the port
                                                         (``SO_REUSEPORT``)
``MF_HTTP_ADAPTER_CACHE_MAX_AGE`` 1                      seconds an access answer is reused
``MF_HTTP_ADAPTER_LOG_LEVEL``   info                     debug, info, warn, error
``MF_HTTP_ADAPTER_CLIENT_TLS``  false                    TLS to things' gRPC service
``MF_HTTP_ADAPTER_CA_CERTS``    (unset: system roots)    PEM bundle trusted for it
``MF_HTTP_ADAPTER_SERVER_CERT`` (unset)                  PEM certificate chain and key:
``MF_HTTP_ADAPTER_SERVER_KEY``                           both set = HTTPS
==============================  =======================  ==================================="""

from __future__ import annotations

import asyncio
import contextlib
import functools
import multiprocessing
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass

from mainflux.adapters.access import CachedThingAccess
from mainflux.adapters.http.api import DEFAULT_MAX_BODY, create_app
from mainflux.core import runner
from mainflux.core.config import ConfigError, env, env_float, env_int, env_port, redis_url
from mainflux.core.errors import ServiceUnavailable
from mainflux.core.tls import ClientTLS, ServerTLS, client_tls, server_tls
from mainflux.events.redis import RedisEventStream
from mainflux.messaging.nats import NatsBus

LOG_LEVEL = "MF_HTTP_ADAPTER_LOG_LEVEL"


@dataclass(frozen=True, slots=True)
class AccessSettings:
    """Where an adapter asks about thing keys, and how long it may reuse answers."""

    grpc_url: str
    grpc_timeout: float
    es_url: str  # "" = no event stream
    max_age: float
    tls: ClientTLS | None = None

    @classmethod
    def from_env(cls, cache_var: str, tls_prefix: str = "HTTP_ADAPTER") -> AccessSettings:
        """Read ``MF_THINGS_AUTH_GRPC_*``, ``MF_THINGS_ES_*``, ``cache_var`` and
        ``MF_<tls_prefix>_CLIENT_TLS``/``_CA_CERTS``."""
        return cls(
            grpc_url=env("MF_THINGS_AUTH_GRPC_URL", "localhost:8183"),
            grpc_timeout=env_float("MF_THINGS_AUTH_GRPC_TIMEOUT", 1.0, minimum=0.001),
            es_url=redis_url("MF_THINGS_ES") if env("MF_THINGS_ES_URL") else "",
            max_age=env_float(cache_var, 1.0),
            tls=client_tls(tls_prefix),
        )


@dataclass(frozen=True, slots=True)
class Settings:
    """The HTTP adapter's settings, read once."""

    host: str
    port: int
    nats_url: str
    access: AccessSettings
    max_body: int
    workers: int
    tls: ServerTLS | None = None

    @classmethod
    def from_env(cls) -> Settings:
        """Read every setting; raises ``ConfigError`` naming a bad one."""
        return cls(
            host=env("MF_HTTP_ADAPTER_HOST", "0.0.0.0"),
            port=env_port("MF_HTTP_ADAPTER_PORT", 8185),
            nats_url=env("MF_NATS_URL", "nats://localhost:4222"),
            access=AccessSettings.from_env("MF_HTTP_ADAPTER_CACHE_MAX_AGE"),
            max_body=env_int("MF_HTTP_ADAPTER_MAX_BODY", DEFAULT_MAX_BODY, minimum=0),
            workers=env_int("MF_HTTP_ADAPTER_WORKERS", 1, minimum=1, maximum=64),
            tls=server_tls("HTTP_ADAPTER"),
        )


async def connect_bus(url: str, name: str) -> NatsBus:
    """Connect to NATS or stop start-up naming ``MF_NATS_URL``."""
    try:
        return await NatsBus.connect(url, name=name)
    except ServiceUnavailable as exc:
        raise runner.StartupError(f"MF_NATS_URL: {exc}") from None


@contextlib.asynccontextmanager
async def open_access(settings: AccessSettings) -> AsyncIterator[CachedThingAccess]:
    """The cached gRPC thing access, with its invalidation task running."""
    from mainflux.things.client import GrpcThingAccess  # the things service's client

    inner = GrpcThingAccess(settings.grpc_url, settings.grpc_timeout, tls=settings.tls)
    events = RedisEventStream(settings.es_url) if settings.es_url else None
    access = CachedThingAccess(inner, events, max_age=settings.max_age)
    tail = asyncio.create_task(access.run(), name="access-cache")
    try:
        yield access
    finally:
        tail.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await tail
        if events is not None:
            await events.close()
        close = getattr(inner, "close", None)
        if close is not None:
            await close()


def bind_shared(host: str, port: int, setting: str) -> socket.socket:
    """Bind a listening socket with ``SO_REUSEPORT`` so sibling workers share the port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise runner.StartupError(
            f"{setting}: cannot listen on {host}:{port}: {exc.strerror}"
        ) from None
    sock.listen(2048)
    sock.setblocking(False)
    return sock


async def serve(settings: Settings, stop: asyncio.Event, *, shared: bool = False) -> None:
    """Run one adapter process until ``stop`` is set."""
    bind = bind_shared if shared else runner.bind_socket
    sock = bind(settings.host, settings.port, "MF_HTTP_ADAPTER_PORT")
    bus = await connect_bus(settings.nats_url, "http-adapter")
    try:
        async with open_access(settings.access) as access:
            app = create_app(access, bus, max_body=settings.max_body)
            ssl = settings.tls.ssl_context() if settings.tls else None
            server = asyncio.create_task(runner.serve_http(app, sock, name="http", ssl=ssl))
            runner.tune_garbage_collector()
            runner.log.info("http adapter listening on %s:%d", settings.host, settings.port)
            await runner.until_stopped(stop, server)
    finally:
        await bus.close()
        sock.close()


def _worker(settings: Settings) -> None:
    runner.run(functools.partial(serve, settings, shared=True), level_var=LOG_LEVEL)


def _supervise(settings: Settings) -> int:
    """Start ``settings.workers`` processes on the shared port; stop them all together."""
    try:
        bind_shared(settings.host, settings.port, "MF_HTTP_ADAPTER_PORT").close()
    except runner.StartupError as exc:
        print(f"mainflux: {exc}", file=sys.stderr)
        return 2
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_worker, args=(settings,)) for _ in range(settings.workers)]
    for worker in workers:
        worker.start()

    def stop_all(*_: object) -> None:
        for worker in workers:
            if worker.is_alive() and worker.pid is not None:
                os.kill(worker.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop_all)
    signal.signal(signal.SIGINT, stop_all)
    code = 0
    remaining = list(workers)
    while remaining:
        for worker in list(remaining):
            worker.join(0.2)
            if worker.exitcode is not None:
                remaining.remove(worker)
                if worker.exitcode != 0 and code == 0:
                    code = worker.exitcode if worker.exitcode > 0 else 1
                    stop_all()
    return code


def main() -> None:
    """Entry point of ``mainflux-http``."""
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"mainflux: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    if settings.workers == 1:
        runner.run(functools.partial(serve, settings), level_var=LOG_LEVEL)
    raise SystemExit(_supervise(settings))


if __name__ == "__main__":
    main()
