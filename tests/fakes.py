"""In-memory stand-ins for the ports the adapters and readers call.

:class:`FakeThings` is the one fake of the things service's access face
(:class:`~mainflux.core.auth.ThingAccess`) and of its owner check
(:class:`~mainflux.core.auth.ChannelOwner`). It knows things by key, their channel
connections and the channels each user token owns; it counts the questions it is asked,
can be switched ``down`` (every question raises ``ServiceUnavailable``), and can hold
every question at a ``gate``, or the next question of one method (:meth:`FakeThings.hold`),
until the test opens it. As on a wire, a held question's answer is made when it is asked:
a change made while it is held is not in it.

:class:`FakeStateStore` keeps the MQTT broker's state
(:class:`~mainflux.adapters.mqtt.persistence.StateStore`) in memory; it records every
batch it is given and can be switched ``down`` (every batch fails)."""

from __future__ import annotations

import asyncio
import collections
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

from mainflux.adapters.mqtt.persistence import Op, StoredState
from mainflux.core.errors import NotFound, ServiceUnavailable, Unauthorized


class FakeThings:
    """An in-memory things service answering access and ownership questions."""

    def __init__(self) -> None:
        self.keys: dict[str, str] = {}  # thing key -> thing id
        self.links: set[tuple[str, str]] = set()  # (channel id, thing id)
        self.owners: dict[str, set[str]] = {}  # user token -> ids of the channels it owns
        self.calls = 0  # questions asked, answered or not
        self.asked: collections.Counter[str] = collections.Counter()  # by method name
        self.down = False  # every question raises ServiceUnavailable while set
        self.gate: asyncio.Event | None = None  # questions wait here while it is unset
        self.entered = asyncio.Event()  # set once a question has reached the gate
        self.held: set[str] = set()  # methods whose held question is waiting
        self._holds: dict[str, asyncio.Event] = {}

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

    def hold(self, method: str) -> asyncio.Event:
        """Hold the next question of ``method`` (e.g. ``"identify"``) until the returned
        event is set; its name is in :attr:`held` while it waits."""
        gate = self._holds[method] = asyncio.Event()
        return gate

    async def _enter(self, method: str) -> None:
        self.calls += 1
        self.asked[method] += 1
        self.entered.set()
        if self.down:
            raise ServiceUnavailable()
        if self.gate is not None:
            await self.gate.wait()
        gate = self._holds.pop(method, None)
        if gate is not None:
            self.held.add(method)
            await gate.wait()
            self.held.discard(method)

    async def can_access_by_key(self, channel_id: str, key: str) -> str:
        """The thing with ``key`` when it is connected to the channel."""
        thing_id = self.keys.get(key)
        allowed = thing_id is not None and (channel_id, thing_id) in self.links
        await self._enter("can_access_by_key")
        if thing_id is None or not allowed:
            raise Unauthorized()
        return thing_id

    async def can_access_by_id(self, channel_id: str, thing_id: str) -> None:
        """Return when the thing is connected to the channel."""
        allowed = (channel_id, thing_id) in self.links
        await self._enter("can_access_by_id")
        if not allowed:
            raise Unauthorized()

    async def identify(self, key: str) -> str:
        """The thing with ``key``."""
        thing_id = self.keys.get(key)
        await self._enter("identify")
        if thing_id is None:
            raise Unauthorized()
        return thing_id

    async def authorize_owner(self, token: str, channel_id: str) -> None:
        """Return when ``token``'s user owns the channel; ``NotFound`` when another does."""
        owned = frozenset(self.owners[token]) if token in self.owners else None
        await self._enter("authorize_owner")
        if owned is None:
            raise Unauthorized()
        if channel_id not in owned:
            raise NotFound()


class FakeStateStore:
    """The broker's state in memory: the batches it was given, in order."""

    def __init__(self, state: StoredState | None = None) -> None:
        self.state = state or StoredState()
        self.batches: list[list[Op]] = []
        self.down = False  # every batch fails while set
        self.failed = 0  # batches refused
        self.closed = False

    async def load(self) -> StoredState:
        """What it was created with."""
        return self.state

    async def apply(self, ops: Sequence[Op]) -> None:
        """Record the batch (or fail while ``down``)."""
        await asyncio.sleep(0)
        if self.down:
            self.failed += 1
            raise ConnectionError("the store is down")
        self.batches.append(list(ops))

    async def close(self) -> None:
        self.closed = True

    @property
    def ops(self) -> list[Op]:
        """Every change stored, in order."""
        return [op for batch in self.batches for op in batch]


if TYPE_CHECKING:  # the fakes implement their ports
    from mainflux.adapters.mqtt.persistence import StateStore
    from mainflux.core.auth import ChannelOwner, ThingAccess

    _access: ThingAccess = FakeThings()
    _owner: ChannelOwner = FakeThings()
    _state: StateStore = FakeStateStore()
