"""The event log port: append-only named streams of flat string entries.

Entries look like Redis Stream entries: an id ``<ms>-<seq>`` and a mapping of string
fields. Consumer groups (:class:`ConsumerGroups`) hand each entry to a group once and
keep it pending until acknowledged. Two implementations: Redis Streams
(:mod:`mainflux.events.redis`) and an embedded log in the service's SQL database
(:mod:`mainflux.events.sql`)."""

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


class ConsumerGroups(Protocol):
    """Consumer groups over a stream, as Redis's XGROUP/XREADGROUP/XACK.

    An entry read by a group stays pending until acknowledged; reading again returns
    the consumer's pending entries first, so a consumer that stopped (or crashed)
    before acknowledging gets them back when it resumes."""

    async def create_group(self, stream: str, group: str) -> None:
        """Create ``group`` starting after the stream's last entry (creating the stream
        when missing); an existing group is kept where it is."""
        ...

    async def read_group(
        self, stream: str, group: str, consumer: str, count: int = 100, block: float = 1.0
    ) -> list[Entry]:
        """The consumer's pending entries, or else up to ``count`` new ones (waiting up
        to ``block`` seconds for them). Entries trimmed away while pending come back
        with empty fields."""
        ...

    async def ack(self, stream: str, group: str, entry_id: str) -> None:
        """Acknowledge one entry: the group will not hand it out again."""
        ...


def id_key(entry_id: str) -> tuple[int, int]:
    """Order key of an entry id ``<ms>-<seq>``."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)
