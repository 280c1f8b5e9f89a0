"""``mainflux-ws``: the WebSocket adapter as its own process.

Settings are Mainflux's ``MF_WS_ADAPTER_*`` variables and the shared adapter ones
(:mod:`mainflux.adapters.ws.settings`); ``mainflux-ws --help`` lists them all with their
defaults. Without ``MF_THINGS_ES_URL`` the access cache relies on its max age and open
sockets are never closed on revocation."""

from __future__ import annotations

import asyncio
import functools

from mainflux.adapters.runtime import connect_bus, open_access
from mainflux.adapters.ws import create_app
from mainflux.adapters.ws.settings import LOG_LEVEL, PORT, PROG, SUMMARY, Settings
from mainflux.core import runner
from mainflux.core.settings import from_command_line


async def serve(settings: Settings, stop: asyncio.Event) -> None:
    """Run the adapter until ``stop`` is set."""
    sock = runner.bind_socket(settings.host, settings.port, PORT)
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
            server = asyncio.create_task(
                runner.serve_http(app, sock, name="ws", ssl=ssl, limits=settings.limits)
            )
            runner.log.info("ws adapter listening on %s:%d", settings.host, settings.port)
            await runner.until_stopped(stop, server)
    finally:
        await bus.close()
        sock.close()


def main() -> None:
    """Entry point of ``mainflux-ws`` (``--help`` lists every variable)."""
    settings = from_command_line(Settings, PROG, SUMMARY)
    runner.run(functools.partial(serve, settings), level_var=LOG_LEVEL)


if __name__ == "__main__":
    main()
