"""``mainflux-ws``: the WebSocket adapter as its own process.

Settings: ``MF_WS_ADAPTER_PORT`` (8186), ``MF_WS_ADAPTER_HOST`` (0.0.0.0),
``MF_NATS_URL`` (nats://localhost:4222), ``MF_THINGS_AUTH_GRPC_URL`` (localhost:8183),
``MF_THINGS_AUTH_GRPC_TIMEOUT`` (1 s), ``MF_THINGS_ES_URL`` (unset: no event stream,
the access cache relies on its max age and open sockets are never closed on
revocation), ``MF_WS_ADAPTER_CACHE_MAX_AGE`` (1 s),
``MF_WS_ADAPTER_LOG_LEVEL``; the largest frame is ``MF_WS_MAX_FRAME`` (1 MiB). Caps:
``MF_WS_ADAPTER_MAX_CONNECTIONS`` (10000 sockets, handshakes included; 503 above) and
``MF_WS_ADAPTER_MAX_CONNECTIONS_PER_THING`` (100; 429 above). TLS:
``MF_WS_ADAPTER_CLIENT_TLS``/``MF_WS_ADAPTER_CA_CERTS`` for the things gRPC client,
``MF_WS_ADAPTER_SERVER_CERT``/``MF_WS_ADAPTER_SERVER_KEY`` to serve ``wss://``."""

from __future__ import annotations

import asyncio
import functools
import sys
from dataclasses import dataclass

from mainflux.adapters.http.main import AccessSettings, connect_bus, open_access
from mainflux.adapters.ws import create_app
from mainflux.adapters.ws.live import DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS_PER_THING
from mainflux.core import runner
from mainflux.core.config import ConfigError, env, env_int, env_port
from mainflux.core.tls import ServerTLS, server_tls

LOG_LEVEL = "MF_WS_ADAPTER_LOG_LEVEL"


@dataclass(frozen=True, slots=True)
class Settings:
    """The WebSocket adapter's settings, read once."""

    host: str
    port: int
    nats_url: str
    access: AccessSettings
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    max_connections_per_thing: int = DEFAULT_MAX_CONNECTIONS_PER_THING
    tls: ServerTLS | None = None

    @classmethod
    def from_env(cls) -> Settings:
        """Read every setting; raises ``ConfigError`` naming a bad one."""
        return cls(
            host=env("MF_WS_ADAPTER_HOST", "0.0.0.0"),
            port=env_port("MF_WS_ADAPTER_PORT", 8186),
            nats_url=env("MF_NATS_URL", "nats://localhost:4222"),
            access=AccessSettings.from_env("MF_WS_ADAPTER_CACHE_MAX_AGE", "WS_ADAPTER"),
            max_connections=env_int(
                "MF_WS_ADAPTER_MAX_CONNECTIONS", DEFAULT_MAX_CONNECTIONS, minimum=1
            ),
            max_connections_per_thing=env_int(
                "MF_WS_ADAPTER_MAX_CONNECTIONS_PER_THING",
                DEFAULT_MAX_CONNECTIONS_PER_THING,
                minimum=1,
            ),
            tls=server_tls("WS_ADAPTER"),
        )


async def serve(settings: Settings, stop: asyncio.Event) -> None:
    """Run the adapter until ``stop`` is set."""
    sock = runner.bind_socket(settings.host, settings.port, "MF_WS_ADAPTER_PORT")
    bus = await connect_bus(settings.nats_url, "ws-adapter")
    try:
        async with open_access(settings.access) as access:
            app = create_app(
                access,
                bus,
                max_connections=settings.max_connections,
                max_connections_per_thing=settings.max_connections_per_thing,
            )
            ssl = settings.tls.ssl_context() if settings.tls else None
            server = asyncio.create_task(runner.serve_http(app, sock, name="ws", ssl=ssl))
            runner.log.info("ws adapter listening on %s:%d", settings.host, settings.port)
            await runner.until_stopped(stop, server)
    finally:
        await bus.close()
        sock.close()


def main() -> None:
    """Entry point of ``mainflux-ws``."""
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"mainflux: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    runner.run(functools.partial(serve, settings), level_var=LOG_LEVEL)


if __name__ == "__main__":
    main()
