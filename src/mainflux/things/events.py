"""Event sourcing for the things service: a decorator that appends to ``mainflux.things``.

After each successful change the decorator appends one entry with Mainflux's
operation names and flat string fields (metadata as a JSON string, never a key). Bulk
creates give one entry per entity and connects one per pair. A key change appends
``thing.update`` with only ``id`` (no field the seed lists changed), so caches elsewhere
drop the old key while consumers meet only the seed's operations.

A failed append never fails the client's request; it is logged and counted in
``mainflux_event_append_failures_total``."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Final

import orjson

from mainflux.core.metrics import EVENT_FAILURES
from mainflux.events.stream import EventStream
from mainflux.things.models import Channel, Metadata, Page, Thing
from mainflux.things.service import DEFAULT_LIMIT, Service

STREAM: Final = "mainflux.things"

log = logging.getLogger("mainflux.things.events")


def _metadata_json(metadata: Metadata) -> str:
    """Metadata as Go's ``json.Marshal`` writes a map: compact, keys sorted."""
    return orjson.dumps(metadata, option=orjson.OPT_SORT_KEYS).decode()


def _entity_fields(operation: str, entity: Thing | Channel, *, owner: bool) -> dict[str, str]:
    fields = {"operation": operation, "id": entity.id}
    if owner:
        fields["owner"] = entity.owner
    if entity.name:
        fields["name"] = entity.name
    if entity.metadata:
        fields["metadata"] = _metadata_json(entity.metadata)
    return fields


class EventingThingsService:
    """A :class:`~mainflux.things.service.Service` that records changes in a stream."""

    def __init__(self, inner: Service, stream: EventStream) -> None:
        self._inner = inner
        self._stream = stream

    async def _append(self, fields: Mapping[str, str]) -> None:
        try:
            await self._stream.append(STREAM, fields)
        except Exception as exc:
            EVENT_FAILURES.labels(STREAM).inc()
            log.error("cannot append %s to %s: %s", fields["operation"], STREAM, type(exc).__name__)

    # things

    async def create_things(self, token: str, things: Sequence[Thing]) -> list[Thing]:
        created = await self._inner.create_things(token, things)
        for thing in created:
            await self._append(_entity_fields("thing.create", thing, owner=True))
        return created

    async def update_thing(self, token: str, thing: Thing) -> None:
        await self._inner.update_thing(token, thing)
        updated = replace(thing, id=thing.id.lower())
        await self._append(_entity_fields("thing.update", updated, owner=False))

    async def update_key(self, token: str, thing_id: str, key: str) -> None:
        await self._inner.update_key(token, thing_id, key)
        await self._append({"operation": "thing.update", "id": thing_id.lower()})

    async def view_thing(self, token: str, thing_id: str) -> Thing:
        return await self._inner.view_thing(token, thing_id)

    async def list_things(
        self,
        token: str,
        offset: int = 0,
        limit: int = DEFAULT_LIMIT,
        name: str = "",
        metadata: Metadata | None = None,
    ) -> Page[Thing]:
        return await self._inner.list_things(token, offset, limit, name, metadata)

    async def list_things_by_channel(
        self, token: str, channel_id: str, offset: int = 0, limit: int = DEFAULT_LIMIT
    ) -> Page[Thing]:
        return await self._inner.list_things_by_channel(token, channel_id, offset, limit)

    async def remove_thing(self, token: str, thing_id: str) -> bool:
        removed = await self._inner.remove_thing(token, thing_id)
        if removed:
            await self._append({"operation": "thing.remove", "id": thing_id.lower()})
        return removed

    # channels

    async def create_channels(self, token: str, channels: Sequence[Channel]) -> list[Channel]:
        created = await self._inner.create_channels(token, channels)
        for channel in created:
            await self._append(_entity_fields("channel.create", channel, owner=True))
        return created

    async def update_channel(self, token: str, channel: Channel) -> None:
        await self._inner.update_channel(token, channel)
        updated = replace(channel, id=channel.id.lower())
        await self._append(_entity_fields("channel.update", updated, owner=False))

    async def view_channel(self, token: str, channel_id: str) -> Channel:
        return await self._inner.view_channel(token, channel_id)

    async def list_channels(
        self,
        token: str,
        offset: int = 0,
        limit: int = DEFAULT_LIMIT,
        name: str = "",
        metadata: Metadata | None = None,
    ) -> Page[Channel]:
        return await self._inner.list_channels(token, offset, limit, name, metadata)

    async def list_channels_by_thing(
        self, token: str, thing_id: str, offset: int = 0, limit: int = DEFAULT_LIMIT
    ) -> Page[Channel]:
        return await self._inner.list_channels_by_thing(token, thing_id, offset, limit)

    async def remove_channel(self, token: str, channel_id: str) -> bool:
        removed = await self._inner.remove_channel(token, channel_id)
        if removed:
            await self._append({"operation": "channel.remove", "id": channel_id.lower()})
        return removed

    # connections

    async def connect(
        self, token: str, channel_ids: Sequence[str], thing_ids: Sequence[str]
    ) -> None:
        await self._inner.connect(token, channel_ids, thing_ids)
        channels = dict.fromkeys(c.lower() for c in channel_ids)
        things = dict.fromkeys(t.lower() for t in thing_ids)
        for channel_id in channels:
            for thing_id in things:
                await self._append(
                    {"operation": "thing.connect", "chan_id": channel_id, "thing_id": thing_id}
                )

    async def disconnect(self, token: str, channel_id: str, thing_id: str) -> None:
        await self._inner.disconnect(token, channel_id, thing_id)
        await self._append(
            {
                "operation": "thing.disconnect",
                "chan_id": channel_id.lower(),
                "thing_id": thing_id.lower(),
            }
        )

    # access checks pass through

    async def identify(self, key: str) -> str:
        return await self._inner.identify(key)

    async def can_access_by_key(self, channel_id: str, key: str) -> str:
        return await self._inner.can_access_by_key(channel_id, key)

    async def can_access_by_id(self, channel_id: str, thing_id: str) -> None:
        await self._inner.can_access_by_id(channel_id, thing_id)

    async def authorize_owner(self, token: str, channel_id: str) -> None:
        await self._inner.authorize_owner(token, channel_id)


_check: type[Service] = EventingThingsService
