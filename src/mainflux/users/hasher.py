"""Password hashing with bcrypt (cost 10 like Mainflux), off the event loop.

bcrypt reads only the first 72 bytes of a password, so nothing is hashed here from a
longer one (``ValueError``: the service refuses it before). A check reads a password
the way the hash's maker did: Go's bcrypt in Mainflux 0.11 (``$2a$`` hashes) silently
used the first 72 bytes, so accounts made there with a longer password still log in
with it; against a hash made here (``$2b$``) a longer password never matches. Hashes
from Go and from here verify in both."""

from __future__ import annotations

import asyncio
from typing import Final

import bcrypt

from mainflux.users.ports import Hasher
from mainflux.users.validation import MAX_PASSWORD_BYTES, password_bytes

DEFAULT_COST: Final = 10
#: The prefix of hashes made by Go's bcrypt, which cut longer passwords at 72 bytes.
_GO_PREFIX: Final = "$2a$"


class BcryptHasher:
    """A :class:`~mainflux.users.ports.Hasher` on bcrypt; ``cost`` is the log2 work factor."""

    def __init__(self, cost: int = DEFAULT_COST) -> None:
        if not 4 <= cost <= 31:
            raise ValueError("bcrypt cost must be between 4 and 31")
        self._cost = cost

    async def hash(self, password: str) -> str:
        """Return a fresh bcrypt hash of ``password``.

        Raises ``ValueError`` for a password over 72 bytes in UTF-8."""
        secret = password_bytes(password)
        if len(secret) > MAX_PASSWORD_BYTES:
            raise ValueError("password longer than 72 bytes")

        def work() -> str:
            return bcrypt.hashpw(secret, bcrypt.gensalt(self._cost)).decode("ascii")

        return await asyncio.to_thread(work)

    async def compare(self, password: str, password_hash: str) -> bool:
        """Whether ``password`` matches ``password_hash``; a malformed hash matches nothing."""

        def work() -> bool:
            try:
                secret = password_bytes(password)
                if len(secret) > MAX_PASSWORD_BYTES:
                    if not password_hash.startswith(_GO_PREFIX):
                        return False
                    secret = secret[:MAX_PASSWORD_BYTES]
                return bcrypt.checkpw(secret, password_hash.encode("ascii"))
            except (ValueError, UnicodeError):
                return False

        return await asyncio.to_thread(work)


_check: type[Hasher] = BcryptHasher
