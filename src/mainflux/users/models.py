"""The users domain: accounts (the ports the service depends on are in :mod:`.ports`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class User:
    """An account, keyed by its lower-case email.

    ``password`` holds the bcrypt hash, never the secret."""

    email: str
    password: str = field(repr=False)
    metadata: dict[str, Any] | None = None
