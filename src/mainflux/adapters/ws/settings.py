"""Settings of ``mainflux-ws``: Mainflux's variable names and defaults.

``mainflux-ws --help`` lists every variable with its default."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from mainflux.adapters.live import DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS_PER_THING
from mainflux.adapters.runtime import AdapterSettings, adapter_settings
from mainflux.core.settings import setting

PROG: Final = "mainflux-ws"
SUMMARY: Final = (
    "The WebSocket adapter: devices and browsers exchange channel messages over "
    "/channels/<id>/messages[/<subtopic>]."
)
PREFIX: Final = "WS_ADAPTER"
LOG_LEVEL: Final = f"MF_{PREFIX}_LOG_LEVEL"


@dataclass(frozen=True, slots=True)
class Settings:
    """The WebSocket adapter's settings, read once (:func:`mainflux.core.settings.load`)."""

    adapter: AdapterSettings = adapter_settings(PREFIX, 8186, serves="serve wss://")
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
