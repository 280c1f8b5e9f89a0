"""Retention of the event logs: old entries are trimmed, unread ones never.

A service that appends to a stream keeps it bounded with :func:`keep_trimmed`: every
``MF_EVENTS_TRIM_INTERVAL`` seconds it drops the entries beyond the newest
``MF_EVENTS_MAX_ENTRIES`` and those older than ``MF_EVENTS_MAX_AGE`` seconds, but never
an entry a registered consumer group has not read and acknowledged yet (a Redis group's
pending and undelivered entries, an embedded group's entries after its position): a
group that falls behind holds its backlog until it catches up."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from prometheus_client import Counter

from mainflux.core.settings import setting

log = logging.getLogger("mainflux.events")

DEFAULT_MAX_ENTRIES: Final = 100_000
DEFAULT_MAX_AGE: Final = 30 * 24 * 3600
DEFAULT_TRIM_INTERVAL: Final = 60.0

TRIMMED: Final = Counter(
    "mainflux_events_trimmed_total",
    "Event log entries dropped by retention.",
    ["stream"],
)


@dataclass(frozen=True, slots=True)
class RetentionSettings:
    """How much of each event stream a service keeps (``0`` lifts a bound)."""

    max_entries: int = setting(
        "MF_EVENTS_MAX_ENTRIES",
        DEFAULT_MAX_ENTRIES,
        "event entries kept per stream (0: no bound); a group's unread ones stay",
        minimum=0,
    )
    max_age: int = setting(
        "MF_EVENTS_MAX_AGE",
        DEFAULT_MAX_AGE,
        "seconds an event entry is kept (0: no bound); a group's unread ones stay",
        minimum=0,
    )
    interval: float = setting(
        "MF_EVENTS_TRIM_INTERVAL",
        DEFAULT_TRIM_INTERVAL,
        "seconds between two trims of the event streams",
        minimum=0.1,
    )


class Trimmable(Protocol):
    """An event log that can drop its old, already-read entries."""

    async def trim(self, stream: str, *, max_entries: int, max_age: float) -> int:
        """Drop the entries of ``stream`` beyond the newest ``max_entries`` or older
        than ``max_age`` seconds (``0``: no such bound), keeping every entry a
        consumer group has not acknowledged; return how many were dropped."""
        ...


def age_bound(max_age: float, now: float | None = None) -> tuple[int, int] | None:
    """The oldest ``(ms, seq)`` an age bound keeps, or ``None`` without one."""
    if not max_age:
        return None
    return int(((time.time() if now is None else now) - max_age) * 1000), 0


async def trim_all(
    events: Trimmable, streams: Sequence[str], settings: RetentionSettings
) -> dict[str, int]:
    """Trim each of ``streams`` once; return what was dropped per stream. A stream that
    cannot be trimmed now (its server is down) is logged and skipped."""
    dropped: dict[str, int] = {}
    if not settings.max_entries and not settings.max_age:
        return dropped
    for stream in streams:
        try:
            count = await events.trim(
                stream, max_entries=settings.max_entries, max_age=settings.max_age
            )
        except Exception as exc:  # an outage: the next round tries again
            log.warning("events: cannot trim %s now: %s", stream, exc)
            continue
        dropped[stream] = count
        if count:
            TRIMMED.labels(stream).inc(count)
    return dropped


async def keep_trimmed(
    events: Trimmable, streams: Sequence[str], settings: RetentionSettings
) -> None:
    """Trim ``streams`` every ``settings.interval`` seconds until cancelled."""
    while True:
        await trim_all(events, streams, settings)
        await asyncio.sleep(settings.interval)
