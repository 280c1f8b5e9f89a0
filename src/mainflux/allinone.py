"""The all-in-one composition root: every service in one process (``mainflux run``).

Embedded defaults need nothing installed: SQLite in the data directory, the event log
in the same database, the in-process bus and in-process calls between services. Each
is replaced by the real engine when its URL is set (``MF_DB_URL``, ``MF_REDIS_URL``,
``MF_NATS_URL``; on NATS the message writer is ``mainflux-postgres-writer``'s durable
JetStream consumer, storing into the all-in-one's database). This module only wires;
the services live in their packages."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack
from typing import Final

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Receive, Scope, Send

from mainflux import __version__
from mainflux import settings as config
from mainflux.adapters.access import CachedThingAccess
from mainflux.adapters.coap import open_server as open_coap_server
from mainflux.adapters.http.api import DEFAULT_MAX_BODY
from mainflux.adapters.http.api import create_app as create_http_app
from mainflux.adapters.live import DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS_PER_THING
from mainflux.adapters.mqtt.adapter import MqttAdapter, build_adapter
from mainflux.adapters.mqtt.events import STREAM as MQTT_STREAM
from mainflux.adapters.mqtt.settings import MqttSettings
from mainflux.adapters.mqtt.state import open_state
from mainflux.adapters.ws import create_app as create_ws_app
from mainflux.authn import main as authn_main
from mainflux.authn.api import create_app as create_authn_app
from mainflux.bootstrap import crypto as bootstrap_crypto
from mainflux.bootstrap import main as bootstrap_main
from mainflux.bootstrap.api import create_app as create_bootstrap_app
from mainflux.bootstrap.events import STREAM as BOOTSTRAP_STREAM
from mainflux.bootstrap.things import HttpThingsClient
from mainflux.console.allinone import console_config
from mainflux.console.app import create_app as create_console_app
from mainflux.console.app import running as console_running
from mainflux.core import runner
from mainflux.core.auth import UserAuth
from mainflux.core.config import env, env_int
from mainflux.core.datadir import (
    DIR_MODE,
    DataDirError,
    DataDirLock,
    create_private,
    make_private,
)
from mainflux.core.db import create_engine, sqlite_url
from mainflux.core.health import database_probe, nats_probe, ping_probe, watching
from mainflux.core.redact import redact_text
from mainflux.core.settings import load
from mainflux.events.redis import RedisEventStream
from mainflux.events.retention import keep_trimmed
from mainflux.events.sql import SqlEventStream
from mainflux.events.stream import EventStream
from mainflux.gateway import Gateway, GatewayApps
from mainflux.messaging.bus import Bus
from mainflux.messaging.inproc import InProcessBus
from mainflux.messaging.nats import NatsBus
from mainflux.provision import main as provision_main
from mainflux.provision.api import create_app as create_provision_app
from mainflux.provision.client import HttpPlatform
from mainflux.provision.settings import ProvisionSettings
from mainflux.readers.api import create_app as create_reader_app
from mainflux.readers.sql import SQLReader
from mainflux.storage.migrate import migrate_messages
from mainflux.things import main as things_main
from mainflux.things.api import create_app as create_things_app
from mainflux.things.cache import InMemoryAccessCache, RedisAccessCache
from mainflux.things.events import STREAM as THINGS_STREAM
from mainflux.users import main as users_main
from mainflux.users.api import create_app as create_users_app
from mainflux.users.email import OutboxEmailer
from mainflux.writers.jetstream import JetStreamWriter
from mainflux.writers.settings import WriterSettings
from mainflux.writers.sink import MessageSink
from mainflux.writers.store import open_store
from mainflux.writers.writer import DurableWriter, build_writer

log = logging.getLogger("mainflux")

#: The process's umask: what it creates (database, secret, mails) is its owner's only.
UMASK: Final = 0o077


def _claim_data_dir(settings: config.AllInOneSettings) -> DataDirLock:
    """Make the data directory private (repairing modes, with a notice) and lock it, so
    a second ``mainflux run`` on it stops; the caller releases the lock."""
    try:
        changed = make_private(settings.data_dir)
        lock = DataDirLock(settings.data_dir)
        lock.acquire()
    except DataDirError as exc:
        raise runner.StartupError(f"MF_DATA_DIR: {exc}") from None
    if changed:
        log.warning(
            "MF_DATA_DIR: %s: took group and other access away from %d path(s) "
            "(directories are now 0700, files 0600)",
            settings.data_dir,
            len(changed),
        )
    try:
        settings.mail_dir.mkdir(mode=DIR_MODE, exist_ok=True)
        if not settings.db_url:
            create_private(settings.sqlite_path)  # SQLite gives -wal/-shm the same mode
    except OSError as exc:
        lock.release()
        raise runner.StartupError(f"MF_DATA_DIR: {settings.data_dir}: {exc.strerror}") from None
    return lock


async def _event_stream(
    settings: config.AllInOneSettings, stack: AsyncExitStack, engine
) -> RedisEventStream | SqlEventStream:  # type: ignore[no-untyped-def]
    if settings.redis_url:
        redis = RedisEventStream(settings.redis_url)
        stack.push_async_callback(redis.close)
        try:
            await redis.ping()
        except Exception as exc:
            reason = redact_text(runner.first_line(exc))
            raise runner.StartupError(f"MF_REDIS_URL: cannot reach Redis: {reason}") from None
        return redis
    sql = SqlEventStream(engine)
    await sql.create_schema()
    return sql


async def _bus(settings: config.AllInOneSettings) -> Bus:
    if not settings.nats_url:
        bus: Bus = InProcessBus()
    else:
        try:
            bus = await NatsBus.connect(settings.nats_url, name="mainflux-allinone")
        except Exception as exc:
            reason = redact_text(runner.first_line(exc))
            raise runner.StartupError(f"MF_NATS_URL: cannot reach NATS: {reason}") from None
    return bus


async def _start_writer(
    settings: config.AllInOneSettings, engine: AsyncEngine, bus: Bus, stack: AsyncExitStack
) -> DurableWriter | JetStreamWriter:
    """The message writer, storing into the all-in-one's database; closes ``bus`` too.

    On the in-process bus, a durable subscriber (publishers wait for the commit). On
    NATS, the durable JetStream consumer of ``mainflux-postgres-writer`` under its own
    name (``MF_POSTGRES_WRITER_DURABLE``, default ``mainflux-allinone``), so what is
    published while the process is down is stored once it is back."""
    writer_settings = load(WriterSettings)
    if isinstance(bus, NatsBus):
        stack.push_async_callback(bus.close)  # after the writer: it pulls through the bus
        sink = MessageSink(open_store(engine), writer_settings.content_type)
        jetstream = JetStreamWriter(
            bus.client,
            sink,
            writer_settings,
            settings.writer_jetstream,
            settings.writer_durable,
            nats_url=settings.nats_url,
            name="the all-in-one's writer",
        )
        await jetstream.start()
        stack.push_async_callback(jetstream.close)
        return jetstream
    assert isinstance(bus, InProcessBus)  # _bus() makes one or the other
    writer = build_writer(engine, bus, writer_settings)
    await writer.start()
    stack.push_async_callback(writer.close)
    # Runs before the writer closes: the bus hands over what it still holds first.
    stack.push_async_callback(bus.close)
    return writer


@contextlib.asynccontextmanager
async def _task(coro, name: str) -> AsyncIterator[asyncio.Task]:  # type: ignore[no-untyped-def]
    task = asyncio.create_task(coro, name=name)
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


async def serve(stop: asyncio.Event, settings: config.AllInOneSettings) -> None:
    """Run every service until ``stop`` is set.

    The data directory is made private and locked first (see :func:`_claim_data_dir`)."""
    async with AsyncExitStack() as stack:
        stack.callback(_claim_data_dir(settings).release)
        secret = config.ensure_secret(settings)
        bootstrap_key = bootstrap_crypto.parse_key(config.ensure_bootstrap_key(settings))
        gateway_sock = runner.bind_socket(settings.host, settings.gateway_port, "MF_GATEWAY_PORT")
        stack.callback(gateway_sock.close)
        try:
            engine = create_engine(settings.db_url or sqlite_url(settings.sqlite_path))
        except (ValueError, sa.exc.ArgumentError) as exc:
            reason = redact_text(runner.first_line(exc))
            raise runner.StartupError(f"MF_DB_URL: cannot use the URL: {reason}") from None
        stack.push_async_callback(engine.dispose)
        try:
            authn = await authn_main.build_service(engine, secret)
        except (OSError, sa.exc.SQLAlchemyError) as exc:
            reason = redact_text(runner.first_line(exc))
            raise runner.StartupError(f"MF_DB_URL: cannot use the database: {reason}") from None
        events = await _event_stream(settings, stack, engine)
        users = await users_main.build_service(
            engine,
            authn,
            OutboxEmailer(str(settings.mail_dir)),
            reset_url=settings.reset_url,
        )
        stack.push_async_callback(users.drain)  # reset mails still pending at Ctrl-C
        cache = (
            RedisAccessCache(settings.redis_url, ttl=settings.cache_ttl)
            if settings.redis_url
            else InMemoryAccessCache()
        )
        stack.push_async_callback(cache.close)
        things = await things_main.build_service(engine, authn, events, cache)
        bus = await _bus(settings)
        access = CachedThingAccess(things, events)
        await stack.enter_async_context(_task(access.run(), "access-cache"))

        await migrate_messages(engine)
        writer = await _start_writer(settings, engine, bus, stack)

        mqtt = await _start_mqtt(settings, access, bus, events, engine, stack)
        streams = [THINGS_STREAM, BOOTSTRAP_STREAM, MQTT_STREAM]
        trimming = keep_trimmed(events, streams, settings.events_retention)
        await stack.enter_async_context(_task(trimming, "event-retention"))
        await _start_coap(settings, access, bus, stack)

        # The console and provision call the platform's APIs through the gateway itself,
        # in process.
        to_gateway = _Forward()
        console = console_config(to_gateway, events, settings.mqtt_port)
        await stack.enter_async_context(console_running(console))
        things_app = create_things_app(things)
        bootstrap_app = await _start_bootstrap(
            bootstrap_key, engine, authn, things_app, events, stack
        )
        provision_app = await _start_provision(to_gateway, stack)

        gateway = Gateway(
            GatewayApps(
                users=create_users_app(users),
                authn=create_authn_app(authn),
                things=things_app,
                bootstrap=bootstrap_app,
                provision=provision_app,
                http=create_http_app(
                    access,
                    bus,
                    max_body=env_int("MF_HTTP_ADAPTER_MAX_BODY", DEFAULT_MAX_BODY, minimum=0),
                ),
                ws=create_ws_app(
                    access,
                    bus,
                    max_connections=env_int(
                        "MF_WS_ADAPTER_MAX_CONNECTIONS", DEFAULT_MAX_CONNECTIONS, minimum=1
                    ),
                    max_connections_per_thing=env_int(
                        "MF_WS_ADAPTER_MAX_CONNECTIONS_PER_THING",
                        DEFAULT_MAX_CONNECTIONS_PER_THING,
                        minimum=1,
                    ),
                ),
                mqtt_ws=mqtt.create_ws_app() if mqtt is not None else None,
                reader=create_reader_app(SQLReader(engine), access, things),
                console=create_console_app(console, own_lifespan=False),
                about=_about(settings),
            )
        )
        to_gateway.app = gateway
        nats = getattr(bus, "client", None)  # None: the in-process bus
        stack.enter_context(
            watching(
                {
                    "database": database_probe(engine),
                    "nats": nats_probe(nats) if nats is not None else None,
                    "event stream": ping_probe(events) if settings.redis_url else None,
                }
            )
        )
        runner.tune_garbage_collector()
        _announce(settings)
        tls = settings.gateway_tls.ssl_context() if settings.gateway_tls else None
        server = asyncio.create_task(
            runner.serve_http(gateway, gateway_sock, name="gateway", ssl=tls)
        )
        await runner.until_stopped(stop, server)
        log.info("stopping: %d messages pending in the writer", writer.pending)


async def _start_bootstrap(
    key: bytes,
    engine: AsyncEngine,
    authn: UserAuth,
    things_app: ASGIApp,
    events: RedisEventStream | SqlEventStream,
    stack: AsyncExitStack,
) -> ASGIApp:
    """The bootstrap service (secure answers encrypted with ``key``): it calls the things
    app in-process (an ASGI transport, no socket) and follows ``mainflux.things`` in a
    consumer group of ``events``."""
    things = HttpThingsClient("http://things", transport=httpx.ASGITransport(app=things_app))
    stack.push_async_callback(things.close)
    service, repo = await bootstrap_main.build_service(engine, authn, things, events, key)
    sync = bootstrap_main.build_sync(repo, events, consumer="mainflux-allinone")
    await sync.prepare()
    stopping = asyncio.Event()
    stack.callback(stopping.set)
    await stack.enter_async_context(_task(sync.run(stopping), "bootstrap-sync"))
    return create_bootstrap_app(service, key)


class _Forward:
    """An ASGI app that passes everything to ``app``, set once the gateway exists."""

    app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None, "the gateway is not built yet"
        await self.app(scope, receive, send)


async def _start_provision(gateway: ASGIApp, stack: AsyncExitStack) -> ASGIApp:
    """Provision with its ``MF_PROVISION_*`` template settings; it calls users, things
    and bootstrap through the gateway in-process, with the caller's token."""
    provision_settings = load(ProvisionSettings)
    platform = HttpPlatform(
        "http://gateway",
        "http://gateway",
        "http://gateway/things",
        transport=httpx.ASGITransport(app=gateway),
    )
    stack.push_async_callback(platform.close)
    return create_provision_app(provision_main.build_service(provision_settings, platform))


async def _start_mqtt(
    settings: config.AllInOneSettings,
    access: CachedThingAccess,
    bus: Bus,
    events: EventStream,
    engine: AsyncEngine,
    stack: AsyncExitStack,
) -> MqttAdapter:
    """The MQTT broker on its own port; MQTT over WebSocket rides the gateway's ``/mqtt``.
    Its sessions and retained messages live in the platform's database unless
    ``MF_MQTT_ADAPTER_STATE_URL`` says otherwise."""
    mqtt_settings = dataclasses.replace(
        MqttSettings.from_env(),
        host=settings.host,
        mqtt_port=settings.mqtt_port,
        ws_port=None,
        instance=env("MF_MQTT_ADAPTER_INSTANCE", "mainflux-allinone"),
    )
    state = await open_state(mqtt_settings.state_url, mqtt_settings.instance, engine=engine)
    adapter = build_adapter(access, bus, events, mqtt_settings, state=state)
    await adapter.start()
    stack.push_async_callback(adapter.stop)
    return adapter


def _about(settings: config.AllInOneSettings) -> dict[str, object]:
    """What ``GET /.well-known/mainflux`` tells clients about this platform."""
    return {
        "version": __version__,
        "http_prefix": "/http",
        "ws_prefix": "/ws",
        "mqtt_port": settings.mqtt_port,
        "mqtt_ws_path": "/mqtt",
        "coap_port": settings.coap_port,
    }


async def _start_coap(
    settings: config.AllInOneSettings,
    access: CachedThingAccess,
    bus: Bus,
    stack: AsyncExitStack,
) -> None:
    """The CoAP adapter on its own UDP port (``MF_COAP_ADAPTER_*`` bounds apply)."""
    tuning = settings.coap_observe.tuning(settings.coap_max_payload)
    try:
        await stack.enter_async_context(
            open_coap_server(access, bus, settings.host, settings.coap_port, tuning)
        )
    except OSError as exc:
        raise runner.StartupError(
            f"MF_COAP_ADAPTER_PORT: cannot listen on UDP {settings.host}:{settings.coap_port}: "
            f"{exc.strerror or exc}"
        ) from None


def _where(url: str, engine: str, default: str) -> str:
    """``engine host:port`` of a URL without its credentials, or ``default``."""
    return f"{engine} {url.split('@')[-1]}" if url else default


def _announce(settings: config.AllInOneSettings) -> None:
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    secure = "s" if settings.gateway_tls else ""
    base = f"http{secure}://{host}:{settings.gateway_port}"
    storage = _where(settings.db_url, "PostgreSQL", f"SQLite {settings.sqlite_path}")
    lines = [
        "Mainflux is running (all-in-one). Interfaces:",
        f"  HTTP API     {base}  (/users /tokens /password /keys /things /channels /connect)",
        f"  Bootstrap    {base}/things/configs  (devices: /things/bootstrap/<external_id>)",
        f"  Provision    {base}/mapping (POST)",
        f"  HTTP publish {base}/http/channels/<id>/messages",
        f"  WebSocket    ws{secure}://{host}:{settings.gateway_port}/ws/channels/<id>/messages",
        f"  MQTT         mqtt://{host}:{settings.mqtt_port}  (over WebSocket: "
        f"ws{secure}://{host}:{settings.gateway_port}/mqtt)",
        f"  CoAP         coap://{host}:{settings.coap_port}/channels/<id>/messages"
        "?authorization=<key>",
        f"  Messages     {base}/channels/<id>/messages (GET)",
        f"  Console      {base}/  (the web console)",
        f"  Storage      {storage}",
        f"  Events       {_where(settings.redis_url, 'Redis', 'embedded log')}",
        f"  Bus          {_where(settings.nats_url, 'NATS', 'in-process')}",
        "Press Ctrl-C to stop.",
    ]
    print("\n".join(lines), flush=True)


def main(overrides: Mapping[str, str | int | None] | None = None) -> None:
    """Entry point of ``mainflux run``: read settings, then serve until Ctrl-C."""

    async def _run(stop: asyncio.Event) -> None:
        await serve(stop, config.load(overrides))

    os.umask(UMASK)
    runner.run(_run)
