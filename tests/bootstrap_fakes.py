"""In-memory fakes of the bootstrap service's ports, for its unit tests."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence

from mainflux.bootstrap.models import Config, ConfigChannel, ConfigFilter, Metadata, Page, State
from mainflux.bootstrap.ports import ConfigRepository, ThingsClient
from mainflux.core.errors import Conflict, NotFound, ServiceUnavailable, Unauthorized


class FakeRepository:
    """Configs in a dict; ``fail_save`` makes the next save raise it."""

    def __init__(self) -> None:
        self.configs: dict[str, Config] = {}
        self.unknown: dict[str, str] = {}
        self.parked: list[tuple[str, str, dict[str, str], str]] = []
        self.fail_save: Exception | None = None

    async def save(self, config: Config) -> None:
        if self.fail_save is not None:
            raise self.fail_save
        taken = any(c.external_id == config.external_id for c in self.configs.values())
        if taken or config.thing_id in self.configs:
            raise Conflict()
        self.configs[config.thing_id] = copy.deepcopy(config)
        self.unknown.pop(config.external_id, None)

    async def retrieve(self, owner: str, thing_id: str) -> Config:
        config = self.configs.get(thing_id)
        if config is None or config.owner != owner:
            raise NotFound()
        return copy.deepcopy(config)

    async def retrieve_by_external_id(self, external_id: str) -> Config:
        for config in self.configs.values():
            if config.external_id == external_id:
                return copy.deepcopy(config)
        raise NotFound()

    async def list_configs(self, owner: str, filter: ConfigFilter, offset: int, limit: int) -> Page:
        found = [c for c in self.configs.values() if c.owner == owner]
        return Page(len(found), offset, limit, found[offset : offset + limit])

    async def update(self, owner: str, thing_id: str, name: str, content: str) -> None:
        config = await self.retrieve(owner, thing_id)
        self.configs[thing_id].name, self.configs[thing_id].content = name, content
        del config

    async def update_certs(
        self, owner: str, thing_id: str, client_cert: str, client_key: str, ca_cert: str
    ) -> None:
        await self.retrieve(owner, thing_id)
        config = self.configs[thing_id]
        config.client_cert, config.client_key, config.ca_cert = client_cert, client_key, ca_cert

    async def update_channels(
        self, owner: str, thing_id: str, channels: Sequence[ConfigChannel]
    ) -> None:
        await self.retrieve(owner, thing_id)
        self.configs[thing_id].channels = list(channels)

    async def change_state(self, owner: str, thing_id: str, state: State) -> None:
        await self.retrieve(owner, thing_id)
        self.configs[thing_id].state = state

    async def remove(self, owner: str, thing_id: str) -> bool:
        config = self.configs.get(thing_id)
        if config is None or config.owner != owner:
            return False
        del self.configs[thing_id]
        return True

    async def save_unknown(self, external_id: str, external_key: str) -> None:
        self.unknown.setdefault(external_id, external_key)

    async def list_unknown(self, offset: int, limit: int) -> Page:
        return Page(len(self.unknown), offset, limit, [])

    async def remove_thing(self, thing_id: str) -> None:
        self.configs.pop(thing_id, None)

    async def deactivate(self, thing_id: str, channel_id: str) -> None:
        config = self.configs.get(thing_id)
        if config is not None and channel_id in config.channel_ids:
            config.state = State.INACTIVE

    async def update_channel(self, channel_id: str, name: str, metadata: Metadata | None) -> None:
        for config in self.configs.values():
            for channel in config.channels:
                if channel.id == channel_id:
                    channel.name, channel.metadata = name, metadata

    async def remove_channel(self, channel_id: str) -> None:
        for config in self.configs.values():
            config.channels = [c for c in config.channels if c.id != channel_id]

    async def park(self, stream: str, entry_id: str, fields: Mapping[str, str], error: str) -> None:
        self.parked.append((stream, entry_id, dict(fields), error))


class FakeThings:
    """Things, channels and connections of one token; ``fail_at`` makes that (1-based)
    connect or disconnect call raise ``ServiceUnavailable``, once."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.things: dict[str, str] = {}
        self.channels: dict[str, ConfigChannel] = {}
        self.connections: set[tuple[str, str]] = set()
        self.fail_at: int | None = None
        self.unreachable = False
        self._calls = 0

    def _check(self, token: str) -> None:
        if self.unreachable:
            raise ServiceUnavailable()
        if token != self.token:
            raise Unauthorized()

    def _count(self) -> None:
        self._calls += 1
        if self._calls == self.fail_at:
            raise ServiceUnavailable()

    async def create_thing(self, token: str, name: str) -> tuple[str, str]:
        self._check(token)
        thing_id = f"00000000-0000-4000-8000-{len(self.things) + 1:012d}"
        self.things[thing_id] = f"key-{thing_id}"
        return thing_id, self.things[thing_id]

    async def thing_key(self, token: str, thing_id: str) -> str:
        self._check(token)
        if thing_id not in self.things:
            raise NotFound()
        return self.things[thing_id]

    async def remove_thing(self, token: str, thing_id: str) -> None:
        self._check(token)
        self.things.pop(thing_id, None)

    async def channel(self, token: str, channel_id: str) -> ConfigChannel:
        self._check(token)
        if channel_id not in self.channels:
            raise NotFound()
        return copy.deepcopy(self.channels[channel_id])

    async def connect(self, token: str, channel_id: str, thing_id: str) -> None:
        self._check(token)
        self._count()
        self.connections.add((channel_id, thing_id))

    async def disconnect(self, token: str, channel_id: str, thing_id: str) -> None:
        self._check(token)
        self._count()
        self.connections.discard((channel_id, thing_id))


_check_repo: type[ConfigRepository] = FakeRepository
_check_things: type[ThingsClient] = FakeThings
