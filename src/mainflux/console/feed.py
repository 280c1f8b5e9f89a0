"""Recent events of the things event log, kept in memory for the console's home page.

The feed primes itself with the last day of ``mainflux.things`` and then follows it,
holding at most ``size`` entries. Events name their owner only at creation, so the feed
also remembers which owner created each id (bounded the same way) to show a user the
later events (updates, connections, removals) of what is theirs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Final

from mainflux.events.stream import EventStream

log = logging.getLogger("mainflux.console")

STREAM: Final = "mainflux.things"
#: How far back the feed starts when the console starts.
PRIME_SECONDS: Final = 24 * 3600


@dataclass(frozen=True, slots=True)
class Event:
    """One entry of the event log."""

    id: str
    fields: dict[str, str]

    @property
    def when(self) -> float:
        """Seconds since the epoch, from the entry id."""
        return int(self.id.partition("-")[0]) / 1000

    @property
    def operation(self) -> str:
        return self.fields.get("operation", "")


class EventFeed:
    """A bounded, per-owner view of the latest things events."""

    def __init__(self, events: EventStream, size: int = 2000) -> None:
        self._events = events
        self._recent: deque[Event] = deque(maxlen=size)
        self._owners: OrderedDict[str, str] = OrderedDict()
        self._size = size
        self._after = f"{int((time.time() - PRIME_SECONDS) * 1000)}-0"

    def _take(self, event: Event) -> None:
        owner = event.fields.get("owner")
        if owner and "id" in event.fields:
            self._owners[event.fields["id"]] = owner
            while len(self._owners) > self._size:
                self._owners.popitem(last=False)
        self._recent.append(event)

    def _owner(self, event: Event) -> str | None:
        fields = event.fields
        if "owner" in fields:
            return fields["owner"]
        for key in ("id", "thing_id", "chan_id"):
            if key in fields and fields[key] in self._owners:
                return self._owners[fields[key]]
        return None

    async def poll(self, block: float | None = None) -> int:
        """Read what was appended since the last read; return how many entries."""
        entries = await self._events.read(STREAM, self._after, count=500, block=block)
        for entry_id, fields in entries:
            self._take(Event(entry_id, dict(fields)))
            self._after = entry_id
        return len(entries)

    async def run(self) -> None:
        """Follow the stream until cancelled; a read failure is logged and retried."""
        while True:
            try:
                await self.poll(block=1.0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("console: cannot read %s: %s", STREAM, type(exc).__name__)
                await asyncio.sleep(2.0)

    def recent(self, owner: str, count: int = 10) -> list[Event]:
        """The latest ``count`` events of ``owner``'s things and channels, newest first."""
        found: list[Event] = []
        for event in reversed(self._recent):
            if (self._owner(event) or "").lower() == owner.lower():
                found.append(event)
                if len(found) == count:
                    break
        return found


@contextlib.asynccontextmanager
async def following(feed: EventFeed | None):  # type: ignore[no-untyped-def]
    """Run ``feed`` in the background for the duration of the block."""
    if feed is None:
        yield
        return
    task = asyncio.create_task(feed.run(), name="console-events")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
