"""The console inside the all-in-one: its client calls the gateway app in process."""

from __future__ import annotations

from typing import Final

import httpx
from starlette.requests import Request
from starlette.types import ASGIApp

from mainflux.console.app import ConsoleConfig
from mainflux.console.client import PlatformClient, ServiceUrls
from mainflux.console.commands import Endpoints
from mainflux.console.feed import EventFeed
from mainflux.events.stream import EventStream

#: CoAP's standard port, shown in the commands (the CoAP adapter's default).
COAP_PORT: Final = 5683
_INTERNAL: Final = "http://gateway"


def endpoints_for(mqtt_port: int, coap_port: int = COAP_PORT):  # type: ignore[no-untyped-def]
    """Devices reach the all-in-one where the browser reached the console."""

    def endpoints(request: Request) -> Endpoints:
        base = f"{request.url.scheme}://{request.url.netloc}"
        ws = "wss" if request.url.scheme == "https" else "ws"
        host = request.url.hostname or "localhost"
        return Endpoints(
            http=f"{base}/http",
            ws=f"{ws}://{request.url.netloc}/ws",
            mqtt_host=host,
            mqtt_port=mqtt_port,
            coap=f"coap://{host}:{coap_port}",
        )

    return endpoints


def console_config(gateway: ASGIApp, events: EventStream, mqtt_port: int) -> ConsoleConfig:
    """The console's configuration for the all-in-one: ``gateway`` answers its calls."""
    transport = httpx.ASGITransport(app=gateway, raise_app_exceptions=False)
    urls = ServiceUrls(
        users=_INTERNAL, things=_INTERNAL, authn=_INTERNAL, reader=_INTERNAL, bootstrap=_INTERNAL
    )
    return ConsoleConfig(
        client=PlatformClient(urls, transport),
        endpoints=endpoints_for(mqtt_port),
        feed=EventFeed(events),
    )
