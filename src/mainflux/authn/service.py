"""The authn service: issues login, recovery and API keys and tells who a token speaks for.

It implements :class:`mainflux.core.auth.UserAuth`, so other services can use it
in-process (the all-in-one) or through :mod:`mainflux.authn.grpc` (microservices)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Final

from mainflux.authn.models import (
    API,
    ISSUER_NAME,
    KEY_TYPES,
    LOGIN,
    LOGIN_DURATION,
    RECOVERY,
    RECOVERY_DURATION,
    Key,
    KeyRepository,
)
from mainflux.authn.tokens import Tokenizer
from mainflux.core.errors import MalformedEntity, NotFound, Unauthorized
from mainflux.core.ids import is_uuid, new_id

#: The longest API key lifetime accepted (100 years), so expiry times stay representable.
MAX_DURATION_SECONDS: Final = 100 * 365 * 24 * 3600


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class AuthnService:
    """Issues and checks keys.

    ``repo`` stores API keys, ``secret`` signs every token, ``id_provider`` makes API
    key ids and ``clock`` tells the time (both replaceable in tests)."""

    def __init__(
        self,
        repo: KeyRepository,
        secret: str,
        id_provider: Callable[[], str] = new_id,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._repo = repo
        self._tokens = Tokenizer(secret)
        self._new_id = id_provider
        self._clock = clock

    def __repr__(self) -> str:
        return "AuthnService()"

    def _now(self) -> datetime:
        return self._clock().astimezone(UTC).replace(microsecond=0)

    async def issue(self, issuer: str, key_type: int) -> str:
        """Return a login (0) or recovery (1) token for the email ``issuer``.

        Type 2 makes an API key without expiry; ``issuer`` must then be a login token.
        Raises ``Unauthorized`` for an empty issuer and ``MalformedEntity`` for an
        unknown type."""
        if not issuer:
            raise Unauthorized()
        if key_type not in KEY_TYPES:
            raise MalformedEntity("invalid key type")
        if key_type == API:
            _, token = await self.issue_api_key(issuer)
            return token
        return self._tokens.encode(self._session_key(issuer, key_type))

    def _session_key(self, email: str, key_type: int) -> Key:
        now = self._now()
        duration = LOGIN_DURATION if key_type == LOGIN else RECOVERY_DURATION
        return Key(id="", type=key_type, issuer=email, issued_at=now, expires_at=now + duration)

    async def identify(self, token: str) -> str:
        """Return the email behind a login, recovery or API token.

        Raises ``Unauthorized`` for an empty, malformed, foreign, expired or revoked
        token. An expired API key's row is deleted on the way."""
        if not token:
            raise Unauthorized()
        now = int(self._now().timestamp())
        claims = self._tokens.decode(token, now)
        if claims.type in (LOGIN, RECOVERY):
            if claims.issuer != ISSUER_NAME or not claims.subject or claims.expired(now):
                raise Unauthorized()
            return claims.subject
        if not claims.issuer or not is_uuid(claims.key_id):
            raise Unauthorized()
        try:
            key = await self._repo.retrieve(claims.issuer, claims.key_id)
        except NotFound:
            raise Unauthorized() from None
        if key.expired(self._now()):
            await self._repo.remove(key.issuer, key.id)
            raise Unauthorized("use of expired key")
        return key.issuer

    async def _login_identity(self, login_token: str) -> str:
        """The email behind a valid, unexpired login token; anything else is refused."""
        if not login_token:
            raise Unauthorized()
        claims = self._tokens.decode(login_token, int(self._now().timestamp()))
        if claims.type != LOGIN:
            raise Unauthorized()
        return await self.identify(login_token)

    async def issue_key(
        self, login_token: str, key_type: int, duration_seconds: int | None = None
    ) -> tuple[Key, str]:
        """Issue a key on behalf of the holder of ``login_token``.

        Type 2 makes a stored API key expiring after ``duration_seconds`` (``None``
        or 0: never); type 0 renews the login token. Raises ``MalformedEntity`` for
        another type or a bad duration, ``Unauthorized`` for a token that is not a
        valid login token, ``Conflict`` when the new key id is taken."""
        if key_type not in (LOGIN, API):
            raise MalformedEntity("invalid key type")
        if duration_seconds is not None and not 0 <= duration_seconds <= MAX_DURATION_SECONDS:
            raise MalformedEntity("invalid key duration")
        email = await self._login_identity(login_token)
        if key_type == LOGIN:
            key = self._session_key(email, LOGIN)
            return key, self._tokens.encode(key)
        now = self._now()
        expires = now + timedelta(seconds=duration_seconds) if duration_seconds else None
        key = Key(id=self._new_id(), type=API, issuer=email, issued_at=now, expires_at=expires)
        await self._repo.save(key)
        return key, self._tokens.encode(key)

    async def issue_api_key(
        self, login_token: str, duration_seconds: int | None = None
    ) -> tuple[Key, str]:
        """Issue a stored API key; see :meth:`issue_key`."""
        return await self.issue_key(login_token, API, duration_seconds)

    async def retrieve_key(self, login_token: str, key_id: str) -> Key:
        """Return the caller's API key ``key_id``. Raises ``Unauthorized``, ``NotFound``."""
        email = await self._login_identity(login_token)
        if not is_uuid(key_id):
            raise NotFound()
        return await self._repo.retrieve(email, key_id)

    async def revoke_key(self, login_token: str, key_id: str) -> None:
        """Delete the caller's API key ``key_id`` (a missing key is not an error).

        Raises ``Unauthorized`` for a token that is not a valid login token."""
        email = await self._login_identity(login_token)
        if is_uuid(key_id):
            await self._repo.remove(email, key_id)
