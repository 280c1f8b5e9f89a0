"""The users service: accounts, login, profile, password change and reset.

Tokens come from a :class:`~mainflux.core.auth.UserAuth` (the authn service, in-process
or over gRPC): login tokens (type 0) and recovery tokens (type 1) for an email."""

from __future__ import annotations

from typing import Any, Final

from mainflux.core.auth import UserAuth
from mainflux.core.errors import MalformedEntity, NotFound, Unauthorized
from mainflux.users.models import Emailer, Hasher, User, UserRepository
from mainflux.users.validation import is_email, is_password

LOGIN_KEY: Final = 0
RECOVERY_KEY: Final = 1
DEFAULT_RESET_ENDPOINT: Final = "/reset-request"


class UsersService:
    """Business rules of user accounts over its ports."""

    def __init__(
        self,
        repo: UserRepository,
        hasher: Hasher,
        auth: UserAuth,
        emailer: Emailer,
        reset_endpoint: str = DEFAULT_RESET_ENDPOINT,
    ) -> None:
        self._repo = repo
        self._hasher = hasher
        self._auth = auth
        self._emailer = emailer
        self._reset_endpoint = reset_endpoint

    @staticmethod
    def _check_credentials(email: object, password: object) -> None:
        if not is_email(email):
            raise MalformedEntity("invalid email address")
        if not is_password(password):
            raise MalformedEntity("password must have at least 8 characters")

    async def register(
        self, email: str, password: str, metadata: dict[str, Any] | None = None
    ) -> None:
        """Create an account.

        Raises ``MalformedEntity`` for an invalid email or short password and
        ``Conflict`` when the email is taken."""
        self._check_credentials(email, password)
        password_hash = await self._hasher.hash(password)
        await self._repo.save(User(email=email, password=password_hash, metadata=metadata))

    async def _user(self, email: str) -> User:
        try:
            return await self._repo.retrieve_by_email(email)
        except NotFound:
            raise Unauthorized() from None

    async def login(self, email: str, password: str) -> str:
        """Return a login token for valid credentials.

        Raises ``MalformedEntity`` for invalid input and ``Unauthorized`` for an
        unknown email or a wrong password."""
        self._check_credentials(email, password)
        user = await self._user(email)
        if not await self._hasher.compare(password, user.password):
            raise Unauthorized()
        return await self._auth.issue(email, LOGIN_KEY)

    async def view(self, token: str) -> User:
        """Return the caller's account. Raises ``Unauthorized``."""
        email = await self._auth.identify(token)
        return await self._user(email)

    async def update(self, token: str, metadata: dict[str, Any] | None) -> None:
        """Replace the caller's metadata. Raises ``Unauthorized``."""
        email = await self._auth.identify(token)
        try:
            await self._repo.update_metadata(email, metadata)
        except NotFound:
            raise Unauthorized() from None

    async def change_password(self, token: str, password: str, old_password: str) -> None:
        """Set a new password after checking the old one.

        Raises ``MalformedEntity`` for a short new password and ``Unauthorized`` for a
        bad token or a wrong old password."""
        if not is_password(password):
            raise MalformedEntity("password must have at least 8 characters")
        email = await self._auth.identify(token)
        user = await self._user(email)
        if not old_password or not await self._hasher.compare(old_password, user.password):
            raise Unauthorized()
        await self._repo.update_password(email, await self._hasher.hash(password))

    async def request_password_reset(self, email: str, host: str) -> None:
        """Mail ``email`` a link ``<host><reset endpoint>?token=<recovery token>``.

        Raises ``MalformedEntity`` for a missing host or an unknown email (Mainflux's
        ``non-existent user``) and ``ServiceUnavailable`` when the mail cannot be sent."""
        if not email or not host:
            raise MalformedEntity("email and referer are required")
        try:
            await self._repo.retrieve_by_email(email)
        except NotFound:
            raise MalformedEntity("non-existent user") from None
        token = await self._auth.issue(email, RECOVERY_KEY)
        await self._emailer.send_password_reset(
            email, f"{host}{self._reset_endpoint}?token={token}"
        )

    async def reset_password(self, token: str, password: str) -> None:
        """Set a new password for the holder of a recovery ``token``.

        Raises ``MalformedEntity`` for an empty token or a short password and
        ``Unauthorized`` for a bad token."""
        if not token:
            raise MalformedEntity("missing reset token")
        if not is_password(password):
            raise MalformedEntity("password must have at least 8 characters")
        email = await self._auth.identify(token)
        await self._user(email)
        try:
            await self._repo.update_password(email, await self._hasher.hash(password))
        except NotFound:
            raise Unauthorized() from None
