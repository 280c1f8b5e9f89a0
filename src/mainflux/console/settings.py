"""Settings of ``mainflux-ui``: where the services answer and where devices reach them.

``mainflux-ui --help`` lists every variable with its default."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from mainflux.core.settings import log_level_setting, port_setting, setting, url_with_scheme

PROG: Final = "mainflux-ui"
SUMMARY: Final = (
    "The web console: manage things and channels and watch their messages in a browser, "
    "over the services' HTTP APIs."
)
LOG_LEVEL: Final = "MF_UI_LOG_LEVEL"
PORT: Final = "MF_UI_PORT"

_HTTP = url_with_scheme("http", "https")


@dataclass(frozen=True, slots=True)
class Settings:
    """The console's settings, read once (:func:`mainflux.core.settings.load`)."""

    host: str = setting("MF_UI_HOST", "0.0.0.0", "listening address")
    port: int = port_setting(PORT, 3000, "listening port")
    users_url: str = setting("MF_UI_USERS_URL", "http://localhost:8180", "users API", check=_HTTP)
    things_url: str = setting(
        "MF_UI_THINGS_URL", "http://localhost:8182", "things API", check=_HTTP
    )
    authn_url: str = setting("MF_UI_AUTHN_URL", "http://localhost:8189", "authn API", check=_HTTP)
    reader_url: str = setting(
        "MF_UI_READER_URL",
        "http://localhost:9204",
        "readers API (empty: no message history)",
        check=_HTTP,
    )
    bootstrap_url: str = setting(
        "MF_UI_BOOTSTRAP_URL",
        "http://localhost:8202",
        "bootstrap API (empty: no bootstrap configs pages)",
        check=_HTTP,
    )
    events_url: str = setting(
        "MF_UI_ES_URL",
        "",
        "Redis of the things event stream, for recent events (redis://host:port)",
        check=url_with_scheme("redis", "rediss"),
        secret=True,
    )
    http_adapter_url: str = setting(
        "MF_UI_HTTP_ADAPTER_URL",
        "http://localhost:8185",
        "HTTP adapter as devices reach it (shown in commands)",
        check=_HTTP,
    )
    ws_url: str = setting(
        "MF_UI_WS_URL",
        "ws://localhost:8186",
        "WebSocket adapter as browsers and devices reach it (live messages, commands)",
        check=url_with_scheme("ws", "wss"),
    )
    mqtt_host: str = setting("MF_UI_MQTT_HOST", "localhost", "MQTT host shown in commands")
    mqtt_port: int = port_setting("MF_UI_MQTT_PORT", 1883, "MQTT port shown in commands")
    coap_url: str = setting(
        "MF_UI_COAP_URL",
        "coap://localhost:5683",
        "CoAP adapter shown in commands",
        check=url_with_scheme("coap", "coaps"),
    )
    secure_cookies: bool | None = setting(
        "MF_UI_SECURE_COOKIES",
        None,
        "mark cookies Secure (unset: when the request came over HTTPS)",
    )
    log_level: str = log_level_setting(LOG_LEVEL)
