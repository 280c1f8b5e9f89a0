"""Ports of the users service: its repository, password hasher, mailer and authn client.

The service depends only on these Protocols; :mod:`.store`, :mod:`.hasher`, :mod:`.email`
and :mod:`mainflux.authn.client` (or the authn service itself) hold the implementations,
and the unit tests hold in-memory fakes."""

from __future__ import annotations

from typing import Any, Protocol

from mainflux.users.models import User


class UserRepository(Protocol):
    """Stores accounts."""

    async def save(self, user: User) -> None:
        """Store a new user. Raises ``Conflict`` when the email is taken."""
        ...

    async def retrieve_by_email(self, email: str) -> User:
        """Return the user with ``email``. Raises ``NotFound``."""
        ...

    async def update_metadata(self, email: str, metadata: dict[str, Any] | None) -> None:
        """Replace the user's metadata. Raises ``NotFound``."""
        ...

    async def update_password(self, email: str, password_hash: str) -> None:
        """Replace the user's password hash. Raises ``NotFound``."""
        ...


class AccountAuth(Protocol):
    """The authn service as the users service uses it (in-process or over gRPC)."""

    async def identify(self, token: str) -> str:
        """Return the email behind a login token or API key. Raises ``Unauthorized``."""
        ...

    async def issue(self, issuer: str, key_type: int) -> str:
        """Issue a login (0) or recovery (1) token for the email ``issuer``."""
        ...

    async def identify_recovery(self, token: str) -> str:
        """Return the email behind a recovery token (only). Raises ``Unauthorized``."""
        ...

    async def revoke_all_keys(self, email: str) -> None:
        """Void every key of ``email`` issued until now."""
        ...


class Hasher(Protocol):
    """Hashes passwords and checks them against hashes."""

    async def hash(self, password: str) -> str:
        """Return the hash of ``password``."""
        ...

    async def compare(self, password: str, password_hash: str) -> bool:
        """Whether ``password`` matches ``password_hash``."""
        ...


class Emailer(Protocol):
    """Delivers password-reset mails."""

    async def send_password_reset(self, to: str, link: str) -> None:
        """Send ``to`` the reset ``link``. Raises ``ServiceUnavailable`` on failure."""
        ...
