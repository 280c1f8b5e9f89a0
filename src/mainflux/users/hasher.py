"""Password hashing with bcrypt (cost 10 like Mainflux), off the event loop.

Like Go's bcrypt at the time of Mainflux 0.11, only the first 72 bytes of a password
count; hashes from Go (``$2a$``) and from here (``$2b$``) verify in both."""

from __future__ import annotations

import asyncio
from typing import Final

import bcrypt

from mainflux.users.models import Hasher

DEFAULT_COST: Final = 10
_MAX_BYTES: Final = 72


def _secret(password: str) -> bytes:
    return password.encode("utf-8", "surrogatepass")[:_MAX_BYTES]


class BcryptHasher:
    """A :class:`~mainflux.users.models.Hasher` on bcrypt; ``cost`` is the log2 work factor."""

    def __init__(self, cost: int = DEFAULT_COST) -> None:
        if not 4 <= cost <= 31:
            raise ValueError("bcrypt cost must be between 4 and 31")
        self._cost = cost

    async def hash(self, password: str) -> str:
        """Return a fresh bcrypt hash of ``password``."""

        def work() -> str:
            return bcrypt.hashpw(_secret(password), bcrypt.gensalt(self._cost)).decode("ascii")

        return await asyncio.to_thread(work)

    async def compare(self, password: str, password_hash: str) -> bool:
        """Whether ``password`` matches ``password_hash``; a malformed hash matches nothing."""

        def work() -> bool:
            try:
                return bcrypt.checkpw(_secret(password), password_hash.encode("ascii"))
            except (ValueError, UnicodeError):
                return False

        return await asyncio.to_thread(work)


_check: type[Hasher] = BcryptHasher
