"""The business rules of the things service.

:class:`ThingsService` manages things, channels and connections for the owner behind a
user token, and answers the access checks of the message plane through an
:class:`~mainflux.things.ports.AccessCache`. It implements
:class:`mainflux.core.auth.ThingAccess` and :class:`mainflux.core.auth.ChannelOwner`.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Sequence
from typing import Any, Final, Protocol

from mainflux.core.auth import ChannelOwner, ThingAccess, UserAuth
from mainflux.core.errors import MalformedEntity, NotFound, Unauthorized
from mainflux.core.ids import is_uuid, new_id
from mainflux.things.models import Channel, Metadata, Page, Thing
from mainflux.things.ports import AccessCache, ThingsRepository

MAX_NAME: Final = 1024
MAX_KEY: Final = 4096
MAX_LIMIT: Final = 100
DEFAULT_LIMIT: Final = 10


def new_key() -> str:
    """A random thing key: a UUIDv4 built from :mod:`secrets`."""
    return str(uuid.UUID(bytes=secrets.token_bytes(16), version=4))


class Service(ThingAccess, ChannelOwner, Protocol):
    """Everything the things service offers; the HTTP and gRPC faces take this."""

    async def create_things(self, token: str, things: Sequence[Thing]) -> list[Thing]:
        """Create things for the token's owner; return them with ids, owner and keys."""
        ...

    async def update_thing(self, token: str, thing: Thing) -> None:
        """Replace the name and metadata of ``thing.id``."""
        ...

    async def update_key(self, token: str, thing_id: str, key: str) -> None:
        """Give the thing a new key."""
        ...

    async def view_thing(self, token: str, thing_id: str) -> Thing:
        """Return one of the owner's things."""
        ...

    async def list_things(
        self,
        token: str,
        offset: int = 0,
        limit: int = DEFAULT_LIMIT,
        name: str = "",
        metadata: Metadata | None = None,
    ) -> Page[Thing]:
        """A page of the owner's things."""
        ...

    async def list_things_by_channel(
        self, token: str, channel_id: str, offset: int = 0, limit: int = DEFAULT_LIMIT
    ) -> Page[Thing]:
        """A page of the owner's things connected to the channel."""
        ...

    async def remove_thing(self, token: str, thing_id: str) -> bool:
        """Remove the thing; whether it existed."""
        ...

    async def create_channels(self, token: str, channels: Sequence[Channel]) -> list[Channel]:
        """Create channels for the token's owner; return them with ids and owner."""
        ...

    async def update_channel(self, token: str, channel: Channel) -> None:
        """Replace the name and metadata of ``channel.id``."""
        ...

    async def view_channel(self, token: str, channel_id: str) -> Channel:
        """Return one of the owner's channels."""
        ...

    async def list_channels(
        self,
        token: str,
        offset: int = 0,
        limit: int = DEFAULT_LIMIT,
        name: str = "",
        metadata: Metadata | None = None,
    ) -> Page[Channel]:
        """A page of the owner's channels."""
        ...

    async def list_channels_by_thing(
        self, token: str, thing_id: str, offset: int = 0, limit: int = DEFAULT_LIMIT
    ) -> Page[Channel]:
        """A page of the owner's channels the thing is connected to."""
        ...

    async def remove_channel(self, token: str, channel_id: str) -> bool:
        """Remove the channel; whether it existed."""
        ...

    async def connect(
        self, token: str, channel_ids: Sequence[str], thing_ids: Sequence[str]
    ) -> None:
        """Connect every listed thing to every listed channel, all or nothing."""
        ...

    async def disconnect(self, token: str, channel_id: str, thing_id: str) -> None:
        """Disconnect the thing from the channel."""
        ...


def _check_name(name: str) -> None:
    if len(name) > MAX_NAME:
        raise MalformedEntity(f"name longer than {MAX_NAME} characters")


def _check_metadata(metadata: Any) -> None:
    if metadata is not None and not isinstance(metadata, dict):
        raise MalformedEntity("metadata must be a JSON object")


def _check_page(offset: int, limit: int) -> None:
    if offset < 0:
        raise MalformedEntity("offset must not be negative")
    if not 1 <= limit <= MAX_LIMIT:
        raise MalformedEntity(f"limit must be between 1 and {MAX_LIMIT}")


def _uuid_or(value: str, error: type[Exception]) -> str:
    """The canonical form of a UUID string, or ``error`` raised."""
    if not is_uuid(value):
        raise error()
    return value.lower()


def _unique(values: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(values))


class ThingsService:
    """The things service: owner-scoped management plus cached access checks.

    Errors: ``Unauthorized`` for a bad user token or thing key, ``MalformedEntity`` for
    invalid input, ``NotFound`` for a missing or someone else's entity, ``Conflict`` for
    a taken key or an existing connection."""

    def __init__(
        self,
        auth: UserAuth,
        repo: ThingsRepository,
        cache: AccessCache,
        id_provider: Callable[[], str] = new_id,
    ) -> None:
        self._auth = auth
        self._repo = repo
        self._cache = cache
        self._new_id = id_provider

    async def _owner(self, token: str) -> str:
        if not token:
            raise Unauthorized()
        return await self._auth.identify(token)

    # things

    async def create_things(self, token: str, things: Sequence[Thing]) -> list[Thing]:
        """Create things; a thing without a key gets a random one. Raises ``Conflict``
        when a key is taken (then none is created)."""
        if not things:
            raise MalformedEntity("no things given")
        for thing in things:
            _check_name(thing.name)
            _check_metadata(thing.metadata)
            if len(thing.key) > MAX_KEY:
                raise MalformedEntity(f"key longer than {MAX_KEY} characters")
        owner = await self._owner(token)
        created = [
            Thing(
                id=self._new_id(),
                owner=owner,
                key=thing.key or new_key(),
                name=thing.name,
                metadata=dict(thing.metadata or {}),
            )
            for thing in things
        ]
        await self._repo.save_things(created)
        return created

    async def update_thing(self, token: str, thing: Thing) -> None:
        """Replace name and metadata (``None`` metadata means empty)."""
        thing_id = _uuid_or(thing.id, MalformedEntity)
        _check_name(thing.name)
        _check_metadata(thing.metadata)
        owner = await self._owner(token)
        await self._repo.update_thing(owner, thing_id, thing.name, dict(thing.metadata or {}))

    async def update_key(self, token: str, thing_id: str, key: str) -> None:
        """Give the thing a new key; the old one stops working at once."""
        thing_id = _uuid_or(thing_id, MalformedEntity)
        if not key:
            raise MalformedEntity("empty key")
        if len(key) > MAX_KEY:
            raise MalformedEntity(f"key longer than {MAX_KEY} characters")
        owner = await self._owner(token)
        old = await self._repo.retrieve_thing(owner, thing_id)
        await self._repo.update_key(owner, thing_id, key)
        await self._cache.forget_thing(thing_id, old.key)

    async def view_thing(self, token: str, thing_id: str) -> Thing:
        """Return the owner's thing; a non-UUID id is simply not found."""
        owner = await self._owner(token)
        return await self._repo.retrieve_thing(owner, _uuid_or(thing_id, NotFound))

    async def list_things(
        self,
        token: str,
        offset: int = 0,
        limit: int = DEFAULT_LIMIT,
        name: str = "",
        metadata: Metadata | None = None,
    ) -> Page[Thing]:
        """A page of the owner's things: ``name`` is a case-insensitive substring,
        ``metadata`` a JSON object the thing's metadata must contain."""
        _check_page(offset, limit)
        _check_name(name)
        _check_metadata(metadata)
        owner = await self._owner(token)
        return await self._repo.list_things(owner, offset, limit, name, metadata or None)

    async def list_things_by_channel(
        self, token: str, channel_id: str, offset: int = 0, limit: int = DEFAULT_LIMIT
    ) -> Page[Thing]:
        """A page of the owner's things connected to the channel."""
        _check_page(offset, limit)
        owner = await self._owner(token)
        channel_id = _uuid_or(channel_id, NotFound)
        return await self._repo.list_things_by_channel(owner, channel_id, offset, limit)

    async def remove_thing(self, token: str, thing_id: str) -> bool:
        """Remove the thing with its connections and cached access; whether it existed."""
        thing_id = _uuid_or(thing_id, MalformedEntity)
        owner = await self._owner(token)
        try:
            thing = await self._repo.retrieve_thing(owner, thing_id)
        except NotFound:
            return False
        channel_ids = await self._repo.channel_ids_of_thing(owner, thing_id)
        removed = await self._repo.remove_thing(owner, thing_id)
        await self._cache.forget_thing(thing_id, thing.key, channel_ids)
        return removed

    # channels

    async def create_channels(self, token: str, channels: Sequence[Channel]) -> list[Channel]:
        """Create channels (an empty metadata is stored as none)."""
        if not channels:
            raise MalformedEntity("no channels given")
        for channel in channels:
            _check_name(channel.name)
            _check_metadata(channel.metadata)
        owner = await self._owner(token)
        created = [
            Channel(
                id=self._new_id(),
                owner=owner,
                name=channel.name,
                metadata=dict(channel.metadata) if channel.metadata else None,
            )
            for channel in channels
        ]
        await self._repo.save_channels(created)
        return created

    async def update_channel(self, token: str, channel: Channel) -> None:
        """Replace name and metadata."""
        channel_id = _uuid_or(channel.id, MalformedEntity)
        _check_name(channel.name)
        _check_metadata(channel.metadata)
        owner = await self._owner(token)
        metadata = dict(channel.metadata) if channel.metadata else None
        await self._repo.update_channel(owner, channel_id, channel.name, metadata)

    async def view_channel(self, token: str, channel_id: str) -> Channel:
        """Return the owner's channel; a non-UUID id is simply not found."""
        owner = await self._owner(token)
        return await self._repo.retrieve_channel(owner, _uuid_or(channel_id, NotFound))

    async def list_channels(
        self,
        token: str,
        offset: int = 0,
        limit: int = DEFAULT_LIMIT,
        name: str = "",
        metadata: Metadata | None = None,
    ) -> Page[Channel]:
        """A page of the owner's channels, filtered like :meth:`list_things`."""
        _check_page(offset, limit)
        _check_name(name)
        _check_metadata(metadata)
        owner = await self._owner(token)
        return await self._repo.list_channels(owner, offset, limit, name, metadata or None)

    async def list_channels_by_thing(
        self, token: str, thing_id: str, offset: int = 0, limit: int = DEFAULT_LIMIT
    ) -> Page[Channel]:
        """A page of the owner's channels the thing is connected to."""
        _check_page(offset, limit)
        owner = await self._owner(token)
        thing_id = _uuid_or(thing_id, NotFound)
        return await self._repo.list_channels_by_thing(owner, thing_id, offset, limit)

    async def remove_channel(self, token: str, channel_id: str) -> bool:
        """Remove the channel with its connections and cached access; whether it existed.

        A non-UUID id names no channel, so there is nothing to remove."""
        owner = await self._owner(token)
        if not is_uuid(channel_id):
            return False
        channel_id = channel_id.lower()
        removed = await self._repo.remove_channel(owner, channel_id)
        await self._cache.forget_channel(channel_id)
        return removed

    # connections

    async def connect(
        self, token: str, channel_ids: Sequence[str], thing_ids: Sequence[str]
    ) -> None:
        """Connect every pair in one transaction. Raises ``NotFound`` when an id names
        no entity of the owner, ``Conflict`` when a pair is already connected."""
        if not channel_ids or not thing_ids or not all(channel_ids) or not all(thing_ids):
            raise MalformedEntity("channel and thing ids must be non-empty")
        owner = await self._owner(token)
        channels = _unique([_uuid_or(c, NotFound) for c in channel_ids])
        things = _unique([_uuid_or(t, NotFound) for t in thing_ids])
        await self._repo.connect(owner, channels, things)

    async def disconnect(self, token: str, channel_id: str, thing_id: str) -> None:
        """Disconnect; raises ``NotFound`` when the pair is not connected."""
        owner = await self._owner(token)
        channel_id = _uuid_or(channel_id, NotFound)
        thing_id = _uuid_or(thing_id, NotFound)
        await self._repo.disconnect(owner, channel_id, thing_id)
        await self._cache.disconnect(channel_id, thing_id)

    # access checks (ThingAccess, ChannelOwner)

    async def identify(self, key: str) -> str:
        """Return the id of the thing with ``key``. Raises ``Unauthorized``."""
        if not key:
            raise Unauthorized()
        thing_id = await self._cache.thing_id(key)
        if thing_id is not None:
            return thing_id
        generation = await self._cache.generation()
        try:
            thing_id = await self._repo.thing_id_by_key(key)
        except NotFound:
            raise Unauthorized() from None
        await self._cache.save_thing(key, thing_id, generation)
        return thing_id

    async def can_access_by_key(self, channel_id: str, key: str) -> str:
        """Return the id of the thing with ``key`` when it is connected to the channel.

        Raises ``Unauthorized`` for an empty or unknown key or a missing connection."""
        if not is_uuid(channel_id):
            raise Unauthorized()
        thing_id = await self.identify(key)
        await self.can_access_by_id(channel_id, thing_id)
        return thing_id

    async def can_access_by_id(self, channel_id: str, thing_id: str) -> None:
        """Return when the thing is connected to the channel; else ``Unauthorized``."""
        if not (is_uuid(channel_id) and is_uuid(thing_id)):
            raise Unauthorized()
        channel_id, thing_id = channel_id.lower(), thing_id.lower()
        if await self._cache.is_connected(channel_id, thing_id):
            return
        generation = await self._cache.generation()
        if not await self._repo.has_connection(channel_id, thing_id):
            raise Unauthorized()
        await self._cache.connect(channel_id, thing_id, generation)

    async def authorize_owner(self, token: str, channel_id: str) -> None:
        """Return when the token's owner owns the channel; else ``Unauthorized`` (bad
        token) or ``NotFound``."""
        await self.view_channel(token, channel_id)


_check_service: type[Service] = ThingsService
