"""Random identifiers: UUIDv4 strings for entities and keys, as Mainflux uses."""

from __future__ import annotations

import uuid


def new_id() -> str:
    """A random UUIDv4 string (from the OS's CSPRNG)."""
    return str(uuid.uuid4())


def is_uuid(value: str) -> bool:
    """Whether ``value`` is a UUID in its canonical textual form."""
    try:
        return str(uuid.UUID(value)) == value.lower()
    except (ValueError, AttributeError, TypeError):
        return False
