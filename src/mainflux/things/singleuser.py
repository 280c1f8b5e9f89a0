"""Single-user mode: one fixed token that stands for one email, authn bypassed.

Enabled by setting both ``MF_THINGS_SINGLE_USER_EMAIL`` and
``MF_THINGS_SINGLE_USER_TOKEN``, as in Mainflux."""

from __future__ import annotations

import hmac

from mainflux.core.auth import UserAuth
from mainflux.core.errors import Unauthorized


class SingleUserAuth:
    """A :class:`UserAuth` that accepts exactly one token."""

    def __init__(self, email: str, token: str) -> None:
        self._email = email
        self._token = token.encode()

    async def identify(self, token: str) -> str:
        """The configured email for the configured token; else ``Unauthorized``."""
        if not hmac.compare_digest(token.encode(), self._token):
            raise Unauthorized()
        return self._email

    async def issue(self, issuer: str, key_type: int) -> str:
        """Single-user mode issues nothing."""
        raise Unauthorized("single-user mode issues no tokens")


_check: type[UserAuth] = SingleUserAuth
