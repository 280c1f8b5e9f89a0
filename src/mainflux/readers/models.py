"""What the readers ask the message store for, and what it answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Literal, Protocol

Comparator = Literal["eq", "lt", "le", "gt", "ge"]
COMPARATORS: Final[frozenset[str]] = frozenset({"eq", "lt", "le", "gt", "ge"})
MAX_LIMIT: Final = 1000


@dataclass(frozen=True, slots=True)
class PageQuery:
    """One page of a channel's messages; every set filter narrows both page and total.

    ``from_time`` is inclusive and ``to_time`` exclusive (record time, seconds)."""

    offset: int = 0
    limit: int = 10
    subtopic: str | None = None
    publisher: str | None = None
    protocol: str | None = None
    name: str | None = None
    value: float | None = None
    comparator: Comparator = "eq"
    string_value: str | None = None
    bool_value: bool | None = None
    data_value: str | None = None
    from_time: float | None = None
    to_time: float | None = None


@dataclass(frozen=True, slots=True)
class Page:
    """A page of stored SenML records, newest first, in the readers' JSON shape."""

    total: int
    offset: int
    limit: int
    messages: list[dict[str, Any]] = field(default_factory=list)


class MessageReader(Protocol):
    """Reads stored messages of one channel."""

    async def read(self, channel: str, query: PageQuery) -> Page:
        """Return the page. Raises ``ServiceUnavailable`` when the store is unreachable."""
        ...
