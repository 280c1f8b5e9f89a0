"""The authn service: issues login, recovery and API keys and tells who a token speaks for.

It implements :class:`mainflux.core.auth.UserAuth`, so other services can use it
in-process (the all-in-one) or through :mod:`mainflux.authn.grpc` (microservices).
Recovery keys identify only for a password reset (:meth:`AuthnService.identify_recovery`),
and :meth:`AuthnService.revoke_all_keys` voids every key a user was issued until then."""

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
    unix_micros,
)
from mainflux.authn.ports import KeyRepository
from mainflux.authn.tokens import Claims, Tokenizer
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
        return self._clock().astimezone(UTC)

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

    def _claims(self, token: str) -> Claims:
        if not token:
            raise Unauthorized()
        return self._tokens.decode(token, int(self._now().timestamp()))

    async def identify(self, token: str) -> str:
        """Return the email behind a login or API token.

        Raises ``Unauthorized`` for an empty, malformed, foreign, expired or revoked
        token, for a token issued before its user's last password change
        (:meth:`revoke_all_keys`) and for a recovery token, which is good only for a
        password reset (:meth:`identify_recovery`). An expired API key's row is
        deleted on the way."""
        claims = self._claims(token)
        if claims.type == LOGIN:
            return await self._session_subject(claims)
        if claims.type == API:
            return await self._api_key_issuer(claims)
        raise Unauthorized()

    async def identify_recovery(self, token: str) -> str:
        """Return the email behind a recovery token; every other token is refused.

        Raises ``Unauthorized`` like :meth:`identify`; a recovery token issued before
        the user's last password change (or reset) is void, so each works once."""
        claims = self._claims(token)
        if claims.type != RECOVERY:
            raise Unauthorized()
        return await self._session_subject(claims)

    async def _session_subject(self, claims: Claims) -> str:
        """The subject of a login or recovery token that is still good."""
        now = int(self._now().timestamp())
        if claims.issuer != ISSUER_NAME or not claims.subject or claims.expired(now):
            raise Unauthorized()
        await self._check_not_revoked(claims.subject, claims.issued_micros)
        return claims.subject

    async def _api_key_issuer(self, claims: Claims) -> str:
        """The issuer of a stored, unexpired and unrevoked API key."""
        if not claims.issuer or not is_uuid(claims.key_id):
            raise Unauthorized()
        try:
            key = await self._repo.retrieve(claims.issuer, claims.key_id)
        except NotFound:
            raise Unauthorized() from None
        if key.expired(self._now()):
            await self._repo.remove(key.issuer, key.id)
            raise Unauthorized("use of expired key")
        await self._check_not_revoked(key.issuer, unix_micros(key.issued_at))
        return key.issuer

    async def _check_not_revoked(self, email: str, issued_micros: int | None) -> None:
        """Refuse a key of ``email`` issued at or before its last revocation.

        A key without an issue time, or whose time is known only to the second (a
        token minted by Go) and falls in the revocation's second, counts as earlier."""
        until = await self._repo.revoked_until(email.lower())
        if until is not None and (issued_micros is None or issued_micros <= unix_micros(until)):
            raise Unauthorized()

    async def revoke_all_keys(self, email: str) -> None:
        """Void every key of ``email`` issued until now: login, recovery and API keys.

        The users service calls it when a password is changed or reset. Tokens issued
        afterwards, even within the same second, are good. Raises ``Unauthorized``
        for an empty email."""
        if not email:
            raise Unauthorized()
        await self._repo.revoke_all(email.lower(), self._now())

    async def _login_identity(self, login_token: str) -> str:
        """The email behind a valid, unexpired login token; anything else is refused."""
        claims = self._claims(login_token)
        if claims.type != LOGIN:
            raise Unauthorized()
        return await self._session_subject(claims)

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
