"""The business rules of the bootstrap service.

:class:`BootstrapService` keeps configs for the owner behind a user token, asks the
things service (with that token) for the things and channels they name, and hands a
config to a device that proves its external key. State Active means the config's thing
is connected to the config's channels in the things service; changing the state or the
channels of an Active config changes those connections, and a failure there leaves
the config as it was (``ServiceUnavailable``, 503)."""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import Sequence
from typing import Final, Protocol

from mainflux.bootstrap import crypto
from mainflux.bootstrap.models import (
    Config,
    ConfigChannel,
    ConfigFilter,
    Page,
    State,
)
from mainflux.bootstrap.ports import ConfigRepository, ThingsClient
from mainflux.core.auth import UserAuth
from mainflux.core.errors import MalformedEntity, NotFound, Unauthorized
from mainflux.core.ids import is_uuid

MAX_NAME: Final = 1024
#: Longest external id and external key (a secure key's hex is longer: see the API).
MAX_EXTERNAL: Final = 1024
MAX_LIMIT: Final = 100
DEFAULT_LIMIT: Final = 10
DEFAULT_MAX_CHANNELS: Final = 100

log = logging.getLogger("mainflux.bootstrap")


class Service(Protocol):
    """Everything the bootstrap service offers; the HTTP face takes this."""

    async def add(self, token: str, config: Config) -> Config:
        """Save a config (creating its thing when it names none); return it."""
        ...

    async def view(self, token: str, thing_id: str) -> Config:
        """One of the owner's configs."""
        ...

    async def update(self, token: str, thing_id: str, name: str, content: str) -> None:
        """Replace the config's name and content."""
        ...

    async def update_certs(
        self, token: str, thing_id: str, client_cert: str, client_key: str, ca_cert: str
    ) -> None:
        """Replace the config's certificates."""
        ...

    async def update_connections(
        self, token: str, thing_id: str, channel_ids: Sequence[str]
    ) -> list[str]:
        """Replace the config's channels; return their ids."""
        ...

    async def list(
        self, token: str, filter: ConfigFilter, offset: int = 0, limit: int = DEFAULT_LIMIT
    ) -> Page:
        """A page of the owner's configs."""
        ...

    async def remove(self, token: str, thing_id: str) -> bool:
        """Remove the config; whether it existed."""
        ...

    async def list_unknown(self, token: str, offset: int = 0, limit: int = DEFAULT_LIMIT) -> Page:
        """A page of bootstrap attempts that matched no config."""
        ...

    async def bootstrap(self, external_id: str, key: str, secure: bool = False) -> Config:
        """The config of a device proving its external key."""
        ...

    async def change_state(self, token: str, thing_id: str, state: State) -> None:
        """Connect (Active) or disconnect (Inactive) the config's thing."""
        ...


def _check_external(external_id: str, external_key: str) -> None:
    if not external_id or not external_key:
        raise MalformedEntity("external_id and external_key are required")
    if len(external_id) > MAX_EXTERNAL or len(external_key) > MAX_EXTERNAL:
        raise MalformedEntity(
            f"external_id and external_key have at most {MAX_EXTERNAL} characters"
        )


def _check_name(name: str) -> None:
    if len(name) > MAX_NAME:
        raise MalformedEntity(f"name longer than {MAX_NAME} characters")


def _check_page(offset: int, limit: int) -> None:
    if offset < 0:
        raise MalformedEntity("offset must not be negative")
    if not 1 <= limit <= MAX_LIMIT:
        raise MalformedEntity(f"limit must be between 1 and {MAX_LIMIT}")


class BootstrapService:
    """The bootstrap service over a repository and a things client.

    Errors: ``Unauthorized`` for a bad token, ``MalformedEntity`` for invalid input
    (an unknown channel included), ``NotFound`` for a missing config or thing and for a
    failed bootstrap, ``Conflict`` for a taken external id or thing,
    ``ServiceUnavailable`` when the things service cannot do its part."""

    def __init__(
        self,
        auth: UserAuth,
        repo: ConfigRepository,
        things: ThingsClient,
        encrypt_key: bytes,
        *,
        max_channels: int = DEFAULT_MAX_CHANNELS,
    ) -> None:
        self._auth = auth
        self._repo = repo
        self._things = things
        self._key = encrypt_key
        self._max_channels = max_channels

    async def _owner(self, token: str) -> str:
        if not token:
            raise Unauthorized()
        return await self._auth.identify(token)

    def _channel_ids(self, channel_ids: Sequence[str]) -> list[str]:
        if len(channel_ids) > self._max_channels:
            raise MalformedEntity(f"at most {self._max_channels} channels per config")
        ids = []
        for channel_id in channel_ids:
            if not is_uuid(channel_id):
                raise MalformedEntity(f"unknown channel {channel_id[:64]!r}")
            ids.append(channel_id.lower())
        return list(dict.fromkeys(ids))

    async def _channels(self, token: str, channel_ids: Sequence[str]) -> list[ConfigChannel]:
        channels = []
        for channel_id in channel_ids:
            try:
                channels.append(await self._things.channel(token, channel_id))
            except NotFound:
                raise MalformedEntity(f"unknown channel {channel_id}") from None
        return channels

    async def add(self, token: str, config: Config) -> Config:
        """Save the config as Inactive. Without ``thing_id`` a thing named like the
        config is created, and removed again when the config cannot be saved."""
        _check_external(config.external_id, config.external_key)
        _check_name(config.name)
        channel_ids = self._channel_ids(config.channel_ids)
        if config.thing_id and not is_uuid(config.thing_id):
            raise NotFound()
        owner = await self._owner(token)
        channels = await self._channels(token, channel_ids)
        created = ""
        if config.thing_id:
            thing_id = config.thing_id.lower()
            key = await self._things.thing_key(token, thing_id)
        else:
            thing_id, key = await self._things.create_thing(token, config.name)
            created = thing_id
        saved = Config(
            thing_id=thing_id,
            owner=owner,
            name=config.name,
            thing_key=key,
            external_id=config.external_id,
            external_key=config.external_key,
            channels=channels,
            content=config.content,
            client_cert=config.client_cert,
            client_key=config.client_key,
            ca_cert=config.ca_cert,
            state=State.INACTIVE,
        )
        try:
            await self._repo.save(saved)
        except BaseException:
            if created:
                with contextlib.suppress(Exception):
                    await self._things.remove_thing(token, created)
            raise
        return saved

    async def view(self, token: str, thing_id: str) -> Config:
        owner = await self._owner(token)
        return await self._repo.retrieve(owner, thing_id.lower())

    async def update(self, token: str, thing_id: str, name: str, content: str) -> None:
        _check_name(name)
        owner = await self._owner(token)
        await self._repo.update(owner, thing_id.lower(), name, content)

    async def update_certs(
        self, token: str, thing_id: str, client_cert: str, client_key: str, ca_cert: str
    ) -> None:
        owner = await self._owner(token)
        await self._repo.update_certs(owner, thing_id.lower(), client_cert, client_key, ca_cert)

    async def update_connections(
        self, token: str, thing_id: str, channel_ids: Sequence[str]
    ) -> list[str]:
        """Replace the channels. For an Active config the things service follows: the
        config is saved first (so the disconnects it causes are not mistaken for
        outside ones), then removed channels are disconnected and added ones
        connected; when that fails, connections and config are put back."""
        ids = self._channel_ids(channel_ids)
        owner = await self._owner(token)
        config = await self._repo.retrieve(owner, thing_id.lower())
        channels = await self._channels(token, ids)
        await self._repo.update_channels(owner, config.thing_id, channels)
        if config.state is State.ACTIVE:
            old = set(config.channel_ids)
            added = [c for c in ids if c not in old]
            removed = [c for c in config.channel_ids if c not in set(ids)]
            try:
                await self._apply(token, config.thing_id, connect=added, disconnect=removed)
            except BaseException:
                await self._repo.update_channels(owner, config.thing_id, config.channels)
                raise
        return ids

    async def _apply(
        self, token: str, thing_id: str, *, connect: Sequence[str], disconnect: Sequence[str]
    ) -> None:
        """Connect and disconnect in things; undo what was done when a call fails."""
        done: list[tuple[bool, str]] = []
        try:
            for channel_id in connect:
                await self._things.connect(token, channel_id, thing_id)
                done.append((True, channel_id))
            for channel_id in disconnect:
                await self._things.disconnect(token, channel_id, thing_id)
                done.append((False, channel_id))
        except BaseException:
            for connected, channel_id in reversed(done):
                with contextlib.suppress(Exception):
                    if connected:
                        await self._things.disconnect(token, channel_id, thing_id)
                    else:
                        await self._things.connect(token, channel_id, thing_id)
            raise

    async def list(
        self, token: str, filter: ConfigFilter, offset: int = 0, limit: int = DEFAULT_LIMIT
    ) -> Page:
        _check_page(offset, limit)
        _check_name(filter.name)
        owner = await self._owner(token)
        return await self._repo.list_configs(owner, filter, offset, limit)

    async def remove(self, token: str, thing_id: str) -> bool:
        owner = await self._owner(token)
        return await self._repo.remove(owner, thing_id.lower())

    async def list_unknown(self, token: str, offset: int = 0, limit: int = DEFAULT_LIMIT) -> Page:
        _check_page(offset, limit)
        await self._owner(token)
        return await self._repo.list_unknown(offset, limit)

    async def bootstrap(self, external_id: str, key: str, secure: bool = False) -> Config:
        """The config whose external id and key match. An unknown id or a wrong key is
        ``NotFound`` and is remembered among the unknown configs; ``secure`` means
        ``key`` is hex of the encrypted external key."""
        if not key:
            raise Unauthorized()
        if not external_id or len(external_id) > MAX_EXTERNAL:
            raise NotFound()
        plain = crypto.decrypt_hex_key(self._key, key) if secure else key
        try:
            config = await self._repo.retrieve_by_external_id(external_id)
        except NotFound:
            await self._remember(external_id, key)
            raise
        if not secrets.compare_digest(plain.encode(), config.external_key.encode()):
            await self._remember(external_id, key)
            raise NotFound()
        return config

    async def _remember(self, external_id: str, key: str) -> None:
        if len(key) <= 2 * MAX_EXTERNAL + 2 * crypto.IV_SIZE:
            await self._repo.save_unknown(external_id, key)

    async def change_state(self, token: str, thing_id: str, state: State) -> None:
        """Active connects the thing to every channel of the config, Inactive
        disconnects it; the state is saved only when the things service did it all."""
        owner = await self._owner(token)
        config = await self._repo.retrieve(owner, thing_id.lower())
        if config.state is state:
            return
        if state is State.ACTIVE:
            await self._apply(token, config.thing_id, connect=config.channel_ids, disconnect=())
        else:
            await self._apply(token, config.thing_id, connect=(), disconnect=config.channel_ids)
        await self._repo.change_state(owner, config.thing_id, state)


_check_service: type[Service] = BootstrapService
