"""Settings of ``mainflux-http``: Mainflux's variable names and defaults.

``mainflux-http --help`` lists every variable with its default."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from mainflux.adapters.http.api import DEFAULT_MAX_BODY
from mainflux.adapters.runtime import (
    AccessSettings,
    cache_max_age,
    http_limits,
    nats_url,
    things_client_tls,
)
from mainflux.core.limits import HttpLimits
from mainflux.core.settings import log_level_setting, nested, server_tls_setting, setting
from mainflux.core.tls import ClientTLS, ServerTLS

PROG: Final = "mainflux-http"
SUMMARY: Final = (
    "The HTTP adapter: devices POST messages to /channels/<id>/messages[/<subtopic>], "
    "which go onto the message bus."
)
PREFIX: Final = "HTTP_ADAPTER"
LOG_LEVEL: Final = f"MF_{PREFIX}_LOG_LEVEL"
PORT: Final = f"MF_{PREFIX}_PORT"


@dataclass(frozen=True, slots=True)
class HttpAccess(AccessSettings):
    """The HTTP adapter's access settings (its cache age and client TLS)."""

    max_age: float = cache_max_age(PREFIX)
    tls: ClientTLS | None = things_client_tls(PREFIX)


@dataclass(frozen=True, slots=True)
class Settings:
    """The HTTP adapter's settings, read once (:func:`mainflux.core.settings.load`)."""

    host: str = setting(f"MF_{PREFIX}_HOST", "0.0.0.0", "listening address")
    port: int = setting(PORT, 8185, "listening port", minimum=0, maximum=65535)
    nats_url: str = nats_url()
    access: AccessSettings = nested(HttpAccess)
    max_body: int = setting(
        f"MF_{PREFIX}_MAX_BODY",
        DEFAULT_MAX_BODY,
        "largest message body in bytes, 413 above",
        minimum=0,
    )
    workers: int = setting(
        f"MF_{PREFIX}_WORKERS",
        1,
        "processes sharing the port with SO_REUSEPORT",
        minimum=1,
        maximum=64,
    )
    log_level: str = log_level_setting(LOG_LEVEL)
    tls: ServerTLS | None = server_tls_setting(PREFIX)
    limits: HttpLimits = http_limits()
