"""Ports of the authn service: the repository of API keys.

The service depends only on this Protocol; :mod:`.store` holds the implementation and
the unit tests an in-memory fake."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from mainflux.authn.models import Key


class KeyRepository(Protocol):
    """Stores API keys."""

    async def save(self, key: Key) -> None:
        """Store ``key``. Raises ``Conflict`` when its (id, issuer) is taken."""
        ...

    async def retrieve(self, issuer: str, key_id: str) -> Key:
        """Return the issuer's key ``key_id``. Raises ``NotFound``."""
        ...

    async def remove(self, issuer: str, key_id: str) -> None:
        """Delete the issuer's key ``key_id``; deleting nothing is not an error."""
        ...

    async def revoke_all(self, issuer: str, moment: datetime) -> None:
        """Record that every key of ``issuer`` issued at or before ``moment`` is void.

        The stored API keys of ``issuer`` issued by then are deleted at the same time.
        A later call replaces the recorded moment."""
        ...

    async def revoked_until(self, issuer: str) -> datetime | None:
        """The moment :meth:`revoke_all` recorded for ``issuer``, or ``None``."""
        ...
