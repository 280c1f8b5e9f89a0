"""Prometheus metrics shared by every service, exposed at ``/metrics``."""

from __future__ import annotations

from typing import Final

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

REQUESTS: Final = Counter(
    "mainflux_http_requests_total",
    "HTTP requests answered, by service, method and status code.",
    ["service", "method", "status"],
)
LATENCY: Final = Histogram(
    "mainflux_http_request_duration_seconds",
    "Time to answer an HTTP request, by service.",
    ["service"],
)
EVENT_FAILURES: Final = Counter(
    "mainflux_event_append_failures_total",
    "Events that could not be appended to their stream.",
    ["stream"],
)


def exposition() -> tuple[bytes, str]:
    """Return the current metrics in Prometheus text format and its content type."""
    return generate_latest(), CONTENT_TYPE_LATEST
