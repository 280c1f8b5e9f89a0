"""The MQTT broker's counters on ``/metrics``, read when scraped (nothing on the hot path).

The broker counts in plain integers (:class:`~mainflux.adapters.mqtt.broker.BrokerStats`);
one collector, registered once per process, sums them over the brokers that are running
(one in a service, one in the all-in-one, several in some tests)."""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from typing import TYPE_CHECKING, Final

from prometheus_client.core import REGISTRY, CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from mainflux.adapters.mqtt.broker import Broker

_RUNNING: Final[weakref.WeakSet[Broker]] = weakref.WeakSet()

#: Counter name (after ``mainflux_mqtt_``) and help, by ``BrokerStats`` field.
COUNTERS: Final = {
    "messages_in": ("messages_received", "PUBLISH packets received from clients."),
    "refused_publishes": ("publishes_refused", "Publishes refused (not authorized)."),
    "dropped_qos0": ("qos0_dropped", "QoS 0 deliveries dropped for a full client."),
    "too_large_dropped": ("too_large_dropped", "Deliveries dropped as over the packet size."),
    "connections_refused": ("connections_refused", "Connections refused at a bound."),
    "connect_timeouts": ("connect_timeouts", "Connections closed for sending no CONNECT."),
    "handshakes_dropped": ("handshakes_dropped", "Pending handshakes dropped at the bound."),
    "keepalive_timeouts": ("keepalive_timeouts", "Clients closed for a missed keep-alive."),
    "protocol_errors": ("protocol_errors", "Clients closed for a protocol error."),
    "slow_disconnects": ("slow_disconnects", "Clients closed for staying too slow."),
    "revoked_connections": ("revoked_connections", "Clients closed by a revocation."),
    "revoked_subscriptions": ("revoked_subscriptions", "Subscriptions removed by a revocation."),
}


class _BrokerCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        brokers = list(_RUNNING)
        for field, (name, text) in COUNTERS.items():
            counter = CounterMetricFamily(f"mainflux_mqtt_{name}", text)
            counter.add_metric([], sum(getattr(b.stats, field) for b in brokers))
            yield counter
        connections = GaugeMetricFamily("mainflux_mqtt_connections", "Connected clients.")
        connections.add_metric([], sum(len(b.connections) for b in brokers))
        yield connections
        sessions = GaugeMetricFamily(
            "mainflux_mqtt_sessions", "Sessions kept, connected or persistent."
        )
        sessions.add_metric([], sum(len(s) for b in brokers for s in b.sessions.values()))
        yield sessions


REGISTRY.register(_BrokerCollector())


def track(broker: Broker) -> None:
    """Count ``broker`` on ``/metrics`` until :func:`untrack` (or until it is gone)."""
    _RUNNING.add(broker)


def untrack(broker: Broker) -> None:
    """Stop counting ``broker``."""
    _RUNNING.discard(broker)
