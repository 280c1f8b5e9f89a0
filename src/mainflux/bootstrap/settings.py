"""Settings of ``mainflux-bootstrap``: Mainflux's variable names and defaults.

``mainflux-bootstrap --help`` lists every variable with its default. Two defaults
differ from Mainflux's binary: the port is the docker ``.env``'s 8202 (not 8180), and
``MF_SDK_BASE_URL`` points at the things service itself (``http://localhost:8182``)
rather than an nginx in front of it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from mainflux.bootstrap import crypto
from mainflux.bootstrap.service import DEFAULT_MAX_CHANNELS
from mainflux.bootstrap.store import DEFAULT_MAX_UNKNOWN
from mainflux.bootstrap.sync import DEFAULT_RETRIES
from mainflux.core.settings import (
    client_tls_setting,
    log_level_setting,
    nested,
    port_setting,
    postgres_setting,
    redis_setting,
    server_tls_setting,
    setting,
    url_with_scheme,
)
from mainflux.core.tls import ClientTLS, ServerTLS
from mainflux.events.retention import RetentionSettings

PROG: Final = "mainflux-bootstrap"
SUMMARY: Final = (
    "The bootstrap service: device configs bound to things and channels, fetched by "
    "devices with their external id and key (plain or AES-encrypted), kept in step "
    "with the things service through its event stream."
    "\nEvery HTTP port also follows the MF_HTTP_* limits (see docs/http.md)."
)
LOG_LEVEL: Final = "MF_BOOTSTRAP_LOG_LEVEL"
#: Mainflux's default key: 16 bytes, so AES-128. Set your own in production.
DEFAULT_ENCRYPT_KEY: Final = "12345678910111213141516171819202"


def check_encrypt_key(value: str) -> None:
    """Raise ``ValueError`` unless ``value`` is a hex AES key (see :mod:`.crypto`)."""
    crypto.parse_key(value)


@dataclass(frozen=True, slots=True)
class Settings:
    """Every setting of ``mainflux-bootstrap``, read once from the environment."""

    port: int = port_setting("MF_BOOTSTRAP_PORT", 8202, "HTTP port")
    db_url: str = postgres_setting("BOOTSTRAP", "bootstrap")
    encrypt_key: str = setting(
        "MF_BOOTSTRAP_ENCRYPT_KEY",
        DEFAULT_ENCRYPT_KEY,
        "AES key of secure bootstrap, hex (32, 48 or 64 digits)",
        shown=DEFAULT_ENCRYPT_KEY,
        check=check_encrypt_key,
        secret=True,
    )
    things_url: str = setting(
        "MF_SDK_BASE_URL",
        "http://localhost:8182",
        "base URL of the things HTTP API",
        check=url_with_scheme("http", "https"),
    )
    things_prefix: str = setting("MF_SDK_THINGS_PREFIX", "", "path prefix of the things API")
    things_timeout: float = setting(
        "MF_BOOTSTRAP_THINGS_TIMEOUT", 5.0, "seconds per call to things", minimum=0.001
    )
    things_es_url: str = redis_setting("MF_THINGS_ES", "things event stream (consumed)")
    es_url: str = redis_setting("MF_BOOTSTRAP_ES", "bootstrap event stream (produced)")
    es_maxlen: int = setting(
        "MF_BOOTSTRAP_ES_MAXLEN",
        100_000,
        "hard ceiling of mainflux.bootstrap against floods of attempts, unread entries "
        "included (approximate; 0: none); MF_EVENTS_* retention applies below it",
        minimum=0,
    )
    event_consumer: str = setting(
        "MF_BOOTSTRAP_EVENT_CONSUMER", "bootstrap", "consumer name in the things events group"
    )
    event_retries: int = setting(
        "MF_BOOTSTRAP_EVENT_RETRIES",
        DEFAULT_RETRIES,
        "tries again of a things event before it is parked",
        minimum=0,
        maximum=100,
    )
    max_unknown: int = setting(
        "MF_BOOTSTRAP_MAX_UNKNOWN",
        DEFAULT_MAX_UNKNOWN,
        "unknown bootstrap attempts kept at most",
        minimum=0,
    )
    max_channels: int = setting(
        "MF_BOOTSTRAP_MAX_CHANNELS", DEFAULT_MAX_CHANNELS, "channels per config", minimum=1
    )
    authn_url: str = setting("MF_AUTHN_GRPC_URL", "localhost:8181", "authn gRPC address")
    authn_timeout: float = setting(
        "MF_AUTHN_GRPC_TIMEOUT", 1.0, "seconds per call to authn", minimum=0.001
    )
    authn_tls: ClientTLS | None = client_tls_setting("BOOTSTRAP", "AUTHN", peer="authn")
    tls: ServerTLS | None = server_tls_setting("BOOTSTRAP")
    log_level: str = log_level_setting(LOG_LEVEL)
    retention: RetentionSettings = nested(RetentionSettings)
