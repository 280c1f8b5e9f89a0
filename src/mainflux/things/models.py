"""Domain entities of the things service: things, channels and pages of them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

Metadata = dict[str, Any]
T = TypeVar("T")


@dataclass
class Thing:
    """A device or application; ``key`` is its secret, unique across all owners.

    ``id`` and ``owner`` are set by the service on creation; a new thing without a
    ``key`` gets a random one."""

    id: str = ""
    owner: str = ""
    key: str = ""
    name: str = ""
    metadata: Metadata | None = None


@dataclass
class Channel:
    """A topic things publish to and subscribe from, owned by one user."""

    id: str = ""
    owner: str = ""
    name: str = ""
    metadata: Metadata | None = None


@dataclass
class Page(Generic[T]):
    """One page of a list: ``items`` from ``offset``, at most ``limit``, of ``total``."""

    total: int
    offset: int
    limit: int
    items: list[T] = field(default_factory=list)
