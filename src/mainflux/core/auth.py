"""Ports through which services ask each other who a caller is.

``UserAuth`` is the authn service's face (user tokens and API keys); ``ThingAccess``
is the things service's face (thing keys against channels). Each has an in-process
implementation (the service itself) and a gRPC client."""

from __future__ import annotations

from typing import Protocol


class UserAuth(Protocol):
    """Turns user tokens into identities and issues login/recovery tokens."""

    async def identify(self, token: str) -> str:
        """Return the email behind ``token``. Raises ``Unauthorized``."""
        ...

    async def issue(self, issuer: str, key_type: int) -> str:
        """Issue a login (0) or recovery (1) token for ``issuer`` (an email)."""
        ...


class ThingAccess(Protocol):
    """Answers whether a thing may use a channel.

    Raises ``Unauthorized`` for a wrong key or a missing connection, and
    ``ServiceUnavailable`` when the answer cannot be had."""

    async def can_access_by_key(self, channel_id: str, key: str) -> str:
        """Return the id of the thing with ``key`` when it is connected to the channel."""
        ...

    async def can_access_by_id(self, channel_id: str, thing_id: str) -> None:
        """Return when the thing is connected to the channel."""
        ...

    async def identify(self, key: str) -> str:
        """Return the id of the thing with ``key``."""
        ...


class ChannelOwner(Protocol):
    """Answers whether a user token's owner owns a channel (the things service's face)."""

    async def authorize_owner(self, token: str, channel_id: str) -> None:
        """Return when the user behind ``token`` owns the channel.

        Raises ``Unauthorized`` for a bad token and ``NotFound`` for a channel that
        does not exist or is someone else's."""
        ...
