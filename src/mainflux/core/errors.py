"""The small vocabulary of errors every service raises.

Services raise these, never HTTP codes. Each transport maps them in one table
(see :mod:`mainflux.core.http`)."""

from __future__ import annotations


class MainfluxError(Exception):
    """Base of every domain error; ``str(err)`` is the client-facing message."""

    message = "unexpected error"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.message)


class MalformedEntity(MainfluxError):
    """The request or entity is invalid (HTTP 400)."""

    message = "malformed entity specification"


class Unauthorized(MainfluxError):
    """Missing or invalid credentials, or access denied (HTTP 403)."""

    message = "missing or invalid credentials provided"


class NotFound(MainfluxError):
    """The entity does not exist or is not the caller's (HTTP 404)."""

    message = "non-existent entity"


class Conflict(MainfluxError):
    """The entity already exists (HTTP 422 for things, 409 for users)."""

    message = "entity already exists"


class UnsupportedContentType(MainfluxError):
    """The request body has the wrong media type (HTTP 415)."""

    message = "unsupported content type"


class PayloadTooLarge(MainfluxError):
    """The request body exceeds the configured limit (HTTP 413)."""

    message = "payload too large"


class ServiceUnavailable(MainfluxError):
    """A dependency (bus, database, another service) cannot be reached (HTTP 503)."""

    message = "service unavailable"
