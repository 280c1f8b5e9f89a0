"""Settings of ``mainflux-http``: Mainflux's variable names and defaults.

``mainflux-http --help`` lists every variable with its default."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from mainflux.adapters.http.api import DEFAULT_MAX_BODY
from mainflux.adapters.runtime import AdapterSettings, adapter_settings
from mainflux.core.settings import setting

PROG: Final = "mainflux-http"
SUMMARY: Final = (
    "The HTTP adapter: devices POST messages to /channels/<id>/messages[/<subtopic>], "
    "which go onto the message bus."
)
PREFIX: Final = "HTTP_ADAPTER"
LOG_LEVEL: Final = f"MF_{PREFIX}_LOG_LEVEL"


@dataclass(frozen=True, slots=True)
class Settings:
    """The HTTP adapter's settings, read once (:func:`mainflux.core.settings.load`)."""

    adapter: AdapterSettings = adapter_settings(PREFIX, 8185)
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
