"""Ports of the bootstrap service: its repository and its client of the things service.

The service depends only on these Protocols; :mod:`.store` and :mod:`.things` hold the
implementations, and the unit tests hold in-memory fakes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from mainflux.bootstrap.models import (
    Config,
    ConfigChannel,
    ConfigFilter,
    Metadata,
    Page,
    State,
)


class ConfigRepository(Protocol):
    """Persistent configs, their channels and unknown bootstrap attempts.

    Owner-scoped methods take the owner's email; the event handlers' methods act on
    the one config or channel an event names, whoever owns it."""

    async def save(self, config: Config) -> None:
        """Insert the config with its channels, and forget the unknown attempt of its
        external id. Raises ``Conflict`` for a taken external id or thing."""
        ...

    async def retrieve(self, owner: str, thing_id: str) -> Config:
        """The owner's config. Raises ``NotFound``."""
        ...

    async def retrieve_by_external_id(self, external_id: str) -> Config:
        """The config with ``external_id``. Raises ``NotFound``."""
        ...

    async def list_configs(self, owner: str, filter: ConfigFilter, offset: int, limit: int) -> Page:
        """A page of the owner's configs (without channels) ordered by thing id."""
        ...

    async def update(self, owner: str, thing_id: str, name: str, content: str) -> None:
        """Replace name and content. Raises ``NotFound``."""
        ...

    async def update_certs(
        self, owner: str, thing_id: str, client_cert: str, client_key: str, ca_cert: str
    ) -> None:
        """Replace the certificates. Raises ``NotFound``."""
        ...

    async def update_channels(
        self, owner: str, thing_id: str, channels: Sequence[ConfigChannel]
    ) -> None:
        """Replace the config's channels. Raises ``NotFound``."""
        ...

    async def change_state(self, owner: str, thing_id: str, state: State) -> None:
        """Set the state. Raises ``NotFound``."""
        ...

    async def remove(self, owner: str, thing_id: str) -> bool:
        """Delete the owner's config; whether there was one."""
        ...

    async def save_unknown(self, external_id: str, external_key: str) -> None:
        """Remember a failed attempt (the first per external id; none past the cap)."""
        ...

    async def list_unknown(self, offset: int, limit: int) -> Page:
        """A page of unknown attempts ordered by external id."""
        ...

    # applied from the things event stream

    async def remove_thing(self, thing_id: str) -> None:
        """Delete the config of ``thing_id``, if any."""
        ...

    async def deactivate(self, thing_id: str, channel_id: str) -> None:
        """Make the config of ``thing_id`` Inactive if ``channel_id`` is one of its
        channels."""
        ...

    async def update_channel(self, channel_id: str, name: str, metadata: Metadata | None) -> None:
        """Refresh the name and metadata kept of the channel in every config."""
        ...

    async def remove_channel(self, channel_id: str) -> None:
        """Take the channel out of every config."""
        ...

    async def park(self, stream: str, entry_id: str, fields: Mapping[str, str], error: str) -> None:
        """Keep an event that could not be applied, with the reason."""
        ...


class ThingsClient(Protocol):
    """What bootstrap asks of the things service, with the user's token.

    Raises ``Unauthorized`` (bad token), ``NotFound`` and ``ServiceUnavailable`` (the
    things service cannot be reached or failed)."""

    async def create_thing(self, token: str, name: str) -> tuple[str, str]:
        """Create a thing; return its id and key."""
        ...

    async def thing_key(self, token: str, thing_id: str) -> str:
        """The key of the owner's thing."""
        ...

    async def remove_thing(self, token: str, thing_id: str) -> None:
        """Remove the thing (nothing happens when it is gone already)."""
        ...

    async def channel(self, token: str, channel_id: str) -> ConfigChannel:
        """The owner's channel with its name and metadata."""
        ...

    async def connect(self, token: str, channel_id: str, thing_id: str) -> None:
        """Connect the thing to the channel (already connected is fine)."""
        ...

    async def disconnect(self, token: str, channel_id: str, thing_id: str) -> None:
        """Disconnect the thing from the channel (not connected is fine)."""
        ...
