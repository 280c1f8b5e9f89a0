"""Keeping configs in step with the things service: a consumer of ``mainflux.things``.

:class:`ThingsEventSync` reads the stream in a consumer group (``mainflux.bootstrap`` by
default, consumer ``MF_BOOTSTRAP_EVENT_CONSUMER``) and applies, touching only the config
or channel the entry names:

- ``thing.remove``: that thing's config is deleted;
- ``thing.disconnect``: that thing's config becomes Inactive, when the channel is one
  of the config's (bootstrap saves a config's new channels before it disconnects the
  old ones, so its own disconnects never deactivate);
- ``channel.update``: the name and metadata kept of the channel are refreshed;
- ``channel.remove``: the channel leaves every config.

Other operations are acknowledged and ignored. Each entry is acknowledged after it is
applied, so a restart resumes at the first entry not yet applied. An entry that fails
is tried ``retries`` more times with growing delays, then parked in the repository with
the reason, counted in ``mainflux_bootstrap_parked_events_total`` and acknowledged.
While parking itself fails (the database is down) nothing is acknowledged and the
entry is tried again later, so no entry is lost."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Final

import orjson
from prometheus_client import Counter

from mainflux.bootstrap.ports import ConfigRepository
from mainflux.core.errors import MalformedEntity
from mainflux.core.retry import Backoff, wait_or_stop
from mainflux.events.stream import ConsumerGroups

STREAM: Final = "mainflux.things"
DEFAULT_GROUP: Final = "mainflux.bootstrap"
DEFAULT_RETRIES: Final = 3

PARKED: Final = Counter(
    "mainflux_bootstrap_parked_events_total",
    "Things events bootstrap could not apply and parked, by operation.",
    ["operation"],
)
APPLIED: Final = Counter(
    "mainflux_bootstrap_applied_events_total",
    "Things events bootstrap applied (or acknowledged as not its concern).",
)

log = logging.getLogger("mainflux.bootstrap.sync")


def _field(fields: Mapping[str, str], name: str) -> str:
    value = fields.get(name, "")
    if not value:
        raise MalformedEntity(f"the entry has no {name!r}")
    return value.lower()


class ThingsEventSync:
    """Applies things events to the bootstrap repository (see the module's docs)."""

    def __init__(
        self,
        repo: ConfigRepository,
        groups: ConsumerGroups,
        *,
        group: str = DEFAULT_GROUP,
        consumer: str = "bootstrap",
        retries: int = DEFAULT_RETRIES,
        retry_delay: float = 0.1,
        batch: int = 100,
    ) -> None:
        self._repo = repo
        self._groups = groups
        self._group = group
        self._consumer = consumer
        self._retries = retries
        self._retry_delay = retry_delay
        self._batch = batch
        self._created = False

    async def apply(self, fields: Mapping[str, str]) -> None:
        """Apply one entry. Raises when it cannot be applied."""
        operation = fields.get("operation", "")
        if operation == "thing.remove":
            await self._repo.remove_thing(_field(fields, "id"))
        elif operation == "thing.disconnect":
            await self._repo.deactivate(_field(fields, "thing_id"), _field(fields, "chan_id"))
        elif operation == "channel.update":
            metadata = None
            if fields.get("metadata"):
                try:
                    metadata = orjson.loads(fields["metadata"])
                except orjson.JSONDecodeError:
                    raise MalformedEntity("the entry's metadata is not JSON") from None
                if not isinstance(metadata, dict):
                    raise MalformedEntity("the entry's metadata is not a JSON object")
            await self._repo.update_channel(_field(fields, "id"), fields.get("name", ""), metadata)
        elif operation == "channel.remove":
            await self._repo.remove_channel(_field(fields, "id"))

    async def _handle(self, entry_id: str, fields: Mapping[str, str], stop: asyncio.Event) -> bool:
        """Apply with retries, else park; whether the entry may be acknowledged."""
        error: Exception | None = None
        for attempt in range(self._retries + 1):
            if attempt and await wait_or_stop(stop, self._retry_delay * 2 ** (attempt - 1)):
                return False
            try:
                await self.apply(fields)
                APPLIED.inc()
                return True
            except Exception as exc:
                error = exc
                log.warning(
                    "cannot apply %s %s (attempt %d): %s",
                    STREAM,
                    entry_id,
                    attempt + 1,
                    f"{type(exc).__name__}: {exc}",
                )
        reason = f"{type(error).__name__}: {error}"
        try:
            await self._repo.park(STREAM, entry_id, fields, reason)
        except Exception as exc:
            log.error("cannot park %s %s: %s", STREAM, entry_id, type(exc).__name__)
            return False
        PARKED.labels(fields.get("operation", "")[:64]).inc()
        log.error("parked %s %s: %s", STREAM, entry_id, reason)
        return True

    async def prepare(self) -> None:
        """Create the consumer group (kept when it exists), so entries appended from
        now on are applied even before :meth:`run` starts reading."""
        await self._groups.create_group(STREAM, self._group)
        self._created = True

    async def run(self, stop: asyncio.Event, *, block: float = 1.0) -> None:
        """Consume until ``stop`` is set; a failing stream is retried with backoff."""
        backoff = Backoff(first=0.2, most=5.0)
        while not stop.is_set():
            try:
                if not self._created:
                    await self.prepare()
                entries = await self._groups.read_group(
                    STREAM, self._group, self._consumer, self._batch, block
                )
                for entry_id, fields in entries:
                    if not await self._handle(entry_id, fields, stop):
                        break
                    await self._groups.ack(STREAM, self._group, entry_id)
                else:
                    backoff.reset()
                    continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("cannot read %s: %s", STREAM, type(exc).__name__)
            if await backoff.wait(stop):
                return
