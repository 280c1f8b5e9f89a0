"""``mainflux-ws``: the WebSocket adapter as its own process.

Settings are Mainflux's ``MF_WS_ADAPTER_*`` variables and the shared adapter ones
(:mod:`mainflux.adapters.ws.settings`); ``mainflux-ws --help`` lists them all with their
defaults. Without ``MF_THINGS_ES_URL`` the access cache relies on its max age and open
sockets are never closed on revocation."""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from mainflux.adapters.access import CachedThingAccess
from mainflux.adapters.runtime import serve_adapter
from mainflux.adapters.ws import create_app
from mainflux.adapters.ws.settings import LOG_LEVEL, PROG, SUMMARY, Settings
from mainflux.core import runner
from mainflux.core.settings import from_command_line
from mainflux.messaging.nats import NatsBus


async def serve(settings: Settings, stop: asyncio.Event) -> None:
    """Run the adapter until ``stop`` is set."""

    def app(access: CachedThingAccess, bus: NatsBus) -> Any:
        return create_app(
            access,
            bus,
            max_connections=settings.max_connections,
            max_connections_per_thing=settings.max_connections_per_thing,
        )

    await serve_adapter(settings.adapter, "ws", app, stop)


def main() -> None:
    """Entry point of ``mainflux-ws`` (``--help`` lists every variable)."""
    settings = from_command_line(Settings, PROG, SUMMARY)
    runner.run(functools.partial(serve, settings), level_var=LOG_LEVEL)


if __name__ == "__main__":
    main()
