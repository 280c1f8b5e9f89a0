"""The broker's bounds, read from ``MF_MQTT_ADAPTER_*`` variables (see docs/mqtt.md)."""

from __future__ import annotations

import dataclasses
import logging
import resource
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from mainflux.core.settings import load, setting

log = logging.getLogger("mainflux.mqtt")

_PREFIX = "MF_MQTT_ADAPTER_"
_SPARE_DESCRIPTORS: Final = 64  # files, listeners and connections to NATS, Redis, gRPC


def _whole(
    name: str, default: int, help: str, *, minimum: int = 1, maximum: int | None = None
) -> Any:
    return setting(_PREFIX + name, default, help, minimum=minimum, maximum=maximum)


def _seconds(name: str, default: float, help: str) -> Any:
    return setting(_PREFIX + name, default, help, minimum=0.1)


@dataclass(frozen=True, slots=True)
class BrokerLimits:
    """Every bound the broker enforces; the defaults suit one machine with a few GB."""

    max_packet_size: int = _whole(
        "MAX_PACKET_SIZE",
        2 * 1024 * 1024,
        "largest packet in bytes",
        minimum=64,
        maximum=268_435_455,
    )
    max_connections: int = _whole("MAX_CONNECTIONS", 100_000, "open connections")
    max_inflight: int = _whole(
        "MAX_INFLIGHT", 32, "unacknowledged QoS 1/2 messages per client", maximum=65535
    )
    max_outbound_bytes: int = _whole(
        "MAX_OUTBOUND_BYTES", 2 * 1024 * 1024, "bytes waiting to be sent to one client"
    )
    slow_client_timeout: float = _seconds(
        "SLOW_CLIENT_TIMEOUT", 10.0, "seconds a client may stay over that before it is cut"
    )
    max_retained_count: int = _whole("MAX_RETAINED_COUNT", 10_000, "retained messages")
    max_retained_bytes: int = _whole(
        "MAX_RETAINED_BYTES", 64 * 1024 * 1024, "bytes of retained messages"
    )
    max_offline_queue: int = _whole(
        "MAX_OFFLINE_QUEUE", 1_000, "messages queued per offline session"
    )
    max_offline_queue_bytes: int = _whole(
        "MAX_OFFLINE_QUEUE_BYTES", 2 * 1024 * 1024, "bytes queued per offline session"
    )
    max_sessions: int = _whole("MAX_SESSIONS", 100_000, "sessions, live and offline")
    max_sessions_per_thing: int = _whole(
        "MAX_SESSIONS_PER_THING", 100, "sessions of one thing, live and offline"
    )
    max_subscriptions: int = _whole("MAX_SUBSCRIPTIONS", 1_000, "subscriptions per session")
    max_client_id_length: int = _whole(
        "MAX_CLIENT_ID_LENGTH", 256, "longest client id", minimum=23, maximum=65535
    )
    max_pending_connections: int = _whole(
        "MAX_PENDING_CONNECTIONS", 10_000, "connections that have not sent CONNECT yet"
    )
    connect_timeout: float = _seconds(
        "CONNECT_TIMEOUT", 10.0, "seconds a connection may take to send CONNECT"
    )
    retry_interval: float = setting(
        _PREFIX + "RETRY_INTERVAL",
        20.0,
        "seconds before an unacknowledged QoS 1/2 message is sent again to a connected "
        "MQTT 3.1.1 client (0: only on reconnect, as MQTT 5 requires)",
        minimum=0,
        maximum=86_400,
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> BrokerLimits:
        """Read the limits; raises ``ConfigError`` naming a variable with a bad value."""
        return load(cls, environ)


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
