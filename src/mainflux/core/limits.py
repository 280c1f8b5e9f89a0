"""Bounds on what one HTTP client may send or hold, read from ``MF_HTTP_*`` variables.

Every HTTP server of the platform (each service's port and the all-in-one gateway) runs
with these (see :mod:`mainflux.core.guard` and :func:`mainflux.core.runner.serve_http`);
every management API also bounds its request bodies (:data:`MAX_BODY_VAR`) and the
nesting of the JSON it accepts (:func:`check_json_depth`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from mainflux.core.config import env_float, env_int
from mainflux.core.errors import MalformedEntity

#: The variable bounding request bodies of the management APIs (users, authn, things,
#: reader); the HTTP adapter has its own, ``MF_HTTP_ADAPTER_MAX_BODY``.
MAX_BODY_VAR: Final = "MF_HTTP_MAX_BODY"
DEFAULT_MAX_BODY: Final = 1 << 20

#: The deepest nesting of objects and arrays accepted in client JSON such as metadata.
MAX_JSON_DEPTH: Final = 32


@dataclass(frozen=True, slots=True)
class HttpLimits:
    """Per-server bounds; the defaults suit a public port on one machine."""

    #: Bytes of the request line and headers together (431 above).
    max_header_bytes: int = 32 * 1024
    #: Header fields in one request (431 above).
    max_headers: int = 100
    #: Seconds a request may take to arrive, from its first byte (or the connection's
    #: opening) to its last; a slower client is cut with 408.
    request_timeout: float = 30.0
    #: Seconds a kept-alive connection may wait silently for its next request.
    idle_timeout: float = 5.0
    #: Open connections per port, WebSockets included; at the cap the connection idle
    #: the longest is closed to make room, or the new one is refused when none is idle.
    max_connections: int = 10_000
    #: The largest WebSocket message (``MF_WS_MAX_FRAME``).
    ws_max_size: int = 1 << 20

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> HttpLimits:
        """Read the limits; raises ``ConfigError`` naming a variable with a bad value."""
        d = cls()

        def seconds(name: str, default: float) -> float:
            return env_float(name, default, minimum=0.1, environ=environ)

        def whole(name: str, default: int) -> int:
            return env_int(name, default, minimum=1, environ=environ)

        return cls(
            max_header_bytes=env_int(
                "MF_HTTP_MAX_HEADER_BYTES", d.max_header_bytes, minimum=1024, environ=environ
            ),
            max_headers=whole("MF_HTTP_MAX_HEADERS", d.max_headers),
            request_timeout=seconds("MF_HTTP_REQUEST_TIMEOUT", d.request_timeout),
            idle_timeout=seconds("MF_HTTP_IDLE_TIMEOUT", d.idle_timeout),
            max_connections=whole("MF_HTTP_MAX_CONNECTIONS", d.max_connections),
            ws_max_size=whole("MF_WS_MAX_FRAME", d.ws_max_size),
        )


def max_body_from_env(environ: Mapping[str, str] | None = None) -> int:
    """The management APIs' body bound in bytes (``MF_HTTP_MAX_BODY``, 1 MiB)."""
    return env_int(MAX_BODY_VAR, DEFAULT_MAX_BODY, minimum=1, environ=environ)


def json_depth_exceeds(value: Any, max_depth: int) -> bool:
    """Whether ``value`` (parsed JSON) nests objects and arrays deeper than ``max_depth``.

    Iterative, so it is safe on any input a JSON parser returns."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth + 1 > max_depth:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def check_json_depth(value: Any, field: str = "metadata", max_depth: int = MAX_JSON_DEPTH) -> None:
    """Raise ``MalformedEntity`` naming ``field`` when ``value`` nests deeper than
    ``max_depth`` levels (32): deep JSON would exhaust recursion further on."""
    if json_depth_exceeds(value, max_depth):
        raise MalformedEntity(f"{field} nests deeper than {max_depth} levels")
