"""Settings of ``mainflux-ws``: Mainflux's variable names and defaults.

``mainflux-ws --help`` lists every variable with its default."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from mainflux.adapters.runtime import (
    AccessSettings,
    cache_max_age,
    http_limits,
    nats_url,
    things_client_tls,
)
from mainflux.adapters.ws.live import DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS_PER_THING
from mainflux.core.limits import HttpLimits
from mainflux.core.settings import log_level_setting, nested, server_tls_setting, setting
from mainflux.core.tls import ClientTLS, ServerTLS

PROG: Final = "mainflux-ws"
SUMMARY: Final = (
    "The WebSocket adapter: devices and browsers exchange channel messages over "
    "/channels/<id>/messages[/<subtopic>]."
)
PREFIX: Final = "WS_ADAPTER"
LOG_LEVEL: Final = f"MF_{PREFIX}_LOG_LEVEL"
PORT: Final = f"MF_{PREFIX}_PORT"


@dataclass(frozen=True, slots=True)
class WsAccess(AccessSettings):
    """The WebSocket adapter's access settings (its cache age and client TLS)."""

    max_age: float = cache_max_age(PREFIX)
    tls: ClientTLS | None = things_client_tls(PREFIX)


@dataclass(frozen=True, slots=True)
class Settings:
    """The WebSocket adapter's settings, read once (:func:`mainflux.core.settings.load`)."""

    host: str = setting(f"MF_{PREFIX}_HOST", "0.0.0.0", "listening address")
    port: int = setting(PORT, 8186, "listening port", minimum=0, maximum=65535)
    nats_url: str = nats_url()
    access: AccessSettings = nested(WsAccess)
    max_connections: int = setting(
        f"MF_{PREFIX}_MAX_CONNECTIONS",
        DEFAULT_MAX_CONNECTIONS,
        "sockets held, handshakes included; 503 above",
        minimum=1,
    )
    max_connections_per_thing: int = setting(
        f"MF_{PREFIX}_MAX_CONNECTIONS_PER_THING",
        DEFAULT_MAX_CONNECTIONS_PER_THING,
        "open sockets per thing; 429 above",
        minimum=1,
    )
    log_level: str = log_level_setting(LOG_LEVEL)
    tls: ServerTLS | None = server_tls_setting(PREFIX, "serve wss://")
    limits: HttpLimits = http_limits()
