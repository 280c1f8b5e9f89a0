"""The users service: accounts, login, profile, password change and reset.

Tokens come from the authn service (an :class:`~mainflux.users.ports.AccountAuth`,
in-process or over gRPC): login tokens (type 0) and recovery tokens (type 1) for an
email. Emails are stored and looked up in lower case.

Nothing here tells whether an email has an account: a login with an unknown email
spends a bcrypt check against a stand-in hash like a wrong password does, and a reset
request answers the same whether or not the email is known, mailing the link in the
background. Changing or resetting a password revokes every key issued to the user
before (login tokens, recovery tokens and API keys)."""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Any, Final

from mainflux.core.errors import MalformedEntity, NotFound, Unauthorized
from mainflux.users.models import User
from mainflux.users.ports import AccountAuth, Emailer, Hasher, UserRepository
from mainflux.users.validation import fits_bcrypt, is_email, is_password, normalize_email

log = logging.getLogger("mainflux.users")

LOGIN_KEY: Final = 0
RECOVERY_KEY: Final = 1
#: Where reset links point when nothing else is configured: the users service's own page.
DEFAULT_RESET_URL: Final = "http://localhost:8180/password/reset"
#: Reset mails waiting for delivery at once; further requests are dropped (and logged).
MAX_PENDING_MAILS: Final = 100
#: How long a reset mail waits before it is made and sent, so that the work (a token, a
#: file or an SMTP exchange) happens after the answer has gone out and cannot slow it.
MAIL_DEFER_SECONDS: Final = 0.05


def reset_link(reset_url: str, token: str) -> str:
    """``reset_url`` with ``token=<token>`` appended to its query, as Mainflux builds it."""
    return f"{reset_url}{'&' if '?' in reset_url else '?'}token={token}"


class UsersService:
    """Business rules of user accounts over its ports.

    ``reset_url`` is the page password-reset links point at; the recovery token is
    appended as ``?token=...``."""

    def __init__(
        self,
        repo: UserRepository,
        hasher: Hasher,
        auth: AccountAuth,
        emailer: Emailer,
        reset_url: str = DEFAULT_RESET_URL,
    ) -> None:
        self._repo = repo
        self._hasher = hasher
        self._auth = auth
        self._emailer = emailer
        self._reset_url = reset_url
        self._stand_in_hash: str | None = None
        self._deliveries: set[asyncio.Task[None]] = set()

    @property
    def reset_url(self) -> str:
        """The page password-reset links point at."""
        return self._reset_url

    async def prepare(self) -> None:
        """Make the stand-in hash checked for unknown emails, so no login pays for it."""
        await self._stand_in()

    async def _stand_in(self) -> str:
        if self._stand_in_hash is None:
            self._stand_in_hash = await self._hasher.hash(secrets.token_urlsafe(16))
        return self._stand_in_hash

    @staticmethod
    def _email(email: object) -> str:
        """The lower-case form of a valid ``email``; raises ``MalformedEntity``."""
        if isinstance(email, str):
            normalized = normalize_email(email)
            if is_email(normalized):
                return normalized
        raise MalformedEntity("invalid email address")

    @staticmethod
    def _check_new_password(password: object) -> None:
        if not isinstance(password, str) or not is_password(password):
            raise MalformedEntity("password must have at least 8 characters")
        if not fits_bcrypt(password):
            raise MalformedEntity("password must be at most 72 bytes long (in UTF-8)")

    async def register(
        self, email: str, password: str, metadata: dict[str, Any] | None = None
    ) -> None:
        """Create an account for the lower-case form of ``email``.

        Raises ``MalformedEntity`` for an invalid email or a password that is shorter
        than 8 characters or longer than 72 bytes, and ``Conflict`` when the email is
        taken (in any case)."""
        email = self._email(email)
        self._check_new_password(password)
        password_hash = await self._hasher.hash(password)
        await self._repo.save(User(email=email, password=password_hash, metadata=metadata))

    async def _user(self, email: str) -> User:
        try:
            return await self._repo.retrieve_by_email(normalize_email(email))
        except NotFound:
            raise Unauthorized() from None

    async def login(self, email: str, password: str) -> str:
        """Return a login token for valid credentials.

        Raises ``MalformedEntity`` for invalid input and ``Unauthorized`` for an
        unknown email or a wrong password, after the same bcrypt work in both cases."""
        email = self._email(email)
        if not is_password(password):
            raise MalformedEntity("password must have at least 8 characters")
        try:
            user = await self._repo.retrieve_by_email(email)
        except NotFound:
            await self._hasher.compare(password, await self._stand_in())
            raise Unauthorized() from None
        if not await self._hasher.compare(password, user.password):
            raise Unauthorized()
        return await self._auth.issue(user.email, LOGIN_KEY)

    async def view(self, token: str) -> User:
        """Return the caller's account. Raises ``Unauthorized``."""
        email = await self._auth.identify(token)
        return await self._user(email)

    async def update(self, token: str, metadata: dict[str, Any] | None) -> None:
        """Replace the caller's metadata. Raises ``Unauthorized``."""
        email = await self._auth.identify(token)
        try:
            await self._repo.update_metadata(normalize_email(email), metadata)
        except NotFound:
            raise Unauthorized() from None

    async def _set_password(self, user: User, password: str) -> None:
        """Store a new password and revoke every key issued to the user until now.

        The keys are revoked first: if that fails, nothing has changed."""
        password_hash = await self._hasher.hash(password)
        await self._auth.revoke_all_keys(user.email)
        try:
            await self._repo.update_password(user.email, password_hash)
        except NotFound:
            raise Unauthorized() from None

    async def change_password(self, token: str, password: str, old_password: str) -> None:
        """Set a new password after checking the old one; earlier keys stop working.

        Raises ``MalformedEntity`` for a new password shorter than 8 characters or
        longer than 72 bytes and ``Unauthorized`` for a bad token or a wrong old
        password."""
        self._check_new_password(password)
        email = await self._auth.identify(token)
        user = await self._user(email)
        if not old_password or not await self._hasher.compare(old_password, user.password):
            raise Unauthorized()
        await self._set_password(user, password)

    async def request_password_reset(self, email: str) -> None:
        """Mail ``email`` a link ``<reset url>?token=<recovery token>`` if it has an account.

        Returns the same way whether or not the email is known; the mail is sent in
        the background and a failure to send it is logged. Raises ``MalformedEntity``
        for an empty email."""
        if not email:
            raise MalformedEntity("missing email")
        try:
            user = await self._repo.retrieve_by_email(normalize_email(email))
        except NotFound:
            return
        if len(self._deliveries) >= MAX_PENDING_MAILS:
            log.warning("reset mail for %s dropped: too many mails pending", user.email)
            return
        task = asyncio.create_task(self._mail_reset_link(user.email))
        self._deliveries.add(task)
        task.add_done_callback(self._deliveries.discard)

    async def _mail_reset_link(self, email: str) -> None:
        await asyncio.sleep(MAIL_DEFER_SECONDS)
        try:
            token = await self._auth.issue(email, RECOVERY_KEY)
            await self._emailer.send_password_reset(email, reset_link(self._reset_url, token))
        except Exception as exc:  # a background task: log, never raise
            log.error("reset mail for %s not sent: %s", email, type(exc).__name__)

    async def drain(self) -> None:
        """Wait until every reset mail accepted so far is sent (or has failed)."""
        while self._deliveries:
            await asyncio.gather(*self._deliveries, return_exceptions=True)

    async def reset_password(self, token: str, password: str) -> None:
        """Set a new password for the holder of a recovery ``token``.

        Only a recovery token is accepted, and only once: the reset revokes it with
        every other key issued to the user until now. Raises ``MalformedEntity`` for
        an empty token or a password shorter than 8 characters or longer than 72
        bytes, and ``Unauthorized`` for a token that is not a valid recovery token."""
        if not token:
            raise MalformedEntity("missing reset token")
        self._check_new_password(password)
        email = await self._auth.identify_recovery(token)
        await self._set_password(await self._user(email), password)
