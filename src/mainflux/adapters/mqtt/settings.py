"""Settings of the MQTT adapter, from Mainflux's ``MF_MQTT_ADAPTER_*`` variables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mainflux.adapters.mqtt.limits import BrokerLimits
from mainflux.adapters.mqtt.state import check_state_url
from mainflux.adapters.mqtt.topics import valid_filter
from mainflux.adapters.runtime import (
    DEFAULT_NATS_URL,
    NATS_URL_VAR,
    AccessSettings,
    cache_max_age,
    http_limits,
    things_client_tls,
)
from mainflux.core.config import ConfigError, env, redis_url
from mainflux.core.limits import HttpLimits
from mainflux.core.settings import (
    derived,
    load,
    log_level_setting,
    nested,
    setting,
    url_with_scheme,
)
from mainflux.core.tls import ClientTLS
from mainflux.events.retention import RetentionSettings

_P = "MF_MQTT_ADAPTER_"


def _port(name: str, default: int, help: str) -> Any:
    return setting(_P + name, default, help + " (none: off)", minimum=0, maximum=65535)


@dataclass(frozen=True, slots=True)
class MqttSettings:
    """Where to listen, who this instance is, and the broker's bounds.

    A port of ``None`` turns that listener off; ``0`` picks a free port (tests)."""

    host: str = setting(_P + "MQTT_HOST", "0.0.0.0", "MQTT listening address")
    mqtt_port: int | None = _port("MQTT_PORT", 1883, "MQTT port")
    ws_host: str = setting(_P + "WS_HOST", "0.0.0.0", "MQTT over WebSocket listening address")
    ws_port: int | None = _port("WS_PORT", 8080, "MQTT over WebSocket port (path /mqtt)")
    tls_port: int | None = _port("TLS_PORT", 8883, "MQTT over TLS port")
    server_cert: str = setting(_P + "SERVER_CERT", "", "PEM certificate chain (TLS with the key)")
    server_key: str = setting(_P + "SERVER_KEY", "", "PEM private key of that certificate")
    instance: str = setting(_P + "INSTANCE", "", "this instance's name in mainflux.mqtt events")
    state_url: str = setting(
        _P + "STATE_URL",
        "",
        "where sessions and retained messages outlive a restart: none, redis://..., "
        "postgresql://... or sqlite+aiosqlite:///... (unset: the platform's database in "
        "the all-in-one, the MF_MQTT_ADAPTER_ES_URL Redis in mainflux-mqtt)",
        check=check_state_url,
        secret=True,
    )
    limits: BrokerLimits = nested(BrokerLimits)
    http: HttpLimits = http_limits()  # the WebSocket port's (MF_HTTP_*)
    standalone_refused_filters: tuple[str, ...] = derived(
        lambda environ: _filters(_P + "STANDALONE_REFUSED_FILTERS", environ),
        [
            (
                _P + "STANDALONE_REFUSED_FILTERS",
                "(unset)",
                "comma-separated topic filters --standalone refuses",
            )
        ],
        default=(),
    )

    def __post_init__(self) -> None:
        if bool(self.server_cert) != bool(self.server_key):
            missing = _P + ("SERVER_KEY" if self.server_cert else "SERVER_CERT")
            raise ConfigError(f"{missing}: must be set together with its certificate/key pair")

    @property
    def tls_enabled(self) -> bool:
        """Whether the TLS listener runs (both a certificate and a key are set)."""
        return bool(self.server_cert and self.server_key) and self.tls_port is not None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> MqttSettings:
        """Read every setting; raises ``ConfigError`` naming a variable with a bad value."""
        return load(cls, environ)


def _filters(name: str, environ: Mapping[str, str] | None) -> tuple[str, ...]:
    """A comma-separated list of topic filters (empty items are ignored)."""
    filters = tuple(f.strip() for f in env(name, "", environ).split(",") if f.strip())
    for topic_filter in filters:
        if not valid_filter(topic_filter):
            raise ConfigError(f"{name}: {topic_filter!r} is not a valid MQTT topic filter")
    return filters


def _timeout(environ: Mapping[str, str]) -> float:
    """``MF_THINGS_AUTH_GRPC_TIMEOUT`` (or Go's misspelt ``..._TIMMEOUT``), in seconds."""
    raw = env("MF_THINGS_AUTH_GRPC_TIMEOUT", "", environ) or env(
        "MF_THINGS_AUTH_GRPC_TIMMEOUT", "", environ
    )
    return _seconds(raw) if raw else 1.0


@dataclass(frozen=True, slots=True)
class MqttAccess(AccessSettings):
    """The MQTT adapter's access settings, read as Go's ``mainflux-mqtt`` reads them: the
    misspelt ``MF_THINGS_AUTH_GRPC_TIMMEOUT`` is accepted, and the things events are
    always tailed (``MF_THINGS_ES_*`` defaults to ``localhost:6379``)."""

    grpc_timeout: float = derived(
        _timeout,
        [
            (
                "MF_THINGS_AUTH_GRPC_TIMEOUT",
                "1",
                "seconds per access call (> 0; Go's MF_THINGS_AUTH_GRPC_TIMMEOUT too)",
            )
        ],
        default=1.0,
    )
    es_url: str | None = derived(
        lambda environ: redis_url("MF_THINGS_ES", environ=environ),
        [
            ("MF_THINGS_ES_URL", "localhost:6379", "Redis host:port of the things events"),
            ("MF_THINGS_ES_PASS", "(unset)", "its password"),
            ("MF_THINGS_ES_DB", "0", "its database"),
        ],
        secret=True,
        default="redis://localhost:6379/0",
    )
    max_age: float = cache_max_age("MQTT_ADAPTER")
    tls: ClientTLS | None = things_client_tls("MQTT_ADAPTER")


@dataclass(frozen=True, slots=True)
class ServiceSettings:
    """What ``mainflux-mqtt`` connects to besides its listeners (MAINFLUX §7.1): the bus,
    its own event stream, and the things service (:class:`MqttAccess`)."""

    nats_url: str = setting(
        NATS_URL_VAR,
        DEFAULT_NATS_URL,
        "the message bus",
        check=url_with_scheme("nats", "tls"),
    )
    es_url: str = derived(
        lambda environ: redis_url(_P + "ES", environ=environ),
        [
            (_P + "ES_URL", "localhost:6379", "Redis host:port for mainflux.mqtt events"),
            (_P + "ES_PASS", "(unset)", "its password"),
            (_P + "ES_DB", "0", "its database"),
        ],
        secret=True,
        default="redis://localhost:6379/0",
    )
    access: AccessSettings = nested(MqttAccess)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServiceSettings:
        """Read the service settings; raises ``ConfigError`` naming a bad variable."""
        return load(cls, environ)


@dataclass(frozen=True, slots=True)
class CommandSettings:
    """Everything ``mainflux-mqtt`` reads: its listeners and bounds, and its services."""

    listeners: MqttSettings = nested(MqttSettings)
    service: ServiceSettings = nested(ServiceSettings)
    log_level: str = log_level_setting("MF_MQTT_ADAPTER_LOG_LEVEL")
    retention: RetentionSettings = nested(RetentionSettings)


def _seconds(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"MF_THINGS_AUTH_GRPC_TIMEOUT: expected seconds, got {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"MF_THINGS_AUTH_GRPC_TIMEOUT: must be positive, got {value}")
    return value
