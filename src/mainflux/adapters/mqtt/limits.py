"""The broker's bounds, read from ``MF_MQTT_ADAPTER_*`` variables (see docs/mqtt.md)."""

from __future__ import annotations

import dataclasses
import logging
import resource
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from mainflux.core.config import env_float, env_int

log = logging.getLogger("mainflux.mqtt")

_PREFIX = "MF_MQTT_ADAPTER_"
_SPARE_DESCRIPTORS: Final = 64  # files, listeners and connections to NATS, Redis, gRPC


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
    max_offline_queue_bytes: int = 2 * 1024 * 1024
    max_sessions: int = 100_000
    max_sessions_per_thing: int = 100
    max_subscriptions: int = 1_000
    max_client_id_length: int = 256
    max_pending_connections: int = 10_000
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
            max_offline_queue_bytes=whole("MAX_OFFLINE_QUEUE_BYTES", d.max_offline_queue_bytes),
            max_sessions=whole("MAX_SESSIONS", d.max_sessions),
            max_sessions_per_thing=whole("MAX_SESSIONS_PER_THING", d.max_sessions_per_thing),
            max_subscriptions=whole("MAX_SUBSCRIPTIONS", d.max_subscriptions),
            max_client_id_length=env_int(
                _PREFIX + "MAX_CLIENT_ID_LENGTH",
                d.max_client_id_length,
                minimum=23,
                maximum=65535,
                environ=environ,
            ),
            max_pending_connections=whole("MAX_PENDING_CONNECTIONS", d.max_pending_connections),
            connect_timeout=seconds("CONNECT_TIMEOUT", d.connect_timeout),
        )


def connections_within(wanted: int, soft: int, hard: int) -> tuple[int, int]:
    """``(connections, soft limit)``: how many connections fit in the process's file
    descriptors once the soft limit is raised as far as ``hard`` allows (keeping some
    descriptors spare), and the soft limit to set."""
    needed = wanted + _SPARE_DESCRIPTORS
    if hard != resource.RLIM_INFINITY:
        needed = min(needed, hard)
    target = max(soft, needed)
    return max(1, min(wanted, target - _SPARE_DESCRIPTORS)), target


def fit_to_descriptors(limits: BrokerLimits) -> BrokerLimits:
    """``limits`` with ``max_connections`` (and ``max_pending_connections``) lowered to
    what the descriptor limit allows, after raising the soft limit towards the hard one;
    a lowered bound is logged once, at start-up."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    connections, target = connections_within(limits.max_connections, soft, hard)
    if target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (OSError, ValueError):
            connections, _ = connections_within(limits.max_connections, soft, soft)
    if connections == limits.max_connections:
        return limits
    log.warning(
        "mqtt: %d connections at most (MF_MQTT_ADAPTER_MAX_CONNECTIONS is %d, but the "
        "process may open %d files; raise `ulimit -n`)",
        connections,
        limits.max_connections,
        soft,
    )
    return dataclasses.replace(
        limits,
        max_connections=connections,
        max_pending_connections=min(limits.max_pending_connections, connections),
    )
