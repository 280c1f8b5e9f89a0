"""In-memory stand-ins for the ports the adapters and readers call.

:class:`FakeThings` is the one fake of the things service's access face
(:class:`~mainflux.core.auth.ThingAccess`) and of its owner check
(:class:`~mainflux.core.auth.ChannelOwner`). It knows things by key, their channel
connections and the channels each user token owns; it counts the questions it is asked,
can be switched ``down`` (every question raises ``ServiceUnavailable``), and can hold
every question at a ``gate`` until the test opens it."""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING

from mainflux.core.errors import NotFound, ServiceUnavailable, Unauthorized


class FakeThings:
    """An in-memory things service answering access and ownership questions."""

    def __init__(self) -> None:
        self.keys: dict[str, str] = {}  # thing key -> thing id
        self.links: set[tuple[str, str]] = set()  # (channel id, thing id)
        self.owners: dict[str, set[str]] = {}  # user token -> ids of the channels it owns
        self.calls = 0  # questions asked, answered or not
        self.down = False  # every question raises ServiceUnavailable while set
        self.gate: asyncio.Event | None = None  # questions wait here while it is unset
        self.entered = asyncio.Event()  # set once a question has reached the gate

    def add(self, thing_id: str, key: str, *channels: str) -> None:
        """Know the thing ``thing_id`` by ``key``, connected to ``channels``."""
        self.keys[key] = thing_id
        self.links.update((channel, thing_id) for channel in channels)

    def thing(self, *channels: str) -> tuple[str, str]:
        """A new thing with random id and key, connected to ``channels``: ``(id, key)``."""
        thing_id, key = str(uuid.uuid4()), str(uuid.uuid4())
        self.add(thing_id, key, *channels)
        return thing_id, key

    def own(self, token: str, *channels: str) -> None:
        """Let the user behind ``token`` own ``channels``."""
        self.owners.setdefault(token, set()).update(channels)

    async def _enter(self) -> None:
        self.calls += 1
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.down:
            raise ServiceUnavailable()

    async def can_access_by_key(self, channel_id: str, key: str) -> str:
        """The thing with ``key`` when it is connected to the channel."""
        await self._enter()
        thing_id = self.keys.get(key)
        if thing_id is None or (channel_id, thing_id) not in self.links:
            raise Unauthorized()
        return thing_id

    async def can_access_by_id(self, channel_id: str, thing_id: str) -> None:
        """Return when the thing is connected to the channel."""
        await self._enter()
        if (channel_id, thing_id) not in self.links:
            raise Unauthorized()

    async def identify(self, key: str) -> str:
        """The thing with ``key``."""
        await self._enter()
        if key not in self.keys:
            raise Unauthorized()
        return self.keys[key]

    async def authorize_owner(self, token: str, channel_id: str) -> None:
        """Return when ``token``'s user owns the channel; ``NotFound`` when another does."""
        await self._enter()
        if token not in self.owners:
            raise Unauthorized()
        if channel_id not in self.owners[token]:
            raise NotFound()


if TYPE_CHECKING:  # the fake implements both ports
    from mainflux.core.auth import ChannelOwner, ThingAccess

    _access: ThingAccess = FakeThings()
    _owner: ChannelOwner = FakeThings()
