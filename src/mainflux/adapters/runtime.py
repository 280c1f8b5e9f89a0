"""What every protocol adapter's process shares: settings, thing access, bus.

Each adapter (HTTP, WebSocket, MQTT, CoAP) declares its settings with
:mod:`mainflux.core.settings` and takes the common parts from here:

- :class:`AdapterSettings`: what an adapter served over HTTP (HTTP, WebSocket) reads
  besides its own bounds: where it listens, its TLS, log level and HTTP bounds, the
  bus and its thing access. An adapter declares it as one field of its settings,
  named after its prefix (``MF_WS_ADAPTER_HOST``, ``MF_WS_ADAPTER_CACHE_MAX_AGE``...)::

      @dataclass(frozen=True, slots=True)
      class Settings:
          adapter: AdapterSettings = adapter_settings("WS_ADAPTER", 8186, serves="serve wss://")
          max_connections: int = setting(...)

  and :func:`serve_adapter` runs it: bind, connect the bus, open the access, serve.
- :class:`AccessSettings`: where thing keys are checked (``MF_THINGS_AUTH_GRPC_*``),
  how long a check waits for a slow things service (``MF_THINGS_AUTH_DEADLINE``),
  the things event stream that invalidates cached answers (``MF_THINGS_ES_*``), and the
  adapter's own cache age and client TLS. Those two carry the adapter's prefix
  (``MF_HTTP_ADAPTER_CACHE_MAX_AGE``, ``MF_MQTT_ADAPTER_CLIENT_TLS``): an adapter not
  declared with :func:`adapter_settings` declares a subclass with
  :func:`cache_max_age` and :func:`things_client_tls` (see the MQTT adapter's).
- field helpers for the bus URL (:func:`nats_url`) and the HTTP bounds
  (:func:`http_limits`), so ``--help`` lists every variable an adapter reads;
- :func:`open_access` (the cached thing access with its invalidation task) and
  :func:`connect_bus` (NATS, or a start-up error naming ``MF_NATS_URL``).

Binding a port is :func:`mainflux.core.runner.bind_socket` (``reuse_port=True`` for
processes sharing one)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from mainflux.adapters.access import CachedThingAccess
from mainflux.core import runner
from mainflux.core.auth import ThingAccess
from mainflux.core.config import env, redis_url
from mainflux.core.errors import ServiceUnavailable
from mainflux.core.health import (
    PROBE_KEY,
    answering_probe,
    nats_probe,
    ping_probe,
    watch,
    watching,
)
from mainflux.core.limits import HttpLimits
from mainflux.core.settings import (
    client_tls_setting,
    derived,
    load,
    log_level_setting,
    nested,
    port_setting,
    server_tls_setting,
    setting,
    variables,
)
from mainflux.core.tls import ClientTLS, ServerTLS
from mainflux.events.redis import RedisEventStream
from mainflux.messaging.nats import NatsBus

NATS_URL_VAR: Final = "MF_NATS_URL"
DEFAULT_NATS_URL: Final = "nats://localhost:4222"
T = TypeVar("T")


def _things_events_url(environ: Mapping[str, str]) -> str | None:
    """``redis://`` URL of the things events, or ``None`` when ``MF_THINGS_ES_URL`` is unset."""
    if not env("MF_THINGS_ES_URL", "", environ):
        return None
    return redis_url("MF_THINGS_ES", environ=environ)


@dataclass(frozen=True, slots=True)
class AccessSettings:
    """Where an adapter asks about thing keys, and how long it may reuse answers.

    Built directly (tests, the all-in-one) it has the defaults and no event stream;
    loaded, it reads the variables below (the subclass of an adapter adds its own)."""

    grpc_url: str = setting(
        "MF_THINGS_AUTH_GRPC_URL", "localhost:8183", "things' gRPC access service"
    )
    grpc_timeout: float = setting(
        "MF_THINGS_AUTH_GRPC_TIMEOUT", 1.0, "seconds per access call", minimum=0.001
    )
    #: ``redis://`` URL of the things event stream; ``None``: answers only expire.
    es_url: str | None = derived(
        _things_events_url,
        [
            (
                "MF_THINGS_ES_URL",
                "(unset)",
                "Redis host:port of the things events (unset: cached answers only expire)",
            ),
            ("MF_THINGS_ES_PASS", "(unset)", "its password"),
            ("MF_THINGS_ES_DB", "0", "its database"),
        ],
    )
    #: Seconds an access answer is reused (see :func:`cache_max_age`).
    max_age: float = 1.0
    #: TLS to the things gRPC service; ``None``: plain (see :func:`things_client_tls`).
    tls: ClientTLS | None = None
    deadline: float = setting(
        "MF_THINGS_AUTH_DEADLINE",
        30.0,
        "seconds an access check keeps asking a slow or unreachable things service "
        "before the client is told it is unavailable (0: ask once)",
        minimum=0,
    )


def cache_max_age(prefix: str) -> Any:
    """The ``max_age`` field of an adapter's :class:`AccessSettings`:
    ``MF_<prefix>_CACHE_MAX_AGE`` seconds (1)."""
    return setting(
        f"MF_{prefix}_CACHE_MAX_AGE", 1.0, "seconds an access answer is reused", minimum=0
    )


def things_client_tls(prefix: str) -> Any:
    """The ``tls`` field of an adapter's :class:`AccessSettings`:
    ``MF_<prefix>_CLIENT_TLS`` and ``MF_<prefix>_CA_CERTS``."""
    return client_tls_setting(prefix, peer="things' gRPC service")


def nats_url() -> Any:
    """The ``MF_NATS_URL`` field."""
    return setting(NATS_URL_VAR, DEFAULT_NATS_URL, "the message bus")


def http_limits() -> Any:
    """An :class:`~mainflux.core.limits.HttpLimits` field, read by its ``from_env``."""
    d = HttpLimits()
    return derived(
        HttpLimits.from_env,
        [
            (
                "MF_HTTP_MAX_HEADER_BYTES",
                str(d.max_header_bytes),
                "bytes of request line and headers (431 above; >= 1024)",
            ),
            ("MF_HTTP_MAX_HEADERS", str(d.max_headers), "header fields per request (431 above)"),
            (
                "MF_HTTP_REQUEST_TIMEOUT",
                f"{d.request_timeout:g}",
                "seconds a request may take to arrive (408 after)",
            ),
            (
                "MF_HTTP_IDLE_TIMEOUT",
                f"{d.idle_timeout:g}",
                "seconds a kept-alive connection may stay silent",
            ),
            (
                "MF_HTTP_MAX_CONNECTIONS",
                str(d.max_connections),
                "open connections per port, WebSockets included",
            ),
            (
                "MF_WS_MAX_FRAME",
                str(d.ws_max_size),
                "largest WebSocket message in bytes (closed with 1009 above)",
            ),
        ],
        default=d,
    )


@dataclass(frozen=True, slots=True)
class AdapterSettings:
    """What every adapter served over HTTP reads besides its own bounds (see
    :func:`adapter_settings`); built directly it has the defaults and port 0."""

    host: str = "0.0.0.0"
    port: int = 0
    nats_url: str = DEFAULT_NATS_URL
    access: AccessSettings = dataclasses.field(default_factory=AccessSettings)
    log_level: str = "info"
    tls: ServerTLS | None = None
    limits: HttpLimits = dataclasses.field(default_factory=HttpLimits)
    #: The adapter's variable prefix (``WS_ADAPTER``); ``MF_<prefix>_PORT`` names the port.
    prefix: str = ""

    @property
    def port_variable(self) -> str:
        """The variable naming the listening port, for start-up errors."""
        return f"MF_{self.prefix}_PORT"


def adapter_settings(prefix: str, default_port: int, *, serves: str = "HTTPS") -> Any:
    """The :class:`AdapterSettings` field of an adapter, read from ``MF_<prefix>_HOST``,
    ``MF_<prefix>_PORT`` (``default_port``), ``MF_NATS_URL``, the access variables
    with ``MF_<prefix>_CACHE_MAX_AGE`` and ``MF_<prefix>_CLIENT_TLS``/``_CA_CERTS``,
    ``MF_<prefix>_LOG_LEVEL``, ``MF_<prefix>_SERVER_CERT``/``_KEY`` (``serves`` says
    what they turn on) and the ``MF_HTTP_*`` bounds."""

    @dataclass(frozen=True, slots=True)
    class Access(AccessSettings):
        max_age: float = cache_max_age(prefix)
        tls: ClientTLS | None = things_client_tls(prefix)

    @dataclass(frozen=True, slots=True)
    class Declared(AdapterSettings):
        host: str = setting(f"MF_{prefix}_HOST", "0.0.0.0", "listening address")
        port: int = port_setting(f"MF_{prefix}_PORT", default_port, "listening port")
        nats_url: str = nats_url()
        access: AccessSettings = nested(Access)
        log_level: str = log_level_setting(f"MF_{prefix}_LOG_LEVEL")
        tls: ServerTLS | None = server_tls_setting(prefix, serves)
        limits: HttpLimits = http_limits()

    def build(environ: Mapping[str, str]) -> AdapterSettings:
        # plain instances of the module's classes, which cross a process boundary
        declared = load(Declared, environ)
        return dataclasses.replace(
            _plain(AdapterSettings, declared),
            access=_plain(AccessSettings, declared.access),
            prefix=prefix,
        )

    return derived(
        build, variables(Declared), default=AdapterSettings(port=default_port, prefix=prefix)
    )


def _plain(cls: type[T], value: Any) -> T:
    """``value`` (an instance of a subclass of ``cls``) as an instance of ``cls``."""
    return cls(**{f.name: getattr(value, f.name) for f in dataclasses.fields(cls)})  # type: ignore[arg-type]


async def serve_adapter(
    settings: AdapterSettings,
    name: str,
    create_app: Callable[[CachedThingAccess, NatsBus], Any],
    stop: asyncio.Event,
    *,
    reuse_port: bool = False,
) -> None:
    """Serve the ASGI app ``create_app(access, bus)`` as ``settings`` say until ``stop``
    is set; ``reuse_port``: one of several processes sharing the port."""
    sock = runner.bind_socket(
        settings.host, settings.port, settings.port_variable, reuse_port=reuse_port
    )
    try:
        bus = await connect_bus(settings.nats_url, f"{name}-adapter")
        try:
            async with open_access(settings.access) as access:
                ssl = settings.tls.ssl_context() if settings.tls else None
                server = asyncio.create_task(
                    runner.serve_http(
                        create_app(access, bus), sock, name=name, ssl=ssl, limits=settings.limits
                    )
                )
                runner.tune_garbage_collector()
                runner.log.info("%s adapter listening on %s:%d", name, settings.host, settings.port)
                with watching({"nats": nats_probe(bus.client)}):
                    await runner.until_stopped(stop, server)
        finally:
            await bus.close()
    finally:
        sock.close()


async def connect_bus(url: str, name: str) -> NatsBus:
    """Connect to NATS as ``name``, or stop start-up naming ``MF_NATS_URL``."""
    try:
        return await NatsBus.connect(url, name=name)
    except ServiceUnavailable as exc:
        raise runner.StartupError(f"{NATS_URL_VAR}: {exc}") from None


@contextlib.asynccontextmanager
async def open_access(
    settings: AccessSettings, inner: ThingAccess | None = None
) -> AsyncIterator[CachedThingAccess]:
    """The cached thing access, tailing the things events while the block runs.

    ``inner`` answers the questions the cache cannot (default: the things service's
    gRPC client at ``settings.grpc_url``, closed on exit). Either waits up to
    ``settings.deadline`` seconds for a things service that is slow or unreachable."""
    owned = None
    if inner is None:
        from mainflux.things.client import GrpcThingAccess  # the things service's client

        # the client waits for a busy things service itself (longer calls, not more)
        inner = owned = GrpcThingAccess(
            settings.grpc_url, settings.grpc_timeout, tls=settings.tls, patience=settings.deadline
        )
    events = RedisEventStream(settings.es_url) if settings.es_url else None
    access = CachedThingAccess(
        inner, events, max_age=settings.max_age, patience=0.0 if owned else settings.deadline
    )
    tail = asyncio.create_task(access.run(), name="access-cache")
    unwatch = watch(
        {
            "things": answering_probe(
                functools.partial(owned.identify, PROBE_KEY), down=ServiceUnavailable
            )
            if owned is not None
            else None,
            "event stream": ping_probe(events) if events is not None else None,
        }
    )
    try:
        yield access
    finally:
        unwatch()
        tail.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await tail
        access.abandon()
        if events is not None:
            await events.close()
        if owned is not None:
            await owned.close()
