"""The broker's bounds, read from ``MF_MQTT_ADAPTER_*`` variables (see docs/mqtt.md)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from mainflux.core.config import env_float, env_int

_PREFIX = "MF_MQTT_ADAPTER_"


@dataclass(frozen=True, slots=True)
class BrokerLimits:
    """Every bound the broker enforces; the defaults suit one machine with a few GB."""

    max_packet_size: int = 2 * 1024 * 1024
    max_connections: int = 100_000
    max_inflight: int = 32
    max_outbound_bytes: int = 2 * 1024 * 1024
    slow_client_timeout: float = 10.0
    max_retained_count: int = 10_000
    max_retained_bytes: int = 64 * 1024 * 1024
    max_offline_queue: int = 1_000
    max_sessions: int = 100_000
    connect_timeout: float = 10.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> BrokerLimits:
        """Read the limits; raises ``ConfigError`` naming a variable with a bad value."""
        d = cls()

        def whole(name: str, default: int) -> int:
            return env_int(_PREFIX + name, default, minimum=1, environ=environ)

        def seconds(name: str, default: float) -> float:
            return env_float(_PREFIX + name, default, minimum=0.1, environ=environ)

        return cls(
            max_packet_size=env_int(
                _PREFIX + "MAX_PACKET_SIZE",
                d.max_packet_size,
                minimum=64,
                maximum=268_435_455,
                environ=environ,
            ),
            max_connections=whole("MAX_CONNECTIONS", d.max_connections),
            max_inflight=env_int(
                _PREFIX + "MAX_INFLIGHT", d.max_inflight, minimum=1, maximum=65535, environ=environ
            ),
            max_outbound_bytes=whole("MAX_OUTBOUND_BYTES", d.max_outbound_bytes),
            slow_client_timeout=seconds("SLOW_CLIENT_TIMEOUT", d.slow_client_timeout),
            max_retained_count=whole("MAX_RETAINED_COUNT", d.max_retained_count),
            max_retained_bytes=whole("MAX_RETAINED_BYTES", d.max_retained_bytes),
            max_offline_queue=whole("MAX_OFFLINE_QUEUE", d.max_offline_queue),
            max_sessions=whole("MAX_SESSIONS", d.max_sessions),
            connect_timeout=seconds("CONNECT_TIMEOUT", d.connect_timeout),
        )
