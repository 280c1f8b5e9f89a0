"""Ports of the provision service: the platform's HTTP APIs it drives with a user token."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from mainflux.provision.models import Entity, EntitySpec, Metadata


class Platform(Protocol):
    """users, things and bootstrap as provision uses them.

    Raises ``Unauthorized``, ``MalformedEntity``, ``NotFound``, ``Conflict`` as the
    services answer, ``ServiceUnavailable`` when one cannot be reached."""

    async def login(self, email: str, password: str) -> str:
        """A user token."""
        ...

    async def create_things(self, token: str, specs: Sequence[EntitySpec]) -> list[Entity]:
        """Create things; return them with ids and keys."""
        ...

    async def create_channels(self, token: str, specs: Sequence[EntitySpec]) -> list[Entity]:
        """Create channels; return them with ids."""
        ...

    async def update_thing(self, token: str, thing_id: str, name: str, metadata: Metadata) -> None:
        """Replace a thing's name and metadata."""
        ...

    async def remove_thing(self, token: str, thing_id: str) -> None:
        """Remove a thing."""
        ...

    async def remove_channel(self, token: str, channel_id: str) -> None:
        """Remove a channel."""
        ...

    async def add_config(self, token: str, config: dict[str, Any]) -> None:
        """Add a bootstrap config (``POST /things/configs``)."""
        ...

    async def remove_config(self, token: str, thing_id: str) -> None:
        """Remove a bootstrap config."""
        ...

    async def whitelist(self, token: str, thing_id: str) -> None:
        """Make a bootstrap config Active (``PUT /things/state/<id>``)."""
        ...
