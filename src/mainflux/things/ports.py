"""Ports of the things service: its repository and its access cache.

The service depends only on these Protocols; :mod:`.store` and :mod:`.cache` hold the
implementations, and the unit tests hold in-memory fakes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from mainflux.things.models import Channel, Metadata, Page, Thing


class ThingsRepository(Protocol):
    """Persistent things, channels and connections, always scoped to an owner.

    Ids passed in are canonical lowercase UUID strings (the service checks them)."""

    async def save_things(self, things: Sequence[Thing]) -> None:
        """Insert every thing in one transaction. Raises ``Conflict`` on a taken key."""
        ...

    async def update_thing(self, owner: str, thing_id: str, name: str, metadata: Metadata) -> None:
        """Replace name and metadata. Raises ``NotFound``."""
        ...

    async def update_key(self, owner: str, thing_id: str, key: str) -> None:
        """Replace the key. Raises ``NotFound``, or ``Conflict`` when the key is taken."""
        ...

    async def retrieve_thing(self, owner: str, thing_id: str) -> Thing:
        """Return the owner's thing. Raises ``NotFound``."""
        ...

    async def thing_id_by_key(self, key: str) -> str:
        """Return the id of the thing with ``key`` (any owner). Raises ``NotFound``."""
        ...

    async def list_things(
        self, owner: str, offset: int, limit: int, name: str, metadata: Metadata | None
    ) -> Page[Thing]:
        """A page of the owner's things ordered by id, filtered by name and metadata."""
        ...

    async def list_things_by_channel(
        self, owner: str, channel_id: str, offset: int, limit: int
    ) -> Page[Thing]:
        """A page of the owner's things connected to the channel, ordered by id."""
        ...

    async def remove_thing(self, owner: str, thing_id: str) -> bool:
        """Delete the thing and its connections; whether a row was removed."""
        ...

    async def save_channels(self, channels: Sequence[Channel]) -> None:
        """Insert every channel in one transaction."""
        ...

    async def update_channel(
        self, owner: str, channel_id: str, name: str, metadata: Metadata | None
    ) -> None:
        """Replace name and metadata. Raises ``NotFound``."""
        ...

    async def retrieve_channel(self, owner: str, channel_id: str) -> Channel:
        """Return the owner's channel. Raises ``NotFound``."""
        ...

    async def list_channels(
        self, owner: str, offset: int, limit: int, name: str, metadata: Metadata | None
    ) -> Page[Channel]:
        """A page of the owner's channels ordered by id, filtered by name and metadata."""
        ...

    async def list_channels_by_thing(
        self, owner: str, thing_id: str, offset: int, limit: int
    ) -> Page[Channel]:
        """A page of the owner's channels the thing is connected to, ordered by id."""
        ...

    async def channel_ids_of_thing(self, owner: str, thing_id: str) -> list[str]:
        """Every channel id the thing is connected to."""
        ...

    async def remove_channel(self, owner: str, channel_id: str) -> bool:
        """Delete the channel and its connections; whether a row was removed."""
        ...

    async def connect(
        self, owner: str, channel_ids: Sequence[str], thing_ids: Sequence[str]
    ) -> None:
        """Connect every pair in one transaction.

        Raises ``NotFound`` when a channel or thing is missing or someone else's, and
        ``Conflict`` when a pair is already connected (nothing is connected then)."""
        ...

    async def disconnect(self, owner: str, channel_id: str, thing_id: str) -> None:
        """Remove one connection. Raises ``NotFound`` when it does not exist."""
        ...

    async def has_connection(self, channel_id: str, thing_id: str) -> bool:
        """Whether the thing is connected to the channel (any owner)."""
        ...


class AccessCache(Protocol):
    """Answers for the access checks, kept close to the callers.

    Mainflux's Redis layout: ``thing_key:<key>`` -> id, ``thing:<id>`` -> key and the
    set ``channel:<id>`` of connected thing ids. Entries are filled lazily by the
    service and dropped by it on every change that could make them wrong.

    A fill must not bring back what was dropped while the service was reading the
    repository: the service reads :meth:`generation` before the repository and hands it
    to :meth:`save_thing`/:meth:`connect`, which store nothing when an invalidation
    (:meth:`forget_thing`, :meth:`disconnect`, :meth:`forget_channel`) came in between."""

    async def generation(self) -> int:
        """The invalidation counter: every invalidation moves it on."""
        ...

    async def thing_id(self, key: str) -> str | None:
        """The cached id of the thing with ``key``, or ``None``."""
        ...

    async def save_thing(self, key: str, thing_id: str, generation: int) -> None:
        """Remember that ``key`` belongs to ``thing_id``, unless :meth:`generation` has
        moved on from ``generation``."""
        ...

    async def forget_thing(self, thing_id: str, key: str, channel_ids: Iterable[str] = ()) -> None:
        """Drop the thing's key (also any other key cached for the id) and remove it
        from the given channels' sets."""
        ...

    async def is_connected(self, channel_id: str, thing_id: str) -> bool:
        """Whether the connection is cached."""
        ...

    async def connect(self, channel_id: str, thing_id: str, generation: int) -> None:
        """Remember the connection, unless :meth:`generation` has moved on from
        ``generation``."""
        ...

    async def disconnect(self, channel_id: str, thing_id: str) -> None:
        """Forget the connection."""
        ...

    async def forget_channel(self, channel_id: str) -> None:
        """Forget every connection of the channel."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...
