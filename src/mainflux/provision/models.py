"""Domain entities of the provision service: the template and what a mapping created."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Metadata = dict[str, Any]


@dataclass(frozen=True)
class EntitySpec:
    """A thing or channel the template asks for."""

    name: str = ""
    metadata: Metadata = field(default_factory=dict)


@dataclass(frozen=True)
class Template:
    """What ``POST /mapping`` creates: things, channels and the bootstrap step."""

    things: tuple[EntitySpec, ...]
    channels: tuple[EntitySpec, ...]
    bootstrap_provision: bool = True
    auto_whitelist: bool = True
    bootstrap_content: str = ""


@dataclass
class Entity:
    """A created thing (with its key) or channel."""

    id: str
    name: str = ""
    metadata: Metadata = field(default_factory=dict)
    key: str = ""


@dataclass
class Mapping:
    """The result of one mapping."""

    things: list[Entity] = field(default_factory=list)
    channels: list[Entity] = field(default_factory=list)
    whitelisted: dict[str, bool] = field(default_factory=dict)
