"""Settings of ``mainflux-coap``: Mainflux's variable names and defaults.

``mainflux-coap --help`` lists every variable with its default. One difference from Go
Mainflux: ``MF_COAP_ADAPTER_PING_PERIOD`` counts seconds (Go: hours, 12), so that a
vanished observer is found within minutes, not half a day."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from mainflux.adapters.coap.observers import (
    DEFAULT_MAX_OBSERVERS,
    DEFAULT_MAX_OBSERVERS_PER_THING,
)
from mainflux.adapters.coap.resource import (
    DEFAULT_ACK_TIMEOUT,
    DEFAULT_MAX_PAYLOAD,
    DEFAULT_MAX_RETRANSMIT,
    DEFAULT_PING_PERIOD,
    Tuning,
)
from mainflux.adapters.runtime import (
    AccessSettings,
    cache_max_age,
    http_limits,
    nats_url,
    things_client_tls,
)
from mainflux.core.limits import HttpLimits
from mainflux.core.settings import log_level_setting, nested, setting
from mainflux.core.tls import ClientTLS

PROG: Final = "mainflux-coap"
SUMMARY: Final = (
    "The CoAP adapter: devices POST or PUT messages to "
    "coap://host/channels/<id>/messages[/<subtopic>]?authorization=<key> and observe "
    "a channel with GET and Observe=0; /version and /metrics over HTTP on the same "
    "port number over TCP."
)
PREFIX: Final = "COAP_ADAPTER"
LOG_LEVEL: Final = f"MF_{PREFIX}_LOG_LEVEL"
PORT: Final = f"MF_{PREFIX}_PORT"


@dataclass(frozen=True, slots=True)
class CoapAccess(AccessSettings):
    """The CoAP adapter's access settings (its cache age and client TLS)."""

    max_age: float = cache_max_age(PREFIX)
    tls: ClientTLS | None = things_client_tls(PREFIX)


@dataclass(frozen=True, slots=True)
class ObserveTuning:
    """How observers are bounded and checked for life."""

    max_observers: int = setting(
        f"MF_{PREFIX}_MAX_OBSERVERS",
        DEFAULT_MAX_OBSERVERS,
        "observations held at once; 5.03 above",
        minimum=1,
    )
    max_observers_per_thing: int = setting(
        f"MF_{PREFIX}_MAX_OBSERVERS_PER_THING",
        DEFAULT_MAX_OBSERVERS_PER_THING,
        "observations per thing; 4.29 above",
        minimum=1,
    )
    ping_period: float = setting(
        f"MF_{PREFIX}_PING_PERIOD",
        DEFAULT_PING_PERIOD,
        "seconds between confirmable checks of an observer (no ACK: dropped)",
        minimum=0.01,
    )
    ack_timeout: float = setting(
        f"MF_{PREFIX}_ACK_TIMEOUT",
        DEFAULT_ACK_TIMEOUT,
        "seconds before a confirmable notification is first sent again",
        minimum=0.01,
    )
    max_retransmit: int = setting(
        f"MF_{PREFIX}_MAX_RETRANSMIT",
        DEFAULT_MAX_RETRANSMIT,
        "times a confirmable notification is sent again before the observer is dropped",
        minimum=0,
        maximum=20,
    )

    def tuning(self, max_payload: int) -> Tuning:
        """The resource's :class:`Tuning` from these settings."""
        return Tuning(
            max_payload=max_payload,
            max_observers=self.max_observers,
            max_observers_per_thing=self.max_observers_per_thing,
            ping_period=self.ping_period,
            ack_timeout=self.ack_timeout,
            max_retransmit=self.max_retransmit,
        )


@dataclass(frozen=True, slots=True)
class Settings:
    """The CoAP adapter's settings, read once (:func:`mainflux.core.settings.load`)."""

    host: str = setting(f"MF_{PREFIX}_HOST", "0.0.0.0", "listening address")
    port: int = setting(
        PORT,
        5683,
        "UDP port of CoAP and TCP port of /version, /metrics",
        minimum=0,
        maximum=65535,
    )
    nats_url: str = nats_url()
    access: AccessSettings = nested(CoapAccess)
    max_payload: int = setting(
        f"MF_{PREFIX}_MAX_PAYLOAD",
        DEFAULT_MAX_PAYLOAD,
        "largest message in bytes, block-wise transfers included; 4.13 above",
        minimum=1,
    )
    observe: ObserveTuning = nested(ObserveTuning)
    log_level: str = log_level_setting(LOG_LEVEL)
    limits: HttpLimits = http_limits()

    @property
    def tuning(self) -> Tuning:
        """The resource's :class:`Tuning`."""
        return self.observe.tuning(self.max_payload)
