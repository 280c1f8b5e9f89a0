"""The ``mainflux-bootstrap`` process.

Stores configs in PostgreSQL, identifies users through authn over gRPC, calls the
things HTTP API with the user's token (``MF_SDK_BASE_URL``), appends its events to
``mainflux.bootstrap`` on Redis (``MF_BOOTSTRAP_ES_URL``) and follows
``mainflux.things`` (``MF_THINGS_ES_URL``) in a consumer group. :func:`build_service`
and :func:`build_sync` are the parts the all-in-one process reuses."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from typing import Any, Final
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from mainflux.bootstrap import crypto
from mainflux.bootstrap.api import create_app
from mainflux.bootstrap.events import STREAM, EventingBootstrapService
from mainflux.bootstrap.ports import ThingsClient
from mainflux.bootstrap.service import DEFAULT_MAX_CHANNELS, BootstrapService, Service
from mainflux.bootstrap.settings import DEFAULT_ENCRYPT_KEY, LOG_LEVEL, PROG, SUMMARY, Settings
from mainflux.bootstrap.store import DEFAULT_MAX_UNKNOWN, SqlConfigRepository
from mainflux.bootstrap.sync import DEFAULT_RETRIES, ThingsEventSync
from mainflux.bootstrap.things import HttpThingsClient
from mainflux.core.auth import UserAuth
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
from mainflux.core.settings import from_command_line
from mainflux.events.retention import keep_trimmed
from mainflux.events.stream import ConsumerGroups, EventStream

HOST: Final = "0.0.0.0"
log = logging.getLogger("mainflux.bootstrap")


async def build_service(
    engine: AsyncEngine,
    auth: UserAuth,
    things: ThingsClient,
    events: EventStream | None,
    encrypt_key: bytes,
    *,
    max_channels: int = DEFAULT_MAX_CHANNELS,
    max_unknown: int = DEFAULT_MAX_UNKNOWN,
) -> tuple[Service, SqlConfigRepository]:
    """Migrate the bootstrap schema on ``engine`` and stack the service: the rules
    over the SQL repository, wrapped in event sourcing when ``events`` is given.
    Returns the service and its repository (for :func:`build_sync`)."""
    await migrate(engine, "bootstrap")
    repo = SqlConfigRepository(engine, max_unknown=max_unknown)
    service: Service = BootstrapService(auth, repo, things, encrypt_key, max_channels=max_channels)
    if events is not None:
        service = EventingBootstrapService(service, events)
    return service, repo


def build_sync(
    repo: SqlConfigRepository,
    groups: ConsumerGroups,
    *,
    consumer: str = "bootstrap",
    retries: int = DEFAULT_RETRIES,
) -> ThingsEventSync:
    """The consumer that keeps ``repo`` in step with ``mainflux.things``."""
    return ThingsEventSync(repo, groups, consumer=consumer, retries=retries)


def _where(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)


async def _close(resource: Any) -> None:
    close = getattr(resource, "close", None)
    if close is not None:
        with contextlib.suppress(Exception):
            await close()


async def serve(stop: asyncio.Event, settings: Settings) -> None:
    """Run the bootstrap service until ``stop`` is set."""
    from mainflux.authn.client import GrpcUserAuth
    from mainflux.events.redis import RedisEventStream

    sock = bind_socket(HOST, settings.port, "MF_BOOTSTRAP_PORT")
    engine = create_engine(settings.db_url)
    # Every bootstrap attempt appends, authenticated or not: the stream is trimmed.
    events = RedisEventStream(settings.es_url, maxlen=settings.es_maxlen)
    things_events = RedisEventStream(settings.things_es_url)
    auth = GrpcUserAuth(settings.authn_url, settings.authn_timeout, tls=settings.authn_tls)
    things = HttpThingsClient(
        settings.things_url.rstrip("/") + settings.things_prefix,
        timeout=settings.things_timeout,
    )
    try:
        for stream, variable, url in (
            (events, "MF_BOOTSTRAP_ES_URL", settings.es_url),
            (things_events, "MF_THINGS_ES_URL", settings.things_es_url),
        ):
            try:
                await stream.ping()
            except Exception:
                raise StartupError(f"{variable}: cannot reach Redis at {_where(url)}") from None
        try:
            service, repo = await build_service(
                engine,
                auth,
                things,
                events,
                crypto.parse_key(settings.encrypt_key),
                max_channels=settings.max_channels,
                max_unknown=settings.max_unknown,
            )
        except (TimeoutError, OSError, sa.exc.SQLAlchemyError) as exc:
            raise StartupError(
                f"MF_BOOTSTRAP_DB_HOST: cannot use the bootstrap database at "
                f"{_where(settings.db_url)}: {type(exc).__name__}"
            ) from None
        sync = build_sync(
            repo, things_events, consumer=settings.event_consumer, retries=settings.event_retries
        )
        try:
            await sync.prepare()
        except Exception:
            where = _where(settings.things_es_url)
            raise StartupError(
                f"MF_THINGS_ES_URL: cannot create the consumer group at {where}"
            ) from None
        app = create_app(service, crypto.parse_key(settings.encrypt_key))
        ssl = settings.tls.ssl_context() if settings.tls else None
        log.info("bootstrap HTTP on port %d%s", settings.port, " (TLS)" if settings.tls else "")
        if settings.encrypt_key == DEFAULT_ENCRYPT_KEY:
            log.warning(
                "MF_BOOTSTRAP_ENCRYPT_KEY is Mainflux's published default: secure bootstrap "
                "answers can be read by anyone; set a random key (e.g. openssl rand -hex 16)"
            )
        watched = watching(
            {
                "database": database_probe(engine),
                "event stream": ping_probe(events),
                "things event stream": ping_probe(things_events),
                "authn": answering_probe(
                    functools.partial(auth.identify, PROBE_KEY), down=ServiceUnavailable
                ),
            }
        )
        with watched:
            await until_stopped(
                stop,
                asyncio.create_task(serve_http(app, sock, name="bootstrap", ssl=ssl)),
                asyncio.create_task(sync.run(stop)),
                asyncio.create_task(keep_trimmed(events, [STREAM], settings.retention)),
            )
    finally:
        for resource in (auth, things, events, things_events):
            await _close(resource)
        await engine.dispose()
        sock.close()


def main() -> None:
    """Entry point of ``mainflux-bootstrap``: ``--help`` lists its variables."""
    settings = from_command_line(Settings, PROG, SUMMARY)
    run(functools.partial(serve, settings=settings), level_var=LOG_LEVEL)


if __name__ == "__main__":
    main()
