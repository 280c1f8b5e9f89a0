"""Settings of the MQTT adapter, from Mainflux's ``MF_MQTT_ADAPTER_*`` variables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from mainflux.adapters.mqtt.limits import BrokerLimits
from mainflux.adapters.mqtt.topics import valid_filter
from mainflux.core.config import ConfigError, env, env_port, env_url, redis_url
from mainflux.core.limits import HttpLimits
from mainflux.core.tls import ClientTLS, client_tls

_P = "MF_MQTT_ADAPTER_"


@dataclass(frozen=True, slots=True)
class MqttSettings:
    """Where to listen, who this instance is, and the broker's bounds.

    A port of ``None`` turns that listener off; ``0`` picks a free port (tests)."""

    host: str = "0.0.0.0"
    mqtt_port: int | None = 1883
    ws_host: str = "0.0.0.0"
    ws_port: int | None = 8080
    tls_port: int | None = 8883
    server_cert: str = ""
    server_key: str = ""
    instance: str = ""
    limits: BrokerLimits = field(default_factory=BrokerLimits)
    http: HttpLimits = field(default_factory=HttpLimits)  # the WebSocket port's (MF_HTTP_*)
    standalone_refused_filters: tuple[str, ...] = ()  # refused by ``--standalone`` only

    @property
    def tls_enabled(self) -> bool:
        """Whether the TLS listener runs (both a certificate and a key are set)."""
        return bool(self.server_cert and self.server_key) and self.tls_port is not None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> MqttSettings:
        """Read every setting; raises ``ConfigError`` naming a variable with a bad value."""
        cert = env(_P + "SERVER_CERT", "", environ)
        key = env(_P + "SERVER_KEY", "", environ)
        if bool(cert) != bool(key):
            missing = _P + ("SERVER_KEY" if cert else "SERVER_CERT")
            raise ConfigError(f"{missing}: must be set together with its certificate/key pair")
        return cls(
            host=env(_P + "MQTT_HOST", "0.0.0.0", environ),
            mqtt_port=env_port(_P + "MQTT_PORT", 1883, environ),
            ws_host=env(_P + "WS_HOST", "0.0.0.0", environ),
            ws_port=env_port(_P + "WS_PORT", 8080, environ),
            tls_port=env_port(_P + "TLS_PORT", 8883, environ),
            server_cert=cert,
            server_key=key,
            instance=env(_P + "INSTANCE", "", environ),
            limits=BrokerLimits.from_env(environ),
            http=HttpLimits.from_env(environ),
            standalone_refused_filters=_filters(_P + "STANDALONE_REFUSED_FILTERS", environ),
        )


def _filters(name: str, environ: Mapping[str, str] | None) -> tuple[str, ...]:
    """A comma-separated list of topic filters (empty items are ignored)."""
    filters = tuple(f.strip() for f in env(name, "", environ).split(",") if f.strip())
    for topic_filter in filters:
        if not valid_filter(topic_filter):
            raise ConfigError(f"{name}: {topic_filter!r} is not a valid MQTT topic filter")
    return filters


@dataclass(frozen=True, slots=True)
class ServiceSettings:
    """What ``mainflux-mqtt`` connects to besides its listeners (MAINFLUX §7.1);
    ``MF_MQTT_ADAPTER_CLIENT_TLS``/``_CA_CERTS`` put the things gRPC client on TLS."""

    nats_url: str
    things_url: str
    things_timeout: float
    es_url: str
    things_es_url: str
    things_tls: ClientTLS | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServiceSettings:
        """Read the service settings; raises ``ConfigError`` naming a bad variable."""
        timeout = env("MF_THINGS_AUTH_GRPC_TIMEOUT", "", environ) or env(
            "MF_THINGS_AUTH_GRPC_TIMMEOUT", "", environ
        )
        return cls(
            nats_url=env_url("MF_NATS_URL", "nats://localhost:4222", ("nats", "tls"), environ),
            things_url=env("MF_THINGS_AUTH_GRPC_URL", "localhost:8183", environ),
            things_timeout=_seconds(timeout) if timeout else 1.0,
            es_url=redis_url(_P + "ES", environ=environ),
            things_es_url=redis_url("MF_THINGS_ES", environ=environ),
            things_tls=client_tls("MQTT_ADAPTER", environ=environ),
        )


def _seconds(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"MF_THINGS_AUTH_GRPC_TIMEOUT: expected seconds, got {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"MF_THINGS_AUTH_GRPC_TIMEOUT: must be positive, got {value}")
    return value
