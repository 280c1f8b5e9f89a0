"""Domain entities of the bootstrap service: configs, their channels, unknown attempts."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

Metadata = dict[str, Any]


class State(IntEnum):
    """A config's state: Active means its thing is connected to its channels."""

    INACTIVE = 0
    ACTIVE = 1


@dataclass
class ConfigChannel:
    """A channel of a config, with the name and metadata bootstrap keeps of it."""

    id: str
    name: str = ""
    metadata: Metadata | None = None


@dataclass
class Config:
    """What a device gets when it bootstraps, and what binds it to its thing.

    ``thing_id`` is also the config's id; ``external_id`` is unique over all owners."""

    thing_id: str = ""
    owner: str = ""
    name: str = ""
    thing_key: str = ""
    external_id: str = ""
    external_key: str = ""
    channels: list[ConfigChannel] = field(default_factory=list)
    content: str = ""
    client_cert: str = ""
    client_key: str = ""
    ca_cert: str = ""
    state: State = State.INACTIVE

    @property
    def channel_ids(self) -> list[str]:
        """The ids of the config's channels, in order."""
        return [channel.id for channel in self.channels]


@dataclass(frozen=True)
class ConfigFilter:
    """List filters: ``name`` is a case-insensitive substring, the others exact."""

    name: str = ""
    state: State | None = None
    external_id: str = ""
    thing_id: str = ""
    thing_key: str = ""


@dataclass
class UnknownConfig:
    """A bootstrap attempt that matched no config (or not its key)."""

    external_id: str
    external_key: str


@dataclass
class Page:
    """One page of configs (or unknown configs) from ``offset``, of ``total``."""

    total: int
    offset: int
    limit: int
    items: list[Any] = field(default_factory=list)
