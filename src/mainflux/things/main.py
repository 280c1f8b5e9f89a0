"""The ``mainflux-things`` process: management HTTP, auth HTTP and gRPC faces.

Configured by Mainflux's ``MF_THINGS_*`` variables (``mainflux-things --help`` lists
them with their defaults); stores in PostgreSQL, caches access answers in Redis (entries
expire after ``MF_THINGS_CACHE_TTL`` seconds), appends events to Redis Streams and
identifies users through the authn service over gRPC (or a single fixed user). With
``MF_THINGS_SERVER_CERT`` and ``MF_THINGS_SERVER_KEY`` set, all three faces speak TLS;
``MF_THINGS_CLIENT_TLS``/``MF_THINGS_CA_CERTS`` (or, when unset,
``MF_AUTHN_CLIENT_TLS``/``MF_AUTHN_CA_CERTS``) make the authn client use TLS.
:func:`build_service` is the part the all-in-one process reuses."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import socket
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from mainflux.core.auth import UserAuth
from mainflux.core.config import ConfigError
from mainflux.core.db import create_engine, migrate
from mainflux.core.errors import ServiceUnavailable
from mainflux.core.health import (
    PROBE_KEY,
    answering_probe,
    database_probe,
    ping_probe,
    watching,
)
from mainflux.core.runner import StartupError, bind_socket, run, serve_http, until_stopped
from mainflux.core.settings import (
    client_tls_setting,
    from_command_line,
    log_level_setting,
    nested,
    port_setting,
    postgres_setting,
    redis_setting,
    server_tls_setting,
    setting,
)
from mainflux.core.tls import ClientTLS, ServerTLS
from mainflux.events.retention import RetentionSettings, keep_trimmed
from mainflux.events.stream import EventStream
from mainflux.things.api import DEFAULT_MAX_BULK, MAX_BULK_VAR, create_app
from mainflux.things.authapi import create_auth_app
from mainflux.things.cache import DEFAULT_TTL
from mainflux.things.events import STREAM, EventingThingsService
from mainflux.things.grpc import start_grpc_server
from mainflux.things.ports import AccessCache
from mainflux.things.service import Service, ThingsService
from mainflux.things.singleuser import SingleUserAuth
from mainflux.things.store import SqlThingsRepository

HOST: Final = "0.0.0.0"
SUMMARY: Final = (
    "The things service: things, channels and their connections (HTTP), and the access "
    "checks adapters ask (auth HTTP and gRPC), backed by PostgreSQL and Redis."
    "\nEvery HTTP port also follows the MF_HTTP_* limits (see docs/http.md)."
)
log = logging.getLogger("mainflux.things")


@dataclass(frozen=True, slots=True)
class Settings:
    """Every setting of ``mainflux-things``, read once from the environment (see
    :func:`mainflux.core.settings.load`)."""

    http_port: int = port_setting("MF_THINGS_HTTP_PORT", 8182, "management HTTP port")
    auth_http_port: int = port_setting("MF_THINGS_AUTH_HTTP_PORT", 8989, "auth HTTP port")
    auth_grpc_port: int = port_setting("MF_THINGS_AUTH_GRPC_PORT", 8183, "auth gRPC port")
    db_url: str = postgres_setting("THINGS", "things")
    cache_url: str = redis_setting("MF_THINGS_CACHE", "access cache")
    cache_ttl: int = setting(
        "MF_THINGS_CACHE_TTL", DEFAULT_TTL, "seconds an access cache entry lives", minimum=1
    )
    es_url: str = redis_setting("MF_THINGS_ES", "event stream")
    authn_url: str = setting("MF_AUTHN_GRPC_URL", "localhost:8181", "authn gRPC address")
    authn_timeout: float = setting(
        "MF_AUTHN_GRPC_TIMEOUT", 1.0, "seconds per call to authn", minimum=0.001
    )
    authn_tls: ClientTLS | None = client_tls_setting("THINGS", "AUTHN", peer="authn")
    single_user_email: str = setting(
        "MF_THINGS_SINGLE_USER_EMAIL", "", "single-user mode: the only user (no authn)"
    )
    single_user_token: str = setting(
        "MF_THINGS_SINGLE_USER_TOKEN", "", "single-user mode: that user's token", secret=True
    )
    max_bulk: int = setting(
        MAX_BULK_VAR, DEFAULT_MAX_BULK, "entities per bulk create or connect", minimum=1
    )
    tls: ServerTLS | None = server_tls_setting("THINGS", "all three faces over TLS")
    log_level: str = log_level_setting("MF_THINGS_LOG_LEVEL")
    retention: RetentionSettings = nested(RetentionSettings)

    def __post_init__(self) -> None:
        if bool(self.single_user_email) != bool(self.single_user_token):
            missing = (
                "MF_THINGS_SINGLE_USER_TOKEN"
                if self.single_user_email
                else "MF_THINGS_SINGLE_USER_EMAIL"
            )
            raise ConfigError(f"{missing}: single-user mode needs both its email and token")


async def build_service(
    engine: AsyncEngine, auth: UserAuth, events: EventStream | None, cache: AccessCache
) -> Service:
    """Migrate the things schema on ``engine`` and stack the service: the rules over
    the SQL repository and ``cache``, wrapped in event sourcing when ``events`` is
    given. The result is also the :class:`ThingAccess` and :class:`ChannelOwner`."""
    await migrate(engine, "things")
    service: Service = ThingsService(auth, SqlThingsRepository(engine), cache)
    return EventingThingsService(service, events) if events is not None else service


def _where(url: str) -> str:
    """``host:port`` of a URL, without credentials, for error messages."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)


def _user_auth(settings: Settings) -> UserAuth:
    if settings.single_user_email:
        return SingleUserAuth(settings.single_user_email, settings.single_user_token)
    from mainflux.authn.client import GrpcUserAuth

    return GrpcUserAuth(settings.authn_url, settings.authn_timeout, tls=settings.authn_tls)


async def _close(resource: Any) -> None:
    close = getattr(resource, "close", None)
    if close is not None:
        with contextlib.suppress(Exception):
            await close()


async def serve(stop: asyncio.Event, settings: Settings) -> None:
    """Run the things service until ``stop`` is set."""
    from mainflux.events.redis import RedisEventStream
    from mainflux.things.cache import RedisAccessCache

    sockets: list[socket.socket] = [
        bind_socket(HOST, settings.http_port, "MF_THINGS_HTTP_PORT"),
        bind_socket(HOST, settings.auth_http_port, "MF_THINGS_AUTH_HTTP_PORT"),
    ]
    engine = create_engine(settings.db_url)
    cache = RedisAccessCache(settings.cache_url, ttl=settings.cache_ttl)
    events = RedisEventStream(settings.es_url)
    auth = _user_auth(settings)
    grpc_server = None
    try:
        try:
            await cache.ping()
        except ServiceUnavailable:
            where = _where(settings.cache_url)
            raise StartupError(f"MF_THINGS_CACHE_URL: cannot reach Redis at {where}") from None
        try:
            await events.ping()
        except Exception:
            where = _where(settings.es_url)
            raise StartupError(f"MF_THINGS_ES_URL: cannot reach Redis at {where}") from None
        try:
            service = await build_service(engine, auth, events, cache)
        except (TimeoutError, OSError, sa.exc.SQLAlchemyError) as exc:
            where = _where(settings.db_url)
            raise StartupError(
                f"MF_THINGS_DB_HOST: cannot use the things database at {where}: "
                f"{type(exc).__name__}"
            ) from None
        grpc_server, grpc_port = await start_grpc_server(
            service, settings.auth_grpc_port, HOST, tls=settings.tls
        )
        ssl = settings.tls.ssl_context() if settings.tls else None
        log.info(
            "things HTTP on port %d, auth HTTP on port %d, gRPC on port %d%s",
            settings.http_port,
            settings.auth_http_port,
            grpc_port,
            " (TLS)" if settings.tls else "",
        )
        watched = watching(
            {
                "database": database_probe(engine),
                "cache": ping_probe(cache),
                "event stream": ping_probe(events),
                "authn": None
                if settings.single_user_email
                else answering_probe(
                    functools.partial(auth.identify, PROBE_KEY), down=ServiceUnavailable
                ),
            }
        )
        with watched:
            await until_stopped(
                stop,
                asyncio.create_task(
                    serve_http(
                        create_app(service, max_bulk=settings.max_bulk),
                        sockets[0],
                        name="things",
                        ssl=ssl,
                    )
                ),
                asyncio.create_task(
                    serve_http(create_auth_app(service), sockets[1], name="things-auth", ssl=ssl)
                ),
                asyncio.create_task(keep_trimmed(events, [STREAM], settings.retention)),
            )
    finally:
        if grpc_server is not None:
            await grpc_server.stop(2)
        for resource in (auth, cache, events):
            await _close(resource)
        await engine.dispose()
        for sock in sockets:
            sock.close()


def main() -> None:
    """Entry point of ``mainflux-things``: ``--help`` lists its variables."""
    settings = from_command_line(Settings, "mainflux-things", SUMMARY)
    run(functools.partial(serve, settings=settings), level_var="MF_THINGS_LOG_LEVEL")


if __name__ == "__main__":
    main()
