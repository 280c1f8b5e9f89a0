"""The event log port: append-only named streams of flat string entries.

Entries look like Redis Stream entries: an id ``<ms>-<seq>`` and a mapping of string
fields. Two implementations: Redis Streams (:mod:`mainflux.events.redis`) and an
embedded log in the service's SQL database (:mod:`mainflux.events.sql`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

Entry = tuple[str, dict[str, str]]


class EventStream(Protocol):
    """Appends to and reads from named event streams."""

    async def append(self, stream: str, fields: Mapping[str, str]) -> str:
        """Append one entry and return its id. Raises on failure."""
        ...

    async def read(
        self, stream: str, after: str = "0-0", count: int = 100, block: float | None = None
    ) -> list[Entry]:
        """Return up to ``count`` entries with ids greater than ``after``.

        With ``block`` (seconds), wait up to that long for new entries when there are
        none; ``after="$"`` means only entries appended from now on."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


def id_key(entry_id: str) -> tuple[int, int]:
    """Order key of an entry id ``<ms>-<seq>``."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)
