"""Reading query parameters strictly, before any work is done for a request.

One parser for every API: a value is one ASCII decimal within its bounds, or the
request is malformed (400). Unicode digits (``²``, ``٣``), signs, huge digit strings
and repeated keys are refused here, so nothing past the transport sees them."""

from __future__ import annotations

import math
import re
from typing import Final

from starlette.requests import Request

from mainflux.core.errors import MalformedEntity

#: The largest ``offset`` (a signed 64-bit integer, what SQL engines accept).
MAX_OFFSET: Final = 2**63 - 1

_DECIMAL: Final = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,4})?")
_MAX_NUMBER_CHARS: Final = 64


def query_value(request: Request, key: str) -> str | None:
    """The single value of query key ``key`` (``None`` when absent).

    Raises ``MalformedEntity`` when the key is repeated."""
    values = request.query_params.getlist(key)
    if len(values) > 1:
        raise MalformedEntity(f"query parameter {key!r} given more than once")
    return values[0] if values else None


def query_int(request: Request, key: str, default: int, minimum: int, maximum: int) -> int:
    """Query key ``key`` as a whole number in ``[minimum, maximum]`` (``minimum`` >= 0),
    or ``default`` when absent or empty.

    Raises ``MalformedEntity`` naming the key and its bounds for anything else."""
    raw = query_value(request, key)
    if raw is None or raw == "":
        return default
    # ASCII digits only, and never more of them than the maximum has: int() is then
    # cheap and exact.
    if raw.isascii() and raw.isdigit() and len(raw) <= len(str(maximum)):
        value = int(raw)
        if minimum <= value <= maximum:
            return value
    raise MalformedEntity(
        f"query parameter {key!r} must be a whole number from {minimum} to {maximum}"
    )


def query_page(request: Request, default_limit: int, max_limit: int) -> tuple[int, int]:
    """``offset`` (0 to :data:`MAX_OFFSET`, default 0) and ``limit`` (1 to ``max_limit``,
    default ``default_limit``). Raises ``MalformedEntity``."""
    offset = query_int(request, "offset", 0, 0, MAX_OFFSET)
    limit = query_int(request, "limit", default_limit, 1, max_limit)
    return offset, limit


def query_float(request: Request, key: str) -> float | None:
    """Query key ``key`` as a finite decimal number (``1``, ``-2.5``, ``1e3``), or
    ``None`` when absent or empty. Raises ``MalformedEntity``."""
    raw = query_value(request, key)
    if raw is None or raw == "":
        return None
    if len(raw) <= _MAX_NUMBER_CHARS and _DECIMAL.fullmatch(raw):
        value = float(raw)
        if math.isfinite(value):
            return value
    raise MalformedEntity(f"query parameter {key!r} must be a finite decimal number")
