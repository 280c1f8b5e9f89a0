"""The WebSocket adapter (``mainflux-ws``): browsers and devices exchange channel messages."""

from __future__ import annotations

from starlette.types import ASGIApp

from mainflux.adapters.live import DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS_PER_THING
from mainflux.adapters.ws.api import HANDSHAKE_SPECS, WsApp
from mainflux.adapters.ws.page import client_page
from mainflux.core.auth import ThingAccess
from mainflux.core.endpoints import Endpoint, Reply
from mainflux.core.http import create_app as create_service_app
from mainflux.messaging.bus import Bus

SERVICE = "websocket"


def create_app(
    access: ThingAccess,
    bus: Bus,
    *,
    max_outbox: int = 1024,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
    max_connections_per_thing: int = DEFAULT_MAX_CONNECTIONS_PER_THING,
) -> ASGIApp:
    """The WebSocket adapter app: ``access`` checks thing keys, ``bus`` carries messages.

    ``max_outbox`` frames may wait per client before messages to it are dropped. At most
    ``max_connections`` sockets are held (handshakes included; 503 above) and
    ``max_connections_per_thing`` per thing (429 above). When ``access`` tells of
    revocations (the adapters' :class:`~mainflux.adapters.access.CachedThingAccess`),
    sockets that lose their right are closed with 1008; the listener is registered only
    while the app holds sockets. Plain HTTP requests get ``/`` (a browser client),
    ``/version``, ``/health``, ``/metrics``."""
    page = Endpoint(
        "GET",
        "/",
        client_page,
        summary="A browser client",
        tags=("messages",),
        ok=Reply(200, "An HTML page that opens a WebSocket.", str, "text/html"),
    )
    fallback = create_service_app(
        SERVICE, [page], title="Mainflux WebSocket adapter", documented=HANDSHAKE_SPECS
    )
    return WsApp(
        access,
        bus,
        fallback,
        max_outbox=max_outbox,
        max_connections=max_connections,
        max_connections_per_thing=max_connections_per_thing,
    )


__all__ = ["create_app"]
